"""`rlvr judge`: verdict table or JSON; a bad tests file is one error naming file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from engine import cli_judge
from engine.errors import UserError
from sandbox.backends import get_backend

needs_sandbox = pytest.mark.skipif(
    get_backend().unavailable() is not None, reason="the sandbox cannot run jobs here"
)
STDIO = {
    "kind": "stdio",
    "cases": [{"stdin": "1 2\n", "expected": "3"}, {"stdin": "2 2\n", "expected": "4"}],
}


def _app() -> typer.Typer:
    app = typer.Typer()
    cli_judge.register(app)
    app.command("noop")(lambda: None)  # a second command keeps typer in multi-command mode
    return app


def _files(tmp_path: Path, tests: dict | str, name: str, code: str) -> tuple[Path, Path]:
    t = tmp_path / "tests.json"
    t.write_text(tests if isinstance(tests, str) else json.dumps(tests))
    s = tmp_path / name
    s.write_text(code)
    return t, s


@needs_sandbox
def test_cpp_json_verdict(tmp_path: Path) -> None:
    code = '#include <cstdio>\nint main(){int a,b;scanf("%d %d",&a,&b);printf("%d\\n",a+b);}'
    tests, sol = _files(tmp_path, STDIO, "solution.cpp", code)
    result = CliRunner().invoke(
        _app(), ["judge", "--tests", str(tests), "--lang", "cpp", str(sol), "--json"]
    )
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.output)
    assert verdict["status"] == "correct" and [t["code"] for t in verdict["detail"]["tests"]] == [
        "AC",
        "AC",
    ]


@needs_sandbox
def test_table_with_all_tests_and_fraction(tmp_path: Path) -> None:
    tests, sol = _files(tmp_path, STDIO, "sol.py", "print(3)")
    args = ["judge", "--tests", str(tests), str(sol), "--all-tests", "--reward", "fraction"]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 1  # not correct
    assert "incorrect" in result.output and "reward=0.5" in result.output and "WA" in result.output


@pytest.mark.parametrize(
    ("tests", "needle"),
    [
        ("{not json", "invalid JSON"),  # not JSON at all
        ({"kind": "stdio", "cases": [{"stdin": "1"}]}, "tests.cases[0].expected"),  # missing field
        ({"kind": "graph", "cases": []}, "tests.kind"),  # unknown kind
    ],
)
def test_bad_tests_file_names_file_and_field(tmp_path: Path, tests, needle) -> None:
    t, sol = _files(tmp_path, tests, "sol.py", "print(1)")
    result = CliRunner().invoke(_app(), ["judge", "--tests", str(t), str(sol)])
    assert isinstance(result.exception, UserError)  # engine.cli prints `error: ...`, exits 2
    message = str(result.exception)
    assert str(t) in message and needle in message and "\n" not in message


def test_missing_tests_file_is_a_user_error(tmp_path: Path) -> None:
    sol = tmp_path / "a.py"
    sol.write_text("print(1)")
    result = CliRunner().invoke(_app(), ["judge", "--tests", str(tmp_path / "nope.json"), str(sol)])
    assert isinstance(result.exception, UserError) and "nope.json" in str(result.exception)


def test_unknown_language_and_bad_reward_are_user_errors(tmp_path: Path) -> None:
    t, sol = _files(tmp_path, STDIO, "prog.rs", "fn main(){}")
    result = CliRunner().invoke(_app(), ["judge", "--tests", str(t), str(sol)])
    assert isinstance(result.exception, UserError) and "--lang" in str(result.exception)
    t, sol = _files(tmp_path, STDIO, "p.py", "print(3)")
    result = CliRunner().invoke(_app(), ["judge", "--tests", str(t), str(sol), "--reward", "half"])
    assert isinstance(result.exception, UserError) and "reward" in str(result.exception)


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(_app(), ["judge", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output


def test_main_exits_2_on_bad_tests(tmp_path: Path, capsys) -> None:
    from engine.cli import main

    t, sol = _files(tmp_path, "{", "p.py", "print(1)")
    with pytest.raises(SystemExit) as exc:
        main(["judge", "--tests", str(t), str(sol)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(t) in err
