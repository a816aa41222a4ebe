"""Every `rlvr` command has help with a copy-pasteable example (STYLE.md, after sqlite-utils)."""

from __future__ import annotations

import pytest
import typer

from engine import cli


def _commands() -> list[tuple[str, ...]]:
    cli._register_commands()
    root = typer.main.get_command(cli.app)

    def walk(cmd, path: tuple[str, ...]) -> list[tuple[str, ...]]:  # typer vendors its own click
        if hasattr(cmd, "commands"):
            return [p for name, sub in cmd.commands.items() for p in walk(sub, (*path, name))]
        return [path]

    return walk(root, ())


def test_all_commands_are_registered() -> None:
    names = {" ".join(p) for p in _commands()}
    assert {
        "sql",
        "runs",
        "stats",
        "verify",
        "verify-answer",
        "judge",
        "lake check",
        "prompts import",
    } <= names


@pytest.mark.parametrize("path", _commands(), ids=" ".join)
def test_help_has_an_example(path: tuple[str, ...], capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main([*path, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "Example" in out and "rlvr " in out, f"`rlvr {' '.join(path)} --help` shows no example"


def test_unknown_command_exits_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["no-such-command"])
    assert exit_.value.code == 2
