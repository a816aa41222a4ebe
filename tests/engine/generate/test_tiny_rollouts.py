"""The embedded default end to end (slow): the tiny base model, synthetic tasks, `rlvr generate
--verify` on both math and countdown prompts — what `make rollouts` does, with nothing from
../shared. The model is built once per session (a few minutes on 2 cores; cached after)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from training.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def _main(capsys, *args: str) -> str:
    from engine.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out, err = capsys.readouterr()
    assert exit_.value.code == 0, err
    return out


def test_tiny_model_rollouts_are_judged_while_generating(tiny, tmp_path, capsys) -> None:
    lake = str(tmp_path / "lake")
    for task in ("arithmetic", "countdown"):
        _main(capsys, "prompts", "synth", "--task", task, "--n", "16", "--split", "test",
              "--dataset", task, "--lake", lake)  # fmt: skip
        _main(capsys, "generate", "--dataset", task, "--model", str(tiny), "-k", "8",
              "--max-tokens", "48", "--verify", "--lake", lake, "--run-id", f"gen-{task}")  # fmt: skip
    from engine.lake import Lake

    con = Lake.open(lake).connect()
    rows = con.execute("""
        SELECT r.run_id, v.verifier, count(*) AS n, count(*) FILTER (WHERE v.status = 'correct')
        FROM rollouts r JOIN verdicts v USING (rollout_id) GROUP BY ALL ORDER BY 1""").fetchall()
    assert [(run, verifier, n) for run, verifier, n, _ in rows] == [
        ("gen-arithmetic", "math", 128),
        ("gen-countdown", "countdown", 128),
    ]
    correct = {run: c for run, _, _, c in rows}
    assert correct["gen-arithmetic"] > 0  # a base model in the R1 sense: it solves some
    finish = con.execute("SELECT DISTINCT finish_reason FROM rollouts").fetchall()
    assert {f for (f,) in finish} <= {"stop", "length"}
