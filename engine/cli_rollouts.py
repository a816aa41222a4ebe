"""`rlvr rollouts import`: generations made by other tools into the lake (issue 10).

The CLI over :mod:`engine.ingest.rollouts` (parse, call, print).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.cli_lake import LakeOption  # the one definition of --lake

__all__ = ["import_command", "register"]


def register(app: typer.Typer) -> None:
    """Add the `rollouts` group (`rollouts import`) to the `rlvr` app."""
    rollouts = typer.Typer(
        help="Rollouts made elsewhere.  Example:  rlvr rollouts import out.jsonl "
        "--dataset math500 --model Qwen3-8B --preset nemo-skills",
        no_args_is_help=True,
    )
    rollouts.command("import")(import_command)
    app.add_typer(rollouts, name="rollouts")


def import_command(
    file: Annotated[Path, typer.Argument(help="JSONL or Parquet file of generations.")],
    dataset: Annotated[str, typer.Option(help="Dataset of the prompts they answer.")],
    model: Annotated[str, typer.Option(help="The model that wrote them (recorded on the run).")],
    preset: Annotated[
        str | None,
        typer.Option(help="openai-batch (= vllm-batch), lighteval, nemo-skills or messages."),
    ] = None,
    map: Annotated[
        str | None,
        typer.Option(
            "--map",
            help="TARGET=FIELD pairs without a preset: completion, problem, id, sample_idx, "
            "reasoning, finish_reason.",
        ),
    ] = None,
    lake: LakeOption = None,
) -> None:
    """Import generations as one `import` run; verify them like our own with `rlvr verify`.

    Prompts are matched by id or by text; a record that matches none, or any bad record, is an
    error naming its line, and nothing is written. Importing the same file again writes nothing.

    \b
    Examples:
      rlvr rollouts import output-rs0.jsonl --dataset math500 --model Qwen3-8B \\
        --preset nemo-skills
      rlvr rollouts import details_aime24.parquet --dataset aime24 --model m \\
        --preset lighteval
      rlvr rollouts import out.jsonl --dataset d --model m --map \\
        completion=output,problem=question
    """
    from engine.ingest.rollouts import import_rollouts, parse_mapping
    from engine.lake import Lake

    mapping = parse_mapping(map)
    result = import_rollouts(
        file,
        lake=Lake.open(lake, create=False),  # the prompts must be there
        dataset=dataset,
        model=model,
        preset=preset,
        mapping=mapping,
    )
    if result.already_imported:
        typer.echo(f"{file}: already imported as run {result.run_id} — nothing written")
        return
    typer.echo(
        f"{file}: {result.rollouts:,} rollouts of {result.prompts:,} prompts as run "
        f"{result.run_id} (preset {result.preset}) — judge them: rlvr verify --run {result.run_id}"
    )
