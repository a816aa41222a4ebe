"""`make demo` end to end on a small slice: prompts, recorded rollouts, verdicts, SQL."""

from __future__ import annotations

import pytest

from engine import demo
from engine.errors import UserError
from engine.lake import Lake


def test_demo_fills_the_lake_and_is_idempotent(tmp_path, shared_data, capsys) -> None:
    lake_dir = tmp_path / "lake"
    demo.run(str(lake_dir), shared_data, code_problems=2, code_samples=3)
    con = Lake.open(lake_dir).connect()
    counts = dict(con.execute("SELECT verifier, count(*) FROM verdicts GROUP BY ALL").fetchall())
    assert counts == {"math": 800, "code": 6}
    kinds = con.execute(
        "SELECT kind, status, count(*) FROM runs GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert kinds == [("generate", "done", 2), ("ingest", "done", 2), ("verify", "done", 1)]
    assert "agree on" in capsys.readouterr().out

    demo.run(str(lake_dir), shared_data, code_problems=2, code_samples=3)  # nothing new to judge
    con = Lake.open(lake_dir).connect()
    assert con.execute("SELECT count(*) FROM verdicts").fetchone() == (806,)
    assert con.execute("SELECT count(*) FROM rollouts").fetchone() == (806,)


def test_demo_without_data_is_a_user_error(tmp_path) -> None:
    with pytest.raises(UserError, match="benchmark data not found"):
        demo.run(str(tmp_path / "lake"), tmp_path / "nothing", code_problems=1, code_samples=1)


def test_demo_recorded_imports_the_math_responses(tmp_path, shared_data) -> None:
    # `make demo-recorded`: Qwen's responses come in through `rlvr rollouts import` (issue 10).
    from engine.ingest.core import import_prompts

    lake = Lake.open(tmp_path / "lake")
    prompts = import_prompts(shared_data / demo.MATH_FILE, lake=lake, preset="qwen_math_cot")
    run_id, labels = demo.import_math(lake, shared_data, prompts.dataset)
    con = lake.connect()
    assert con.execute("SELECT kind FROM runs WHERE run_id = ?", [run_id]).fetchone() == ("import",)
    stored = {r for (r,) in con.execute("SELECT rollout_id FROM rollouts").fetchall()}
    assert len(labels) == 800 and stored == set(labels)
