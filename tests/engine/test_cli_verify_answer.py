"""`rlvr verify-answer`: prints a verdict table or JSON; user mistakes exit 2."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from engine import cli_verify_answer
from engine.errors import UserError


def _app() -> typer.Typer:
    app = typer.Typer()
    cli_verify_answer.register(app)
    app.command("noop")(lambda: None)  # a second command keeps typer in multi-command mode
    return app


def test_json_verdict() -> None:
    args = ["verify-answer", "--gold", r"\frac{1}{2}", "--response", r"so \boxed{0.5}", "--json"]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0
    verdict = json.loads(result.output)
    assert (verdict["status"], verdict["reward"], verdict["extracted"]) == ("correct", 1.0, "0.5")


def test_table_verdict() -> None:
    result = CliRunner().invoke(_app(), ["verify-answer", "--gold", "3", "--response", "so 4"])
    assert result.exit_code == 0
    assert "incorrect" in result.output and "math verdict" in result.output


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(_app(), ["verify-answer", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output


def test_bad_timeout_is_a_user_error() -> None:
    args = ["verify-answer", "--gold", "1", "--response", "1", "--timeout", "0"]
    result = CliRunner().invoke(_app(), args)
    assert isinstance(result.exception, UserError)  # engine.cli prints `error: ...`, exits 2
    assert "--timeout 0" in str(result.exception)
