"""The Lake API: atomic appends, validated input, one row per id, check, compact, runs."""

from __future__ import annotations

import doctest
import json
import os
import socket
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import ids, schema, sql
from engine import lake as lake_module
from engine.errors import LakeError, SchemaError, UserError
from engine.lake import Lake
from engine.schema import SCHEMAS, conform

RUN = "20261129T031500-generate-ab12cd"


def rollouts(n: int, *, start: int = 0, completion: str = "The answer is 4.") -> list[dict]:
    return [
        {
            "rollout_id": f"r{i}",
            "prompt_id": f"p{i // 4}",
            "sample_idx": i % 4,
            "completion": completion,
            "source": "generate",
        }
        for i in range(start, start + n)
    ]


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.open(tmp_path / "lake")


def all_files(lake: Lake) -> list[Path]:
    """The lake's table files (locks under .rlvr/ are not data)."""
    return sorted(p for p in lake.root.rglob("*") if p.is_file() and ".rlvr" not in p.parts)


def test_open_uses_env_then_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLVR_LAKE", str(tmp_path / "from-env"))
    assert Lake.open().root == tmp_path / "from-env"
    assert (tmp_path / "from-env").is_dir()
    monkeypatch.delenv("RLVR_LAKE")
    monkeypatch.chdir(tmp_path)
    assert Lake.open().root == Path("lake")


def test_open_on_a_file_is_a_lake_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(LakeError, match="cannot create"):
        Lake.open(tmp_path / "file")


def test_append_writes_one_hive_partitioned_file_and_scan_reads_it(lake: Lake) -> None:
    path = lake.append("rollouts", rollouts(8), run_id=RUN)
    assert path is not None and path.parent == lake.root / "rollouts" / f"run_id={RUN}"
    assert path.name.startswith("part-") and path.suffix == ".parquet"
    assert all_files(lake) == [path]
    frame = lake.scan("rollouts").collect()
    assert frame.height == 8
    assert frame.columns == SCHEMAS["rollouts"].names
    assert set(frame["run_id"]) == {RUN}
    assert pq.read_schema(path).field("created_at").type == pa.timestamp("us", tz="UTC")


@pytest.mark.parametrize(
    "convert",
    [
        lambda rows: rows,  # list of dicts
        pl.DataFrame,  # polars frame
        pa.Table.from_pylist,  # Arrow table
    ],
)
def test_append_takes_dicts_polars_and_arrow(lake: Lake, convert) -> None:
    lake.append("rollouts", convert(rollouts(3)), run_id=RUN)
    assert sorted(lake.scan("rollouts").collect()["rollout_id"]) == ["r0", "r1", "r2"]


def test_empty_append_writes_nothing(lake: Lake) -> None:
    assert lake.append("rollouts", [], run_id=RUN) is None
    assert all_files(lake) == []


@pytest.mark.parametrize(
    ("rows", "field"),
    [
        # a required column missing in every row
        (
            [{"rollout_id": "r", "prompt_id": "p", "completion": "c", "source": "generate"}],
            "sample_idx",
        ),
        # a NULL in the 3rd row
        ([*rollouts(2), rollouts(1)[0] | {"completion": None}], "completion"),
    ],
)
def test_invalid_data_writes_nothing_not_even_a_temp_file(lake: Lake, rows, field) -> None:
    with pytest.raises(SchemaError) as caught:
        lake.append("rollouts", rows, run_id=RUN)
    assert caught.value.field == field and caught.value.table == "rollouts"
    assert all_files(lake) == []


@pytest.mark.parametrize("run_id", ["", "../escape", "a/b", ".hidden", "run id"])
def test_run_ids_unsafe_as_folder_names_are_refused(lake: Lake, run_id: str) -> None:
    with pytest.raises(SchemaError, match="run_id"):
        lake.append("rollouts", rollouts(1), run_id=run_id)
    assert all_files(lake) == []


def test_a_failing_write_removes_its_temp_file(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    def half_write(table: pa.Table, where: Path, **_: object) -> None:
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(lake_module.pq, "write_table", half_write)
    # issue 10: the error says the fix
    with pytest.raises(LakeError, match=r"cannot write \(disk full\) — "):
        lake.append("rollouts", rollouts(2), run_id=RUN)
    assert [p for p in all_files(lake) if p.suffix == ".parquet"] == []


def test_reappended_rollouts_are_not_written_again(lake: Lake) -> None:
    # Issue 10: rollouts and prompts are never duplicated on disk; the first row stays.
    lake.append("rollouts", rollouts(4, completion="old"), run_id=RUN)
    assert lake.append("rollouts", rollouts(2, completion="new"), run_id=RUN) is None
    path = lake.append("rollouts", rollouts(3, start=3, completion="new"), run_id=RUN)
    assert path is not None and pq.read_table(path)["rollout_id"].to_pylist() == ["r4", "r5"]
    frame = lake.scan("rollouts").collect().sort("rollout_id")
    assert frame["rollout_id"].to_list() == ["r0", "r1", "r2", "r3", "r4", "r5"]
    assert frame["completion"].to_list() == ["old"] * 4 + ["new"] * 2


def test_verdicts_are_unique_per_rollout_and_verifier(lake: Lake) -> None:
    def verdict(verifier: str, status: str) -> dict:
        return {"rollout_id": "r0", "verifier": verifier, "status": status, "reward": None}

    lake.append("verdicts", [verdict("math", "error"), verdict("format", "correct")], run_id=RUN)
    lake.append("verdicts", [verdict("math", "correct")], run_id=RUN)
    frame = lake.scan("verdicts").collect().sort("verifier")
    assert frame.select("verifier", "status").rows() == [("format", "correct"), ("math", "correct")]
    assert lake.existing_ids("verdicts") == {("r0", "math"), ("r0", "format")}


def test_existing_ids_all_runs_or_one(lake: Lake) -> None:
    lake.append("rollouts", rollouts(2), run_id=RUN)
    lake.append("rollouts", rollouts(2, start=2), run_id="other-run")
    assert lake.existing_ids("rollouts") == {"r0", "r1", "r2", "r3"}
    assert lake.existing_ids("rollouts", run_id="other-run") == {"r2", "r3"}
    assert lake.existing_ids("rollouts", run_id="no-such-run") == set()


def test_append_batches_writes_one_file_per_batch(lake: Lake) -> None:
    batches = [rollouts(5, start=i * 5) for i in range(7)]
    paths = lake.append_batches("rollouts", iter(batches), run_id=RUN)
    assert len(paths) == len(set(paths)) == 7
    assert [pq.ParquetFile(p).metadata.num_rows for p in paths] == [5] * 7
    assert lake.scan("rollouts").collect().height == 35


def test_append_batches_stops_at_a_bad_batch_keeping_those_before(lake: Lake) -> None:
    bad = [*rollouts(5, start=10), {"rollout_id": "x"}]
    batches = [rollouts(5), rollouts(5, start=5), bad, rollouts(5, start=20)]
    with pytest.raises(SchemaError):
        lake.append_batches("rollouts", iter(batches), run_id=RUN)
    assert lake.scan("rollouts").collect().height == 10


def write_truncated(lake: Lake, table: str = "rollouts") -> Path:
    good = lake.append(table, rollouts(4), run_id=RUN)
    assert good is not None
    broken = good.with_name("part-broken.parquet")
    broken.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    return broken


@pytest.mark.parametrize(
    ("damage", "kind"),
    [
        # half of a real Parquet file: no footer
        (lambda lake: write_truncated(lake), "corrupt"),
        # not Parquet at all, with the right name
        (lambda lake: _write(lake, "part-garbage.parquet", b"hello, world"), "corrupt"),
        # the magic bytes at both ends but no valid footer in between
        (lambda lake: _write(lake, "part-fake.parquet", b"PAR1" + b"\0" * 64 + b"PAR1"), "corrupt"),
        # a writer killed before its rename
        (lambda lake: _write(lake, ".tmp-part-x.parquet", b"PAR1 partial"), "temp"),
        # a valid Parquet file of another shape
        (lambda lake: _write_parquet(lake, pa.table({"rollout_id": ["z"], "oops": [1]})), "schema"),
    ],
)
def test_damage_is_ignored_by_readers_and_reported_by_check(lake: Lake, damage, kind: str) -> None:
    lake.append("rollouts", rollouts(3, start=100), run_id=RUN)
    bad = damage(lake)
    assert lake.scan("rollouts").collect().height in (
        3,
        7,
    )  # 4 more when write_truncated's good file
    assert bad not in lake.files("rollouts")
    report = lake.check()
    assert not report.ok
    assert [(p.kind, p.path) for p in report.problems] == [(kind, bad)]


def _write(lake: Lake, name: str, data: bytes) -> Path:
    path = lake.root / "rollouts" / f"run_id={RUN}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _write_parquet(lake: Lake, table: pa.Table) -> Path:
    path = _write(lake, "part-foreign.parquet", b"")
    pq.write_table(table, path)
    return path


def test_check_is_clean_on_a_healthy_lake(lake: Lake) -> None:
    lake.append("rollouts", rollouts(3), run_id=RUN)
    lake.write_run("generate", run_id=RUN)
    report = lake.check()
    assert report.ok and report.files_ok == 2


def test_files_written_before_a_nullable_column_existed_still_read(lake: Lake) -> None:
    _write_parquet(lake, conform("rollouts", rollouts(2), run_id=RUN).drop(["step", "model"]))
    assert lake.check().ok
    frame = lake.scan("rollouts").collect()
    assert frame.height == 2 and frame["step"].null_count() == 2


def test_compact_merges_small_files_keeping_rows_and_ids(lake: Lake) -> None:
    for i in range(5):
        lake.append("rollouts", rollouts(4, start=4 * i), run_id=RUN)
    lake.append("rollouts", rollouts(4, start=100), run_id="other-run")
    lake.append("rollouts", rollouts(2, completion="again"), run_id=RUN)  # not written again
    before = lake.scan("rollouts").collect().sort("rollout_id")
    report = lake.compact("rollouts")
    assert (report.files_before, report.files_after, report.partitions_compacted) == (5, 1, 1)
    assert report.rows == 20
    after = lake.scan("rollouts").collect().sort("rollout_id")
    assert after.equals(before)
    assert len(lake.files("rollouts")) == 2  # one per partition
    assert lake.check().ok
    again = lake.compact("rollouts")  # nothing left to merge
    assert again.files_before == 0 and len(lake.files("rollouts")) == 2


def test_a_crash_between_compact_rename_and_delete_double_counts_nothing(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        lake.append("rollouts", rollouts(4, start=4 * i), run_id=RUN)

    def crash(self: Path, missing_ok: bool = False) -> None:
        raise KeyboardInterrupt  # killed after the merged file was renamed into place

    with monkeypatch.context() as patch:
        patch.setattr(Path, "unlink", crash)
        with pytest.raises(KeyboardInterrupt):
            lake.compact("rollouts")
    assert len(lake.files("rollouts")) == 4  # the three originals and the merged copy
    assert lake.scan("rollouts").collect().height == 12
    assert lake.connect().execute("SELECT count(*) FROM rollouts").fetchone() == (12,)
    lake.compact("rollouts")  # the next compact folds the leftovers into one file
    assert len(lake.files("rollouts")) == 1
    assert lake.scan("rollouts").collect().height == 12


def test_compact_leaves_damaged_files_alone(lake: Lake) -> None:
    broken = write_truncated(lake)
    lake.append("rollouts", rollouts(4, start=4), run_id=RUN)
    lake.compact("rollouts")
    assert broken.exists()
    assert lake.scan("rollouts").collect().height == 8


def test_a_run_goes_from_running_to_done(lake: Lake) -> None:
    run_id = lake.write_run("generate", model="tiny", params={"k": 8}, seed=1)
    first = lake.scan("runs").collect().row(0, named=True)
    assert (first["status"], first["finished_at"]) == ("running", None)
    process = {"pid": os.getpid(), "host": socket.gethostname()}  # issue 10: for stale runs
    assert json.loads(first["params"]) == {"k": 8, "process": process}
    lake.finish_run(run_id)
    runs = lake.scan("runs").collect()
    assert runs.height == 1
    last = runs.row(0, named=True)
    assert (last["status"], last["model"], last["seed"]) == ("done", "tiny", 1)
    assert last["finished_at"] >= last["started_at"] == first["started_at"]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (KeyboardInterrupt, "interrupted"),  # Ctrl-C
        (RuntimeError, "failed"),  # anything else
    ],
)
def test_run_context_records_how_a_run_ended(lake: Lake, error: type, status: str) -> None:
    with pytest.raises(error), lake.run("verify") as run_id:
        raise error()
    row = lake.scan("runs").collect().row(0, named=True)
    assert (row["run_id"], row["status"]) == (run_id, status)
    assert row["finished_at"] is not None


def test_finishing_an_unknown_run_is_an_error(lake: Lake) -> None:
    with pytest.raises(LakeError, match="no run"):
        lake.finish_run("never-started")


@pytest.mark.parametrize("module", [ids, lake_module, schema, sql])
def test_public_names_exist_and_docstring_examples_run(module) -> None:
    assert all(hasattr(module, name) for name in module.__all__)
    assert doctest.testmod(module).failed == 0


def test_open_without_create_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"no lake at '.*missing' — "):
        Lake.open(tmp_path / "missing", create=False)
    assert not (tmp_path / "missing").exists()


TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=50)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"completion": TEXT, "sample_idx": st.integers(0, 2**31 - 1)},
            optional={"reasoning": st.none() | TEXT, "latency_ms": st.none() | st.floats(0, 1e9)},
        ),
        min_size=1,
        max_size=20,
    )
)
def test_any_valid_rows_round_trip(tmp_path_factory: pytest.TempPathFactory, rows: list) -> None:
    lake = Lake.open(tmp_path_factory.mktemp("lake"))
    rows = [
        row | {"rollout_id": f"r{i}", "prompt_id": "p", "source": "generate"}
        for i, row in enumerate(rows)
    ]
    lake.append("rollouts", rows, run_id=RUN)
    frame = lake.scan("rollouts").collect().sort(pl.col("rollout_id").str.slice(1).cast(pl.Int64))
    for column in ("completion", "sample_idx", "reasoning", "latency_ms"):
        assert frame[column].to_list() == [row.get(column) for row in rows], column
