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

import itertools
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Literal

import duckdb
import polars as pl
import pyarrow as pa

from engine import metrics_sql
from engine.errors import UserError
from engine.lake import Lake
from engine.schema import to_polars

__all__ = [
    "MAX_ANSWERS",
    "MAX_CHECKS",
    "METRIC_COLUMNS",
    "By",
    "answer_merges",
    "maj_answers",
    "metric_value",
    "run_metrics",
    "wide",
]

By = Literal["dataset", "task"]
METRIC_COLUMNS = ("run_id", "group", "metric", "k", "value", "se", "count")
MAX_ANSWERS = 8  # incorrect answers per prompt compared pairwise with the verifier: ≤ 28 checks
MAX_CHECKS = 20_000  # verifier comparisons per call at most
_ORDER = {"pass": 0, "maj": 1, "no_answer_rate": 2, "truncation_rate": 3, "format_reward": 4}


def run_metrics(
    source: Lake | duckdb.DuckDBPyConnection,
    runs: str | Sequence[str],
    *,
    by: By = "dataset",
    equivalence: bool = True,
) -> pl.DataFrame:
    """Long-format metrics of ``runs`` (generate runs: the rollouts' run_id), one row per
    (run_id, group, metric), columns :data:`METRIC_COLUMNS` (``group`` holds the dataset or task).

    ``metric`` is ``pass@K``, ``maj@K`` (with ``k``), ``no_answer_rate``, ``truncation_rate``,
    ``format_reward``, ``length_{correct,incorrect}_{mean,median}``; ``count`` is the number of
    prompts (or rollouts, for lengths) the value averages over. With ``equivalence`` (default),
    incorrect math answers that the math verifier finds equal vote together (:func:`answer_merges`).
    Raises UserError for a run with no rollouts.
    """
    con, runs = _open(source, runs)
    with _prepared(con, runs, equivalence) as (facts, maj):
        frame = _fetch(con, metrics_sql.metrics_query(by, facts=facts, maj=maj))
    frame = frame.rename({by: "group"}).select(METRIC_COLUMNS)
    return _sorted(frame)


def maj_answers(
    source: Lake | duckdb.DuckDBPyConnection,
    runs: str | Sequence[str],
    *,
    equivalence: bool = True,
) -> pl.DataFrame:
    """The answer groups behind maj@k: per (run, prompt, k) each group's votes, whether it is
    correct, whether it tops the vote (``is_top``, ``top_groups``) and its ``maj_score``."""
    con, runs = _open(source, runs)
    with _prepared(con, runs, equivalence) as (_, maj):
        return _fetch(con, f"SELECT * FROM {maj} ORDER BY run_id, prompt_id, k, votes DESC, answer")


def answer_merges(
    con: duckdb.DuckDBPyConnection,
    facts: str,
    *,
    max_answers: int = MAX_ANSWERS,
    max_checks: int = MAX_CHECKS,
) -> pa.Table:
    """Incorrect math answers that the math verifier finds equal to a more-voted one.

    Normalizing spellings groups most equal answers; the verifier is asked only where merging
    could change maj@k: a math prompt, for some k, with a correct group (C votes), at least two
    incorrect groups, and at least C incorrect votes in all. There the ``max_answers``
    most-voted incorrect answers are compared pairwise (``verify_math(a, "\\boxed{b}")``, each
    bounded by the verifier's own timeout), at most ``max_checks`` comparisons per call; the
    rest keep the normalized grouping. Returns ``(run_id, prompt_id, answer_key, canonical)``
    with canonical the most-voted answer of each merged set.
    """
    rows = con.execute(f"""
        WITH m AS ({metrics_sql.maj_query(facts)}),
        needed AS (SELECT DISTINCT run_id, prompt_id FROM (
            SELECT run_id, prompt_id FROM m WHERE task = 'math' GROUP BY run_id, prompt_id, k
            HAVING coalesce(sum(votes) FILTER (WHERE correct), 0) > 0
               AND count(*) FILTER (WHERE NOT correct) >= 2
               AND coalesce(sum(votes) FILTER (WHERE NOT correct), 0)
                   >= coalesce(sum(votes) FILTER (WHERE correct), 0)))
        SELECT f.run_id, f.prompt_id, f.answer_key, min(f.extracted) AS extracted,
               count(*) AS votes
        FROM {facts} AS f JOIN needed USING (run_id, prompt_id)
        WHERE f.judged AND NOT f.correct AND f.answer_key IS NOT NULL
        GROUP BY ALL ORDER BY f.run_id, f.prompt_id, votes DESC, f.answer_key""").fetchall()
    answers: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for run_id, prompt_id, key, extracted, _ in rows:
        answers.setdefault((run_id, prompt_id), []).append((key, extracted))
    pairs: list[tuple[str, str]] = []
    owners, decided = [], []
    for prompt, found in answers.items():
        top = found[:max_answers]
        for i, j in itertools.combinations(range(len(top)), 2):
            (key_a, text_a), (key_b, text_b) = top[i], top[j]
            if _NUMBER.fullmatch(key_a) and _NUMBER.fullmatch(key_b):
                # two plain decimals: equal iff equal as numbers, no verifier needed
                decided.append(((prompt, key_a, key_b), Decimal(key_a) == Decimal(key_b)))
            elif len(pairs) < max_checks:
                pairs.append((text_a, "\\boxed{" + text_b + "}"))
                owners.append((prompt, key_a, key_b))
    outcomes = decided + list(zip(owners, _equal(pairs), strict=True))
    merged = _merge([owner for owner, _ in outcomes], [equal for _, equal in outcomes])
    if not merged:
        return _no_merges()
    return pa.table({name: [row[i] for row in merged] for i, name in enumerate(_MERGE_COLUMNS)})


_MERGE_COLUMNS = ("run_id", "prompt_id", "answer_key", "canonical")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _no_merges() -> pa.Table:
    return pa.table({name: pa.array([], pa.string()) for name in _MERGE_COLUMNS})


def _equal(pairs: list[tuple[str, str]]) -> list[bool]:
    if not pairs:
        return []
    from verifiers.math import verify_math_batch  # sympy loads only when a check is needed

    return [v.status == "correct" for v in verify_math_batch(pairs, workers=2)]


def _merge(owners: list[tuple], equal: list[bool]) -> list[tuple[str, str, str, str]]:
    """Union-find over the equal pairs; each member points at its set's most-voted answer."""
    parent: dict[tuple, tuple] = {}

    def root(node: tuple) -> tuple:
        while parent.get(node, node) != node:
            node = parent[node]
        return node

    for (prompt, a, b), same in zip(owners, equal, strict=True):
        if same:
            # a comes first in vote order, so the root is always the most-voted member
            ra, rb = root((prompt, a)), root((prompt, b))
            if ra != rb:
                parent[rb] = ra
    return [(*node[0], node[1], root(node)[1]) for node in sorted(parent) if root(node) != node]


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


def _open(
    source: Lake | duckdb.DuckDBPyConnection, runs: str | Sequence[str]
) -> tuple[duckdb.DuckDBPyConnection, list[str]]:
    runs = [runs] if isinstance(runs, str) else list(runs)
    con = source.connect() if isinstance(source, Lake) else source
    _check_runs(con, runs)
    return con, runs


@contextmanager
def _prepared(
    con: duckdb.DuckDBPyConnection, runs: list[str], equivalence: bool
) -> Iterator[tuple[str, str]]:
    """Temp table of the runs' rollout facts (read once) and a view of their answer groups."""
    tag = uuid.uuid4().hex[:12]
    facts, merges, maj = f"_rlvr_facts_{tag}", f"_rlvr_merges_{tag}", f"_rlvr_maj_{tag}"
    placeholders = ", ".join("?" for _ in runs)
    where = f"WHERE r.run_id IN ({placeholders})"
    try:
        con.execute(f"CREATE TEMP TABLE {facts} AS {metrics_sql.rollout_facts_query(where)}", runs)
        table = answer_merges(con, facts) if equivalence else _no_merges()
        con.register(merges, table)
        con.execute(f"CREATE TEMP VIEW {maj} AS {metrics_sql.maj_query(facts, merges)}")
        yield facts, maj
    except duckdb.Error as exc:
        raise UserError(
            f"metrics query failed: {exc} — check the lake with `rlvr lake check`"
        ) from exc
    finally:
        con.execute(f"DROP VIEW IF EXISTS {maj}")
        con.unregister(merges)
        con.execute(f"DROP TABLE IF EXISTS {facts}")


def _fetch(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return to_polars(con.sql(sql).to_arrow_table())


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
