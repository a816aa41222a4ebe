"""`rlvr-sandbox`: run, doctor, user mistakes (one `error:` line, exit 2), help with examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox.cli import CliError, app, main, parse_megabytes
from tests.sandbox.conftest import needs_bwrap

runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "mb"),
    [
        ("256M", 256),  # megabytes with unit
        ("1G", 1024),  # gigabytes
        ("512", 512),  # bare number = MB
        ("64MiB", 64),  # binary suffix
        ("2048k", 2),  # kilobytes
    ],
)
def test_parse_megabytes(text: str, mb: int) -> None:
    assert parse_megabytes(text) == mb


@pytest.mark.parametrize("text", ["12X", "", "-5M", "0.5k"])
def test_parse_megabytes_rejects(text: str) -> None:
    with pytest.raises(CliError, match="--memory"):
        parse_megabytes(text)


@needs_bwrap
def test_run_json(tmp_path: Path) -> None:
    prog = tmp_path / "prog.py"
    prog.write_text("print(input()[::-1])")
    stdin = tmp_path / "in.txt"
    stdin.write_text("abc\n")
    out = runner.invoke(
        app,
        [
            "run",
            "--lang",
            "python",
            str(prog),
            "--stdin",
            str(stdin),
            "--time",
            "2",
            "--memory",
            "256M",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["runs"][0]["status"] == "ok" and data["runs"][0]["stdout"] == "cba\n"


@needs_bwrap
def test_run_failure_exits_1(tmp_path: Path) -> None:
    prog = tmp_path / "bad.cpp"
    prog.write_text("int main(){ nope }")
    out = runner.invoke(app, ["run", str(prog)])
    assert out.exit_code == 1
    assert "[compile_error]" in out.stderr


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "/nonexistent/prog.py"], "no such file"),  # missing program
        (["run", "{prog}", "--memory", "lots"], "--memory"),  # bad size
        (["run", "{txt}"], "--lang"),  # unknown suffix
        (["run", "{prog}", "--lang", "cobol"], "unknown language"),  # unknown language
        (["run", "{prog}", "--time", "-1"], "cpu_s"),  # invalid limit
    ],
)
def test_user_mistakes_print_one_error_line(
    tmp_path: Path, capsys, argv: list[str], says: str
) -> None:
    prog = tmp_path / "p.py"
    prog.write_text("print(1)")
    txt = tmp_path / "p.txt"
    txt.write_text("x")
    argv = [a.format(prog=prog, txt=txt) for a in argv]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and says in err[0]


def test_doctor_json() -> None:
    out = runner.invoke(app, ["doctor", "--json"])
    assert out.exit_code == 0
    data = json.loads(out.stdout)
    assert set(data["backends"]) == {"bwrap", "process", "docker"}
    assert "memory" in data["backends"]["process"]["enforcement"]


@pytest.mark.parametrize("command", ["run", "serve", "doctor"])
def test_every_command_has_help_with_example(command: str) -> None:
    out = runner.invoke(app, [command, "--help"])
    assert out.exit_code == 0
    assert "Example: rlvr-sandbox" in out.stdout
