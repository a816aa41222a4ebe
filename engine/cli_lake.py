"""Commands over the lake: `rlvr sql`, `rlvr runs`, `rlvr stats`, `rlvr lake check|compact`.

Thin by design (STYLE.md §8): parse options, call :mod:`engine.lake` / :mod:`engine.sql`, print.
DuckDB errors become ``error: SQL: <duckdb message>`` (exit 2) here, at the boundary.
:data:`LakeOption` is the one definition of ``--lake``; other command modules import it.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import duckdb
import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from engine.errors import UserError
from engine.lake import Lake
from engine.schema import SCHEMAS
from engine.sql import RUNS_SQL, STATS_SQL

__all__ = ["LakeOption", "register"]

LakeOption = Annotated[
    Path | None,
    typer.Option(
        "--lake",
        envvar="RLVR_LAKE",
        help="Lake folder (default ./lake).",
        show_default=False,
        file_okay=False,
    ),
]

MAX_TABLE_ROWS = 100  # `--format table` is for reading; more rows go to csv/json/parquet
MAX_CELL_CHARS = 80


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def sql(
    query: Annotated[str | None, typer.Argument(help="SQL to run; none opens a shell.")] = None,
    lake: LakeOption = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table, csv, json (lines) or parquet.")
    ] = OutputFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE.")] = None,
) -> None:
    """Run DuckDB SQL over the lake's views (prompts, runs, rollouts, verdicts, prompt_scores).

    Views keep one row per id (the latest); macro pass_at_k(n, c, k) is the unbiased estimator.
    With no query, read statements ending in ';' from a shell or from stdin (.tables, .quit).

    Example:  rlvr sql "SELECT dataset, count(*) FROM prompts GROUP BY 1" --format csv
    """
    if output_format is OutputFormat.parquet and output is None:
        raise UserError("--format parquet needs a file — add -o results.parquet")
    con = Lake.open(lake, create=False).connect()
    if query is None:
        _shell(con, sys.stdin, _console())
        return
    _print_result(_execute(con, query), output_format, output)


def runs(
    lake: LakeOption = None,
    limit: Annotated[int, typer.Option(help="Show the latest N runs.", min=1)] = 20,
) -> None:
    """List runs, newest first, with status, model and row counts.

    Example:  rlvr runs --limit 5
    """
    con = Lake.open(lake, create=False).connect()
    _print_result(_execute(con, RUNS_SQL, [limit]), OutputFormat.table, None)


def stats(lake: LakeOption = None) -> None:
    """Rows per table and dataset (rollouts and verdicts by their prompt's dataset).

    Example:  rlvr stats --lake /data/lake
    """
    con = Lake.open(lake, create=False).connect()
    _print_result(_execute(con, STATS_SQL), OutputFormat.table, None)


def check(lake: LakeOption = None) -> None:
    """Report leftover temp files, truncated or corrupt Parquet files and schema mismatches.

    Readers already skip all of these; exit code 1 when any is found.

    Example:  rlvr lake check && echo clean
    """
    report = Lake.open(lake, create=False).check()
    for problem in report.problems:
        typer.echo(f"{problem.kind}\t{problem.path}\t{problem.reason}")
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


def _execute(
    con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None
) -> pl.DataFrame | None:
    """Run ``query``; the last statement's rows, or None when it returns none (DDL, SET)."""
    try:
        relation = con.sql(query, params=params)
        return None if relation is None else relation.pl()
    except duckdb.Error as exc:
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        hints = [
            line.strip() for line in lines[1:] if line.startswith(("Did you mean", "Candidate"))
        ]
        raise UserError(" — ".join([f"SQL: {lines[0]}", *hints])) from exc


def _print_result(
    frame: pl.DataFrame | None, output_format: OutputFormat, output: Path | None
) -> None:
    if frame is None:
        return
    if output_format is OutputFormat.table:
        if output is None:
            _console().print(_rich_table(frame))
        else:
            with output.open("w", encoding="utf-8") as file:
                _console(file).print(_rich_table(frame))
    elif output_format is OutputFormat.csv:
        text = frame.write_csv(output) if output else frame.write_csv()
        if text is not None:
            typer.echo(text, nl=False)
    elif output_format is OutputFormat.json:
        text = frame.write_ndjson(output) if output else frame.write_ndjson()
        if text is not None:
            typer.echo(text, nl=False)
    else:
        frame.write_parquet(output)
    if output is not None:
        typer.echo(f"wrote {frame.height:,} rows to {output}", err=True)


def _console(file: TextIO | None = None) -> Console:
    """A console for tables: a terminal's own width, else wide enough not to squash columns."""
    terminal = file is None and sys.stdout.isatty()
    return Console(file=file, width=None if terminal else 200)


def _rich_table(frame: pl.DataFrame) -> Table:
    shown = frame.head(MAX_TABLE_ROWS)
    caption = None
    if frame.height > MAX_TABLE_ROWS:
        caption = f"{MAX_TABLE_ROWS} of {frame.height:,} rows — use --format csv -o FILE for all"
    table = Table(*frame.columns, caption=caption, show_lines=False)
    for row in shown.iter_rows():
        table.add_row(*(_cell(value) for value in row))
    return table


def _cell(value: Any) -> str:
    if value is None:
        return "[dim]NULL[/dim]"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value).replace("[", r"\[")  # text is data, not rich markup
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def _shell(con: duckdb.DuckDBPyConnection, stdin: TextIO, console: Console) -> None:
    """A small SQL shell: statements end with ';'; `.tables`, `.schema T`, `.quit`.

    From a terminal an error is printed and the shell goes on; from a pipe the first error
    stops it (exit 2), so a failing script fails loudly.
    """
    interactive = stdin.isatty()
    if interactive:
        console.print("rlvr sql — end statements with ';'  (.tables, .schema TABLE, .quit)")
    pending: list[str] = []
    while (line := _read_line(stdin, interactive, "...> " if pending else "sql> ")) is not None:
        command = line.strip()
        if not pending and command.startswith("."):
            if command in (".quit", ".exit"):
                return
            _run_in_shell(con, command, console, interactive)
            continue
        pending.append(line)
        if command.endswith(";"):
            _run_in_shell(con, "\n".join(pending), console, interactive)
            pending = []
    if "".join(pending).strip():  # a last statement without ';' at the end of piped input
        _run_in_shell(con, "\n".join(pending), console, interactive)


def _read_line(stdin: TextIO, interactive: bool, prompt: str) -> str | None:
    if not interactive:
        line = stdin.readline()
        return line.rstrip("\n") if line else None
    try:
        return input(prompt)
    except EOFError:
        return None


def _dot_command(command: str) -> str:
    """The SQL behind a shell dot command."""
    name, _, argument = command.partition(" ")
    if name == ".tables":
        return "SELECT table_name AS name, table_type AS type FROM information_schema.tables ORDER BY 1"
    if name == ".schema" and argument.strip():
        return f"DESCRIBE {argument.strip()}"
    raise UserError(f"unknown command {command!r} — use .tables, .schema TABLE or .quit")


def _run_in_shell(
    con: duckdb.DuckDBPyConnection, statement: str, console: Console, interactive: bool
) -> None:
    try:
        frame = _execute(con, _dot_command(statement) if statement.startswith(".") else statement)
    except UserError as exc:
        if not interactive:
            raise
        console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        return
    if frame is not None:
        console.print(_rich_table(frame))
