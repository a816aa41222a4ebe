"""`rlvr serve-model`: an OpenAI-compatible HTTP server over a local backend (transformers).

It speaks the subset of the protocol that `rlvr generate --backend openai` and most clients use:
``GET /v1/models``, ``POST /v1/completions`` and ``POST /v1/chat/completions`` with ``n``,
``temperature``, ``top_p``, ``max_tokens`` and ``seed``; answers carry ``usage`` and
``finish_reason``. With ``reasoning_parser="think"`` a chat answer's ``<think>…</think>`` goes to
``reasoning_content``, as vLLM's reasoning parsers do.

Requests that arrive together are generated together: a batcher drains the queue and hands every
waiting request with the same sampling settings (the seed aside: it seeds the request's own
samples) to one ``backend.generate`` call (in a worker
thread, one call at a time, since a model is not thread-safe). A prompt that does not fit the
context is a 400 with vLLM's error shape. It is a small server for tests, benchmarks and laptops,
not a replacement for ``vllm serve``.

>>> app = create_app(backend)  # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from engine.generate.base import Backend, BackendError, Prompt, Sample, SamplingParams
from engine.generate.templates import split_think

__all__ = ["DEFAULT_MAX_TOKENS", "ChatMessage", "ChatRequest", "CompletionRequest", "create_app"]

DEFAULT_MAX_TOKENS = 256


class _Common(BaseModel):
    model: str | None = None
    n: int = Field(1, ge=1, le=256)
    temperature: float = Field(1.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    seed: int | None = None


class CompletionRequest(_Common):
    prompt: str


class ChatMessage(BaseModel):
    role: str
    content: str


class ChatRequest(_Common):
    messages: list[ChatMessage]


@dataclass
class _Job:
    prompt: Prompt
    params: SamplingParams
    done: asyncio.Future = field(repr=False)


def create_app(
    backend: Backend, *, reasoning_parser: Literal["think"] | None = None, max_batch: int = 64
) -> FastAPI:
    """The FastAPI app; ``max_batch`` caps the prompts generated in one call."""
    queue: asyncio.Queue[_Job] = asyncio.Queue()

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        worker = asyncio.create_task(_batcher(backend, queue, max_batch))
        yield
        worker.cancel()

    app = FastAPI(title="rlvr serve-model", lifespan=lifespan)

    async def run(prompt: Prompt, request: _Common) -> list[Sample] | JSONResponse:
        # The request's seed names the prompt's sample streams (sample_seed(0, seed, j)), so
        # requests with different seeds still share one SamplingParams and one batch.
        params = SamplingParams(
            n=request.n,
            temperature=request.temperature,
            top_p=request.top_p,
            max_tokens=request.max_tokens or DEFAULT_MAX_TOKENS,
            seed=0,
        )
        key = str(request.seed) if request.seed is not None else uuid.uuid4().hex
        prompt = replace(prompt, key=key)
        job = _Job(prompt, params, asyncio.get_running_loop().create_future())
        await queue.put(job)
        try:
            return await job.done
        except BackendError as exc:
            return _error(400, str(exc))

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": backend.model, "object": "model"}]}

    @app.post("/v1/completions", response_model=None)
    async def completions(request: CompletionRequest) -> dict | JSONResponse:
        samples = await run(Prompt(key="", text=request.prompt), request)
        if isinstance(samples, JSONResponse):
            return samples
        choices = [
            {"index": i, "text": s.text, "finish_reason": s.finish_reason, "logprobs": None}
            for i, s in enumerate(samples)
        ]
        return _answer("text_completion", backend.model, choices, samples)

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: ChatRequest) -> dict | JSONResponse:
        messages = tuple(m.model_dump() for m in request.messages)
        samples = await run(Prompt(key="", messages=messages), request)
        if isinstance(samples, JSONResponse):
            return samples
        choices = [
            {
                "index": i,
                "message": _message(s.text, reasoning_parser),
                "finish_reason": s.finish_reason,
            }
            for i, s in enumerate(samples)
        ]
        return _answer("chat.completion", backend.model, choices, samples)

    return app


async def _batcher(backend: Backend, queue: asyncio.Queue[_Job], max_batch: int) -> None:
    """Take every waiting job, group by sampling settings, generate each group in one call."""
    while True:
        jobs = [await queue.get()]
        while not queue.empty() and len(jobs) < max_batch:
            jobs.append(queue.get_nowait())
        groups: dict[SamplingParams, list[_Job]] = {}
        for job in jobs:
            groups.setdefault(job.params, []).append(job)
        for params, group in groups.items():
            await _run_group(backend, params, group)


async def _run_group(backend: Backend, params: SamplingParams, group: Sequence[_Job]) -> None:
    prompts = [job.prompt for job in group]
    try:
        await asyncio.to_thread(backend.check_prompts, prompts, params)
    except BackendError:  # find the culprit(s): check one by one, run the rest
        group = await _reject_bad(backend, params, group)
        prompts = [job.prompt for job in group]
    if not group:
        return
    try:
        results = await asyncio.to_thread(backend.generate, prompts, params)
    except Exception as exc:  # a backend failure fails these requests, not the server
        for job in group:
            if not job.done.done():
                job.done.set_exception(BackendError(f"generation failed: {exc}"))
        return
    for job, samples in zip(group, results, strict=True):
        if not job.done.done():  # the client may have gone away
            job.done.set_result(samples)


async def _reject_bad(backend, params, group: Sequence[_Job]) -> list[_Job]:
    good = []
    for job in group:
        try:
            await asyncio.to_thread(backend.check_prompts, [job.prompt], params)
            good.append(job)
        except BackendError as exc:
            if not job.done.done():
                job.done.set_exception(exc)
    return good


def _message(text: str, reasoning_parser: str | None) -> dict[str, Any]:
    if reasoning_parser == "think":
        reasoning, content = split_think(text)
        if reasoning is not None:
            return {"role": "assistant", "content": content, "reasoning_content": reasoning}
    return {"role": "assistant", "content": text}


def _answer(kind: str, model: str, choices: list, samples: Sequence[Sample]) -> dict:
    prompt_tokens = samples[0].prompt_tokens if samples else 0
    completion = sum(s.completion_tokens or 0 for s in samples)
    return {
        "id": f"cmpl-{uuid.uuid4().hex[:24]}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": (prompt_tokens or 0) + completion,
        },
    }


def _error(status: int, message: str) -> JSONResponse:
    body = {"error": {"message": message, "type": "BadRequestError", "code": status}}
    return JSONResponse(body, status_code=status)
