"""`make demo`: the R1 pipeline in miniature, on the embedded default (nothing downloaded).

Stages, each a library call, each cached in the demo lake (``<lake>/demo/state.json`` records what
a finished stage produced; a re-run skips it, an interrupted training stage resumes from its last
checkpoint, an interrupted generation resumes its run by ``(prompt_id, sample_idx)``):

1. ``base``: build the tiny base model (:func:`training.tiny.build_tiny_model`);
2. ``r1-zero``: GRPO from the base model, R1-Zero template, accuracy + format rewards;
3. ``cold-start``: SFT of the base model on programmatic long-CoT traces;
4. ``r1-rl``: GRPO from the cold-start model, + the language-consistency reward;
5. ``rollouts``: k samples per prompt of the RL model, verified while generating, on synthetic
   prompts of the *train* split (the held-out split is kept for evaluation);
6. ``select``: rejection sampling with the ``r1-sft`` recipe (:func:`engine.curate.select`);
7. ``export``: the selection as an SFT ``messages`` distillation set;
8. ``student``: SFT of a smaller tiny model on that set (``distill-sft``);
9. ``control``: the same student, SFT on as many rollouts of step 5 drawn at random (no rejection
   sampling): what the selection adds;
10. ``evaluate``: base, R1-Zero, cold-start, RL, student and control on held-out synthetic prompts
    (pass@1 averaged over k samples with its standard error, maj@k);
11. ``report``: ``rlvr report`` pages (base vs RL; the R1-Zero training curves).

It ends with a summary table of the six models. Ctrl-C stops the stage in flight (exit 130);
what finished stays finished.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from engine.errors import UserError
from engine.interrupt import exit_code
from engine.lake import Lake

__all__ = ["FULL", "QUICK", "Budget", "main", "run"]

HELDOUT = "demo-heldout"  # held-out synthetic prompts (split test): evaluation only
DISTILL_PROMPTS = (
    "demo-distill-prompts"  # train-split prompts the RL model answers for distillation
)
MODELS = ("base", "r1-zero", "cold-start", "r1-rl", "student", "control")


@dataclass(frozen=True, kw_only=True)
class Budget:
    """Steps and sizes of every stage (see the README for how the full budget was measured)."""

    base_size: str = "xs"  # ~0.9M parameters
    student_size: str = "xxs"  # ~0.4M parameters: the smaller student, built on the other core
    zero_steps: int = 60  # the r1-zero recipe's max_steps
    cold_steps: int = 250  # 60 left garbled traces: 5 of 512 rollouts correct, all truncated
    rl_steps: int = 20
    distill_prompts: int = 128  # most of the easy train split (167 problems)
    distill_epochs: int = 20  # distill-sft says 3 (R1); the xxs student: 5 gave 0.02, 20 gave 0.15
    eval_prompts: int = 33  # every held-out easy-arithmetic problem (the test split has 33)
    k: int = 8
    max_tokens: int = 48  # r1-zero answers are a few dozen tokens
    chat_max_tokens: int = 160  # cold-start traces are ~60-120 tokens, medium ones longer
    select_recipe: str = "r1-sft"  # a built-in name of rlvr select, or QUICK_SELECT's text


# A few SFT steps do not teach the <think> format, so the smoke test keeps correct answers only.
QUICK_SELECT = """name: demo-quick
description: correct, complete and deduplicated (a smoke test's models have no <think> yet)
unit: rollouts
steps: [correct, not_truncated, exact_dedup: {field: completion}, max_per_prompt: {m: 4}]
"""
FULL = Budget()
QUICK = Budget(base_size="xs", student_size="xs", select_recipe=QUICK_SELECT, zero_steps=2, cold_steps=4, rl_steps=2, distill_prompts=8, distill_epochs=1,
               eval_prompts=4, k=4, max_tokens=24, chat_max_tokens=48)  # fmt: skip


class _State:
    """What each finished stage produced, in ``<work>/state.json`` (written atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}

    def done(self, stage: str) -> dict[str, Any] | None:
        return self.data.get(stage)

    def save(self, stage: str, result: dict[str, Any]) -> None:
        self.data[stage] = result
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2) + "\n")
        os.replace(tmp, self.path)


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children: with one torch thread it is what the
    stage would take on a quiet machine (wall time on a shared one is several times more)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@contextlib.contextmanager
def _quiet(log: Path) -> Iterator[None]:
    """Send a stage's chatter (TRL's progress bars and log dicts, warnings) to its log file."""
    import warnings

    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as handle, warnings.catch_warnings():
        warnings.simplefilter("default")  # shown once each, into the log
        with contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
            yield


class Pipeline:
    """The stages over one lake; ``models`` is where the tiny models are built (cached there)."""

    def __init__(self, lake: Lake, work: Path, models: Path, budget: Budget, console: Console):
        self.lake, self.work, self.models, self.b, self.console = (
            lake,
            work,
            models,
            budget,
            console,
        )
        self.student_build: subprocess.Popen[bytes] | None = None
        work.mkdir(parents=True, exist_ok=True)
        state_path = work / "state.json"
        self.state = _State(state_path)
        if self.state.data.get("budget", asdict(budget)) != asdict(budget):
            raise UserError(f"{state_path} was made with another budget — use another --lake "
                            "(or delete its demo/ folder) to run this one")  # fmt: skip
        self.state.save("budget", asdict(budget))

    # -- bookkeeping ---------------------------------------------------------------------------

    def stage(self, index: int, name: str, what: str, body: Callable[[], dict[str, Any]]) -> dict:
        head = f"[{index}/{len(STAGES)}] {name}: {what}"
        cached = self.state.done(name)
        if cached is not None:
            self.console.print(f"{head} — cached", highlight=False, soft_wrap=True)
            return cached
        log = self.work / "logs" / f"{index:02d}-{name}.log"
        self.console.print(f"{head} …", highlight=False, soft_wrap=True)
        start, cpu = time.perf_counter(), _cpu_seconds()
        with _quiet(log):
            result = body()
        result["seconds"] = round(time.perf_counter() - start, 1)
        result["cpu_seconds"] = round(_cpu_seconds() - cpu, 1)
        self.state.save(name, result)
        self.console.print(f"{head} — done in {result['seconds']:.0f} s "
                           f"({result['cpu_seconds']:.0f} s CPU)", highlight=False, soft_wrap=True)  # fmt: skip
        return result

    def _train(self, kind: str, recipe: str, model: str, out: str, overrides: list[str],
               dataset: str | None = None) -> dict[str, Any]:  # fmt: skip
        from training.train import train

        result = train(kind, recipe, model=model, dataset=dataset, overrides=overrides,
                       lake=self.lake, output_dir=out, resume=True)  # fmt: skip
        return {"model": result.output_dir, "run_id": result.run_id,
                "steps": result.global_step, "rollouts": result.rollouts}  # fmt: skip

    def _generate(self, key: str, model: str, dataset: str, template: str) -> dict[str, Any]:
        from engine import ids
        from engine.generate import SamplingParams
        from engine.generate.run import GenerateConfig, generate

        pending = self.state.data.setdefault("pending_runs", {})
        if key not in pending:  # the run id is kept first, so an interrupted run is resumed
            pending[key] = ids.new_run_id("generate")
            self.state.save("pending_runs", pending)
        tokens = self.b.max_tokens if template == "r1-zero" else self.b.chat_max_tokens
        config = GenerateConfig(dataset=dataset, model=model, template=template, verify=True,
                                run_id=pending[key], sampling=SamplingParams(
                                    n=self.b.k, max_tokens=tokens, seed=0))  # fmt: skip
        summary = generate(self.lake, config)
        if summary.status != "done":
            raise UserError(
                f"generation {summary.run_id} ended {summary.status} — re-run to resume"
            )
        return {"run_id": summary.run_id, "rollouts": summary.written + summary.skipped,
                "pass_rate": summary.pass_rate}  # fmt: skip

    # -- the stages ----------------------------------------------------------------------------

    def _model_dir(self, size: str) -> Path:
        return self.models / f"tiny-{size}-seed0"

    def start_student_build(self) -> None:
        """Build the student's base model in a child process while the pipeline runs.

        Every stage trains or samples with one torch thread, so the second core is free: the
        student's pretraining (minutes) runs there instead of in the student stage. The build is
        cached and locked (:func:`training.tiny.build_tiny_model`), so the student stage simply
        waits for it, and builds the model itself if the child failed.
        """
        if self.b.student_size == self.b.base_size or self.state.done("student") is not None:
            return
        log = self.work / "logs" / "00-student-base.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        size = self.b.student_size
        command = [sys.executable, "-m", "engine.cli", "model", "tiny",  # `rlvr model tiny`
                   "--size", size, "--out", str(self._model_dir(size))]  # fmt: skip
        with open(log, "a", encoding="utf-8") as handle:
            self.student_build = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)

    def stop_student_build(self) -> None:
        """Interrupt a child build still running (the builder cleans up its temporary folder)."""
        if self.student_build is not None and self.student_build.poll() is None:
            self.student_build.send_signal(signal.SIGINT)
            self.student_build.wait()

    def base(self) -> dict[str, Any]:
        from training.tiny import build_tiny_model

        path = build_tiny_model(self._model_dir(self.b.base_size), size=self.b.base_size, seed=0)
        return {"model": str(path)}

    def r1_zero(self) -> dict[str, Any]:
        n = self.b.zero_steps
        return self._train("grpo", "r1-zero", self.result("base")["model"],
                           str(self.work / "runs" / "r1-zero"),
                           [f"max_steps={n}", f"save_steps={max(1, n // 2)}"])  # fmt: skip

    def cold_start(self) -> dict[str, Any]:
        n = self.b.cold_steps
        return self._train("sft", "cold-start-sft", self.result("base")["model"],
                           str(self.work / "runs" / "cold-start-sft"),
                           [f"max_steps={n}", f"save_steps={max(1, n // 2)}"])  # fmt: skip

    def r1_rl(self) -> dict[str, Any]:
        n = self.b.rl_steps
        return self._train("grpo", "r1-rl", self.result("cold-start")["model"],
                           str(self.work / "runs" / "r1-rl"),
                           [f"max_steps={n}", f"save_steps={max(1, n // 2)}",
                            f"max_completion_length={self.b.chat_max_tokens}"])  # fmt: skip

    def rollouts(self) -> dict[str, Any]:
        from engine.tasks import synth_prompts

        synth_prompts(self.lake, "arithmetic", n=self.b.distill_prompts, dataset=DISTILL_PROMPTS,
                      seed=1, split="train", difficulty="easy")  # fmt: skip
        return self._generate("rollouts", self.result("r1-rl")["model"], DISTILL_PROMPTS, "chat")

    def select(self) -> dict[str, Any]:
        from engine.curate import BUILTIN, load_recipe, parse_recipe, select

        spec = self.b.select_recipe
        recipe = load_recipe(spec) if spec in BUILTIN else parse_recipe(spec, source="demo")
        chosen = select(self.lake, [self.result("rollouts")["run_id"]], recipe, "demo-distill",
                        replace=True)  # fmt: skip
        if chosen.rows == 0:
            raise UserError("rejection sampling kept no rollout — the RL model solved nothing; "
                            "run the full demo (no --quick) or more RL steps")  # fmt: skip
        return {"dataset": chosen.name, "rows": chosen.rows, "input_rows": chosen.input_rows,
                "run_id": chosen.run_id, "recipe": recipe.name}  # fmt: skip

    def export(self) -> dict[str, Any]:
        import shutil

        from engine.curate.export import export_dataset

        out = self.work / "exports" / "distill"
        shutil.rmtree(out, ignore_errors=True)  # a half-finished earlier try (export is atomic)
        path = export_dataset(self.lake, self.result("select")["dataset"], out, fmt="sft-messages")
        return {"folder": str(out), "parquet": str(path)}

    def student(self) -> dict[str, Any]:
        from training.tiny import build_tiny_model

        if self.student_build is not None:
            self.student_build.wait()  # a failed child leaves no model: it is built here then
        small = build_tiny_model(self._model_dir(self.b.student_size), size=self.b.student_size,
                                 seed=0)  # fmt: skip
        result = self._train("sft", "distill-sft", str(small), str(self.work / "runs" / "student"),
                             [f"num_train_epochs={self.b.distill_epochs}"],
                             dataset=self.result("export")["folder"])  # fmt: skip
        return {**result, "base": str(small)}

    def control(self) -> dict[str, Any]:
        out = self.work / "exports" / "control"
        unselected_set(self.lake, self.result("rollouts")["run_id"], self.result("select")["rows"],
                       out, seed=0)  # fmt: skip
        small = self.result("student")["base"]
        return {**self._train("sft", "distill-sft", small, str(self.work / "runs" / "control"),
                              [f"num_train_epochs={self.b.distill_epochs}"], dataset=str(out)),
                "folder": str(out)}  # fmt: skip

    def evaluate(self) -> dict[str, Any]:
        from engine.metrics import metric_value, run_metrics
        from engine.tasks import synth_prompts

        synth_prompts(self.lake, "arithmetic", n=self.b.eval_prompts, dataset=HELDOUT, seed=0,
                      split="test", difficulty="easy")  # fmt: skip
        rows = {}
        for name in MODELS:
            template = "r1-zero" if name in ("base", "r1-zero") else "chat"
            gen = self._generate(f"eval-{name}", self.result(name)["model"], HELDOUT, template)
            frame = run_metrics(self.lake, gen["run_id"])
            rows[name] = {"run_id": gen["run_id"], "template": template,
                          "pass@1": metric_value(frame, "pass@1"),
                          "pass@1_se": _se(frame, "pass@1"),
                          f"maj@{self.b.k}": metric_value(frame, f"maj@{self.b.k}"),
                          "prompts": self.b.eval_prompts, "k": self.b.k}  # fmt: skip
        return {"models": rows}

    def report(self) -> dict[str, Any]:
        from engine.report import write_report

        models = self.result("evaluate")["models"]
        pages = {}
        for label, runs in (("base-vs-rl", [models["base"]["run_id"], models["r1-rl"]["run_id"]]),
                            ("r1-zero-training", [self.result("r1-zero")["run_id"]])):  # fmt: skip
            out = self.work / "report" / label
            if not (out / "index.html").exists():
                write_report(self.lake, runs, out)
            pages[label] = str(out / "index.html")
        return {"pages": pages}

    def result(self, stage: str) -> dict[str, Any]:
        done = self.state.done(stage)
        if done is None:
            raise UserError(f"stage {stage} has not run — run the demo from the start")
        return done


STAGES: tuple[tuple[str, str, str], ...] = (
    ("base", "base", "build the tiny base model"),
    ("r1-zero", "r1_zero", "GRPO from base (accuracy + format)"),
    ("cold-start", "cold_start", "SFT on long-CoT traces"),
    ("r1-rl", "r1_rl", "GRPO from cold-start (+ language)"),
    ("rollouts", "rollouts", "RL model, k samples, verified"),
    ("select", "select", "rejection sampling (rlvr select)"),
    ("export", "export", "distillation set (rlvr export)"),
    ("student", "student", "SFT a smaller model on it"),
    ("control", "control", "same student, as many unselected rollouts"),
    ("evaluate", "evaluate", f"{len(MODELS)} models on held-out prompts"),
    ("report", "report", "rlvr report"),
)


def summary_table(models: dict[str, dict[str, Any]], k: int) -> Table:
    table = Table(title=f"R1 in miniature, held-out arithmetic, k = {k}")
    for column in ("model", "template", "prompts", "pass@1", f"maj@{k}", "s.e. of pass@1"):
        table.add_column(column, justify="left" if column in ("model", "template") else "right")
    for name in MODELS:
        row = models[name]
        cells = [f"{row.get(m):.3f}" if row.get(m) is not None else "—"
                 for m in ("pass@1", f"maj@{k}", "pass@1_se")]  # fmt: skip
        table.add_row(name, row["template"], str(row["prompts"]), *cells)
    return table


def _se(frame: Any, metric: str) -> float | None:
    rows = frame.filter(frame["metric"] == metric)
    return rows["se"][0] if rows.height and rows["se"][0] is not None else None


def unselected_set(lake: Lake, run_id: str, rows: int, out: Path, *, seed: int = 0) -> Path:
    """``rows`` rollouts of ``run_id`` drawn at random, whatever their verdicts, written as the
    ``sft-messages`` export of a selection is: the control for rejection sampling."""
    import random
    import shutil

    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    from engine.curate.export import rows_for

    rollouts = lake.scan("rollouts").filter(pl.col("run_id") == run_id)
    prompts = lake.scan("prompts").select("prompt_id", "problem").unique("prompt_id")
    records = (rollouts.join(prompts, on="prompt_id").sort("prompt_id", "sample_idx")
               .select("problem", "completion", "reasoning", "answer_text").collect().to_dicts())  # fmt: skip
    chosen = random.Random(seed).sample(records, min(rows, len(records)))
    shutil.rmtree(out, ignore_errors=True)
    (out / "data").mkdir(parents=True)
    path = out / "data" / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows_for(chosen, "sft-messages", "inline")), path)
    return path


def run(lake: str | Path, *, budget: Budget = FULL, models: str | Path | None = None,
        console: Console | None = None) -> dict[str, Any]:  # fmt: skip
    """Run (or resume) every stage; returns the state (each stage's result)."""
    import torch

    console = console or Console()
    torch.set_num_threads(1)  # a sub-million-parameter model: 1 thread is ~15x faster than 2
    store = Lake.open(lake)
    work = store.root / "demo"
    pipe = Pipeline(store, work, Path(models) if models else work / "models", budget, console)
    start = time.perf_counter()
    console.print(f"R1 in miniature in {work} (each stage's output: {work / 'logs'})",
                  highlight=False, soft_wrap=True)  # fmt: skip
    pipe.start_student_build()
    try:
        for index, (name, method, what) in enumerate(STAGES, 1):
            pipe.stage(index, name, what, getattr(pipe, method))
    finally:
        pipe.stop_student_build()
    console.print(summary_table(pipe.result("evaluate")["models"], budget.k))
    pages = pipe.result("report")["pages"]
    console.print(f"report: {pages['base-vs-rl']}  (training curves: {pages['r1-zero-training']})",
                  highlight=False, soft_wrap=True)  # fmt: skip
    console.print(f"demo finished in {time.perf_counter() - start:.0f} s", highlight=False)
    return pipe.state.data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.demo", description=__doc__.split(
        "\n\n")[0])  # fmt: skip
    parser.add_argument("--lake", default="lake", help="the lake (the demo works in LAKE/demo)")
    parser.add_argument(
        "--models", default=None, help="where to build the tiny models (default LAKE/demo/models)"
    )
    parser.add_argument("--quick", action="store_true", help="a few steps per stage (a smoke test)")
    args = parser.parse_args(argv)
    console = Console()
    try:
        run(args.lake, budget=QUICK if args.quick else FULL, models=args.models, console=console)
    except UserError as exc:
        console.print(f"error: {exc}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt as exc:
        console.print("interrupted — finished stages are kept; run it again to resume")
        return exit_code(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
