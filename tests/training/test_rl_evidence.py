"""Issue 13's evidence: RL in miniature, on three fixed seeds (slow: `make test-train`).

Per seed s (0, 1, 2), from the suite's tiny base model (size xs, built once with seed 0):

1. R1-Zero GRPO (recipe ``r1-zero`` as shipped: 40 steps of 4 prompts x 8, ``seed=s``), every
   completion captured in a lake;
2. the base and the R1-Zero model on every held-out easy-arithmetic prompt (the test split: 33
   problems never seen in pretraining or RL), k = 8 samples at temperature 0.6 / top-p 0.95
   (R1's evaluation setting, sampling seed s), through the R1-Zero template both were trained on;
3. distillation: the R1-Zero model samples k = 8 answers for 48 train-split prompts; rejection
   sampling keeps the correct, complete, deduplicated ones (at most 4 a prompt: N rows); the xs
   base is SFT'd on them (``distill-sft``), and the same base on N of the same samples drawn at
   random (no selection); both answer the held-out prompts through the chat template.

Measured, three seeds, two runs each (``pytest -m slow tests/training/test_rl_evidence.py``,
builder 2, 2026-11-30; ~90 s of CPU a seed with one torch thread, 2.5-7 min wall on the shared
machine). GRPO and the evaluations repeat exactly; the selected student's SFT does not yet:

=====================  =======  =======  =======
seed                   0        1        2
=====================  =======  =======  =======
format reward, steps   0.69 →   0.60 →   0.63 →
1-5 → 36-40            0.98     0.99     0.98
base pass@1            0.095    0.080    0.053
R1-Zero pass@1         0.068    0.087    0.053
R1-Zero maj@8          0.095    0.101    0.061
student, selected      0.023    0.061    0.076   (run 1)
                       0.034    0.057    0.064   (run 2)
student, unselected    0.027    0.038    0.042   (both runs)
selected rows (N)      39       29       48
=====================  =======  =======  =======

So, at this size: the format reward rises toward 1 on every seed, and maj@8 ≥ pass@1 for the
trained model on every seed (asserted, margins below). GRPO does *not* raise held-out pass@1
(-0.027 / +0.008 / 0.000, within one standard error of ~0.02): the tiny model copies the
question's numbers into its working unreliably, the math reward stays at ~5 % through training,
so there is nothing to sharpen. That claim is a strict xfail: it fails the suite the day GRPO
gains ≥ MIN_GAIN on a seed, so whoever makes it work flips it to an assertion. The selected
student beats the unselected one in 5 of 6 runs (by -0.004 to +0.035; ≥ MIN_DISTILL_GAIN in 4):
not reliable yet, so it is a non-strict xfail on an AssertionError (any other error fails).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl")

from engine.curate import parse_recipe, select
from engine.curate.export import export_dataset
from engine.generate import SamplingParams
from engine.generate.run import GenerateConfig, generate
from engine.lake import Lake
from engine.metrics import metric_value, run_metrics
from engine.tasks import synth_prompts
from training.demo import QUICK_SELECT, unselected_set
from training.train import train

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # minutes of CPU per seed

SEEDS = (0, 1, 2)
K = 8
FORMAT_START_MAX = 0.75  # measured 0.60-0.69 over steps 1-5: the base follows the format sometimes
FORMAT_END_MIN = 0.95  # measured 0.98-0.99 over steps 36-40
MIN_GAIN = 0.03  # ~1.5 standard errors of held-out pass@1 (33 prompts x 8 samples)
MIN_DISTILL_GAIN = 0.01


def _evaluate(lake: Lake, model: str, dataset: str, template: str, seed: int) -> dict:
    tokens = 48
    summary = generate(lake, GenerateConfig(dataset=dataset, model=model, template=template,
                                            verify=True, sampling=SamplingParams(
                                                n=K, max_tokens=tokens, seed=seed)))  # fmt: skip
    frame = run_metrics(lake, summary.run_id)
    return {"run_id": summary.run_id, "pass@1": metric_value(frame, "pass@1"),
            f"maj@{K}": metric_value(frame, f"maj@{K}")}  # fmt: skip


def _format_by_step(lake: Lake, run_id: str) -> list[float]:
    rows = (
        lake.connect()
        .sql(
            "SELECT r.step, avg(v.reward) FROM rollouts r JOIN verdicts v USING (rollout_id) "
            f"WHERE r.run_id = '{run_id}' AND v.verifier = 'format' GROUP BY 1 ORDER BY 1"
        )
        .fetchall()
    )
    return [reward for _, reward in rows]


@pytest.fixture(scope="module", params=SEEDS, ids=lambda s: f"seed{s}")
def evidence(request: pytest.FixtureRequest, tmp_path_factory, tiny_model: Path) -> dict[str, Any]:
    """Steps 1-3 of the module docstring for one seed; every number the tests read."""
    seed, tmp_path = request.param, tmp_path_factory.mktemp(f"seed{request.param}")
    lake = Lake.open(tmp_path / "lake")
    synth_prompts(lake, "arithmetic", n=33, dataset="heldout", seed=0, split="test",
                  difficulty="easy")  # fmt: skip
    synth_prompts(lake, "arithmetic", n=48, dataset="distill", seed=1, split="train",
                  difficulty="easy")  # fmt: skip
    zero = train("grpo", "r1-zero", model=str(tiny_model), lake=lake, resume=False,
                 output_dir=str(tmp_path / "r1-zero"),
                 overrides=[f"seed={seed}", "save_strategy=no"])  # fmt: skip
    fmt = _format_by_step(lake, zero.run_id)
    base = _evaluate(lake, str(tiny_model), "heldout", "r1-zero", seed)
    rl = _evaluate(lake, zero.output_dir, "heldout", "r1-zero", seed)
    teacher = generate(lake, GenerateConfig(dataset="distill", model=zero.output_dir,
                                            template="r1-zero", verify=True,
                                            sampling=SamplingParams(n=K, max_tokens=48,
                                                                    seed=seed)))  # fmt: skip
    chosen = select(lake, [teacher.run_id], parse_recipe(QUICK_SELECT, source="test"), "sel",
                    replace=True)  # fmt: skip
    assert chosen.rows > 0
    export_dataset(lake, "sel", tmp_path / "sel", fmt="sft-messages")
    unselected_set(lake, teacher.run_id, chosen.rows, tmp_path / "unsel", seed=seed)
    students = {}
    for name in ("sel", "unsel"):
        out = train("sft", "distill-sft", model=str(tiny_model), lake=lake, resume=False,
                    dataset=str(tmp_path / name), output_dir=str(tmp_path / f"student-{name}"),
                    overrides=[f"seed={seed}", "save_strategy=no"])  # fmt: skip
        students[name] = _evaluate(lake, out.output_dir, "heldout", "chat", seed)["pass@1"]
    measured = {"seed": seed, "format": fmt, "base": base["pass@1"], "r1-zero": rl["pass@1"],
                f"maj@{K}": rl[f"maj@{K}"], "selected": students["sel"],
                "unselected": students["unsel"], "rows": chosen.rows}  # fmt: skip
    print(f"seed {seed}: {measured}")
    return measured


def test_format_reward_rises_toward_one(evidence: dict[str, Any]) -> None:
    fmt = evidence["format"]
    assert len(fmt) == 40  # one mean per step, from the captured training rollouts
    assert sum(fmt[:5]) / 5 <= FORMAT_START_MAX and sum(fmt[-5:]) / 5 >= FORMAT_END_MIN, fmt


def test_majority_vote_is_at_least_pass_at_1(evidence: dict[str, Any]) -> None:
    assert evidence[f"maj@{K}"] >= evidence["r1-zero"], evidence


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="not at this size: measured -0.027 / +0.008 / 0.000 (docstring)")  # fmt: skip
def test_grpo_raises_held_out_pass_at_1(evidence: dict[str, Any]) -> None:
    assert evidence["r1-zero"] - evidence["base"] >= MIN_GAIN, evidence


@pytest.mark.xfail(strict=False, raises=AssertionError,
                   reason="4 of 6 runs: measured -0.004 to +0.035 (docstring)")  # fmt: skip
def test_selected_student_beats_unselected(evidence: dict[str, Any]) -> None:
    assert evidence["selected"] - evidence["unselected"] >= MIN_DISTILL_GAIN, evidence
