"""The HTTP service: ``POST /v1/jobs``, SandboxFusion-compatible ``POST /run_code``, ``GET /healthz``.

The service never trusts a client (issue 9, class 6; hostile-cases A20/A21):

- **Caps.** Every limit a request states is checked against the operator's caps
  (`sandbox.caps.ServiceConfig`, ``rlvr-sandbox serve --max-memory/--max-time/--max-output``):
  over a cap, not a finite number > 0, or of the wrong type is a 422 naming the field; limits
  left out get the default lowered to the cap.
- **Bounded memory.** At most ``concurrency + queue`` requests are read at once and at most
  ``concurrency + queue`` jobs admitted (429 with ``Retry-After`` beyond), at most
  ``concurrency`` jobs run; bodies are capped (413) before they are parsed; each run's output is
  capped by the sandbox at ``output_bytes`` per stream, and a batch stops making runs once its
  results reach ``max_response_bytes`` (the job result says so in ``stopped``).
- **Errors.** Every bad request gets a 4xx with a JSON body ``{"error": "..."}`` (``/run_code``
  adds SandboxFusion's ``status: SandboxError`` and ``message``): 400 unreadable JSON, 401 token,
  404/405 route, 413 too large, 422 invalid or over a cap, 429 busy. In a batch, a job whose
  *content* is bad (unknown language, unsafe file name) gets ``{"error": ...}`` in its slot and
  the others run (STYLE.md §10); a bad *limit* or count refuses the whole request. Work dirs and
  tmpfs mounts are removed on every path, failed ones included (`sandbox.runner`).
- **Auth.** With a token (``--token`` or ``RLVR_SANDBOX_TOKEN``) every endpoint but
  ``/healthz`` requires ``Authorization: Bearer <token>`` (compared in constant time; 401
  before the body is read). ``rlvr-sandbox serve`` binds 127.0.0.1 by default and refuses a
  non-loopback address without a token unless ``--allow-unauthenticated``: anyone who can reach
  the port can make the host run code (in the jail) and spend its CPU.

Pydantic models exist only here and in `sandbox.compat`, at the boundary (STYLE.md §6); they map
one to one onto `sandbox.job`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.caps import ServiceConfig, cap_limits, check_output_ceiling
from sandbox.compat import RunCodeRequest, RunCodeResponse, Seconds, build_job, respond
from sandbox.errors import JobError, RequestError
from sandbox.job import Job, JobResult, Limits, Run, RunResult
from sandbox.languages import get_language
from sandbox.runner import run

__all__ = [
    "Count",
    "JobModel",
    "JobsRequest",
    "JobsResponse",
    "LimitsModel",
    "RunModel",
    "ServiceConfig",
    "Text",
    "create_app",
]

log = logging.getLogger("sandbox.service")
Count = Annotated[int, Field(gt=0, strict=True)]
Text = Annotated[str, Field(strict=True)]


class LimitsModel(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo ("memroy_mb") must not pass silently

    cpu_s: Seconds | None = None
    wall_s: Seconds | None = None
    memory_mb: Count | None = None
    processes: Count | None = None
    output_bytes: Count | None = None
    file_size_bytes: Count | None = None
    open_files: Count | None = None
    workdir_mb: Count | None = None

    def to_limits(self, base: Limits, config: ServiceConfig, where: str) -> Limits:
        return cap_limits(self.model_dump(exclude_none=True), base, config, where=where)


class RunModel(BaseModel):
    stdin: Text = ""
    args: list[Text] = Field(default_factory=list, max_length=256)
    files: dict[str, Text] = Field(default_factory=dict)
    collect: list[Text] = Field(default_factory=list, max_length=64)
    limits: LimitsModel | None = None


class JobModel(BaseModel):
    language: Annotated[str, Field(strict=True, max_length=64)]
    files: dict[str, Text]
    main: Text | None = None
    runs: list[RunModel] = Field(default_factory=list)
    limits: LimitsModel | None = None
    compile_limits: LimitsModel | None = None

    def to_job(self, config: ServiceConfig, where: str) -> Job:
        """RequestError for a bad limit or count (refuses the request), JobError for bad
        content (this job's slot only)."""
        _check_counts(self, config, where)
        none = LimitsModel()
        limits = (self.limits or none).to_limits(Limits(), config, f"{where}.limits")
        compile_limits = _default_compile_limits(self.language, config)
        if self.compile_limits is not None:
            compile_limits = self.compile_limits.to_limits(
                Limits(), config, f"{where}.compile_limits"
            )
        runs = []
        for i, r in enumerate(self.runs):
            mine = (r.limits or none).to_limits(limits, config, f"{where}.runs[{i}].limits")
            check_output_ceiling(mine, len(r.collect), config, where=f"{where}.runs[{i}]")
            runs.append((r, mine))
        return Job(
            language=self.language,
            files=dict(self.files),
            main=self.main,
            limits=limits,
            compile_limits=compile_limits,
            runs=tuple(
                Run(
                    stdin=r.stdin,
                    args=tuple(r.args),
                    files=dict(r.files),
                    collect=tuple(r.collect),
                    limits=mine,
                )
                for r, mine in runs
            ),
        )


def _default_compile_limits(language: str, config: ServiceConfig) -> Limits | None:
    """The language's compile limits lowered to the caps (None for an unknown language: the
    job then fails with its own error)."""
    try:
        lang = get_language(language)
    except KeyError:
        return None
    return cap_limits({}, lang.compile_limits, config, where="compile_limits")


def _check_counts(job: JobModel, config: ServiceConfig, where: str) -> None:
    if len(job.runs) > config.max_runs:
        raise RequestError(
            f"{where}: {len(job.runs)} runs, over this server's {config.max_runs} per job — "
            "split the job",
            status=413,
        )
    most = max([len(r.files) for r in job.runs] or [0]) + len(job.files)
    if most > config.max_files:
        raise RequestError(
            f"{where}: {most} files in one run, over this server's {config.max_files} — "
            "send fewer files",
            status=413,
        )


class JobsRequest(BaseModel):
    jobs: list[JobModel]


def _convert(body: JobsRequest, config: ServiceConfig) -> list[Job | str]:
    """Each job, or the message of its content error; RequestError for the whole request."""
    if len(body.jobs) > config.max_jobs_per_request:
        raise RequestError(
            f"{len(body.jobs)} jobs in one request; the cap is {config.max_jobs_per_request} — "
            "split the batch",
            status=413,
        )
    converted: list[Job | str] = []
    for i, model in enumerate(body.jobs):
        try:
            converted.append(model.to_job(config, f"jobs[{i}]"))
        except RequestError:
            raise
        except ValueError as exc:  # JobError: an unsafe name, a missing main, ...
            converted.append(f"jobs[{i}]: {exc}")
    return converted


class JobsResponse(BaseModel):
    results: list[dict[str, Any]]


def _encode(results: list) -> Iterator[bytes]:
    """``{"results": [...]}`` one run at a time: the output a request holds (up to
    ``max_response_bytes``) is never also held as one decoded dict and one JSON string at once
    (measured: a batch returning 80 MB of output peaks the server at 300 MB instead of 450-520
    MB when the whole answer is built first)."""
    yield b'{"results": ['
    for i in range(len(results)):
        item, results[i] = results[i], None  # each job's output is freed once it is sent
        yield b"," if i else b""
        if isinstance(item, dict):
            yield json.dumps(item).encode()
            continue
        result, extra = item
        head = {
            "compile": result.compile.to_dict() if result.compile else None,
            "backend": result.backend,
            "enforcement": dict(result.enforcement),
            **extra,
        }
        yield json.dumps(head)[:-1].encode() + b', "runs": ['
        for j, one in enumerate(result.runs):
            yield (b"," if j else b"") + json.dumps(one.to_dict()).encode()
        yield b"]}"
    yield b"]}"


def _busy(message: str) -> HTTPException:
    return HTTPException(429, f"{message} — retry later", {"Retry-After": "1"})


class _Admission:
    """Counts admitted jobs; refuses (429) beyond concurrency + queue; runs at most concurrency."""

    def __init__(self, concurrency: int, queue: int) -> None:
        self.capacity = concurrency + queue
        self.admitted = 0
        self.running = asyncio.Semaphore(concurrency)

    def admit(self, n: int) -> None:
        if n > self.capacity:
            raise RequestError(
                f"{n} jobs in one request; this server admits {self.capacity} at once — "
                "split the batch",
                status=413,
            )
        if self.admitted + n > self.capacity:
            raise _busy(f"busy: {self.admitted} jobs admitted, capacity {self.capacity}")
        self.admitted += n

    def release(self, n: int) -> None:
        self.admitted -= n


class _Budget:
    """Captured output one request may hold (``max_response_bytes``), shared by its jobs'
    worker threads: `stop` ends a job after the run that spends the last of it."""

    def __init__(self, total_bytes: int) -> None:
        self.total = self.left = total_bytes
        self.lock = threading.Lock()

    def stop(self, _index: int, result: RunResult) -> bool:
        size = len(result.stdout) + len(result.stderr) + sum(map(len, result.files.values()))
        with self.lock:
            self.left -= size
            return self.left <= 0

    @property
    def spent(self) -> bool:
        return self.left <= 0

    def why(self) -> str:
        return (
            f"this request's results reached max_response_bytes={self.total} — send fewer runs "
            "per request or lower output_bytes"
        )


def _error(path: str, status: int, message: str, headers=None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": message, **extra}
    if path == "/run_code":  # SandboxFusion clients read status/message
        body |= {"status": "SandboxError", "message": message}
    return JSONResponse(body, status_code=status, headers=headers)


def _digest(value: bytes) -> bytes:
    """Compared as digests: equal length, so the comparison does not leak the token's length."""
    return hashlib.sha256(value).digest()


class _Gate:
    """ASGI middleware, in front of every route but ``/healthz``: bearer token (401), requests
    in flight (429), body size (413) — all decided before the body is parsed, so a refused
    client costs the server nothing. The body is read here (at most ``max_body_bytes``) and
    handed on whole."""

    def __init__(self, app, *, config: ServiceConfig) -> None:
        self.app, self.config = app, config
        self.expected = _digest(f"Bearer {config.token}".encode()) if config.token else None
        self.in_flight, self.most = 0, config.concurrency + config.queue

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] == "/healthz":
            return await self.app(scope, receive, send)
        path, headers = scope["path"], dict(scope.get("headers") or [])
        if self.expected is not None and not hmac.compare_digest(
            _digest(headers.get(b"authorization", b"")), self.expected
        ):
            bearer = {"WWW-Authenticate": "Bearer"}
            refusal = _error(path, 401, "missing or wrong bearer token", bearer)
            return await refusal(scope, receive, send)
        if self.in_flight >= self.most:
            exc = _busy(f"busy: {self.in_flight} requests in flight")
            return await _error(path, 429, exc.detail, exc.headers)(scope, receive, send)
        self.in_flight += 1
        try:
            body = await self._body(path, headers, scope, receive, send)
            if body is None:
                return
            delivered = False

            async def replay():
                nonlocal delivered
                if delivered:
                    return await receive()
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}

            await self.app(scope, replay, send)
        finally:
            self.in_flight -= 1

    async def _body(self, path, headers, scope, receive, send) -> bytes | None:
        """The whole body, or None after answering 400/413 (or when the client left)."""
        cap = self.config.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None and not declared.strip().isdigit():
            await _error(path, 400, "Content-Length is not a number")(scope, receive, send)
            return None
        if declared is not None and (len(declared) > 18 or int(declared) > cap):
            await _error(path, 413, f"request body over {cap} bytes")(scope, receive, send)
            return None
        chunks, size, more = [], 0, True
        deadline = asyncio.get_running_loop().time() + self.config.body_timeout_s
        while more:
            try:
                left = deadline - asyncio.get_running_loop().time()
                message = await asyncio.wait_for(receive(), timeout=max(left, 0))
            except TimeoutError:
                why = f"request body not received within {self.config.body_timeout_s:g} s"
                await _error(path, 408, why)(scope, receive, send)
                return None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await _error(path, 413, f"request body over {cap} bytes")(scope, receive, send)
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


def _install_error_handlers(app: FastAPI) -> None:
    """Every error is JSON ``{"error": ...}`` with a 4xx; only our own faults are a 500."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e["type"]}
            for e in exc.errors()[:20]
        ]
        if errors and errors[0]["type"] == "json_invalid":
            return _error(request.url.path, 400, "the body is not valid JSON — send a JSON object")
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        where = ".".join(first["loc"][1:]) or "body"  # loc[0] is "body"
        message = f"{where}: {first['msg']}"
        return _error(request.url.path, 422, message, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(request.url.path, exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(JobError)
    @app.exception_handler(RequestError)
    async def refused(request: Request, exc: Exception) -> JSONResponse:
        return _error(request.url.path, getattr(exc, "status", 422), str(exc))

    @app.exception_handler(Exception)
    async def fault(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s", request.url.path, exc_info=exc)
        return _error(request.url.path, 500, "internal error of the sandbox service — see its log")


def create_app(config: ServiceConfig | None = None) -> FastAPI:
    """The FastAPI app (OpenAPI at /openapi.json, docs at /docs)."""
    config = config or ServiceConfig()
    app = FastAPI(title="rlvr-sandbox", version="1", description=__doc__)
    admission = _Admission(config.concurrency, config.queue)
    # Own workers: asyncio's default pool has min(32, cpus + 4) threads, which would silently
    # cap --concurrency.
    workers = ThreadPoolExecutor(config.concurrency, thread_name_prefix="rlvr-sandbox")

    async def in_worker(fn, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(workers, functools.partial(fn, *args, **kwargs))

    async def one(job: Job | str, budget: _Budget) -> dict[str, Any] | tuple[JobResult, dict]:
        if isinstance(job, str):
            return {"error": job}
        async with admission.running:
            if budget.spent:
                return {"error": f"not run: {budget.why()}"}
            try:
                result = await in_worker(run, job, backend=config.backend, stop=budget.stop)
            except ValueError as exc:  # JobError: this job's content is bad
                return {"error": str(exc)}
            except Exception as exc:  # our fault: this slot says so, the batch goes on
                log.error("job failed", exc_info=exc)
                return {"error": f"sandbox fault ({type(exc).__name__}) — see the server log"}
        extra = {}
        if result.compiled and len(result.runs) < len(job.runs):
            extra["stopped"] = f"made {len(result.runs)} of {len(job.runs)} runs: {budget.why()}"
        return result, extra

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "admitted": admission.admitted, "capacity": admission.capacity}

    @app.post("/v1/jobs", response_model=JobsResponse)
    async def jobs(body: JobsRequest) -> StreamingResponse:
        converted = _convert(body, config)
        n = len(converted)
        admission.admit(n)
        try:
            budget = _Budget(config.max_response_bytes)
            results = await asyncio.gather(*(one(x, budget) for x in converted))
        finally:
            admission.release(n)
        return StreamingResponse(_encode(list(results)), media_type="application/json")

    @app.post("/run_code")
    async def run_code_endpoint(body: RunCodeRequest) -> RunCodeResponse:
        job = build_job(body, config)
        admission.admit(1)
        try:
            async with admission.running:
                result = await in_worker(run, job, backend=config.backend)
        finally:
            admission.release(1)
        return respond(result)

    _install_error_handlers(app)
    app.add_middleware(_Gate, config=config)
    return app
