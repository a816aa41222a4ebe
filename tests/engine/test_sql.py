"""DuckDB views over the lake and the pass_at_k macro, checked against a Python reference."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.lake import Lake
from engine.schema import SCHEMAS
from engine.sql import connect

RUN = "20261129T031500-generate-ab12cd"


def reference_pass_at_k(n: int, c: int, k: int) -> float:
    """Chen et al. 2021 with exact integers: 1 - C(n-c, k) / C(n, k)."""
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    return connect(Lake.open(tmp_path_factory.mktemp("lake")))


def pass_at_k(con: duckdb.DuckDBPyConnection, n: int, c: int, k: int) -> float | None:
    return con.execute("SELECT pass_at_k(?, ?, ?)", [n, c, k]).fetchone()[0]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_pass_at_k_matches_the_exact_reference(con, data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 1000), label="n")
    c = data.draw(
        st.sampled_from([0, n, *range(0, n + 1, max(1, n // 7))]) | st.integers(0, n), label="c"
    )
    k = data.draw(st.integers(1, n), label="k")
    assert pass_at_k(con, n, c, k) == pytest.approx(reference_pass_at_k(n, c, k), abs=1e-9)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (10, 0, 1, 0.0),  # no correct sample: 0, not NULL
        (10, 10, 5, 1.0),  # all correct
        (10, 3, 1, 0.3),  # pass@1 is c/n
        (10, 8, 3, 1.0),  # n - c < k: every draw of 3 holds a correct one
        (1000, 1, 1000, 1.0),  # k = n with one correct
        (1000, 1, 1, 0.001),  # large n stays exact
        (1000, 500, 100, reference_pass_at_k(1000, 500, 100)),  # C(1000, 100) overflows floats
        (5, 2, 6, None),  # k > n: undefined, NULL rather than an error
        (5, 6, 1, None),  # c > n: impossible counts
        (5, -1, 1, None),  # negative c
        (5, 2, 0, None),  # k < 1
        (None, 2, 1, None),  # NULL in, NULL out
    ],
)
def test_pass_at_k_edges(con, n, c, k, expected) -> None:
    got = pass_at_k(con, n, c, k)
    assert got == (None if expected is None else pytest.approx(expected, abs=1e-12))


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.open(tmp_path / "lake")


def test_an_empty_lake_has_every_view_with_its_columns(lake: Lake) -> None:
    con = connect(lake)
    for table, schema in SCHEMAS.items():
        described = con.execute(f"DESCRIBE {table}").fetchall()
        assert [row[0] for row in described] == schema.names, table
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    types = dict((row[0], row[1]) for row in con.execute("DESCRIBE rollouts").fetchall())
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE" and types["sample_idx"] == "INTEGER"
    assert con.execute("SELECT count(*) FROM prompt_scores").fetchone() == (0,)


def rollout(i: int, completion: str = "x") -> dict:
    return {
        "rollout_id": f"r{i}",
        "prompt_id": f"p{i // 4}",
        "sample_idx": i % 4,
        "completion": completion,
        "source": "generate",
    }


def verdict(i: int, status: str, verifier: str = "math") -> dict:
    reward = {"correct": 1.0, "incorrect": 0.0}.get(status)
    return {"rollout_id": f"r{i}", "verifier": verifier, "status": status, "reward": reward}


def test_views_count_reappended_ids_once_keeping_the_latest(lake: Lake) -> None:
    # Verdicts are re-judged by later runs (rollouts and prompts are never written twice, issue 10).
    lake.append("verdicts", [verdict(i, "incorrect") for i in range(4)], run_id=RUN)
    lake.append("verdicts", [verdict(i, "correct") for i in range(2)], run_id="judge-again")
    con = lake.connect()
    assert con.execute("SELECT count(*) FROM verdicts").fetchone() == (4,)
    rows = con.execute("SELECT status, count(*) FROM verdicts GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [("correct", 2), ("incorrect", 2)]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(  # appends (one file each) of (rollout, verifier, seconds after T0) verdicts
        st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["math", "format"]),
                           st.integers(0, 2)), min_size=1, max_size=6),
        min_size=1, max_size=4,
    )
)  # fmt: skip
def test_views_keep_the_latest_row_then_the_later_file_and_position(tmp_path_factory, appends):
    """The view's one row per id, against a Python reference over the raw files: the latest
    ``created_at``, ties to the later file, then the later row (what ``compact`` keeps too)."""
    lake = Lake.open(tmp_path_factory.mktemp("lake"))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for n, rows in enumerate(appends):
        lake.append("verdicts", [
            {"rollout_id": f"r{r}", "verifier": v, "status": "correct", "extracted": f"{n}.{i}",
             "created_at": t0 + timedelta(seconds=t)} for i, (r, v, t) in enumerate(rows)
        ], run_id=f"judge-{n}")  # fmt: skip
    best: dict[tuple, tuple] = {}
    for path in lake.files("verdicts"):
        table = pq.read_table(path).to_pylist()
        for row_number, row in enumerate(table):
            rank = (row["created_at"], str(path), row_number)
            key = (row["rollout_id"], row["verifier"])
            if key not in best or rank > best[key][0]:
                best[key] = (rank, row["extracted"])
    expected = sorted((*key, marker) for key, (_, marker) in best.items())
    query = "SELECT rollout_id, verifier, extracted FROM verdicts ORDER BY ALL"
    assert lake.connect().execute(query).fetchall() == expected
    lake.compact("verdicts")
    assert lake.connect().execute(query).fetchall() == expected


def test_views_ignore_temp_and_truncated_files(lake: Lake) -> None:
    good = lake.append("rollouts", [rollout(i) for i in range(4)], run_id=RUN)
    assert good is not None
    (good.parent / ".tmp-part-killed.parquet").write_bytes(good.read_bytes())
    (good.parent / "part-truncated.parquet").write_bytes(good.read_bytes()[:100])
    con = lake.connect()
    assert con.execute("SELECT count(*) FROM rollouts").fetchone() == (4,)


def test_prompt_scores_feed_pass_at_k(lake: Lake) -> None:
    lake.append("rollouts", [rollout(i) for i in range(8)], run_id=RUN)
    statuses = ["correct", "incorrect", "incorrect", "incorrect"] + ["correct"] * 3 + ["timeout"]
    lake.append("verdicts", [verdict(i, s) for i, s in enumerate(statuses)], run_id="judge-run")
    lake.append("verdicts", [verdict(0, "correct", "format")], run_id="judge-run")
    query = """
        SELECT prompt_id, verifier, n, c, judged, mean_reward, pass_at_k(n, c, 2) AS p2
        FROM prompt_scores ORDER BY prompt_id, verifier"""
    rows = lake.connect().execute(query).fetchall()
    assert rows == [
        ("p0", "format", 1, 1, 1, 1.0, None),  # one sample cannot give pass@2
        ("p0", "math", 4, 1, 4, 0.25, pytest.approx(0.5)),  # 1 - C(3,2)/C(4,2)
        ("p1", "math", 4, 3, 3, 1.0, 1.0),  # timeout: judged is 3, NULL reward skipped
    ]


def test_hive_run_id_matches_the_column(lake: Lake) -> None:
    lake.append("rollouts", [rollout(0)], run_id=RUN)
    lake.append("rollouts", [rollout(1)], run_id="other-run")
    con = lake.connect()
    rows = con.execute("SELECT rollout_id, run_id FROM rollouts ORDER BY 1").fetchall()
    assert rows == [("r0", RUN), ("r1", "other-run")]
