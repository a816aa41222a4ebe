"""`rlvr-sandbox`: run one program in the jail, serve the HTTP API, or check the machine.

Thin (STYLE.md §8): parse, call `sandbox`, print. User mistakes print ``error: <what> — <fix>``
and exit 2; a run that is not ``ok`` exits 1.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from sandbox.errors import SandboxError
from sandbox.job import Job, Limits, Run
from sandbox.languages import language_for_file

__all__ = [
    "SANDBOX_ERROR_EXIT",
    "CliError",
    "app",
    "doctor",
    "exit_code",
    "main",
    "parse_bytes",
    "parse_megabytes",
    "run_cmd",
    "serve",
]

app = typer.Typer(
    name="rlvr-sandbox",
    help="Run untrusted programs in an isolated jail (bubblewrap by default).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgKMG]?)[iI]?[bB]?\s*$")


class CliError(Exception):
    """A user mistake on the command line; printed as one ``error:`` line, exit 2. CLI-local, not
    a `SandboxError`: the library never raises it (issue 16)."""


def parse_megabytes(text: str, *, option: str = "--memory") -> int:
    """``256M``, ``1G``, ``512`` (MB), ``64MiB`` -> megabytes."""
    m = _SIZE.match(text)
    if not m:
        raise CliError(f"{option} {text!r} is not a size — use e.g. 256M or 1G")
    value, unit = float(m.group(1)), m.group(2).lower()
    mb = value * {"": 1, "k": 1 / 1024, "m": 1, "g": 1024}[unit]
    if mb < 1:
        raise CliError(f"{option} {text!r} is below 1 MB — use e.g. 256M")
    return int(mb)


def _language(program: Path, lang: str | None) -> str:
    if lang:
        return lang
    found = language_for_file(program.name)
    if found is None:
        raise CliError(f"cannot tell the language of {program} — pass --lang python|cpp|c")
    return found


# Exit codes of `run`, as `timeout(1)` and shells report them: the program's own code, 124 on a
# time limit, 128 + N when a signal killed it (137: SIGKILL, as on a memory limit).
_EXIT_CODES = {"time_limit": 124, "memory_limit": 137, "output_limit": 1, "compile_error": 1}
SANDBOX_ERROR_EXIT = 125  # the jail itself failed (timeout(1) uses 125 for its own failures)


def exit_code(status: str, code: int | None, signal: int | None) -> int:
    """The exit code `rlvr-sandbox run` passes on for a run's result."""
    if status == "ok":
        return 0
    if status == "runtime_error":
        if code:
            return code
        return 128 + signal if signal else 1
    return _EXIT_CODES.get(status, SANDBOX_ERROR_EXIT)


@app.command("run")
def run_cmd(
    program: Annotated[Path, typer.Argument(help="Source file to run.")],
    program_args: Annotated[
        list[str] | None,
        typer.Argument(help="Arguments for the program, after --.", show_default=False),
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", "-l", help="python, cpp or c.")] = None,
    stdin: Annotated[
        Path | None,
        typer.Option(help="File fed on standard input; '-' (the default when piped) reads ours."),
    ] = None,
    time: Annotated[float, typer.Option("--time", "-t", help="CPU seconds.")] = 2.0,
    wall: Annotated[float | None, typer.Option(help="Wall seconds (default 2*time+1).")] = None,
    memory: Annotated[str, typer.Option("--memory", "-m", help="e.g. 256M, 1G.")] = "512M",
    backend: Annotated[str | None, typer.Option(help="bwrap, process or docker.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as one line of JSON.")
    ] = False,
    arg: Annotated[
        list[str] | None, typer.Option("--arg", help="Program argument (repeat).", hidden=True)
    ] = None,
) -> None:
    """Run PROGRAM once in the jail and print its result.

    Standard input is --stdin FILE, or ours when it is not a terminal (< in.txt, a pipe). The exit
    code is the program's own; 124 on a time limit, 128+N when signal N killed it, 125 when the
    sandbox itself failed.

    Example: rlvr-sandbox run prog.py --time 2 --memory 256M < in.txt -- arg1 arg2
    """
    from sandbox.languages import get_language
    from sandbox.runner import run

    if not program.is_file():
        raise CliError(f"{program}: no such file — pass the path of a source file")
    try:
        limits = Limits(cpu_s=time, wall_s=wall, memory_mb=parse_megabytes(memory))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    args = (*(arg or ()), *(program_args or ()))
    job = Job(
        language=_language(program, lang),
        files={program.name: program.read_bytes()},
        runs=(Run(args=args),),
        limits=limits,
    )  # validated before standard input is read, so a mistake never waits on a pipe
    try:
        get_language(job.language)
    except KeyError as exc:
        raise CliError(f"{exc.args[0]} — pass --lang python|cpp|c") from None
    job = dataclasses.replace(job, runs=(Run(stdin=_stdin_bytes(stdin), args=args),))
    result = run(job, backend=backend)
    shown = result.runs[0] if result.runs else result.compile
    assert shown is not None
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    else:
        sys.stdout.buffer.write(shown.stdout)
        sys.stdout.flush()
        if shown.stderr:
            sys.stderr.buffer.write(shown.stderr)
        typer.echo(
            f"[{shown.status}] exit={shown.exit_code} signal={shown.signal} cpu={shown.cpu_s:.3f}s "
            f"wall={shown.wall_s:.3f}s memory={shown.memory_mb:.1f}MB backend={result.backend}"
            + (f" — {shown.message.splitlines()[0]}" if shown.message else ""),
            err=True,
        )
    raise typer.Exit(exit_code(shown.status, shown.exit_code, shown.signal))


def _stdin_bytes(stdin: Path | None) -> bytes:
    """--stdin FILE, '-' for our standard input, and ours by default when it is not a terminal."""
    if stdin is None:
        return b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    if str(stdin) == "-":
        return sys.stdin.buffer.read()
    if not stdin.is_file():
        raise CliError(f"--stdin {stdin}: no such file")
    return stdin.read_bytes()


_SERVE_HELP = "\n\n".join(
    [
        "Serve POST /v1/jobs, POST /run_code (SandboxFusion-compatible) and GET /healthz.",
        "Every request is held under the operator's caps: a limit asked above --max-memory, "
        "--max-time or --max-output (or Infinity, NaN, a negative, a string) is refused with "
        "422; a body over --max-body is 413; beyond --max-jobs running plus --queue waiting is "
        '429 with Retry-After. Every error is a 4xx with a JSON body {"error": ...}.',
        "With --token (or RLVR_SANDBOX_TOKEN, which keeps it out of ps) every endpoint but "
        "/healthz requires 'Authorization: Bearer TOKEN' (401 otherwise). Anyone who can reach "
        "the port can run code in the jail and spend the host's CPU and memory: serve binds "
        "127.0.0.1 by default and refuses any other address without a token unless "
        "--allow-unauthenticated.",
        "Sizes: 512K, 8M, 1G (binary). Each option also reads RLVR_SANDBOX_<OPTION>, e.g. "
        "RLVR_SANDBOX_MAX_MEMORY=1G.",
        "Example: rlvr-sandbox serve --port 8090 --max-jobs 2 --max-memory 1G --max-time 10 "
        "--max-output 8M",
    ]
)


def _env(name: str) -> str:
    return f"RLVR_SANDBOX_{name}"


def parse_bytes(text: str, *, option: str) -> int:
    """``8M``, ``512K``, ``1G``, ``4096`` (bytes) -> bytes; binary units."""
    m = _SIZE.match(text)
    if not m:
        raise CliError(f"{option} {text!r} is not a size — use e.g. 8M or 1G")
    value = (
        float(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]
    )
    if value < 1:
        raise CliError(f"{option} {text!r} is below 1 byte — use e.g. 8M")
    return int(value)


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


@app.command(help=_SERVE_HELP)
def serve(
    host: Annotated[
        str, typer.Option(help="Bind address (loopback by default).", envvar=_env("HOST"))
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", envvar=_env("PORT"))] = 8090,
    token: Annotated[
        str | None,
        typer.Option(help="Require 'Authorization: Bearer TOKEN'.", envvar=_env("TOKEN")),
    ] = None,
    allow_unauthenticated: Annotated[
        bool,
        typer.Option(
            "--allow-unauthenticated", help="Allow a non-loopback --host without a token."
        ),
    ] = False,
    max_jobs: Annotated[
        int,
        typer.Option(
            "--max-jobs", "--concurrency", help="Jobs running at once.", envvar=_env("MAX_JOBS")
        ),
    ] = max(1, os.cpu_count() or 1),
    queue: Annotated[int, typer.Option(help="Jobs waiting before 429.", envvar=_env("QUEUE"))] = 64,
    max_memory: Annotated[
        str, typer.Option(help="Most memory a job may ask for.", envvar=_env("MAX_MEMORY"))
    ] = "1G",
    max_time: Annotated[
        float, typer.Option(help="Most CPU seconds a run may ask for.", envvar=_env("MAX_TIME"))
    ] = 10.0,
    max_output: Annotated[
        str, typer.Option(help="Most output per stream per run.", envvar=_env("MAX_OUTPUT"))
    ] = "8M",
    max_body: Annotated[
        str, typer.Option(help="Largest request body.", envvar=_env("MAX_BODY"))
    ] = "16M",
    max_response: Annotated[
        str, typer.Option(help="Most output held for one request.", envvar=_env("MAX_RESPONSE"))
    ] = "64M",
    backend: Annotated[
        str | None, typer.Option(help="bwrap, process or docker.", envvar=_env("BACKEND"))
    ] = None,
) -> None:
    import uvicorn

    from sandbox.service import ServiceConfig, create_app

    if token is None and not allow_unauthenticated and not _loopback(host):
        raise CliError(
            f"--host {host} is reachable from other machines and no token is set — pass "
            "--token (or RLVR_SANDBOX_TOKEN), or --allow-unauthenticated on a trusted network"
        )
    try:
        config = ServiceConfig(
            token=token,
            concurrency=max_jobs,
            queue=queue,
            backend=backend,
            max_memory_mb=parse_megabytes(max_memory, option="--max-memory"),
            max_cpu_s=max_time,
            max_output_bytes=parse_bytes(max_output, option="--max-output"),
            max_body_bytes=parse_bytes(max_body, option="--max-body"),
            max_response_bytes=parse_bytes(max_response, option="--max-response"),
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Say which backends work here and how limits are enforced (cgroup or rlimit).

    Example: rlvr-sandbox doctor --json
    """
    from sandbox.doctor import doctor as report

    data = report()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"default backend: {data['default_backend']}")
    for name, info in data["backends"].items():
        state = "ok" if info["ok"] else f"unavailable — {info['reason']}"
        typer.echo(f"  {name:8} {state}")
        for key, value in info["enforcement"].items():
            typer.echo(f"           {key}: {value}")
    typer.echo(f"user namespaces: {data['user_namespaces']}; cgroup: {data['cgroup']}")
    for name, info in data["languages"].items():
        typer.echo(
            f"  language {name:7} {'ok' if info['ok'] else 'missing ' + ', '.join(info['missing'])}"
        )
    for warning in data["warnings"]:
        typer.echo(f"warning: {warning}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `rlvr-sandbox` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("RLVR_DEBUG") == "1"
    argv = [a for a in argv if a != "--debug"]
    try:
        app(args=argv, standalone_mode=True)
    except (CliError, SandboxError) as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
