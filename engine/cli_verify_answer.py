"""`rlvr verify-answer`: judge one math answer from the command line (a thin wrapper over
`verifiers.math.verify_math`)."""

from __future__ import annotations

from typing import Annotated

import typer

from engine.errors import UserError

__all__ = ["register", "verify_answer"]


def verify_answer(
    gold: Annotated[str, typer.Option("--gold", help="The gold answer, e.g. '\\frac{1}{2}'.")],
    response: Annotated[
        str, typer.Option("--response", help="The model response to read and judge.")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the verdict as one JSON object.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Time bound of the check, in seconds.")
    ] = 1.0,
) -> None:
    """Judge one math answer against a gold answer and print the verdict.

    \b
    Example:
      rlvr verify-answer --gold '\\frac{1}{2}' --response 'so \\boxed{0.5}' --json
    """
    from verifiers.math import MathConfig, verify_math

    try:
        config = MathConfig(timeout_s=timeout)
    except ValueError as exc:
        raise UserError(f"--timeout {timeout}: {exc} — pass a positive number of seconds") from exc
    verdict = verify_math(gold, response, config=config)
    if as_json:
        typer.echo(verdict.to_json())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="math verdict", show_header=False)
    for key in ("status", "reward", "extracted", "elapsed_ms", "verifier_version"):
        value = getattr(verdict, key)
        table.add_row(key, f"{value:.2f}" if key == "elapsed_ms" else str(value))
    for key, value in verdict.detail.items():
        table.add_row(f"detail.{key}", str(value))
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("verify-answer")(verify_answer)
