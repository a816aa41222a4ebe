"""`make demo`: the R1 pipeline in miniature (training/demo.py), every stage on a temporary lake.

The quick configuration (a few steps per stage, the cached xs model as base and student) costs
~20 s of CPU (measured: `time python -m training.demo --quick`, user+sys 21 s); the full demo is
minutes, so it is marked slow.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytest.importorskip("trl")

from rich.console import Console

from engine.lake import Lake
from training import demo

NUMBER = re.compile(r"^\d\.\d{3}$")


def _console() -> Console:
    return Console(record=True, width=120, force_terminal=False)


def _check_artifacts(lake_dir: Path, state: dict, budget: demo.Budget) -> None:
    work = lake_dir / "demo"
    for stage in ("base", "r1-zero", "cold-start", "r1-rl", "student"):
        assert (Path(state[stage]["model"]) / "config.json").is_file(), stage
    runs = Lake.open(lake_dir).scan("runs").collect()
    train_runs = set(runs.filter(runs["kind"] == "train")["run_id"])
    assert {state[s]["run_id"] for s in ("r1-zero", "cold-start", "r1-rl", "student")} <= train_runs
    assert state["r1-zero"]["rollouts"] > 0 and state["r1-rl"]["rollouts"] > 0  # captured
    assert state["rollouts"]["rollouts"] == budget.distill_prompts * budget.k
    assert 0 < state["select"]["rows"] <= state["select"]["input_rows"]
    assert (lake_dir / "datasets" / "demo-distill" / "lineage.json").is_file()
    assert Path(state["export"]["parquet"]).is_file()
    # the control student saw as many rollouts as the selected one, drawn without selection
    control = pq.read_table(Path(state["control"]["folder"]) / "data" / "train.parquet")
    assert control.num_rows == state["select"]["rows"] and "messages" in control.column_names
    for page in state["report"]["pages"].values():
        assert Path(page).is_file() and Path(page).stat().st_size > 1000
    assert json.loads((work / "state.json").read_text())["report"] == state["report"]


def _check_table(text: str, k: int) -> None:
    rows = [line for line in text.splitlines() if line.startswith("│")]
    assert [r.split("│")[1].strip() for r in rows] == list(demo.MODELS)
    for row in rows:
        cells = [c.strip() for c in row.split("│")[1:-1]]
        assert NUMBER.match(cells[3]) and NUMBER.match(cells[4]), row  # pass@1, maj@k
    assert f"maj@{k}" in text


def test_quick_demo_runs_every_stage_then_skips_them(tmp_path, tiny_model) -> None:
    lake_dir = tmp_path / "lake"
    console = _console()
    state = demo.run(lake_dir, budget=demo.QUICK, models=tiny_model.parent, console=console)
    text = console.export_text()
    _check_artifacts(lake_dir, state, demo.QUICK)
    _check_table(text, demo.QUICK.k)
    for index, (name, _, _) in enumerate(demo.STAGES, 1):
        assert f"[{index}/{len(demo.STAGES)}] {name}:" in text  # a progress line per stage
        assert state[name]["seconds"] >= 0 and "cpu_seconds" in state[name]
    evaluated = state["evaluate"]["models"]
    assert len({m["run_id"] for m in evaluated.values()}) == len(demo.MODELS)
    # a second run finds every stage done and writes nothing new
    before = Lake.open(lake_dir).scan("rollouts").collect().height
    again = _console()
    demo.run(lake_dir, budget=demo.QUICK, models=tiny_model.parent, console=again)
    assert again.export_text().count("— cached") == len(demo.STAGES)
    assert Lake.open(lake_dir).scan("rollouts").collect().height == before


def test_an_interrupted_stage_keeps_the_finished_ones(tmp_path, tiny_model, monkeypatch) -> None:
    def stop(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo.Pipeline, "cold_start", stop)
    lake_dir = tmp_path / "lake"
    code = demo.main(["--lake", str(lake_dir), "--models", str(tiny_model.parent), "--quick"])
    assert code == 130
    state = json.loads((lake_dir / "demo" / "state.json").read_text())
    assert "r1-zero" in state and "cold-start" not in state


def test_another_budget_on_the_same_lake_is_a_user_error(tmp_path, capsys) -> None:
    lake_dir = tmp_path / "lake"
    (lake_dir / "demo").mkdir(parents=True)
    (lake_dir / "demo" / "state.json").write_text(json.dumps({"budget": {"k": 99}}))
    assert demo.main(["--lake", str(lake_dir), "--quick"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("error: ") and "another budget" in out and "Traceback" not in out


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ~510 s on a quiet machine; the suite's default is 300 s
def test_full_demo(tmp_path) -> None:
    # The whole of `make demo`: models built from scratch, the full budget.
    lake_dir = tmp_path / "lake"
    console = _console()
    state = demo.run(lake_dir, budget=demo.FULL, console=console)
    _check_artifacts(lake_dir, state, demo.FULL)
    _check_table(console.export_text(), demo.FULL.k)
    assert state["select"]["recipe"] == "r1-sft"


def _pipeline(tmp_path: Path, models: Path, budget: demo.Budget) -> demo.Pipeline:
    return demo.Pipeline(Lake.open(tmp_path / "lake"), tmp_path / "lake" / "demo", models, budget,
                         _console())  # fmt: skip


def test_the_student_model_is_built_by_a_child_through_rlvr_model_tiny(tmp_path, tiny_model):
    # A student size other than the base's starts `rlvr model tiny` beside the stages; here the
    # "student" is the cached xs model, so the child finds it at once and says so in its log.
    budget = demo.Budget(base_size="xxs", student_size="xs")
    pipe = _pipeline(tmp_path, tiny_model.parent, budget)
    pipe.start_student_build()
    assert pipe.student_build is not None and pipe.student_build.wait(timeout=120) == 0
    log = (tmp_path / "lake" / "demo" / "logs" / "00-student-base.log").read_text()
    assert "size xs" in log and "cached" in log
    # the same sizes (the quick budget) start nothing
    same = _pipeline(tmp_path / "q", tiny_model.parent, demo.QUICK)
    same.start_student_build()
    assert same.student_build is None


def test_stopping_interrupts_a_student_build_still_running(tmp_path, tiny_model) -> None:
    pipe = _pipeline(tmp_path, tmp_path / "models", demo.Budget(student_size="xxs"))
    pipe.start_student_build()  # a real build: minutes, so it is still running when stopped
    assert pipe.student_build is not None
    time.sleep(5)  # inside the build (past interpreter start-up, which SIGINT would also stop)
    pipe.stop_student_build()
    assert pipe.student_build.returncode not in (None, 0)  # stopped, not finished
    assert not (tmp_path / "models" / "tiny-xxs-seed0").exists()
    assert not list((tmp_path / "models").glob(".tiny-xxs-seed0.tmp-*"))  # cleaned up
