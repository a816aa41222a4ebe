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


def _example_lines(path: tuple[str, ...]) -> list[str]:
    """The `rlvr ...` lines of a command's docstring example (the text a user copies)."""
    cli._register_commands()
    cmd = typer.main.get_command(cli.app)
    for name in path:
        cmd = cmd.commands[name]
    doc = cmd.callback.__doc__ or ""
    lines = [line.strip() for line in doc.splitlines()]
    return [
        line[line.index("rlvr ") :]
        for line in lines
        if line.startswith(("rlvr ", "Example")) and "rlvr " in line
    ]


@pytest.mark.parametrize("path", _commands(), ids=" ".join)
def test_help_examples_fit_an_80_column_terminal_whole(path, capsys, monkeypatch) -> None:
    """Each example is at most 76 columns in a ``\\b`` block, so help at COLUMNS=80 shows it on
    one line, unwrapped, and it pastes as one command."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TERMINAL_WIDTH", "80")
    with pytest.raises(SystemExit):
        cli.main([*path, "--help"])
    out = capsys.readouterr().out
    examples = _example_lines(path)
    assert examples, f"`rlvr {' '.join(path)}`: no example line in the docstring"
    shown = {" ".join(line.split()) for line in out.splitlines()}
    for example in examples:
        assert len(example) <= 76, f"{example!r} is wider than 76 columns"
        whole = " ".join(example.split())
        assert any(whole in line for line in shown), f"{example!r} is not shown whole at 80 columns"
