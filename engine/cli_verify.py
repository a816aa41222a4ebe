"""`rlvr verify`: judge the rollouts in the lake and write verdicts (thin over engine.verify)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from engine.cli_lake import LakeOption, ListFormat, ListFormatOption, print_rows
from engine.cli_ray import Engine, EngineOption, RayActorsOption, RayAddressOption
from engine.lake import Lake
from engine.verify import DEFAULT_VERIFIERS, VerifyConfig, verify_rollouts

__all__ = ["register", "verify"]


def verify(
    run: Annotated[
        list[str] | None,
        typer.Option("--run", help="Judge this run's rollouts (repeatable; default all)."),
    ] = None,
    extra: Annotated[
        list[str] | None,
        typer.Option("--verifier", help="Extra verifier for every rollout, e.g. format, language."),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="Rollouts judged at once.", min=1)
    ] = VerifyConfig().workers,
    lake: LakeOption = None,
    output_format: ListFormatOption = ListFormat.table,
    engine: EngineOption = Engine.local,
    ray_address: RayAddressOption = None,
    ray_actors: RayActorsOption = 2,
) -> None:
    """Judge every rollout that has no verdict yet: math prompts with `math`, code prompts with `code`.

    Resumable: what already has a verdict is skipped. Ctrl-C or SIGTERM stops after the batch in
    flight and marks the run interrupted; rerun the same command to resume.

    \b
    Examples:
      rlvr verify --run recorded-qwen25-math-cot-100 --verifier format
      rlvr verify --engine ray --ray-address auto --ray-actors 8 --workers 4
    """
    config = VerifyConfig(
        verifiers=dict(DEFAULT_VERIFIERS), extra=tuple(extra or ()), workers=workers
    )
    store = Lake.open(lake, create=False)  # reads rollouts: a mistyped --lake is an error
    if engine is Engine.ray:  # the same job as a Ray Data job (issue 14)
        from engine.ray_engine import RayOptions, verify_ray

        options = RayOptions(address=ray_address, actors=ray_actors, threads=workers)
        summary = verify_ray(store, runs=run, config=config, options=options)
    else:
        summary = verify_rollouts(store, runs=run, config=config, progress=True)
    line = (f"run {summary.run_id}: {summary.judged} verdicts in {summary.seconds:.1f} s, "
            f"{summary.skipped} already judged")  # fmt: skip
    if output_format is not ListFormat.table:  # the counts on stdout, for scripts
        typer.echo(line, err=True)
        rows = [{"verifier": v, "status": s, "count": n} for (v, s), n in summary.by_status.items()]
        print_rows(sorted(rows, key=lambda r: (r["verifier"], r["status"])), output_format)
        return
    console = Console()
    console.print(line)
    table = Table()
    for column in ("verifier", "status", "count"):
        table.add_column(column, justify="right" if column == "count" else "left")
    for (name, status), count in sorted(summary.by_status.items()):
        table.add_row(name, status, str(count))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
