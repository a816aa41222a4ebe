"""Run metrics (issue 12): pass@1, pass@k, maj@k, no-answer and truncation rates, format reward and
lengths, per dataset or task, each with its standard error.

The definitions (which verdict counts, the maj@k tie rule, the standard errors) are written once,
in :mod:`engine.metrics_sql`, whose queries this module runs restricted to the asked runs; the same
queries are the ``run_metrics`` and ``maj_answers`` views of ``rlvr sql``. DuckDB streams the
rollouts (no completion text is read), so a million rollouts stay within a few hundred MB.

>>> import tempfile
>>> from engine.lake import Lake
>>> run_metrics(Lake.open(tempfile.mkdtemp()), ["none"])  # doctest: +SKIP
Traceback (most recent call last):
engine.errors.UserError: no rollouts for run 'none' — list the runs with `rlvr runs`
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import duckdb
import polars as pl

from engine import metrics_sql
from engine.errors import UserError
from engine.lake import Lake

__all__ = ["METRIC_COLUMNS", "maj_answers", "metric_value", "run_metrics", "wide"]

By = Literal["dataset", "task"]
METRIC_COLUMNS = ("run_id", "group", "metric", "k", "value", "se", "count")
_ORDER = {"pass": 0, "maj": 1, "no_answer_rate": 2, "truncation_rate": 3, "format_reward": 4}


def run_metrics(
    source: Lake | duckdb.DuckDBPyConnection,
    runs: str | Sequence[str],
    *,
    by: By = "dataset",
) -> pl.DataFrame:
    """Long-format metrics of ``runs`` (generate runs: the rollouts' run_id), one row per
    (run_id, group, metric), columns :data:`METRIC_COLUMNS` (``group`` holds the dataset or task).

    ``metric`` is ``pass@K``, ``maj@K`` (with ``k``), ``no_answer_rate``, ``truncation_rate``,
    ``format_reward``, ``length_{correct,incorrect}_{mean,median}``; ``count`` is the number of
    prompts (or rollouts, for lengths) the value averages over. Raises UserError for a run with
    no rollouts.
    """
    runs = [runs] if isinstance(runs, str) else list(runs)
    con = source.connect() if isinstance(source, Lake) else source
    _check_runs(con, runs)
    query = metrics_sql.metrics_query(by, facts="run_facts", maj="run_maj")
    frame = _run(con, runs, query)
    frame = frame.rename({by: "group"}).select(METRIC_COLUMNS)
    return _sorted(frame)


def maj_answers(
    source: Lake | duckdb.DuckDBPyConnection, runs: str | Sequence[str]
) -> pl.DataFrame:
    """The answer groups behind maj@k: per (run, prompt, k) each group's votes, whether it is
    correct, whether it tops the vote (``is_top``, ``top_groups``) and its ``maj_score``."""
    runs = [runs] if isinstance(runs, str) else list(runs)
    con = source.connect() if isinstance(source, Lake) else source
    _check_runs(con, runs)
    return _run(
        con, runs, "SELECT * FROM run_maj ORDER BY run_id, prompt_id, k, votes DESC, answer"
    )


def metric_value(frame: pl.DataFrame, metric: str, group: str | None = None) -> float | None:
    """One value out of :func:`run_metrics`' frame (the first group when none is named)."""
    rows = frame.filter(pl.col("metric") == metric)
    if group is not None:
        rows = rows.filter(pl.col("group") == group)
    return rows["value"][0] if rows.height else None


def wide(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per (run_id, group), one column per metric, as ``value`` and ``value_se``."""
    if frame.is_empty():
        return frame
    keys = ["run_id", "group"]
    values = frame.pivot(on="metric", index=keys, values="value", sort_columns=False)
    ses = frame.pivot(on="metric", index=keys, values="se", sort_columns=False)
    ses = ses.rename({name: f"{name}_se" for name in ses.columns if name not in keys})
    return values.join(ses, on=keys, how="left", nulls_equal=True).sort(keys)


def _run(con: duckdb.DuckDBPyConnection, runs: list[str], body: str) -> pl.DataFrame:
    """Run ``body`` after CTEs ``run_facts`` (the runs' rollout facts) and ``run_maj``."""
    placeholders = ", ".join("?" for _ in runs)
    facts = metrics_sql.rollout_facts_query(f"WHERE r.run_id IN ({placeholders})")
    maj = metrics_sql.maj_query("run_facts")
    sql = (
        f"WITH run_facts AS MATERIALIZED ({facts}), run_maj AS MATERIALIZED ({maj}) "
        f"{_strip_with(body)}"
    )
    try:
        return pl.from_arrow(con.sql(sql, params=runs).to_arrow_table())
    except duckdb.Error as exc:
        raise UserError(
            f"metrics query failed: {exc} — check the lake with `rlvr lake check`"
        ) from exc


def _strip_with(body: str) -> str:
    """Join ``body``'s own WITH list onto ours (a query may start with WITH or SELECT)."""
    text = body.strip()
    return ", " + text[len("WITH") :] if text.upper().startswith("WITH") else text


def _check_runs(con: duckdb.DuckDBPyConnection, runs: list[str]) -> None:
    if not runs:
        raise UserError("no run given — pass --run RUN (list the runs with `rlvr runs`)")
    found = {
        row[0]
        for row in con.execute(
            "SELECT DISTINCT run_id FROM rollouts WHERE run_id IN (SELECT unnest(?))", [runs]
        ).fetchall()
    }
    missing = [run for run in runs if run not in found]
    if missing:
        raise UserError(f"no rollouts for run {missing[0]!r} — list the runs with `rlvr runs`")


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    family = pl.col("metric").str.extract(r"^([a-z_]+?)(?:@\d+)?$", 1)
    rank = family.replace_strict(_ORDER, default=9, return_dtype=pl.Int32)
    return frame.sort(["run_id", "group", rank, "k", "metric"], nulls_last=True)
