"""The README's "Reading the lake without rlvr" calls, run as written (issue 10): polars, pyarrow,
DuckDB and `datasets` on a lake with a write in flight (a temp file that is still being written)
and on a lake whose writer was SIGKILLed mid-append; and `rlvr lake compact` leaving exactly the
latest row per id on disk.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from engine.lake import TEMP_PREFIX, Lake

ROOT = Path(__file__).resolve().parents[2]


def readme_calls(root: Path) -> dict[str, int]:
    """The README's calls, verbatim but for the lake's path; rows each one read."""
    datasets = pytest.importorskip("datasets")
    os.chdir(root.parent)  # the README's paths are relative: lake/...
    rollouts = pl.scan_parquet("lake/rollouts/**/*.parquet", hive_partitioning=True).collect()
    verdicts = pq.read_table("lake/verdicts")
    counted = duckdb.sql(
        "SELECT verifier, status, count(*) FROM read_parquet('lake/verdicts/**/*.parquet', "
        "hive_partitioning = true) GROUP BY ALL"
    ).fetchall()
    prompts = datasets.load_dataset(
        "parquet", data_files="lake/prompts/**/*.parquet", split="train"
    )
    assert set(rollouts["run_id"].cast(pl.String)) <= {"gen-1", "gen-2"}
    assert set(verdicts.column("run_id").to_pylist()) == {"judge-1"}
    assert "run_id" in prompts.column_names
    return {
        "polars": rollouts.height,
        "pyarrow": verdicts.num_rows,
        "duckdb": sum(row[2] for row in counted),
        "datasets": prompts.num_rows,
    }


def small_lake(root: Path) -> Lake:
    lake = Lake.open(root)
    with lake.run("ingest") as run_id:
        lake.append("prompts", [{"prompt_id": f"p{i}", "dataset": "toy", "task": "math",
                                 "problem": f"{i}+1?", "answer": str(i + 1)} for i in range(3)],
                    run_id=run_id)  # fmt: skip
    rows = [{"rollout_id": f"r{i}", "prompt_id": f"p{i % 3}", "sample_idx": i // 3,
             "completion": "4", "source": "generate"} for i in range(6)]  # fmt: skip
    lake.append("rollouts", rows, run_id="gen-1")
    verdicts = [{"rollout_id": f"r{i}", "verifier": "math", "status": "correct", "reward": 1.0}
                for i in range(6)]  # fmt: skip
    lake.append("verdicts", verdicts, run_id="judge-1")
    return lake


def test_readme_calls_with_a_write_in_flight(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    lake = small_lake(tmp_path / "lake")
    for table in ("rollouts", "verdicts", "prompts"):
        folder = next((lake.root / table).glob("run_id=*"))
        good = next(folder.glob("part-*.parquet"))
        # A writer mid-way: the name the lake gives it, half a file inside.
        temp = folder / f"{TEMP_PREFIX}part-20261130T000000-inflight.parquet.partial"
        temp.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    counts = readme_calls(lake.root)
    assert counts == {"polars": 6, "pyarrow": 6, "duckdb": 6, "datasets": 3}
    report = lake.check()  # ...and `rlvr lake check` still finds each one
    assert [(p.kind, p.path.name.endswith(".parquet.partial")) for p in report.problems] == [
        ("temp", True)
    ] * 3


WRITER = textwrap.dedent(
    """
    import sys
    from engine.lake import Lake
    def batches():
        for b in range(100_000):
            yield [{"rollout_id": f"k{b}-{i}", "prompt_id": "p0", "sample_idx": i,
                    "completion": "x" * 2000, "source": "generate"} for i in range(2000)]
    Lake.open(sys.argv[1]).append_batches("rollouts", batches(), run_id="gen-2")
    """
)


def test_readme_calls_after_a_sigkilled_writer(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    lake = small_lake(tmp_path / "lake")
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(lake.root)], env=env)
    partition = lake.root / "rollouts" / "run_id=gen-2"
    deadline = time.monotonic() + 60
    while not (partition.is_dir() and len(list(partition.glob("part-*.parquet"))) >= 2):
        assert time.monotonic() < deadline, "the writer made no progress"
        time.sleep(0.01)
    proc.kill()
    proc.wait(timeout=30)
    landed = sum(pq.ParquetFile(p).metadata.num_rows for p in partition.glob("part-*.parquet"))
    counts = readme_calls(lake.root)
    assert counts == {"polars": 6 + landed, "pyarrow": 6, "duckdb": 6, "datasets": 3}


def test_pyarrow_reads_a_table_folder_and_old_files_are_upgraded_by_compact(tmp_path: Path) -> None:
    lake = small_lake(tmp_path / "lake")
    # An older lake's file: run_id stored as plain text, which pq.read_table cannot merge.
    folder = lake.root / "rollouts" / "run_id=gen-1"
    table = pq.read_table(next(folder.glob("part-*.parquet")))
    legacy = table.set_column(1, "run_id", table["run_id"].cast("string"))
    pq.write_table(legacy, folder / "part-0-old.parquet")  # same ids, listed first
    with pytest.raises(Exception, match=r"incompatible types|Unable to merge"):
        pq.read_table(lake.root / "rollouts")  # control: the old layout breaks pyarrow
    assert lake.scan("rollouts").collect().height == 6  # the engine still reads it
    lake.compact("rollouts")
    assert pq.read_table(lake.root / "rollouts").num_rows == 6


def test_compact_leaves_exactly_the_latest_row_per_id(tmp_path: Path) -> None:
    lake = small_lake(tmp_path / "lake")
    rejudged = [{"rollout_id": "r0", "verifier": "math", "status": "incorrect", "reward": 0.0}]
    lake.append("verdicts", rejudged, run_id="judge-2")

    def raw(table: str) -> pl.DataFrame:
        files = sorted(str(p) for p in (lake.root / table).glob("run_id=*/*.parquet"))
        return pl.read_parquet(files, hive_partitioning=False, missing_columns="insert")

    assert raw("runs").height == 2 and raw("verdicts").height == 7  # running + done; r0 twice
    latest = duckdb.sql(  # the README's latest-row query, as written, on the raw files
        f"SELECT * FROM read_parquet('{lake.root}/runs/**/*.parquet', hive_partitioning = true) "
        "QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY created_at DESC) = 1"
    ).pl()
    assert latest["status"].to_list() == ["done"]
    before = lake.connect().execute("SELECT * FROM verdicts ORDER BY rollout_id").fetchall()
    reports = {table: lake.compact(table) for table in ("runs", "verdicts")}
    assert reports["runs"].rows_dropped == 1 and reports["verdicts"].rows_dropped == 1
    assert raw("runs")["status"].to_list() == ["done"]
    verdicts = raw("verdicts").sort("rollout_id")
    assert verdicts.height == 6 and verdicts["status"][0] == "incorrect"  # the later judgement
    assert lake.connect().execute("SELECT * FROM verdicts ORDER BY rollout_id").fetchall() == before
    assert lake.compact("verdicts").rows_dropped == 0 and lake.check().ok


APPENDER = textwrap.dedent(
    """
    import sys
    from engine.lake import Lake
    lake = Lake.open(sys.argv[1])
    for round in range(15):
        rows = [{"prompt_id": f"p{i}", "dataset": "toy", "task": "math", "problem": f"{i}?"}
                for i in range(round, round + 10)]
        lake.append("prompts", rows, run_id=f"ingest-{sys.argv[2]}-{round}")
    """
)


def test_concurrent_writers_never_duplicate_prompts_or_rollouts(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    Lake.open(root)
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(root), str(n)], env=env)
        for n in range(3)
    ]
    assert all(proc.wait(timeout=120) == 0 for proc in procs)
    files = sorted(str(p) for p in (root / "prompts").glob("run_id=*/*.parquet"))
    ids = pl.read_parquet(files, hive_partitioning=False)["prompt_id"].to_list()
    assert sorted(ids) == sorted(f"p{i}" for i in range(24))  # each id once, on disk
    lake = Lake.open(root)
    batches = [[{"rollout_id": f"r{i}", "prompt_id": "p0", "sample_idx": i, "completion": "x",
                 "source": "generate"} for i in range(b, b + 5)] for b in range(0, 20, 3)]  # fmt: skip
    lake.append_batches("rollouts", batches, run_id="gen-3")
    lake.append_batches("rollouts", batches, run_id="gen-3")  # a rerun writes nothing new
    written = pl.read_parquet(lake.files("rollouts", "gen-3"), hive_partitioning=False)
    assert sorted(written["rollout_id"].to_list()) == sorted(f"r{i}" for i in range(23))
