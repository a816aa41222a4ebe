"""Listing commands take --format table|csv|json; long jobs print progress lines when their
output is not a terminal (issue 10)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import rich.progress
import typer
from rich.console import Console
from typer.testing import CliRunner

from engine import cli_prompts, ids
from engine.lake import Lake
from engine.progress import LineProgress, Progress

RLVR = [sys.executable, "-c", "from engine.cli import main; main()"]


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lake = Lake.open(tmp_path / "lake")
    problems = {"What is 1+1?": "2", "What is 2+3?": "5"}
    prompts = [
        {"prompt_id": ids.prompt_id("mini", p), "dataset": "mini", "task": "math"}
        | {"problem": p, "answer": a}
        for p, a in problems.items()
    ]
    with lake.run("ingest") as run_id:
        lake.append("prompts", prompts, run_id=run_id)
    rollouts = [
        {"rollout_id": f"r{i}", "prompt_id": prompts[i % 2]["prompt_id"], "sample_idx": i // 2}
        | {"completion": rf"\boxed{{{2 if i % 2 == 0 else 6}}}", "source": "generate"}
        for i in range(4)
    ]
    with lake.run("generate", model="m") as run_id:
        lake.append("rollouts", rollouts, run_id=run_id)
    return lake


def test_verify_prints_progress_lines_and_json_counts_when_piped(lake) -> None:
    env = dict(os.environ, RLVR_PROGRESS_S="0")  # a line at every batch
    done = subprocess.run(
        [*RLVR, "verify", "--lake", str(lake.root), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    counts = {
        (r["verifier"], r["status"]): r["count"] for r in map(json.loads, done.stdout.splitlines())
    }
    assert counts == {("math", "correct"): 2, ("math", "incorrect"): 2}
    progress = [line for line in done.stderr.splitlines() if line.startswith("judge: ")]
    assert progress and progress[-1].startswith("judge: 4/4 (100%)"), done.stderr
    assert "verdicts/s" in progress[-1]


def test_prompts_list_takes_format(lake) -> None:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    cli_prompts.register(app)
    args = ["prompts", "list", "--lake", str(lake.root), "--format"]
    rows = CliRunner().invoke(app, [*args, "json"]).stdout.splitlines()
    assert sorted(json.loads(r)["answer"] for r in rows) == ["2", "5"]
    frame = pl.read_csv(CliRunner().invoke(app, [*args, "csv"]).stdout.encode())
    assert frame.columns == ["prompt_id", "dataset", "split", "task", "answer", "tests", "problem"]
    assert sorted(frame["problem"].to_list()) == ["What is 1+1?", "What is 2+3?"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_line_progress_prints_every_interval_and_at_the_end() -> None:
    out, clock = io.StringIO(), Clock()
    columns = (rich.progress.TextColumn("judging"), rich.progress.TextColumn("{task.fields[rate]}"))
    bar = LineProgress(columns, interval_s=10, file=out, clock=clock)
    with bar:
        task = bar.add_task("judge", total=100, rate="")
        for step in range(1, 11):
            clock.now = step * 3.0  # 3 s per batch: a line every 4th batch (12 s, 24 s)
            bar.update(task, advance=10, rate=f"{step} verdicts/s")
    lines = out.getvalue().splitlines()
    assert lines == [
        "judge: 40/100 (40%) 4 verdicts/s · 12 s",
        "judge: 80/100 (80%) 8 verdicts/s · 24 s",
        "judge: 100/100 (100%) 10 verdicts/s · 30 s",  # the last line, when it stops
    ]


def test_progress_is_rich_at_a_terminal_and_lines_elsewhere() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True)
    piped = Console(file=io.StringIO(), force_terminal=False)
    assert isinstance(Progress(console=terminal), rich.progress.Progress)
    assert isinstance(Progress(console=piped), LineProgress)
    assert isinstance(Progress(console=piped, disable=True), rich.progress.Progress)  # silent
