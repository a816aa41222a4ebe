"""The ``openai`` backend: an async client for any OpenAI-compatible server.

``vllm serve``, SGLang, TGI, llama.cpp's server, hosted APIs, and ``rlvr serve-model``. Chat
prompts go to ``/v1/chat/completions``, raw text (the R1-Zero template) to ``/v1/completions``.

- ``n`` samples per request, one request per prompt. A server that refuses ``n > 1`` (a 400 or
  422 answer to such a request) gets ``n`` requests of one sample each from then on.
- At most ``concurrency`` requests in flight (one connection each).
- Retries: a 408, 429 or 5xx answer, a connection error or a timeout is retried up to
  ``max_retries`` times after ``backoff_s · 2^attempt`` seconds (capped at ``max_backoff_s``) with
  jitter (a uniform factor in [0.5, 1]), or after the server's ``Retry-After`` when it sends one.
  Other 4xx answers are not retried. A request that still fails gives samples with
  ``finish_reason="error"`` and the reason; they are not written, so re-running fills them.
- ``timeout_s`` bounds each request's wait for the server (httpx's read timeout), so a server
  that hangs costs at most ``(max_retries + 1) · timeout_s`` plus the backoff per request.
- ``reasoning_content`` (or vLLM's newer ``reasoning``) becomes the sample's ``reasoning``.
- Token counts come from ``usage``: exact per sample when a request has one sample; with
  ``n > 1`` the API only gives the request's total, so per-sample ``completion_tokens`` is None
  (``tokens_generated`` still counts every token). Seeds: the request carries
  ``sample_seed(seed, prompt, 0)`` (``…, j)`` for split requests); whether the server honours
  it is the server's business (vLLM does, per request).
- The API key comes from ``api_key`` or ``$OPENAI_API_KEY``; none is sent when neither is set.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from engine.generate.base import (
    BackendError,
    GenerationError,
    Prompt,
    Sample,
    SamplingParams,
    sample_seed,
)

__all__ = ["RETRY_STATUS", "OpenAIBackend"]

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class _Refused(Exception):
    """A 4xx answer that retrying will not change."""

    status: int
    message: str


class OpenAIBackend:
    """Generation through an OpenAI-compatible HTTP server.

    >>> backend = OpenAIBackend("Qwen/Qwen3-8B", base_url="http://127.0.0.1:8000/v1")  # doctest: +SKIP
    """

    name = "openai"

    def __init__(
        self,
        model: str | None,
        *,
        base_url: str,
        api_key: str | None = None,
        concurrency: int = 32,
        timeout_s: float = 600.0,
        connect_timeout_s: float = 10.0,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
    ) -> None:
        if concurrency < 1 or timeout_s <= 0 or max_retries < 0:
            raise BackendError(
                f"concurrency={concurrency}, timeout_s={timeout_s}, max_retries={max_retries}: "
                "concurrency and timeout must be positive, retries ≥ 0"
            )
        self.base_url = _normal_base_url(base_url)
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.concurrency, self.max_retries = concurrency, max_retries
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self.n_supported = True
        self.tokens_generated = 0
        listed = self._models()  # also the check that the server answers at all
        if not (model or listed):
            raise BackendError(f"{self.base_url}/models lists no model — pass --model NAME")
        self.model = model or listed[0]

    # -- the Backend interface ---------------------------------------------------------------

    def check_prompts(self, prompts: Sequence[Prompt], params: SamplingParams) -> None:
        """The server knows its context; a prompt that is too long comes back as a 400."""

    def template_warnings(self) -> list[str]:
        return []  # the template lives on the server

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Sample]]:
        return asyncio.run(self.agenerate(prompts, params))

    def close(self) -> None:
        pass

    async def agenerate(
        self, prompts: Sequence[Prompt], params: SamplingParams
    ) -> list[list[Sample]]:
        """Samples for every prompt, ``concurrency`` requests at a time."""
        gate = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=None)
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=self._headers(), timeout=self.timeout, limits=limits
        ) as client:
            tasks = [self._prompt_samples(client, gate, p, params) for p in prompts]
            return list(await asyncio.gather(*tasks))

    # -- one prompt --------------------------------------------------------------------------

    async def _prompt_samples(self, client, gate, prompt: Prompt, params) -> list[Sample]:
        if params.n > 1 and self.n_supported:
            try:
                async with gate:
                    return await self._request(client, prompt, params, 0, params.n)
            except _Refused as exc:
                if exc.status not in (400, 422) or _about_the_prompt(exc.message):
                    return _failed(params.n, f"HTTP {exc.status}: {exc.message}")
                self.n_supported = False  # the server refuses n > 1: one request per sample
        singles = [self._single(client, gate, prompt, params, j) for j in range(params.n)]
        return [s for group in await asyncio.gather(*singles) for s in group]

    async def _single(self, client, gate, prompt, params, index: int) -> list[Sample]:
        try:
            async with gate:
                return await self._request(client, prompt, params, index, 1)
        except _Refused as exc:
            return _failed(1, f"HTTP {exc.status}: {exc.message}")

    async def _request(self, client, prompt: Prompt, params, index: int, n: int) -> list[Sample]:
        seed = sample_seed(params.seed, prompt.key, index)
        body: dict[str, Any] = {
            "model": self.model,
            "n": n,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "seed": seed,
        }
        chat = prompt.messages is not None
        if chat:
            body["messages"] = [dict(m) for m in prompt.messages or ()]
        else:
            body["prompt"] = prompt.text
        start = time.perf_counter()
        try:
            data = await self._post(client, "chat/completions" if chat else "completions", body)
        except GenerationError as exc:
            return _failed(n, str(exc))
        latency_ms = (time.perf_counter() - start) * 1000
        return self._samples(data, n, chat, seed, latency_ms)

    def _samples(
        self, data: dict, n: int, chat: bool, seed: int, latency_ms: float
    ) -> list[Sample]:
        usage = data.get("usage") or {}
        total = usage.get("completion_tokens")
        self.tokens_generated += int(total or 0)
        choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
        samples = []
        for choice in choices[:n]:
            message = choice.get("message") or {}
            text = (message.get("content") if chat else choice.get("text")) or ""
            reasoning = message.get("reasoning_content") or message.get("reasoning")
            samples.append(
                Sample(
                    text=text,
                    reasoning=reasoning if chat else None,
                    prompt_tokens=usage.get("prompt_tokens"),
                    completion_tokens=total if n == 1 else None,
                    finish_reason=_finish(choice.get("finish_reason")),
                    latency_ms=latency_ms,
                    seed=seed,
                )
            )
        missing = n - len(samples)
        return samples + _failed(missing, f"the server returned {len(choices)} of {n} choices")

    # -- HTTP --------------------------------------------------------------------------------

    async def _post(self, client: httpx.AsyncClient, path: str, body: dict) -> dict:
        """POST with retries; raises _Refused (4xx) or GenerationError (retries exhausted)."""
        reason = ""
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                response = await client.post(path, json=body)
            except httpx.TimeoutException as exc:
                reason = f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:
                reason = f"connection error ({type(exc).__name__}: {exc})"
            else:
                if response.status_code < 400:
                    return _json(response)
                message = _error_message(response)
                if response.status_code not in RETRY_STATUS:
                    raise _Refused(response.status_code, message)
                reason = f"HTTP {response.status_code}: {message}"
                retry_after = _retry_after(response)
            if attempt < self.max_retries:
                await asyncio.sleep(self._delay(attempt, retry_after))
        raise GenerationError(f"{path}: gave up after {self.max_retries + 1} attempts: {reason}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff_s)
        cap = min(self.max_backoff_s, self.backoff_s * 2**attempt)
        return cap * random.uniform(0.5, 1.0)  # jitter: clients that failed together spread out

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _models(self) -> list[str]:
        data = self.check_server()
        return [m["id"] for m in data.get("data") or [] if isinstance(m, dict) and m.get("id")]

    def check_server(self) -> dict:
        """GET /models: a refused connection or a bad key is the user's to fix (exit 2)."""
        url = f"{self.base_url}/models"
        try:
            response = httpx.get(url, headers=self._headers(), timeout=self.timeout)
        except httpx.TransportError as exc:
            raise BackendError(
                f"cannot reach {url} ({type(exc).__name__}: {exc}) — start the server "
                "(e.g. `vllm serve MODEL` or `rlvr serve-model --model PATH`) or fix --base-url"
            ) from exc
        if response.status_code in (401, 403):
            raise BackendError(
                f"{url}: HTTP {response.status_code} — set OPENAI_API_KEY to a key this server accepts"
            )
        if response.status_code >= 400:
            return {}  # some servers have no /models; generation will say more
        return _json(response)


def _normal_base_url(url: str) -> str:
    """The API root, as the OpenAI SDK takes it; a bare ``http://host:port`` gets ``/v1``."""
    url = url.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BackendError(
            f"--base-url {url!r} is not an http(s) URL — e.g. http://127.0.0.1:8000/v1"
        )
    return url if parts.path else f"{url}/v1"


def _json(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError as exc:
        raise GenerationError(f"{response.url}: the answer is not JSON") from exc
    return data if isinstance(data, dict) else {}


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = None
    return str(message or response.text or response.reason_phrase)[:300]


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


def _about_the_prompt(message: str) -> bool:
    """A 400 that blames the prompt's length (vLLM: "maximum context length"), not ``n``."""
    lowered = message.lower()
    return "context" in lowered or "too long" in lowered or "prompt" in lowered


def _finish(reason: Any) -> Any:
    if reason in (None, "eos", "stop_sequence"):
        return "stop"
    return str(reason)


def _failed(count: int, reason: str) -> list[Sample]:
    return [
        Sample(
            text="",
            prompt_tokens=None,
            completion_tokens=None,
            finish_reason="error",
            latency_ms=0.0,
            error=reason,
        )
        for _ in range(count)
    ]
