"""DuckDB over the lake: one view per table, one row per id, and macros for RL metrics.

Views read an explicit list of validated files (:meth:`engine.lake.Lake.files`), never a raw
glob, so temp files of running or killed writers and truncated files are invisible. A connection
snapshots that list when it opens: reconnect to see later appends or a compact. Every view has
its table's columns even when the table has no files yet.

Macros and views:

- ``pass_at_k(n, c, k)``: the unbiased estimator of Chen et al. 2021 (HumanEval paper, §2.1),
  ``1 - C(n-c, k) / C(n, k)``, computed as ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` so it neither
  overflows nor cancels at n = 1000. It is 1.0 when ``n - c < k`` (every draw of k holds a correct
  sample) and NULL when it is undefined: ``k > n``, ``k < 1``, ``c`` outside ``[0, n]`` or any
  NULL argument. NULL, not an error, so one prompt with too few samples does not abort a query;
  ``avg()`` skips it, so compare ``count(pass_at_k(n, c, k))`` with ``count(*)``.
- ``stale_runs``: the ids of runs still marked ``running`` whose process died without saying so
  (:meth:`engine.lake.Lake.stale_runs`); ``RUNS_SQL`` shows them as ``stale``.
- ``prompt_scores``: per run, prompt and verifier, ``n`` rollouts judged, ``c`` correct,
  ``judged`` (non-NULL rewards) and ``mean_reward``, the input of pass@k.

>>> import tempfile
>>> from engine.lake import Lake
>>> con = connect(Lake.open(tempfile.mkdtemp()))
>>> con.execute("SELECT pass_at_k(16, 4, 1), pass_at_k(16, 0, 8), pass_at_k(16, 12, 8)").fetchone()
(0.25, 0.0, 1.0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from engine import metrics_sql
from engine.schema import SCHEMAS, id_columns

if TYPE_CHECKING:
    from engine.lake import Lake

__all__ = [
    "MACROS",
    "RUNS_SQL",
    "STATS_SQL",
    "VIEWS",
    "connect",
    "setup_statements",
    "table_source",
]

MACROS = {
    "pass_at_k": """
        CREATE MACRO pass_at_k(n, c, k) AS CASE
            WHEN n IS NULL OR c IS NULL OR k IS NULL THEN NULL
            WHEN k < 1 OR k > n OR c < 0 OR c > n THEN NULL
            WHEN c = 0 THEN 0.0
            WHEN n - c < k THEN 1.0
            ELSE 1.0 - list_product(list_transform(range(n - c + 1, n + 1), lambda i: 1.0 - k / i))
        END""",
    **metrics_sql.MACROS,  # answer_key, metric_ks (issue 12)
}

VIEWS = {
    "prompt_scores": """
        CREATE VIEW prompt_scores AS
        SELECT r.run_id, r.prompt_id, v.verifier,
               count(*) AS n,
               count(*) FILTER (WHERE v.status = 'correct') AS c,
               count(v.reward) AS judged,
               avg(v.reward) AS mean_reward
        FROM rollouts AS r JOIN verdicts AS v USING (rollout_id)
        GROUP BY ALL""",
    **metrics_sql.VIEWS,  # rollout_facts, maj_answers, run_metrics (issue 12)
}

# `rlvr runs`: the latest runs with what each wrote; the one parameter is the row limit.
RUNS_SQL = """
SELECT run.run_id, run.kind,
       CASE WHEN run.run_id IN (SELECT run_id FROM stale_runs) THEN 'stale' ELSE run.status END
           AS status,
       run.model,
       date_trunc('second', run.started_at) AS started_at,
       round(epoch(coalesce(run.finished_at, now()) - run.started_at), 1) AS wall_s,
       (SELECT count(*) FROM prompts AS p WHERE p.run_id = run.run_id) AS prompts,
       (SELECT count(*) FROM rollouts AS r WHERE r.run_id = run.run_id) AS rollouts,
       (SELECT count(*) FROM verdicts AS v WHERE v.run_id = run.run_id) AS verdicts
FROM runs AS run ORDER BY run.started_at DESC LIMIT ?
"""

# `rlvr stats`: rows per table and dataset; rollouts and verdicts count under their prompt's.
STATS_SQL = """
SELECT 'prompts' AS "table", dataset, count(*) AS rows FROM prompts GROUP BY ALL
UNION ALL
SELECT 'rollouts', coalesce(p.dataset, '(unknown prompt)'), count(*)
FROM rollouts AS r LEFT JOIN prompts AS p USING (prompt_id) GROUP BY ALL
UNION ALL
SELECT 'verdicts', coalesce(p.dataset, '(unknown prompt)'), count(*)
FROM verdicts AS v LEFT JOIN rollouts AS r USING (rollout_id)
     LEFT JOIN prompts AS p USING (prompt_id) GROUP BY ALL
UNION ALL
SELECT 'runs', NULL, count(*) FROM runs
ORDER BY 1, 2
"""

_DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
}


def connect(lake: Lake) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection over ``lake``: table views, ``prompt_scores``, macros."""
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")  # it would land in csv/json output
    if hasattr(lake, "register_filesystem"):  # a lake on S3 (engine.lake_s3, issue 14)
        lake.register_filesystem(con)
    for statement in setup_statements(lake):
        con.execute(statement)
    return con


def setup_statements(lake: Lake) -> list[str]:
    """The SQL that makes a fresh DuckDB session a view of ``lake``; also the shell's init script."""
    statements = ["SET TimeZone = 'UTC'"]  # timestamps print the same on every machine
    for table in SCHEMAS:
        statements.append(_table_view(table, [str(path) for path in lake.files(table)]))
    return [*statements, _stale_runs(lake), *MACROS.values(), *VIEWS.values()]


def _stale_runs(lake: Lake) -> str:
    """Table ``stale_runs``: runs left ``running`` by a process that is gone (SIGKILL)."""
    listed = ", ".join(_quote(run_id) for run_id in sorted(lake.stale_runs()))
    return f"CREATE TABLE stale_runs AS SELECT unnest([{listed}]::VARCHAR[]) AS run_id"


def _table_view(table: str, files: list[str]) -> str:
    """The view of one table: typed columns, one row per id, the latest ``created_at`` (ties:
    the later file, then the later row, as ``Lake.compact`` keeps).

    Only narrow columns decide which rows lose: ids seen more than once (a hash aggregate of
    the keys, usually empty since writes dedupe), then those ids' rows ranked by a window. The
    view is every row minus the losers (an anti join on the row's file and position), so no
    query ever sorts or buffers the text columns to dedupe (a window over every column spilled
    ~4.5 GB of completions at 1M rollouts)."""
    schema = SCHEMAS[table]
    source = table_source(table, files, locate=True)
    keys = ", ".join(id_columns(table))
    columns = ", ".join(schema.names)
    repeated = f"SELECT {keys} FROM ({source}) GROUP BY ALL HAVING count(*) > 1"
    losers = (
        f"SELECT filename, file_row_number FROM ({source}) SEMI JOIN ({repeated}) USING ({keys}) "
        f"QUALIFY row_number() OVER (PARTITION BY {keys} "
        "ORDER BY created_at DESC, filename DESC, file_row_number DESC) > 1"
    )
    return (
        f"CREATE VIEW {table} AS SELECT {columns} FROM ({source}) "
        f"ANTI JOIN ({losers}) USING (filename, file_row_number)"
    )


def table_source(table: str, files: list[str], *, locate: bool = False) -> str:
    """A SELECT of every row of ``files`` with the table's typed columns (no one-row-per-id
    rule): the view's input, and what ``rlvr ui`` filters before keeping each id's latest row.
    ``locate`` adds each row's ``filename`` and ``file_row_number``."""
    schema = SCHEMAS[table]
    fields = [f"CAST(NULL AS {_DUCKDB_TYPES[field.type]}) AS {field.name}" for field in schema]
    if locate:
        fields += ["CAST(NULL AS VARCHAR) AS filename", "CAST(NULL AS BIGINT) AS file_row_number"]
    source = f"SELECT {', '.join(fields)} WHERE false"
    if files:
        # UNION BY NAME with the typed empty row set: files written before a nullable column
        # was added still give that column, as NULL.
        listed = ", ".join(_quote(path) for path in files)
        located = ", filename = true, file_row_number = true" if locate else ""
        source = (
            f"{source} UNION ALL BY NAME SELECT * FROM read_parquet([{listed}], "
            f"hive_partitioning = true, union_by_name = true{located})"
        )
    return source


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
