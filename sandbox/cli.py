"""`rlvr-sandbox`: run one program in the jail, serve the HTTP API, or check the machine.

Thin (STYLE.md §8): parse, call `sandbox`, print. User mistakes print ``error: <what> — <fix>``
and exit 2; a run that is not ``ok`` exits 1.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from sandbox.errors import SandboxError
from sandbox.job import Job, Limits, Run

app = typer.Typer(
    name="rlvr-sandbox",
    help="Run untrusted programs in an isolated jail (bubblewrap by default).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgKMG]?)[iI]?[bB]?\s*$")
_SUFFIX = {".py": "python", ".cpp": "cpp", ".cc": "cpp", ".cxx": "cpp", ".c": "c"}


class CliError(SandboxError):
    """A user mistake on the command line; printed as one ``error:`` line, exit 2."""


def parse_megabytes(text: str) -> int:
    """``256M``, ``1G``, ``512`` (MB), ``64MiB`` -> megabytes."""
    m = _SIZE.match(text)
    if not m:
        raise CliError(f"--memory {text!r} is not a size — use e.g. 256M or 1G")
    value, unit = float(m.group(1)), m.group(2).lower()
    mb = value * {"": 1, "k": 1 / 1024, "m": 1, "g": 1024}[unit]
    if mb < 1:
        raise CliError(f"--memory {text!r} is below 1 MB — use e.g. 256M")
    return int(mb)


def _language(program: Path, lang: str | None) -> str:
    if lang:
        return lang
    try:
        return _SUFFIX[program.suffix]
    except KeyError:
        raise CliError(
            f"cannot tell the language of {program} — pass --lang python|cpp|c"
        ) from None


@app.command("run")
def run_cmd(
    program: Annotated[Path, typer.Argument(help="Source file to run.")],
    lang: Annotated[str | None, typer.Option("--lang", "-l", help="python, cpp or c.")] = None,
    stdin: Annotated[Path | None, typer.Option(help="File fed on standard input.")] = None,
    time: Annotated[float, typer.Option("--time", "-t", help="CPU seconds.")] = 2.0,
    wall: Annotated[float | None, typer.Option(help="Wall seconds (default 2*time+1).")] = None,
    memory: Annotated[str, typer.Option("--memory", "-m", help="e.g. 256M, 1G.")] = "512M",
    backend: Annotated[str | None, typer.Option(help="bwrap, process or docker.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    arg: Annotated[
        list[str] | None, typer.Option("--arg", help="Program argument (repeat).")
    ] = None,
) -> None:
    """Run PROGRAM once in the jail and print its result.

    Example: rlvr-sandbox run --lang python prog.py --stdin in.txt --time 2 --memory 256M --json
    """
    from sandbox.runner import run

    if not program.is_file():
        raise CliError(f"{program}: no such file — pass the path of a source file")
    if stdin is not None and not stdin.is_file():
        raise CliError(f"--stdin {stdin}: no such file")
    try:
        limits = Limits(cpu_s=time, wall_s=wall, memory_mb=parse_megabytes(memory))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    job = Job(
        language=_language(program, lang),
        files={program.name: program.read_bytes()},
        runs=(Run(stdin=stdin.read_bytes() if stdin else b"", args=tuple(arg or ())),),
        limits=limits,
    )
    result = run(job, backend=backend)
    shown = result.runs[0] if result.runs else result.compile
    assert shown is not None
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
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
    raise typer.Exit(0 if shown.ok else 1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Bind address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8090,
    token: Annotated[
        str | None, typer.Option(help="Require 'Authorization: Bearer TOKEN'.")
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Jobs running at once.")] = max(
        1, os.cpu_count() or 1
    ),
    queue: Annotated[int, typer.Option(help="Jobs waiting before 429.")] = 64,
    backend: Annotated[str | None, typer.Option(help="bwrap, process or docker.")] = None,
) -> None:
    """Serve POST /v1/jobs, POST /run_code (SandboxFusion-compatible) and GET /healthz.

    Example: rlvr-sandbox serve --port 8090 --token secret --concurrency 2
    """
    import uvicorn

    from sandbox.service import ServiceConfig, create_app

    if concurrency < 1 or queue < 0:
        raise CliError("--concurrency must be >= 1 and --queue >= 0")
    config = ServiceConfig(token=token, concurrency=concurrency, queue=queue, backend=backend)
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
