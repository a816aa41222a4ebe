"""`rlvr`: the command line of the data engine.

The CLI only parses options, calls the library and prints (STYLE.md §8). Commands live in small
modules, each with a ``register(app)``; this module assembles them and turns user mistakes into
``error: <what> — <how to fix>`` with exit code 2 (tracebacks only with ``--debug``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from engine.cli_errors import run_cli

__all__ = ["app", "main", "training_entry"]

app = typer.Typer(
    name="rlvr",
    help="Data engine and verifier service for reasoning data (DeepSeek-R1 style).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"rlvr {version('rlvr')}")
        raise typer.Exit()


def _register_commands() -> None:
    """Add every command module's commands to `app`, once per process."""
    if app.registered_commands:
        return
    # Each module adds its commands; keep this list explicit (no discovery magic).
    from engine import (
        cli_curate,
        cli_generate,
        cli_judge,
        cli_lake,
        cli_model,
        cli_prompts,
        cli_report,
        cli_rollouts,
        cli_train,
        cli_ui,
        cli_verify,
        cli_verify_answer,
    )

    for module in (
        cli_lake,
        cli_prompts,
        cli_verify,
        cli_verify_answer,
        cli_judge,
        cli_generate,
        cli_model,
        cli_curate,
        cli_rollouts,
        cli_report,
        cli_train,
        cli_ui,
    ):
        module.register(app)


def training_entry(name: str) -> Any:
    """A builder from ``training/``, imported only when a command runs it (torch loads then).

    DESIGN.md: engine/cli.py is the one place that reaches ``training``, and only lazily.
    """
    if name == "build_tiny_model":
        from training.tiny import build_tiny_model

        return build_tiny_model
    if name == "build_smollm2":
        from training.smollm2 import build_smollm2

        return build_smollm2
    if name == "train":
        from training.train import train

        return train
    raise KeyError(f"no training entry {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `rlvr` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("RLVR_DEBUG") == "1"
    argv = [a for a in argv if a != "--debug"]
    _register_commands()
    run_cli(app, argv, debug=debug)  # errors → `error: … — …`, exit 2; signals → 130/143


@app.callback()
def _options(
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback of an error (also RLVR_DEBUG=1)."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Data engine and verifier service for reasoning data (DeepSeek-R1 style)."""


if __name__ == "__main__":
    main()
