"""SandboxFusion's ``POST /run_code`` on top of `sandbox.run`, so verl / open-r1 clients work as is.

Request: ``{code, language, compile_timeout, run_timeout, memory_limit_MB, stdin, files:
{path: base64}, fetch_files: [path]}``. Response: ``{status: Success|Failed|SandboxError,
message, compile_result, run_result: {status: Finished|Error|TimeLimitExceeded, execution_time,
return_code, stdout, stderr}, executor_pod_name, files: {path: base64}}`` (SandboxFusion's
``sandbox/server/sandbox_api.py`` models). Unlike SandboxFusion's default ``isolation: none``,
the code runs in the jail; ``fetch_files`` are read relative to the work dir without following
links (hostile-cases B11), and absolute or ``..`` paths are refused.

Limits come from the request but never beyond the operator's caps (`sandbox.caps`, issue 9):
``run_timeout`` and ``compile_timeout`` above ``max_cpu_s`` or ``memory_limit_MB`` above
``max_memory_mb`` are refused (`RequestError`, 422), as are non-finite or non-positive timeouts;
``memory_limit_MB <= 0`` (SandboxFusion's ``-1``) means the default, 1024 MB lowered to the cap;
each stream and fetched file is capped at ``max_output_bytes``. A bad request (unknown language,
bad base64, unsafe file name, too many files) raises instead of answering ``SandboxError``: the
service turns it into a 4xx whose JSON body still has ``status: SandboxError`` and ``message``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from pydantic import BaseModel, Field

from sandbox.caps import ServiceConfig, cap_limits, check_output_ceiling
from sandbox.errors import RequestError
from sandbox.job import Job, JobResult, Limits, Run, RunResult
from sandbox.languages import LANGUAGES, Language, get_language
from sandbox.runner import run

__all__ = [
    "CommandRunResult",
    "RunCodeRequest",
    "RunCodeResponse",
    "Seconds",
    "build_job",
    "respond",
    "run_code",
]

# Finite, > 0 and a number (not "10", not true): Infinity / NaN / -1 are a 422 at the boundary.
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False, strict=True)]


class RunCodeRequest(BaseModel):
    code: Annotated[str, Field(strict=True)]
    language: Annotated[str, Field(strict=True, max_length=64)]
    compile_timeout: Seconds = 10
    run_timeout: Seconds = 10
    memory_limit_MB: Annotated[int, Field(strict=True)] = -1
    stdin: Annotated[str, Field(strict=True)] | None = None
    files: dict[str, Annotated[str, Field(strict=True)] | None] = Field(default_factory=dict)
    fetch_files: list[Annotated[str, Field(strict=True)]] = Field(
        default_factory=list, max_length=64
    )


class CommandRunResult(BaseModel):
    status: str  # Finished | Error | TimeLimitExceeded
    execution_time: float | None = None
    return_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None


class RunCodeResponse(BaseModel):
    status: str  # Success | Failed | SandboxError
    message: str = ""
    compile_result: CommandRunResult | None = None
    run_result: CommandRunResult | None = None
    executor_pod_name: str | None = None
    files: dict[str, str] = Field(default_factory=dict)


def _command(result: RunResult) -> CommandRunResult:
    status = {"time_limit": "TimeLimitExceeded", "sandbox_error": "Error"}.get(
        result.status, "Finished"
    )
    code = result.exit_code if result.exit_code is not None else -(result.signal or 9)
    return CommandRunResult(
        status=status,
        execution_time=result.wall_s,
        return_code=code,
        stdout=result.stdout.decode("utf-8", "replace"),
        stderr=result.stderr.decode("utf-8", "replace"),
    )


def _language(name: str) -> Language:
    try:
        return get_language(name)
    except KeyError:
        known = ", ".join(sorted(LANGUAGES))
        raise RequestError(
            f"language={name[:64]!r} is not supported — use one of {known}"
        ) from None


def _files(req: RunCodeRequest, config: ServiceConfig) -> dict[str, bytes]:
    if len(req.files) + 1 > config.max_files:
        raise RequestError(
            f"files: {len(req.files)} entries, over this server's {config.max_files - 1} — "
            "send fewer files"
        )
    files: dict[str, bytes] = {}
    for name, b64 in req.files.items():
        try:
            files[name] = base64.b64decode(b64 or "", validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(f"files[{name[:200]!r}] is not base64 — encode it") from None
    return files


def _seconds(req: RunCodeRequest, name: str, config: ServiceConfig) -> float:
    """A timeout the client gave (refused above the cap) or the default lowered to the cap."""
    value = getattr(req, name)
    if name not in req.model_fields_set:
        return min(value, config.max_cpu_s)
    if value > config.max_cpu_s:
        raise RequestError(
            f"{name}={value!r} is over this server's cap of {config.max_cpu_s:g} s — ask for at "
            "most that (the operator sets it with rlvr-sandbox serve --max-time)"
        )
    return value


def build_job(req: RunCodeRequest, config: ServiceConfig | None = None) -> Job:
    """The `Job` a SandboxFusion request asks for, held under ``config``'s caps; RequestError
    (or JobError for an unsafe file name) when the request is bad."""
    config = config or ServiceConfig()
    lang = _language(req.language)
    files = _files(req, config)
    run_s, compile_s = (
        _seconds(req, "run_timeout", config),
        _seconds(req, "compile_timeout", config),
    )
    memory = req.memory_limit_MB
    if memory > config.max_memory_mb:
        raise RequestError(
            f"memory_limit_MB={memory} is over this server's cap of {config.max_memory_mb} — ask "
            "for at most that, or -1 for the default (rlvr-sandbox serve --max-memory)"
        )
    given = {"cpu_s": run_s, "wall_s": run_s * 1.5 + 1}
    if memory > 0:
        given["memory_mb"] = memory
    limits = cap_limits(given, Limits(memory_mb=1024), config, where="run_code")
    check_output_ceiling(limits, len(req.fetch_files), config, where="fetch_files")
    compile_limits = cap_limits(
        {"cpu_s": compile_s, "wall_s": compile_s * 1.5 + 1},
        lang.compile_limits,
        config,
        where="run_code.compile",
    )
    return Job(
        language=lang.name,
        files={lang.main: req.code},
        runs=(Run(stdin=req.stdin or "", files=files, collect=tuple(req.fetch_files)),),
        limits=limits,
        compile_limits=compile_limits,
    )


def respond(result: JobResult) -> RunCodeResponse:
    """SandboxFusion's answer for a finished job."""
    compile_result = _command(result.compile) if result.compile is not None else None
    if result.compile is not None and not result.compile.ok:
        status = "SandboxError" if result.compile.status == "sandbox_error" else "Failed"
        return RunCodeResponse(
            status=status, message=result.compile.message, compile_result=compile_result
        )
    one = result.runs[0]
    status = "SandboxError" if one.status == "sandbox_error" else "Success" if one.ok else "Failed"
    files = {k: base64.b64encode(v).decode() for k, v in one.files.items()}
    return RunCodeResponse(
        status=status,
        message=one.message,
        compile_result=compile_result,
        run_result=_command(one),
        files=files,
    )


def run_code(
    req: RunCodeRequest, *, backend: str | None = None, config: ServiceConfig | None = None
) -> RunCodeResponse:
    """Answer one SandboxFusion request; a bad request raises `RequestError` or `JobError`."""
    return respond(run(build_job(req, config), backend=backend))
