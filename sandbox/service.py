"""The HTTP service: ``POST /v1/jobs``, SandboxFusion-compatible ``POST /run_code``, ``GET /healthz``.

Binds loopback by default (the CLI), optional bearer token (401), request bodies capped (413),
bounded concurrency: at most ``concurrency`` jobs run, ``queue`` more wait, the rest get 429
at once (hostile-cases A20/A21: admission control instead of load-induced false timeouts).
Pydantic models exist only here, at the boundary (STYLE.md §6); they map one to one onto
`sandbox.job`.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sandbox.compat import RunCodeRequest, RunCodeResponse, run_code
from sandbox.errors import JobError
from sandbox.job import Job, Limits, Run
from sandbox.runner import run


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """token: required bearer token or None; concurrency: jobs at once; queue: jobs waiting."""

    token: str | None = None
    concurrency: int = 2
    queue: int = 64
    backend: str | None = None
    max_body_bytes: int = 16 << 20
    max_jobs: int = 64  # per request
    max_runs: int = 512  # per job


class LimitsModel(BaseModel):
    cpu_s: float | None = None
    wall_s: float | None = None
    memory_mb: int | None = None
    processes: int | None = None
    output_bytes: int | None = None
    file_size_bytes: int | None = None
    open_files: int | None = None
    workdir_mb: int | None = None

    def to_limits(self, base: Limits | None = None) -> Limits:
        changes = {k: v for k, v in self.model_dump().items() if v is not None}
        return (base or Limits()).replace(**changes)


class RunModel(BaseModel):
    stdin: str = ""
    args: list[str] = Field(default_factory=list, max_length=256)
    files: dict[str, str] = Field(default_factory=dict)
    collect: list[str] = Field(default_factory=list, max_length=64)
    limits: LimitsModel | None = None


class JobModel(BaseModel):
    language: str
    files: dict[str, str]
    main: str | None = None
    runs: list[RunModel] = Field(default_factory=list)
    limits: LimitsModel | None = None
    compile_limits: LimitsModel | None = None

    def to_job(self) -> Job:
        limits = self.limits.to_limits() if self.limits else Limits()
        return Job(
            language=self.language,
            files=dict(self.files),
            main=self.main,
            limits=limits,
            compile_limits=self.compile_limits.to_limits() if self.compile_limits else None,
            runs=tuple(
                Run(
                    stdin=r.stdin,
                    args=tuple(r.args),
                    files=dict(r.files),
                    collect=tuple(r.collect),
                    limits=r.limits.to_limits(limits) if r.limits else None,
                )
                for r in self.runs
            ),
        )


class JobsRequest(BaseModel):
    jobs: list[JobModel]


class JobsResponse(BaseModel):
    results: list[dict[str, Any]]


class _Admission:
    """Counts admitted jobs; refuses (429) beyond concurrency + queue; runs at most concurrency."""

    def __init__(self, concurrency: int, queue: int) -> None:
        self.capacity = concurrency + queue
        self.admitted = 0
        self.running = asyncio.Semaphore(concurrency)

    def admit(self, n: int) -> None:
        if self.admitted + n > self.capacity:
            raise HTTPException(
                429, f"busy: {self.admitted} jobs admitted, capacity {self.capacity}"
            )
        self.admitted += n

    def release(self, n: int) -> None:
        self.admitted -= n


class _BodyLimit:
    """ASGI middleware: 413 for bodies over the cap, declared or streamed."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and int(declared) > self.max_bytes:
            return await _too_large(self.max_bytes)(scope, receive, send)
        seen = 0

        async def capped():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, capped, send)
        except _TooLarge:
            await _too_large(self.max_bytes)(scope, receive, send)


class _TooLarge(Exception):
    pass


def _too_large(max_bytes: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body over {max_bytes} bytes"}, status_code=413)


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

    def auth(request: Request) -> None:
        if config.token is None:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {config.token}".encode()):
            raise HTTPException(
                401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"}
            )

    async def one(job: Job) -> dict[str, Any]:
        async with admission.running:
            try:
                result = await in_worker(run, job, backend=config.backend)
            except JobError as exc:
                return {"error": str(exc)}
        return result.to_dict()

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "admitted": admission.admitted, "capacity": admission.capacity}

    @app.post("/v1/jobs", dependencies=[Depends(auth)])
    async def jobs(body: JobsRequest) -> JobsResponse:
        if len(body.jobs) > config.max_jobs:
            raise HTTPException(
                413, f"{len(body.jobs)} jobs in one request; the cap is {config.max_jobs}"
            )
        if any(len(j.runs) > config.max_runs for j in body.jobs):
            raise HTTPException(413, f"a job has more than {config.max_runs} runs")
        converted: list[Job | str] = []
        for i, model in enumerate(body.jobs):
            try:
                converted.append(model.to_job())
            except ValueError as exc:
                converted.append(f"jobs[{i}]: {exc}")
        admission.admit(len(body.jobs))
        try:

            async def item(x: Job | str) -> dict[str, Any]:
                return {"error": x} if isinstance(x, str) else await one(x)

            return JobsResponse(results=list(await asyncio.gather(*(item(x) for x in converted))))
        finally:
            admission.release(len(body.jobs))

    @app.post("/run_code", dependencies=[Depends(auth)])
    async def run_code_endpoint(body: RunCodeRequest) -> RunCodeResponse:
        admission.admit(1)
        try:
            async with admission.running:
                return await in_worker(run_code, body, backend=config.backend)
        finally:
            admission.release(1)

    return _wrap(app, config)


def _wrap(app: FastAPI, config: ServiceConfig) -> FastAPI:
    app.add_middleware(_BodyLimit, max_bytes=config.max_body_bytes)
    return app
