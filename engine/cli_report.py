"""`rlvr report` and `rlvr evaluate` (issue 12): thin over engine.report and engine.evaluate."""

from __future__ import annotations

import json
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.cli_lake import LakeOption
from engine.errors import UserError
from engine.lake import Lake
from engine.progress import Progress

__all__ = ["EvalBackend", "OutFormat", "evaluate", "headline", "register", "report"]


class EvalBackend(StrEnum):
    transformers = "transformers"
    vllm = "vllm"
    openai = "openai"
    recorded = "recorded"


class OutFormat(StrEnum):
    table = "table"
    json = "json"


@contextmanager
def _steps(total: int, label: str):
    """A bar over the named steps of a command; yields ``step(description)``."""
    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.description}"), TimeElapsedColumn(),
                   console=Console(stderr=True))  # fmt: skip
    with bar:
        task = bar.add_task("", total=total)
        started = [False]

        def step(description: str) -> None:
            if started[0]:
                bar.advance(task)
            started[0] = True
            bar.update(task, description=description)

        yield step
        bar.update(task, completed=total, description="done")


def report(
    run: Annotated[list[str], typer.Option("--run", help="Run to report; twice to compare.")],
    out: Annotated[Path, typer.Option("-o", "--output", help="New folder for index.html.")],
    lake: LakeOption = None,
) -> None:
    """One self-contained HTML page (plots embedded) of a run, or two side by side.

    pass@k, maj@k against pass@1, lengths by correctness, truncation and no-answer rates, the
    selection funnels of datasets made from the run, per-dataset tables; accuracy and length over
    steps for a training run.

    \b
    Examples:
      rlvr report --run recorded-qwen25-math-cot-100 -o reports/qwen
      rlvr report --run BEFORE --run AFTER -o reports/compare
    """
    from engine.report import check_args, write_report

    runs = [r.strip() for item in run for r in item.split(",") if r.strip()]
    store = Lake.open(lake, create=False)
    check_args(store, runs, out)  # before the bar: a mistake prints one line
    with _steps(len(runs) + 1, "report") as step:
        path = write_report(store, runs, out, on_step=step)
    typer.echo(f"wrote {path}")


def evaluate(
    benchmark: Annotated[
        str,
        typer.Option(
            help="math500, aime24, amc23, gsm8k, minerva, olympiadbench, humaneval, "
            "mbpp, livecodebench, or a FILE."
        ),
    ],
    model: Annotated[str | None, typer.Option(help="Model folder or name.")] = None,
    backend: Annotated[
        EvalBackend,
        typer.Option(help="transformers, vllm, openai, or recorded (a run in the lake)."),
    ] = EvalBackend.transformers,
    k: Annotated[int, typer.Option("-k", "--k", help="Samples per prompt.", min=1)] = 64,
    limit: Annotated[int | None, typer.Option(help="Only the first N prompts.", min=1)] = None,
    max_tokens: Annotated[int, typer.Option(help="Cap on generated tokens.", min=1)] = 32768,
    file: Annotated[
        Path | None, typer.Option(help="The benchmark's file, if not in --data.")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Folder of benchmark files (shared/data).")
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option("--run", help="recorded: the run to evaluate; else resume this run."),
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="openai backend: server URL.")] = None,
    seed: Annotated[int, typer.Option(help="Base seed of every sample's seed.")] = 0,
    output_format: Annotated[
        OutFormat, typer.Option("--format", "-f", help="table, or json (one line per dataset).")
    ] = OutFormat.table,
    lake: LakeOption = None,
) -> None:
    """Evaluate a model on a benchmark with R1's settings (temperature 0.6, top-p 0.95, k samples).

    Imports the benchmark if the lake lacks it, generates, verifies, and prints pass@1 (mean of
    k) ± SE, maj@k and pass@k; everything stays in the lake (`rlvr sql "FROM run_metrics"`).

    \b
    Examples:
      rlvr evaluate --benchmark aime24 --model Qwen/Qwen3-8B --backend vllm -k 64
      rlvr evaluate --benchmark qwen_math_cot_100_graded.jsonl --backend \\
        recorded --run RUN
    """
    from engine.cli_generate import _progress as generation_bar
    from engine.evaluate import EvalConfig, resolve_benchmark
    from engine.evaluate import evaluate as run_evaluate

    if backend is EvalBackend.openai and not base_url:
        raise UserError("--backend openai needs --base-url — e.g. http://127.0.0.1:8000/v1")
    options = {"base_url": base_url} if base_url else {}
    config = EvalConfig(benchmark=benchmark, model=model, backend=backend.value, k=k, limit=limit,
                        max_tokens=max_tokens, file=file, data=data, run_id=run_id, seed=seed,
                        backend_options=options)  # fmt: skip
    resolve_benchmark(benchmark, file=file, data=data)  # a missing file: before a lake is made
    err = Console(stderr=True)
    store = Lake.open(lake, create=backend is not EvalBackend.recorded)
    with generation_bar(err, False) as on_progress:
        result = run_evaluate(store, config, on_step=lambda s: err.print(f"· {s}"),
                              on_progress=on_progress)  # fmt: skip
    _print_result(result, output_format)


def headline(frame) -> list[dict]:
    """Per group: pass@1 ± SE, and maj@k / pass@k at the largest k (the command's summary)."""
    import polars as pl

    rows = []
    for group in frame["group"].unique().sort().to_list():
        part = frame.filter(pl.col("group") == group)
        k = part.filter(pl.col("metric").str.starts_with("pass@"))["k"].max()
        p1, pk, mk = (_metric_row(part, m) for m in ("pass@1", f"pass@{k}", f"maj@{k}"))
        rows.append({"dataset": group, "prompts": p1["count"], "k": k,
                     "pass@1": p1["value"], "pass@1_se": p1["se"],
                     f"maj@{k}": mk["value"], f"maj@{k}_se": mk["se"],
                     f"pass@{k}": pk["value"], f"pass@{k}_se": pk["se"]})  # fmt: skip
    return rows


def _metric_row(frame, metric: str) -> dict:
    import polars as pl

    return frame.filter(pl.col("metric") == metric).row(0, named=True)


def _print_result(result, output_format: OutFormat) -> None:
    rows = headline(result.metrics)
    if output_format is OutFormat.json:
        for row in rows:
            typer.echo(json.dumps({"run_id": result.run_id, **row}))
        return
    table = Table(title=f"run {result.run_id}")
    for column in ("dataset", "prompts", "pass@1 ± SE", "maj@k", "pass@k"):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for row in rows:
        k = row["k"]
        se = "" if row["pass@1_se"] is None else f" ± {row['pass@1_se']:.3f}"
        table.add_row(row["dataset"], str(row["prompts"]), f"{row['pass@1']:.3f}{se}",
                      f"{row[f'maj@{k}']:.3f} (k={k})", f"{row[f'pass@{k}']:.3f} (k={k})")  # fmt: skip
    Console().print(table)
    typer.echo(f"all metrics: rlvr eval --run {result.run_id}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("evaluate")(evaluate)
