"""Training benchmark (issue 13): what our rewards and the lake capture cost inside TRL's steps.

On the tiny model, one torch thread (training/train.py says why), CPU:

1. SFT steps/s: the cold-start-sft recipe (programmatic long-CoT traces, assistant-only loss).
2. GRPO steps/s: the r1-zero recipe (32 completions a step), with the lake capture on.
3. Reward share of a GRPO step: wall time inside the reward functions over the step time, for the
   math rewards (math + format; target ≤ 5 %; the math worker pool is warmed first, as in a long
   run) and for the code reward. The tiny model's completions are not valid Python, so the code
   verifier rejects them before the sandbox (CE); to price the sandbox, the same code reward
   also judges one step's worth (16) of valid programs against the test, the batch at once, and
   that time is put over the GRPO step time (``grpo_code.sandbox_share``).
4. Cost of writing training rollouts to the lake: the capture's time on the training thread
   (building rows) over the step time (target ≤ 2 %), and, as a check, GRPO steps/s with and
   without the capture, alternated ``--repeats`` times (median).

The machine is shared, so the load average goes into the JSON with the figures.

    .venv/bin/python benchmarks/training_bench.py                    # results/training_bench.json
    .venv/bin/python benchmarks/training_bench.py --steps 3 --repeats 1 --out benchmarks/.work/training_bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from engine.lake import Lake
from training.recipe import load_recipe, resolved_config
from training.tiny import build_tiny_model
from training.train import _build_trainer, build_dataset

HERE = Path(__file__).resolve().parent
TARGETS = {"math_reward_share": 0.05, "capture_share": 0.02}
ADD = json.dumps({"kind": "stdio", "cases": [{"stdin": "1 2\n", "expected": "3"}]})


class Timed:
    """A reward function wrapper that adds up the wall time spent inside it (keeps __name__)."""

    def __init__(self, fn, clock: list[float]) -> None:
        self.fn, self.clock, self.__name__ = fn, clock, fn.__name__
        self.last_verdicts = []

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.clock[0] += time.perf_counter() - start
            self.last_verdicts = getattr(self.fn, "last_verdicts", [])


def _grpo(model: Path, root: Path, steps: int, *, rewards=None, code=False, capture=True) -> dict:
    from training.capture import RolloutCapture

    lake = Lake.open(root / f"lake-{time.monotonic_ns()}")
    recipe = load_recipe("r1-zero", [f"max_steps={steps}", "save_strategy=no", "logging_steps=1",
                                     "rlvr.synth={task: arithmetic, n: 64, seed: 0}"])  # fmt: skip
    data, _ = build_dataset(recipe, lake, None)
    if code:  # every prompt carries the same stdio test: the completion runs as a program
        data = data.map(lambda r: {"tests": ADD})
    config = resolved_config(recipe, cuda=False, output_dir=str(root / "out"))
    trainer = _build_trainer(recipe, str(model), config, data)
    clock = [0.0]
    if rewards is not None:
        trainer.reward_funcs = [Timed(f, clock) for f in rewards]
        trainer.reward_func_names = [f.__name__ for f in rewards]
        trainer.reward_weights = torch.ones(len(rewards))
        trainer.reward_processing_classes = [None] * len(rewards)
    else:
        trainer.reward_funcs = [Timed(f, clock) for f in trainer.reward_funcs]
    record = [0.0]
    if capture:
        cap = RolloutCapture(lake, lake.write_run("train"), model=str(model)).attach(trainer)
        original = cap._record

        def timed_record(*a):
            start = time.perf_counter()
            original(*a)
            record[0] += time.perf_counter() - start

        cap._record = timed_record
    start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - start
    if capture:
        cap.close()
    return {"steps": steps, "wall_s": round(wall, 3), "steps_per_s": round(steps / wall, 3),
            "reward_s": round(clock[0], 4), "reward_share": round(clock[0] / wall, 4),
            "capture_record_s": round(record[0], 4),
            "capture_share": round(record[0] / wall, 4) if capture else None}  # fmt: skip


def _sft(model: Path, root: Path, steps: int) -> dict:
    recipe = load_recipe("cold-start-sft", [f"max_steps={steps}", "save_strategy=no",
                                            "rlvr.synth={task: arithmetic, n: 128, seed: 0}"])  # fmt: skip
    data, _ = build_dataset(recipe, Lake.open(root / "lake-sft"), None)
    config = resolved_config(recipe, cuda=False, output_dir=str(root / "sft"))
    trainer = _build_trainer(recipe, str(model), config, data)
    start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - start
    return {"steps": steps, "wall_s": round(wall, 3), "steps_per_s": round(steps / wall, 3),
            "batch": config["per_device_train_batch_size"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="capture on/off alternations")
    parser.add_argument("--model", default="models/.cache/tiny-xs-seed0")
    parser.add_argument("--out", default=str(HERE / "results" / "training_bench.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = build_tiny_model(args.model, size="xs", seed=0)
    from verifiers.rewards import make_code_reward, math_reward

    math_reward(completions=["\\boxed{1+1}"], answer=["2"])  # start the math worker pool
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        result = {"sft": _sft(model, root, args.steps)}
        result["grpo_math"] = _grpo(model, root, args.steps)
        code = make_code_reward(extract="raw", workers=2)
        result["grpo_code"] = _grpo(model, root, max(2, args.steps // 4), rewards=[code], code=True)
        programs = [f"a, b = map(int, input().split())\nprint(a + b + {i % 2})" for i in range(16)]
        start = time.perf_counter()
        code(completions=programs, tests=[ADD] * 16)
        sandbox_s = time.perf_counter() - start
        step_s = 1 / result["grpo_math"]["steps_per_s"]
        result["grpo_code"].update(
            sandbox_batch_s=round(sandbox_s, 3),
            sandbox_share=round(sandbox_s / (step_s + sandbox_s), 4),
        )
        on, off = [], []
        for _ in range(args.repeats):
            on.append(_grpo(model, root, args.steps)["steps_per_s"])
            off.append(_grpo(model, root, args.steps, capture=False)["steps_per_s"])
    on_m, off_m = statistics.median(on), statistics.median(off)
    result["capture_ab"] = {"steps_per_s_with": on, "steps_per_s_without": off,
                            "slowdown": round(1 - on_m / off_m, 4)}  # fmt: skip
    result["targets"] = TARGETS
    result["met"] = {"math_reward_share": result["grpo_math"]["reward_share"] <= 0.05,
                     "capture_share": result["grpo_math"]["capture_share"] <= 0.02}  # fmt: skip
    result["machine"] = {"python": platform.python_version(), "torch": torch.__version__,
                         "threads": 1, "loadavg": os.getloadavg(), "cpus": os.cpu_count()}  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
