"""`rlvr verify` over a lake."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from engine import cli_verify, ids
from engine.lake import Lake


def _app() -> typer.Typer:
    app = typer.Typer()
    cli_verify.register(app)
    app.command("noop", hidden=True)(lambda: None)  # a second command keeps `verify` a subcommand
    return app


def test_verify_writes_verdicts_and_is_resumable(tmp_path) -> None:
    lake = Lake.open(tmp_path)
    pid = ids.prompt_id("toy", "1+1?")
    lake.append("prompts", [{"prompt_id": pid, "dataset": "toy", "task": "math", "problem": "1+1?",
                             "answer": "2"}], run_id="ingest")  # fmt: skip
    lake.append("rollouts", [{"rollout_id": ids.rollout_id("g", pid, i), "run_id": "g", "prompt_id": pid,
                              "sample_idx": i, "completion": text, "source": "generate"}
                             for i, text in enumerate([r"\boxed{2}", r"\boxed{3}"])], run_id="g")  # fmt: skip
    runner = CliRunner()
    first = runner.invoke(
        _app(), ["verify", "--lake", str(tmp_path), "--run", "g", "--verifier", "format"]
    )
    assert first.exit_code == 0, first.output
    rows = (
        lake.connect()
        .execute("SELECT verifier, status, count(*) FROM verdicts GROUP BY ALL ORDER BY ALL")
        .fetchall()
    )
    assert rows == [("format", "incorrect", 2), ("math", "correct", 1), ("math", "incorrect", 1)]
    again = runner.invoke(_app(), ["verify", "--lake", str(tmp_path)])
    assert (
        again.exit_code == 0
        and "0 verdicts in" in again.output
        and "2 already judged" in again.output
    )
