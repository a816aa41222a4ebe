"""`rlvr prompts import|list|show`: the CLI over :mod:`engine.ingest` (parse, call, print)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.syntax import Syntax
from rich.table import Table

from engine.cli_lake import (  # the one definition of --lake and of --format
    LakeOption,
    ListFormat,
    ListFormatOption,
    print_rows,
)
from engine.errors import UserError

__all__ = ["import_command", "list_command", "presets_command", "register", "show_command"]


def register(app: typer.Typer) -> None:
    """Add the `prompts` command group to the `rlvr` app."""
    prompts = typer.Typer(
        name="prompts",
        help="Import benchmark files into the lake and inspect prompts.",
        no_args_is_help=True,
    )
    prompts.command("import")(import_command)
    prompts.command("list")(list_command)
    prompts.command("show")(show_command)
    prompts.command("presets")(presets_command)
    from engine.cli_model import synth_command  # the embedded default's tasks (issue 11)

    prompts.command("synth")(synth_command)
    app.add_typer(prompts, name="prompts")


def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSONL, JSON, Parquet or CSV file of prompts; '-' reads standard input.",
            show_default=False,
        ),
    ],
    dataset: Annotated[
        str | None, typer.Option(help="Dataset name (default: the preset's).")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="auto|jsonl|json|parquet|csv")] = "auto",
    map: Annotated[
        str | None,
        typer.Option("--map", help="TARGET=COLUMN pairs: problem, answer, tests, id, split, task."),
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="Benchmark adapter, or 'auto' (from the file name).")
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="Split for every row (default: the preset's, else test).")
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="math|code|general (default: inferred per row).")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="CSV text encoding (default: detected), e.g. cp1252.")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (default: detected): ',', ';', 'tab', '|'.")
    ] = None,
    lake: LakeOption = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the summary line.")
    ] = False,
) -> None:
    """Import prompts; every row is checked before one atomic write (a bad row writes nothing).

    \b
    Examples:
      rlvr prompts import ../shared/data/math/gsm8k_test.jsonl --preset auto
      rlvr prompts import my.csv --dataset mine --map \\
        problem=question,answer=solution --task math
      cat export.csv | rlvr prompts import - --format csv --dataset mine --delimiter ';'
    """
    from engine.ingest import import_prompts, parse_mapping
    from engine.ingest.readers import CsvOptions

    mapping = parse_mapping(map)
    csv_options = CsvOptions(encoding=encoding, delimiter=delimiter)
    console = Console(stderr=True)
    with (
        _stdin_as_file(file, format) as file,
        _lake_removed_on_failure(lake) as store,
        _progress(console, enabled=not quiet and console.is_terminal) as on_progress,
    ):
        summary = import_prompts(
            file,
            lake=store,
            dataset=dataset,
            preset=preset,
            fmt=format,
            mapping=mapping,
            split=split,
            task=task,
            progress=on_progress,
            csv_options=csv_options,
        )
    per_task = ", ".join(f"{n} {t}" for t, n in summary.per_task.items())
    out = Console()
    out.print(
        f"imported {summary.prompts} prompts ({per_task}) from {summary.records} records into "
        f"dataset {summary.dataset!r}, run {summary.run_id}",
        highlight=False,
        soft_wrap=True,
    )
    if quiet:
        return
    if summary.merged:
        out.print(f"  {summary.merged} records merged into others (same problem)", highlight=False)
    if summary.already_present:
        out.print(
            f"  {summary.already_present} prompts were already in the lake (same ids)",
            highlight=False,
        )
    for reason, n in summary.without_tests.items():
        out.print(f"  {n} code prompts without tests: {reason}", highlight=False, soft_wrap=True)


@contextmanager
def _stdin_as_file(file: Path, fmt: str) -> Iterator[Path]:
    """``-`` is standard input, spooled to a temporary file (readers take paths; Parquet needs
    to seek); any other path is itself."""
    if str(file) != "-":
        yield file
        return
    suffix = "" if fmt == "auto" else f".{fmt}"
    with tempfile.TemporaryDirectory(prefix="rlvr-stdin-") as folder:
        spooled = Path(folder) / f"stdin{suffix}"
        with spooled.open("wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out)
        yield spooled


@contextmanager
def _lake_removed_on_failure(path: Path | None) -> Iterator[Any]:
    """Open (or create) the lake to import into; a lake this import created and left without
    data is removed when the import fails, so a bad file leaves no empty lake behind."""
    from engine.lake import Lake

    root = Path(path if path is not None else os.environ.get("RLVR_LAKE") or "lake")
    fresh = not root.exists()
    store = Lake.open(root)
    try:
        yield store
    except BaseException:
        if fresh and not any(root.rglob("*.parquet")):
            shutil.rmtree(root, ignore_errors=True)
        raise


class _progress:
    """A rich progress bar on stderr when it is a terminal; a no-op callback otherwise (tests)."""

    def __init__(self, console: Console, *, enabled: bool) -> None:
        self.bar = (
            Progress(
                TextColumn("mapping rows"),
                BarColumn(),
                MofNCompleteColumn(),
                console=console,
                transient=True,
            )
            if enabled
            else None
        )
        self.task: Any = None

    def __enter__(self):
        if self.bar is None:
            return None
        self.bar.start()
        self.task = self.bar.add_task("map", total=None)
        return lambda done, total: self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def list_command(
    dataset: Annotated[str | None, typer.Option(help="Only this dataset.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show (0: all).")] = 20,
    lake: LakeOption = None,
    output_format: ListFormatOption = ListFormat.table,
) -> None:
    """List prompts: id, dataset, split, task, gold answer or test count, problem.

    \b
    Examples:
      rlvr prompts list
      rlvr prompts list --dataset humaneval --limit 5
      rlvr prompts list --limit 0 --format json > prompts.jsonl
    """
    import polars as pl

    from engine.lake import Lake

    scan = Lake.open(lake, create=False).scan("prompts")  # reads: never creates a lake
    if dataset is not None:
        scan = scan.filter(pl.col("dataset") == dataset)
    frame = scan.sort("dataset", "prompt_id").collect()
    shown = frame if limit <= 0 else frame.head(limit)
    if output_format is not ListFormat.table:  # whole rows, for scripts
        columns = ("prompt_id", "dataset", "split", "task", "answer", "tests", "problem")
        print_rows(shown.select(columns).to_dicts(), output_format)
        return
    more = f" (showing {shown.height})" if shown.height < frame.height else ""
    table = Table(title=f"{frame.height} prompts{more}", expand=True)
    for name in ("prompt_id", "dataset", "split", "task", "gold / tests", "problem"):
        table.add_column(
            name, overflow="ellipsis", no_wrap=True, ratio=1 if name == "problem" else None
        )
    for row in shown.iter_rows(named=True):
        table.add_row(
            row["prompt_id"],
            row["dataset"],
            row["split"] or "",
            row["task"],
            _gold(row),
            " ".join(row["problem"].split())[:120],
        )
    Console().print(table)


def _gold(row: dict[str, Any]) -> str:
    if row["tests"]:
        tests = json.loads(row["tests"])
        n = len(tests.get("cases") or []) + len(tests.get("asserts") or [])
        return f"{n} {tests.get('kind', '')} tests"
    if row["answer"] is not None:
        return row["answer"] if len(row["answer"]) <= 30 else row["answer"][:29] + "…"
    return "—"


def show_command(
    prompt_id: Annotated[
        str, typer.Argument(help="A prompt id, or a unique prefix of one.", show_default=False)
    ],
    lake: LakeOption = None,
) -> None:
    """Show one prompt in full: problem, gold answer, tests and meta (pretty-printed JSON).

    \b
    Example:
      rlvr prompts show 2b25030726ac2cab
    """
    import polars as pl

    from engine.lake import Lake

    frame = (
        Lake.open(lake, create=False)
        .scan("prompts")
        .filter(pl.col("prompt_id").str.starts_with(prompt_id))
        .collect()
    )
    if frame.height == 0:
        raise UserError(f"no prompt {prompt_id!r} in the lake — list ids with `rlvr prompts list`")
    if frame.height > 1:
        raise UserError(
            f"{frame.height} prompts start with {prompt_id!r} — give more characters of the id"
        )
    row = frame.row(0, named=True)
    console = Console()
    head = Table.grid(padding=(0, 2))
    for key in ("prompt_id", "dataset", "split", "task", "run_id", "created_at", "answer"):
        if row.get(key) is not None:
            head.add_row(f"[bold]{key}[/]", str(row[key]))
    console.print(head)
    console.rule("problem")
    console.print(row["problem"], markup=False, highlight=False)
    for key in ("tests", "meta"):
        if row[key]:
            console.rule(key)
            pretty = json.dumps(json.loads(row[key]), indent=2, ensure_ascii=False)
            console.print(Syntax(pretty, "json", word_wrap=True))


def presets_command() -> None:
    """List the built-in adapters (--preset NAME) and the file names --preset auto recognises.

    \b
    Example:
      rlvr prompts presets
    """
    from engine.ingest import PRESETS

    table = Table(title="presets")
    for name in ("preset", "dataset", "task", "files (--preset auto)"):
        table.add_column(name)
    for p in PRESETS.values():
        table.add_row(p.name, p.dataset, p.task, "\n".join(p.files))
    Console().print(table)
