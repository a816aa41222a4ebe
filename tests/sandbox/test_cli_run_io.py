"""`rlvr-sandbox run` as a Unix tool (issue 10): standard input from a pipe or a file, the
program's own exit code (124 on a time limit, as timeout(1)), arguments after `--`, one-line JSON;
limit options named the same in `rlvr judge`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sandbox.cli import exit_code
from tests.sandbox.conftest import needs_bwrap

CLI = [sys.executable, "-c", "from sandbox.cli import main; main()", "run"]


def sandbox_run(tmp_path: Path, code: str, *args: str, stdin=None, input_: bytes | None = None):
    prog = tmp_path / "prog.py"
    prog.write_text(code)
    return subprocess.run(
        [*CLI, str(prog), *args],
        stdin=stdin,
        input=input_,
        capture_output=True,
        timeout=120,
        check=False,
    )


@needs_bwrap
def test_stdin_redirected_from_a_file_is_the_programs_input(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("abc\n")
    with (tmp_path / "in.txt").open("rb") as stdin:
        done = sandbox_run(tmp_path, "print(input()[::-1])", stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"cba\n"


@needs_bwrap
def test_stdin_dash_reads_a_pipe(tmp_path: Path) -> None:
    done = sandbox_run(tmp_path, "import sys; print(sum(map(int, sys.stdin.read().split())))",
                       "--stdin", "-", input_=b"1 2 3\n")  # fmt: skip
    assert done.stdout == b"6\n"


@needs_bwrap
@pytest.mark.parametrize(
    ("code", "args", "expected"),
    [
        ("import sys; sys.exit(3)", [], 3),  # the program's own exit code
        ("print('fine')", [], 0),  # control: success is 0
        ("while True: pass", ["--time", "0.5"], 124),  # CPU time limit, as timeout(1)
        ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", [], 128 + 15),  # a signal
    ],
)
def test_exit_code_is_passed_through(tmp_path: Path, code, args, expected) -> None:
    done = sandbox_run(tmp_path, code, *args, input_=b"")
    assert done.returncode == expected, done.stderr


@needs_bwrap
def test_arguments_after_double_dash_reach_the_program(tmp_path: Path) -> None:
    done = sandbox_run(tmp_path, "import sys; print(sys.argv[1:])", "--", "a", "--time", "-x",
                       input_=b"")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"['a', '--time', '-x']\n"  # options after -- are the program's


@needs_bwrap
def test_json_is_one_line(tmp_path: Path) -> None:
    done = sandbox_run(tmp_path, "print('hi')", "--json", input_=b"")
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["runs"][0]["stdout"] == "hi\n"


@pytest.mark.parametrize(
    ("status", "code", "signal", "expected"),
    [
        ("ok", 0, None, 0),
        ("runtime_error", 7, None, 7),
        ("runtime_error", None, 11, 139),  # SIGSEGV, as a shell reports it
        ("time_limit", None, 9, 124),
        ("memory_limit", None, 9, 137),
        ("sandbox_error", None, None, 125),  # our fault, never the program's code
    ],
)
def test_exit_code_mapping(status, code, signal, expected) -> None:
    assert exit_code(status, code, signal) == expected


def test_judge_and_sandbox_name_limits_the_same() -> None:
    from engine import cli_judge
    from sandbox.cli import app as sandbox_app

    app = typer.Typer()
    cli_judge.register(app)
    app.command("noop")(lambda: None)
    judge_help = CliRunner().invoke(app, ["judge", "--help"], terminal_width=200).output
    run_help = CliRunner().invoke(sandbox_app, ["run", "--help"], terminal_width=200).output
    for option in ("--time", "--memory"):
        assert option in judge_help and option in run_help
    assert "--cpu-s" not in judge_help and "--memory-mb" not in judge_help  # hidden aliases


@pytest.mark.skipif(
    __import__("sandbox.backends", fromlist=["get_backend"]).get_backend().unavailable()
    is not None,
    reason="the sandbox cannot run jobs here",
)
@pytest.mark.parametrize(
    "limits", [["--time", "2", "--memory", "256M"], ["--cpu-s", "2", "--memory-mb", "256"]]
)
def test_judge_takes_the_new_and_the_old_limit_names(tmp_path: Path, limits) -> None:
    from engine import cli_judge

    app = typer.Typer()
    cli_judge.register(app)
    app.command("noop")(lambda: None)
    tests = tmp_path / "tests.json"
    tests.write_text(json.dumps({"kind": "stdio", "cases": [{"stdin": "1 2\n", "expected": "3"}]}))
    sol = tmp_path / "s.py"
    sol.write_text("a, b = map(int, input().split()); print(a + b)")
    result = CliRunner().invoke(app, ["judge", "--tests", str(tests), str(sol), *limits, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "correct"
