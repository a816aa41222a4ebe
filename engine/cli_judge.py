"""`rlvr judge`: judge one program file against a tests file in the sandbox (a thin wrapper over
`verifiers.code.verify_code`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from engine.errors import InputError, UserError
from verifiers.code.config import CodeConfig

__all__ = ["judge", "register"]

_DEFAULT = CodeConfig()  # the limits' defaults have one source: the code verifier's config


def _read_tests(path: Path):
    from verifiers.code.schema import CodeTests, TestSchemaError

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file — pass a CodeTests JSON file", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read it ({exc})", path=str(path)) from exc
    try:
        return CodeTests.from_json(text)
    except TestSchemaError as exc:
        field = str(exc).split(":", 1)[0]
        raise InputError(str(exc), path=str(path), field=field) from None


def judge(
    solution: Annotated[Path, typer.Argument(help="The program (or a response with ``` blocks).")],
    tests: Annotated[
        Path, typer.Option("--tests", help="CodeTests JSON (verifiers/code/schema.py).")
    ],
    lang: Annotated[
        str, typer.Option("--lang", help="python, cpp or c (default: from the suffix).")
    ] = "",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the verdict as one JSON object.")
    ] = False,
    all_tests: Annotated[
        bool, typer.Option("--all-tests", help="Run every test, not up to the first failure.")
    ] = False,
    reward: Annotated[str, typer.Option("--reward", help="binary or fraction.")] = "binary",
    time: Annotated[
        float, typer.Option("--time", "-t", help="CPU seconds per test.")
    ] = _DEFAULT.test_cpu_s,
    memory: Annotated[
        str, typer.Option("--memory", "-m", help="Memory per run, e.g. 256M, 1G.")
    ] = f"{_DEFAULT.memory_mb}M",
    # The names before issue 10 (limits are now named as in `rlvr-sandbox run`), kept hidden.
    cpu_s: Annotated[float | None, typer.Option("--cpu-s", hidden=True)] = None,
    memory_mb: Annotated[int | None, typer.Option("--memory-mb", hidden=True)] = None,
    checker: Annotated[
        str, typer.Option("--checker", help="Override the tests' checker (stdio).")
    ] = "",
    fenced: Annotated[
        bool, typer.Option("--fenced", help="Read the last ``` block of a response.")
    ] = False,
) -> None:
    """Judge a program against tests in the sandbox and print the verdict with per-test codes.

    \b
    Example:
      rlvr judge --tests tests.json --lang cpp solution.cpp --all-tests --json
    """
    from sandbox.languages import language_for_file
    from verifiers.code import verify_code

    parsed = _read_tests(tests)
    try:
        code = solution.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the program ({exc})", path=str(solution)) from None
    language = lang or language_for_file(solution.name.lower()) or ""
    if not language:
        raise UserError(f"{solution}: cannot tell the language — pass --lang python|cpp|c")
    from sandbox.cli import CliError, parse_megabytes

    try:
        memory_mb = memory_mb if memory_mb is not None else parse_megabytes(memory)
    except CliError as exc:
        raise UserError(str(exc)) from None
    try:
        config = CodeConfig(
            test_cpu_s=cpu_s if cpu_s is not None else time,
            memory_mb=memory_mb,
            reward=reward,  # type: ignore[arg-type]
            all_tests=all_tests or None,
            extract="fenced" if fenced else "raw",
        )
    except ValueError as exc:
        raise UserError(f"{exc} — see rlvr judge --help") from None
    verdict = verify_code(
        parsed,
        code,
        lang=language,
        checker=checker or None,
        config=config,
        prompt_prefix=(parsed.meta or {}).get("prompt_prefix"),
    )
    if verdict.status == "error":
        raise UserError(f"{tests}: {verdict.detail.get('reason')}")
    if as_json:
        typer.echo(verdict.to_json())
    else:
        _print(verdict)
    raise typer.Exit(0 if verdict.status == "correct" else 1)


def _print(verdict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    d = verdict.detail
    reward = "None" if verdict.reward is None else f"{verdict.reward:g}"
    console.print(
        f"[bold]{verdict.status}[/bold]  reward={reward}  passed {d.get('passed', 0)}/"
        f"{d.get('total', 0)}  ({verdict.elapsed_ms:.0f} ms)"
    )
    if d.get("reason"):
        console.print(f"reason: {d['reason']}")
    if (d.get("compile") or {}).get("message"):
        console.print(f"compile: {d['compile']['message']}")
    table = Table("test", "code", "cpu s", "wall s", "reason")
    for t in d.get("tests", []):
        style = "green" if t["code"] == "AC" else "red"
        table.add_row(
            str(t["i"]),
            f"[{style}]{t['code']}[/{style}]",
            f"{t.get('time_s', 0):.3f}",
            f"{t.get('wall_s', 0):.3f}",
            t.get("reason", ""),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("judge")(judge)
