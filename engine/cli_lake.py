"""Commands over the lake: `rlvr sql`, `rlvr runs`, `rlvr stats`, `rlvr lake check|compact`.

Thin by design (STYLE.md §8): parse options, call :mod:`engine.lake` / :mod:`engine.sql`, print.
`rlvr sql` itself, its shell and the output writers live in :mod:`engine.cli_sql`; DuckDB errors
become ``error: SQL: <duckdb message>`` (exit 2) there, at the boundary.
:data:`LakeOption` (defined in :mod:`engine.cli_sql`) is the one ``--lake``; other command modules
import it from here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import duckdb
import pyarrow as pa
import typer

from engine.cli_sql import LakeOption, OutputFormat, emit, execute, sql
from engine.lake import Lake
from engine.schema import SCHEMAS
from engine.sql import RUNS_SQL, STATS_SQL

__all__ = [
    "LakeOption",
    "ListFormat",
    "ListFormatOption",
    "check",
    "compact",
    "print_rows",
    "register",
    "runs",
    "stats",
]


class ListFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


ListFormatOption = Annotated[
    ListFormat, typer.Option("--format", "-f", help="table, csv or json (lines).")
]


def runs(
    lake: LakeOption = None,
    limit: Annotated[int, typer.Option(help="Show the latest N runs.", min=1)] = 20,
    output_format: ListFormatOption = ListFormat.table,
) -> None:
    """List runs, newest first, with status, model and row counts.

    Example:  rlvr runs --limit 5 --format csv
    """
    con = Lake.open(lake, create=False).connect()
    _list(con, execute(con, RUNS_SQL, [limit]), output_format)


def stats(lake: LakeOption = None, output_format: ListFormatOption = ListFormat.table) -> None:
    """Rows per table and dataset (rollouts and verdicts by their prompt's dataset).

    Example:  rlvr stats --lake /data/lake --format json
    """
    con = Lake.open(lake, create=False).connect()
    _list(con, execute(con, STATS_SQL), output_format)


def check(lake: LakeOption = None, output_format: ListFormatOption = ListFormat.table) -> None:
    """Report leftover temp files, truncated or corrupt Parquet files and schema mismatches.

    Readers already skip all of these; exit code 1 when any is found.

    Example:  rlvr lake check && echo clean
    """
    report = Lake.open(lake, create=False).check()
    if output_format is ListFormat.table:  # one tab-separated line per problem, for grep and cut
        for problem in report.problems:
            typer.echo(f"{problem.kind}\t{problem.path}\t{problem.reason}")
    else:
        rows = [{"kind": p.kind, "path": str(p.path), "reason": p.reason} for p in report.problems]
        print_rows(rows, output_format)
    typer.echo(f"{report.files_ok} files ok, {len(report.problems)} problem(s)", err=True)
    if not report.ok:
        raise typer.Exit(1)


def compact(
    table: Annotated[str | None, typer.Argument(help="Table to compact; all when omitted.")] = None,
    lake: LakeOption = None,
) -> None:
    """Merge each partition's small files into one, atomically (readers never double-count).

    Example:  rlvr lake compact rollouts
    """
    store = Lake.open(lake, create=False)
    for name in [table] if table else list(SCHEMAS):
        report = store.compact(name)
        typer.echo(
            f"{name}: {report.files_before} files → {report.files_after} in "
            f"{report.partitions_compacted} partition(s), {report.rows:,} rows"
        )


def print_rows(rows: list[dict[str, Any]], fmt: ListFormat) -> None:
    """Rows (dicts with the same keys) in ``fmt`` on stdout, as every listing command prints."""
    con = duckdb.connect()
    _list(con, con.from_arrow(pa.Table.from_pylist(rows)) if rows else None, fmt)


def _list(con: duckdb.DuckDBPyConnection, relation: Any, fmt: ListFormat) -> None:
    if relation is not None:
        emit(con, relation, OutputFormat(fmt.value), None)


def register(app: typer.Typer) -> None:
    """Add `sql`, `runs`, `stats` and the `lake` group to the `rlvr` app."""
    app.command("sql")(sql)
    app.command("runs")(runs)
    app.command("stats")(stats)
    lake_app = typer.Typer(
        help="Check and maintain the lake's files.  Example:  rlvr lake check",
        no_args_is_help=True,
    )
    lake_app.command("check")(check)
    lake_app.command("compact")(compact)
    app.add_typer(lake_app, name="lake")
