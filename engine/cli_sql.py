"""`rlvr sql`: DuckDB SQL over the lake — a shell in a terminal, a script from a pipe.

Three ways in (issue 10, "the SQL face"):

- ``rlvr sql "SELECT …"``: run the statements given, print each one's rows.
- ``rlvr sql`` at a terminal: a shell with DuckDB's shell conventions (:mod:`engine.sql_shell`:
  history, line editing, ``.help``, ``.tables``, ``.schema``, ``.mode``, ``.timer``; Ctrl-C
  cancels the running query and keeps the shell).
- ``rlvr sql`` (or ``rlvr sql -``) with standard input from a pipe or a file: a script; every
  statement runs in order and the first error stops it (exit 2).

Results stream: ``-o FILE`` is DuckDB's ``COPY … TO`` into a temporary file renamed on success (a
failed query leaves nothing), and stdout gets record batches, so memory stays flat however many
rows a query returns. ``--format`` defaults to ``table`` at a terminal and to the ``-o`` file's
extension (.csv .json .jsonl .parquet) when writing a file.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import duckdb
import polars as pl
import pyarrow as pa
import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from engine.errors import UserError
from engine.lake import Lake
from engine.sql_shell import Shell

__all__ = [
    "BATCH_ROWS",
    "MAX_CELL_CHARS",
    "MAX_TABLE_ROWS",
    "ROW_STATEMENTS",
    "SUFFIX_FORMATS",
    "FormatOption",
    "LakeOption",
    "OutputFormat",
    "emit",
    "execute",
    "resolve_format",
    "rich_table",
    "run_script",
    "sql",
]

MAX_TABLE_ROWS = 100  # `--format table` is for reading; more rows go to csv/json/parquet
MAX_CELL_CHARS = 80
BATCH_ROWS = 65_536
SUFFIX_FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json"}
SUFFIX_FORMATS |= {".parquet": "parquet", ".pq": "parquet", ".txt": "table"}
# Statements whose rows DuckDB's shell prints; DDL, SET and the like print nothing.
ROW_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA", "CALL", "RELATION", "EXECUTE"}


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


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
FormatOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        "-f",
        help="table, csv, json (lines) or parquet; default: -o's extension, else table.",
        show_default=False,
    ),
]


def sql(
    query: Annotated[
        str | None,
        typer.Argument(help="SQL to run; '-' or none reads stdin (a shell at a terminal)."),
    ] = None,
    lake: LakeOption = None,
    output_format: FormatOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the last result to FILE.")
    ] = None,
) -> None:
    """Run DuckDB SQL over the lake's views (prompts, runs, rollouts, verdicts, prompt_scores).

    Views keep one row per id (the latest); macro pass_at_k(n, c, k) is the unbiased estimator.
    At a terminal with no query: a shell (.help, .tables, .schema, .mode, .timer; Ctrl-C cancels
    a query). From a pipe: every statement runs and each result is printed.

    \b
    Example:
      rlvr sql "SELECT dataset, count(*) FROM prompts GROUP BY 1" -o counts.csv
    """
    fmt = resolve_format(output_format, output)
    store = Lake.open(lake, create=False)
    if query is None and sys.stdin.isatty() and output is None and output_format is None:
        raise typer.Exit(Shell(store.connect()).run())
    try:
        script = sys.stdin.read() if query in (None, "-") else query
    except UnicodeDecodeError as exc:
        raise UserError(f"standard input is not UTF-8 text ({exc.reason}) — convert it, "
                        "e.g. iconv -f latin1 -t utf-8") from None  # fmt: skip
    run_script(store.connect(), script, fmt, output)


def resolve_format(given: OutputFormat | None, output: Path | None) -> OutputFormat:
    """``--format`` when given, else the ``-o`` file's extension, else a table."""
    if given is not None:
        fmt = given
    elif output is None:
        fmt = OutputFormat.table
    elif (name := SUFFIX_FORMATS.get(output.suffix.lower())) is not None:
        fmt = OutputFormat(name)
    else:
        raise UserError(
            f"cannot tell the format of {str(output)!r} from its extension — "
            "name it .csv, .json, .jsonl or .parquet, or add --format"
        )
    if fmt is OutputFormat.parquet and output is None:
        raise UserError("--format parquet needs a file — add -o results.parquet")
    if output is not None and not output.parent.is_dir():
        raise UserError(
            f"folder {str(output.parent)!r} does not exist — create it or choose another -o path"
        )
    return fmt


# -- scripts -------------------------------------------------------------------------------------


def run_script(
    con: duckdb.DuckDBPyConnection, script: str, fmt: OutputFormat, output: Path | None
) -> None:
    """Run every statement of ``script``; print each result, the last one to ``output`` if given.

    Lines starting with ``.`` between statements are the dot commands ``.tables``, ``.schema T``
    and ``.quit``, as in DuckDB's shell. The first error stops the script.
    """
    chunks = list(_chunks(script))
    last = _last_result_index(chunks)
    if output is not None and last is None:
        raise UserError(
            f"no statement returns rows to write to {str(output)!r} — end with a SELECT"
        )
    for index, (kind, text) in enumerate(chunks):
        if kind == "quit":
            return
        target = output if index == last else None
        if kind == "dot":
            text = _dot_command(text)
        relation = execute(con, text)
        if relation is not None:
            emit(con, relation, fmt if target else _stdout_format(fmt), target)


def _chunks(script: str) -> Iterator[tuple[str, str]]:
    """("sql", one statement) / ("dot", command) / ("quit", "") in the order of ``script``."""
    pending: list[str] = []
    # Split on "\n" only: str.splitlines also breaks at \x1e, U+2028…, which a literal may hold.
    for line in [*script.split("\n"), None]:
        command = None if line is None else line.strip()  # None: the end of the script
        if line is not None and not (line.strip().startswith(".") and _complete(pending)):
            pending.append(line)
            continue
        yield from (("sql", s) for s in _statements("\n".join(pending)))
        pending = []
        if command in (".quit", ".exit"):
            yield "quit", ""
            return
        if command is not None:
            yield "dot", command


def _complete(lines: list[str]) -> bool:
    """True when ``lines`` hold no statement left open (a dot line may start here): empty, or
    ending in ';' outside a string (quotes balanced; a doubled quote keeps the count even)."""
    text = "\n".join(lines).strip()
    return not text or (
        text.endswith(";") and text.count("'") % 2 == 0 and text.count('"') % 2 == 0
    )


def _statements(text: str) -> list[str]:
    if not text.strip():
        return []
    try:
        return [s.query.strip().rstrip(";") for s in duckdb.extract_statements(text)]
    except duckdb.Error as exc:
        raise _sql_error(exc) from exc


def _last_result_index(chunks: list[tuple[str, str]]) -> int | None:
    for index in range(len(chunks) - 1, -1, -1):
        kind, _ = chunks[index]
        if kind == "dot" or (kind == "sql" and _returns_rows(chunks[index][1])):
            return index
    return None


def _returns_rows(statement: str) -> bool:
    try:
        (parsed,) = duckdb.extract_statements(statement)
    except (duckdb.Error, ValueError):
        return True  # let execution report it
    return parsed.type.name in ROW_STATEMENTS


def execute(
    con: duckdb.DuckDBPyConnection, statement: str, params: list[Any] | None = None
) -> duckdb.DuckDBPyRelation | None:
    """Run one statement; a relation over its rows (lazy for a SELECT), None when it has none."""
    try:
        if not _returns_rows(statement):
            con.execute(statement, params)
            return None
        return con.sql(statement, params=params)
    except duckdb.Error as exc:
        raise _sql_error(exc) from exc


def _sql_error(exc: duckdb.Error) -> UserError:
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    hints = [line.strip() for line in lines[1:] if line.startswith(("Did you mean", "Candidate"))]
    return UserError(" — ".join([f"SQL: {lines[0]}", *hints]))


def _dot_command(command: str) -> str:
    """The SQL behind a dot command of a piped script."""
    name, _, argument = command.partition(" ")
    if name == ".tables":
        return "SELECT table_name AS name, table_type AS type FROM information_schema.tables ORDER BY 1"
    if name == ".schema" and argument.strip():
        return f"DESCRIBE {argument.strip()}"
    raise UserError(
        f"unknown command {command!r} in a script — use .tables, .schema TABLE or .quit "
        "(the interactive shell has them all)"
    )


def _stdout_format(fmt: OutputFormat) -> OutputFormat:
    return OutputFormat.table if fmt is OutputFormat.parquet else fmt


# -- output --------------------------------------------------------------------------------------


def emit(
    con: duckdb.DuckDBPyConnection,
    relation: duckdb.DuckDBPyRelation,
    fmt: OutputFormat,
    output: Path | None,
) -> None:
    """Write ``relation``'s rows in ``fmt`` to ``output`` (atomically) or to stdout, streaming."""
    if fmt is OutputFormat.csv:
        _refuse_nested(relation)
    if output is None:
        if fmt is OutputFormat.table:
            _console().print(rich_table(relation)[0])
        else:
            _stream_text(relation, fmt)
        return
    with _atomic_output(output) as temp:
        if fmt is OutputFormat.table:
            table, rows = rich_table(relation)
            with temp.open("w", encoding="utf-8") as file:
                _console(file).print(table)
        else:
            rows = _copy_to(con, relation, fmt, temp)
    typer.echo(f"wrote {rows:,} rows to {output}", err=True)


def _copy_to(
    con: duckdb.DuckDBPyConnection, relation: duckdb.DuckDBPyRelation, fmt: OutputFormat, path: Path
) -> int:
    """DuckDB's COPY: rows flow from the Parquet files to ``path`` without being held in memory."""
    options = {"csv": "FORMAT csv, HEADER true", "json": "FORMAT json", "parquet": "FORMAT parquet"}
    view = f"rlvr_output_{os.getpid()}"
    literal = "'" + str(path).replace("'", "''") + "'"
    try:
        relation.create_view(view, replace=True)
        done = con.execute(f"COPY (SELECT * FROM {view}) TO {literal} ({options[fmt.value]})")
        (rows,) = done.fetchone() or (0,)
        con.execute(f"DROP VIEW {view}")
    except duckdb.Error as exc:
        raise _sql_error(exc) from exc
    return int(rows)


@contextmanager
def _atomic_output(output: Path) -> Iterator[Path]:
    """A temporary file beside ``output``, renamed onto it on success, removed on failure."""
    temp = output.with_name(f".{output.name}.rlvr-{os.getpid()}.tmp")
    try:
        yield temp
        os.replace(temp, output)
    finally:
        temp.unlink(missing_ok=True)


def _stream_text(relation: duckdb.DuckDBPyRelation, fmt: OutputFormat) -> None:
    first = True
    for batch in _batches(relation):
        frame = pl.from_arrow(pa.Table.from_batches([batch]))
        assert isinstance(frame, pl.DataFrame)
        if fmt is OutputFormat.csv:
            text = frame.write_csv(include_header=first)
        else:
            text = frame.write_ndjson()
        first = False
        sys.stdout.write(text)
    if first and fmt is OutputFormat.csv:  # no rows: still the header
        sys.stdout.write(",".join(relation.columns) + "\n")
    sys.stdout.flush()


def _batches(relation: duckdb.DuckDBPyRelation, rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    try:
        reader = getattr(relation, "to_arrow_reader", None)
        stream = reader(rows) if reader else relation.fetch_record_batch(rows)
        yield from stream
    except duckdb.Error as exc:
        raise _sql_error(exc) from exc


def _refuse_nested(relation: duckdb.DuckDBPyRelation) -> None:
    for name, type_ in zip(relation.columns, relation.types, strict=True):
        if type_.id in ("list", "struct", "map", "array", "union"):
            raise UserError(
                f"column {name!r} is {type_} and CSV has no nested values — "
                f"use --format json or parquet, or to_json({name}) in the query"
            )


def _console(file: TextIO | None = None) -> Console:
    """A console for tables: a terminal's own width, else wide enough not to squash columns."""
    terminal = file is None and sys.stdout.isatty()
    return Console(file=file, width=None if terminal else 200)


def rich_table(relation: duckdb.DuckDBPyRelation) -> tuple[RenderableType, int]:
    """The first rows as a table (numbers right-aligned, long text cut) and how many it shows.

    Reads at most ``MAX_TABLE_ROWS + 1`` rows, so a table of a huge result costs nothing more.
    """
    batches, total = [], 0
    for batch in _batches(relation, MAX_TABLE_ROWS + 1):
        batches.append(batch)
        total += batch.num_rows
        if total > MAX_TABLE_ROWS:
            break
    if batches:
        frame = pl.from_arrow(pa.Table.from_batches(batches))
        assert isinstance(frame, pl.DataFrame)
        frame = frame.head(MAX_TABLE_ROWS)
    else:
        frame = pl.DataFrame({name: [] for name in relation.columns})
    table = Table(show_lines=False)
    for name, dtype in frame.schema.items():
        table.add_column(name, justify="right" if dtype.is_numeric() else "left")
    for row in frame.iter_rows():
        table.add_row(*(_cell(value) for value in row))
    if total <= MAX_TABLE_ROWS:
        return table, frame.height
    # A line of its own under the table (a caption would wrap to the table's width).
    note = Text(f"first {MAX_TABLE_ROWS} rows shown — use -o FILE or --format csv for all")
    return Group(table, note), frame.height


def _cell(value: Any) -> str:
    if value is None:
        return "[dim]NULL[/dim]"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value).replace("[", r"\[")  # text is data, not rich markup
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"
