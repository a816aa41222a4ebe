"""`rlvr train grpo|sft`: TRL GRPO and SFT from a recipe, with training rollouts in the lake.

Thin (STYLE.md §8): parse, call ``training.train`` through :func:`engine.cli.training_entry`
(torch loads only when a command runs), print. Recipes: ``training/recipes/*.yaml``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from engine.cli_lake import LakeOption

__all__ = [
    "DatasetOption",
    "ModelOption",
    "OutOption",
    "Overrides",
    "RecipeOption",
    "ResumeOption",
    "grpo_command",
    "register",
    "sft_command",
]

RecipeOption = Annotated[
    str,
    typer.Option(
        "--recipe", "-r", help="r1-zero, cold-start-sft, r1-rl, distill-sft or a YAML path."
    ),
]
ModelOption = Annotated[str | None, typer.Option(help="Model folder (overrides the recipe's).")]
DatasetOption = Annotated[
    str | None,
    typer.Option(help="Lake dataset name or exported folder (default: the recipe's prompts)."),
]
OutOption = Annotated[
    str | None, typer.Option("--output-dir", "-o", help="Checkpoints (default runs/<recipe>).")
]
ResumeOption = Annotated[
    bool, typer.Option("--resume/--no-resume", help="Resume from the last checkpoint there.")
]
Overrides = Annotated[
    list[str] | None, typer.Argument(help="key=value config overrides, e.g. max_steps=50 beta=0")
]


def _run(kind: str, recipe: str, model, dataset, output_dir, resume, overrides, lake) -> None:
    from engine.cli import training_entry

    result = training_entry("train")(
        kind, recipe, model=model, dataset=dataset, overrides=tuple(overrides or ()),
        lake=lake, output_dir=output_dir, resume=resume,
    )  # fmt: skip
    resumed = f", resumed from {result.resumed_from}" if result.resumed_from else ""
    Console().print(
        f"train run {result.run_id}: {result.global_step} steps{resumed}; model in "
        f"{result.output_dir}; {result.rollouts} training rollouts in the lake",
        highlight=False, soft_wrap=True,
    )  # fmt: skip


def grpo_command(
    recipe: RecipeOption = "r1-zero", model: ModelOption = None, dataset: DatasetOption = None,
    output_dir: OutOption = None, resume: ResumeOption = True, overrides: Overrides = None,
    lake: LakeOption = None,
) -> None:  # fmt: skip
    """GRPO with our verifiers as rewards; every sampled completion lands in the lake.

    \b
    Examples:
      rlvr train grpo --recipe r1-zero --model models/tiny max_steps=30
      rlvr train grpo --recipe r1-rl --model runs/cold-start-sft --dataset \\
        synth-arithmetic-train
      rlvr sql "SELECT step, avg(reward) FROM rollouts JOIN verdicts
        USING (rollout_id) WHERE source = 'train' GROUP BY step ORDER BY step"
    """
    _run("grpo", recipe, model, dataset, output_dir, resume, overrides, lake)


def sft_command(
    recipe: RecipeOption = "cold-start-sft", model: ModelOption = None,
    dataset: DatasetOption = None, output_dir: OutOption = None, resume: ResumeOption = True,
    overrides: Overrides = None, lake: LakeOption = None,
) -> None:  # fmt: skip
    """SFT: cold-start long-CoT traces, or a distillation set exported by `rlvr export`.

    \b
    Examples:
      rlvr train sft --recipe cold-start-sft --model models/tiny
      rlvr train sft --recipe distill-sft --model models/tiny-student --dataset \\
        exports/distill
    """
    _run("sft", recipe, model, dataset, output_dir, resume, overrides, lake)


def register(app: typer.Typer) -> None:
    group = typer.Typer(name="train", help="Train with TRL (GRPO, SFT) from a recipe.",
                        no_args_is_help=True)  # fmt: skip
    group.command("grpo")(grpo_command)
    group.command("sft")(sft_command)
    app.add_typer(group, name="train")
