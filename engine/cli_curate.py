"""`rlvr eval`, `rlvr select`, `rlvr export`: metrics, rejection sampling and exports (issue 12).

Thin (STYLE.md §8): parse, call :mod:`engine.metrics` / :mod:`engine.curate`, print.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from engine.cli_lake import LakeOption
from engine.errors import UserError
from engine.lake import Lake

__all__ = [
    "By",
    "EvalFormat",
    "ExportFormat",
    "ReasoningMode",
    "eval_",
    "export",
    "register",
    "select",
]


class EvalFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class By(StrEnum):
    dataset = "dataset"
    task = "task"


class ExportFormat(StrEnum):
    sft_messages = "sft-messages"
    prompt_completion = "prompt-completion"
    grpo = "grpo"
    verl = "verl"
    sharegpt = "sharegpt"


class ReasoningMode(StrEnum):
    inline = "inline"
    field = "field"


def _runs(value: list[str]) -> list[str]:
    runs = [run.strip() for item in value for run in item.split(",") if run.strip()]
    if not runs:
        raise UserError("no run given — pass --run RUN (list the runs with `rlvr runs`)")
    return runs


def eval_(
    run: Annotated[list[str], typer.Option("--run", help="Generate run(s): RUN[,RUN…].")],
    by: Annotated[By, typer.Option("--by", help="Group by dataset or task.")] = By.dataset,
    output_format: Annotated[
        EvalFormat, typer.Option("--format", "-f", help="table, json (lines) or csv.")
    ] = EvalFormat.table,
    lake: LakeOption = None,
) -> None:
    """pass@1 (mean of k), pass@k, maj@k, no-answer/truncation rates, format reward, lengths — with SE.

    Definitions (verdicts counted, maj@k tie rule, standard errors): engine/metrics_sql.py.
    The same numbers: rlvr sql "SELECT * FROM run_metrics".

    Example:  rlvr eval --run recorded-qwen25-math-cot-100 --format csv
    """
    from engine.metrics import run_metrics

    frame = run_metrics(Lake.open(lake, create=False), _runs(run), by=by.value)
    if output_format is EvalFormat.csv:
        typer.echo(frame.rename({"group": by.value}).write_csv(), nl=False)
    elif output_format is EvalFormat.json:
        for row in frame.rename({"group": by.value}).iter_rows(named=True):
            typer.echo(json.dumps(row))
    else:
        _metrics_table(frame, by.value)


def _metrics_table(frame, by: str) -> None:
    table = Table()
    for column in ("run", by, "metric", "value", "± se", "n"):
        table.add_column(column, justify="right" if column in ("value", "± se", "n") else "left")
    for row in frame.iter_rows(named=True):
        se = "" if row["se"] is None else f"{row['se']:.4f}"
        value = "" if row["value"] is None else f"{row['value']:.4f}"
        table.add_row(row["run_id"], row["group"], row["metric"], value, se, str(row["count"]))
    Console().print(table)


def select(
    run: Annotated[list[str], typer.Option("--run", help="Source generate run(s): RUN[,RUN…].")],
    recipe: Annotated[str, typer.Option(help="r1-sft, grpo-prompts, or a recipe YAML file.")],
    name: Annotated[str, typer.Option(help="Name of the dataset to write (lake/datasets/NAME).")],
    replace: Annotated[
        bool, typer.Option(help="Replace an existing dataset of that name.")
    ] = False,
    lake: LakeOption = None,
) -> None:
    """Rejection-sample and filter rollouts into a lake dataset; prints the funnel.

    Steps, parameters and built-in recipes: engine/curate/steps.py and engine/curate/recipes/.

    Example:  rlvr select --run RUN --recipe r1-sft --name r1-sft-v1
    """
    from engine.curate import load_recipe
    from engine.curate import select as run_select

    loaded = load_recipe(recipe)
    store = Lake.open(lake, create=False)
    result = run_select(store, _runs(run), loaded, name, replace=replace, progress=True)
    table = Table(title=f"{name}: {result.rows} of {result.input_rows} rows")
    for column in ("step", "kept", "dropped"):
        table.add_column(column, justify="left" if column == "step" else "right")
    for row in result.funnel:
        table.add_row(row.step, str(row.kept), str(row.dropped))
    console = Console()
    console.print(table)
    console.print(f"dataset {result.path} (select run {result.run_id})")


def export(
    name: Annotated[str, typer.Argument(help="Dataset made by `rlvr select`.")],
    output_format: Annotated[ExportFormat, typer.Option("--format", "-f", help="Export format.")],
    out: Annotated[Path, typer.Option("-o", "--output", help="New folder to write.")],
    reasoning: Annotated[
        ReasoningMode, typer.Option(help="SFT: <think> inline, or reasoning_content field.")
    ] = ReasoningMode.inline,
    license: Annotated[str, typer.Option(help="License in the dataset card.")] = "other",
    lake: LakeOption = None,
) -> None:
    """Write a dataset as Parquet (datasets.load_dataset("parquet") reads it) with a README card.

    Example:  rlvr export r1-sft-v1 --format sft-messages -o out/r1-sft-v1
    """
    from engine.curate.export import export_dataset

    path = export_dataset(Lake.open(lake, create=False), name, out, fmt=output_format.value,
                          reasoning=reasoning.value, license=license)  # fmt: skip
    typer.echo(f"wrote {path} and {out / 'README.md'}")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_)
    app.command("select")(select)
    app.command("export")(export)
