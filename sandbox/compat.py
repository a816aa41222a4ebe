"""SandboxFusion's ``POST /run_code`` on top of `sandbox.run`, so verl / open-r1 clients work as is.

Request: ``{code, language, compile_timeout, run_timeout, memory_limit_MB, stdin, files:
{path: base64}, fetch_files: [path]}``. Response: ``{status: Success|Failed|SandboxError,
message, compile_result, run_result: {status: Finished|Error|TimeLimitExceeded, execution_time,
return_code, stdout, stderr}, executor_pod_name, files: {path: base64}}`` (SandboxFusion's
``sandbox/server/sandbox_api.py`` models). Unlike SandboxFusion's default ``isolation: none``,
the code runs in the jail; ``fetch_files`` are read relative to the work dir without following
links (hostile-cases B11), and absolute or ``..`` paths are refused.
"""

from __future__ import annotations

import base64
import binascii

from pydantic import BaseModel, Field

from sandbox.errors import JobError
from sandbox.job import Job, Limits, Run, RunResult
from sandbox.languages import get_language
from sandbox.runner import run


class RunCodeRequest(BaseModel):
    code: str
    language: str
    compile_timeout: float = 10
    run_timeout: float = 10
    memory_limit_MB: int = -1
    stdin: str | None = None
    files: dict[str, str | None] = Field(default_factory=dict)
    fetch_files: list[str] = Field(default_factory=list)


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


def _job(req: RunCodeRequest) -> Job:
    lang = get_language(req.language)
    files: dict[str, bytes] = {}
    for name, b64 in req.files.items():
        try:
            files[name] = base64.b64decode(b64 or "", validate=True)
        except (binascii.Error, ValueError):
            raise JobError(f"files[{name!r}] is not base64") from None
    memory = req.memory_limit_MB if req.memory_limit_MB > 0 else 1024
    limits = Limits(cpu_s=req.run_timeout, wall_s=req.run_timeout * 1.5 + 1, memory_mb=memory)
    compile_limits = lang.compile_limits.replace(
        cpu_s=req.compile_timeout, wall_s=req.compile_timeout * 1.5 + 1
    )
    return Job(
        language=lang.name,
        files={lang.main: req.code},
        runs=(Run(stdin=req.stdin or "", files=files, collect=tuple(req.fetch_files)),),
        limits=limits,
        compile_limits=compile_limits,
    )


def run_code(req: RunCodeRequest, *, backend: str | None = None) -> RunCodeResponse:
    """Answer one SandboxFusion request; user mistakes come back as ``SandboxError`` + message."""
    try:
        result = run(_job(req), backend=backend)
    except (KeyError, JobError, ValueError) as exc:
        return RunCodeResponse(status="SandboxError", message=str(exc).strip("'\""))
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
