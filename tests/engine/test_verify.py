"""Verifying rollouts in a lake (engine.verify): verdicts written, resumable, verifier faults never scored as wrong."""

from __future__ import annotations

import pytest

from engine import ids
from engine.errors import UserError
from engine.lake import Lake
from engine.verify import VerifyConfig, verify_rollouts
from verifiers import registry

COMPLETIONS = ["<think>add them</think> 4", "4", "<think>加 them</think>4"]


def _lake_with_rollouts(root) -> tuple[Lake, str]:
    lake = Lake.open(root)
    pid = ids.prompt_id("toy", "2+2?")
    lake.append(
        "prompts",
        [{"prompt_id": pid, "dataset": "toy", "task": "general", "problem": "2+2?"}],
        run_id="ingest-toy",
    )
    run = "gen-toy"
    rows = [
        {
            "rollout_id": ids.rollout_id(run, pid, i),
            "run_id": run,
            "prompt_id": pid,
            "sample_idx": i,
            "completion": text,
            "source": "generate",
        }
        for i, text in enumerate(COMPLETIONS)
    ]
    lake.append("rollouts", rows, run_id=run)
    return lake, run


def _verdicts(lake: Lake) -> dict[tuple[str, str], tuple[str, float | None]]:
    rows = (
        lake.connect()
        .execute(
            "SELECT r.sample_idx, v.verifier, v.status, v.reward FROM verdicts v JOIN rollouts r USING (rollout_id)"
        )
        .fetchall()
    )
    return {(idx, name): (status, reward) for idx, name, status, reward in rows}


def test_scores_every_rollout_with_the_task_verifiers(tmp_path) -> None:
    lake, run = _lake_with_rollouts(tmp_path / "lake")
    config = VerifyConfig(verifiers={"general": ("format",)}, extra=("language",), batch_rows=2)
    summary = verify_rollouts(lake, runs=[run], config=config)
    assert summary.judged == 6 and summary.skipped == 0
    got = _verdicts(lake)
    assert got[(0, "format")] == ("correct", 1.0)
    assert got[(1, "format")] == ("incorrect", 0.0)
    assert got[(2, "language")][0] == "incorrect"  # mixed-language reasoning
    runs = (
        lake.connect()
        .execute("SELECT kind, status FROM runs WHERE run_id = ?", [summary.run_id])
        .fetchall()
    )
    assert runs == [("verify", "done")]


def test_rerun_judges_only_what_is_missing(tmp_path) -> None:
    lake, _ = _lake_with_rollouts(tmp_path / "lake")
    verify_rollouts(lake, config=VerifyConfig(verifiers={"general": ("format",)}))
    again = verify_rollouts(
        lake, config=VerifyConfig(verifiers={"general": ("format", "language")})
    )
    assert (again.judged, again.skipped) == (3, 3)
    assert len(_verdicts(lake)) == 6


def test_a_crashing_verifier_gives_error_verdicts_not_zero(tmp_path, monkeypatch) -> None:
    lake, _ = _lake_with_rollouts(tmp_path / "lake")
    monkeypatch.setitem(registry.REGISTRY, "boom", "tests.engine.test_score:_boom")
    summary = verify_rollouts(lake, config=VerifyConfig(verifiers={"general": ("boom",)}))
    assert summary.by_status == {("boom", "error"): 3}
    assert {v for v in _verdicts(lake).values()} == {("error", None)}


def _boom(prompt, response, **options):
    raise RuntimeError("verifier bug")


def test_unknown_verifier_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown verifier 'nope'"):
        VerifyConfig(extra=("nope",))


def test_rollouts_without_prompts_are_a_user_error(tmp_path) -> None:
    lake = Lake.open(tmp_path / "lake")
    lake.append(
        "rollouts",
        [
            {
                "rollout_id": "r",
                "run_id": "g",
                "prompt_id": "missing",
                "sample_idx": 0,
                "completion": "x",
                "source": "generate",
            }
        ],
        run_id="g",
    )
    with pytest.raises(UserError, match="import the prompts first"):
        verify_rollouts(lake)
