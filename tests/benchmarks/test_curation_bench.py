"""benchmarks/curation_bench.py's baseline computes the same numbers as `rlvr eval` (else the
side-by-side would compare two different things), and its estimator is the pass_at_k macro."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import curation_bench as bench
from engine.sql import MACROS

pytest.importorskip("pandas")
pytest.importorskip("datasketch")


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    con.execute(MACROS["pass_at_k"])
    return con


@settings(deadline=None, max_examples=60)
@given(n=st.integers(1, 64), data=st.data())
def test_estimator_is_the_pass_at_k_macro(con, n: int, data) -> None:
    c = data.draw(st.integers(0, n))
    k = data.draw(st.integers(1, n))
    (want,) = con.execute("SELECT pass_at_k(?, ?, ?)", [n, c, k]).fetchone()
    assert bench._pass_at_k(n, c, k) == pytest.approx(want, abs=1e-12)


def test_baseline_agrees_with_rlvr_eval_and_select(tmp_path) -> None:
    from benchmarks.helpers.select_lake import GEN
    from engine.curate import load_recipe, select
    from engine.lake import Lake
    from engine.metrics import run_metrics

    lake_dir, jsonl, bench_file, _ = bench.build_inputs(tmp_path, 640)
    lake = Lake.open(lake_dir, create=False)
    ours = {r["metric"]: r["value"] for r in run_metrics(lake, GEN).iter_rows(named=True)}
    theirs = bench.baseline_eval(jsonl, 640)
    assert set(theirs) <= set(ours) and "maj@16" in theirs and "pass@16" in theirs
    for metric, value in theirs.items():
        assert value == pytest.approx(ours[metric], abs=1e-9), metric
    selected = select(lake, [GEN], load_recipe("r1-sft"), "bench")
    baseline = bench.baseline_select(jsonl, 640, bench_file)
    assert [f["rows"] for f in baseline["funnel"]][:4] == [f.kept for f in selected.funnel][:4]
    # the text filters and MinHash are two implementations: close, not identical
    assert abs(baseline["rows"] - selected.rows) <= max(3, selected.rows // 50)
