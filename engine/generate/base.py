"""The one interface every generation backend implements, and the values that cross it.

A backend turns :class:`Prompt` s into :class:`Sample` s::

    backend = get_backend("transformers", model="models/tiny")
    groups = backend.generate([Prompt(key="p1", text="1+1=")], SamplingParams(n=4, seed=0))
    groups[0][0].text, groups[0][0].finish_reason      # ('2', 'stop')

``generate`` returns one list of ``params.n`` samples per prompt, in order. A prompt is either raw
text (completed as is: the R1-Zero template, base models) or chat ``messages`` (rendered by the
model's chat template: locally by the transformers/vLLM backends, by the server for ``openai``).

Seeds: sample ``j`` of a prompt uses :func:`sample_seed` ``(params.seed, prompt.key, j)``, a hash
that does not depend on which other prompts share its batch. What each backend promises from it
is in its module docstring.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from engine.errors import RlvrError, UserError

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "FinishReason",
    "GenerationError",
    "Prompt",
    "Sample",
    "SamplingParams",
    "check_context",
    "get_backend",
    "sample_seed",
]

FinishReason = Literal["stop", "length", "error"]


class GenerationError(RlvrError):
    """A backend failed on something that is not the user's mistake (a server kept failing)."""


class BackendError(UserError):
    """A backend cannot start: the model is not a model, the server refuses connections, ..."""


@dataclass(frozen=True, kw_only=True)
class SamplingParams:
    """How to sample; the defaults are the R1 paper's evaluation setting (R1 §3, "Evaluation Setup").

    n: samples per prompt (the k of pass@k). max_tokens: cap on generated tokens per sample; a
    sample that hits it ends with ``finish_reason="length"``. seed: base of every sample's seed.
    """

    n: int = 8
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.n < 1:
            problems.append(f"n={self.n} must be ≥ 1")
        if self.temperature < 0:
            problems.append(f"temperature={self.temperature} must be ≥ 0 (0 is greedy)")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p={self.top_p} must be in (0, 1]")
        if self.max_tokens < 1:
            problems.append(f"max_tokens={self.max_tokens} must be ≥ 1")
        if problems:
            raise UserError(f"sampling: {'; '.join(problems)} — fix the value(s)")


@dataclass(frozen=True, kw_only=True)
class Prompt:
    """One prompt: ``text`` to complete, or chat ``messages`` (``{"role", "content"}`` dicts).

    key: a stable name (the prompt id) that the per-sample seeds derive from.
    """

    key: str
    text: str | None = None
    messages: tuple[Mapping[str, str], ...] | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.messages is None):
            raise ValueError("a Prompt has either text or messages, not both or neither")


@dataclass(frozen=True, kw_only=True)
class Sample:
    """One completion. ``completion_tokens`` is None when the backend cannot tell (see openai).

    reasoning: the server's separate reasoning text (``reasoning_content``), else None; the
    engine then splits ``text`` at ``</think>`` itself. latency_ms: wall time of the call that
    produced the sample (a batch, or one HTTP request). error: why a sample failed
    (``finish_reason="error"``); such samples are not written to the lake.
    """

    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: FinishReason
    latency_ms: float
    seed: int | None = None
    reasoning: str | None = None
    error: str | None = None


class Backend(Protocol):
    """What `rlvr generate` needs from a backend."""

    name: str
    model: str
    tokens_generated: int  # completion tokens so far, exact even when per-sample counts are not

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Sample]]: ...

    def check_prompts(self, prompts: Sequence[Prompt], params: SamplingParams) -> None:
        """Raise BackendError before anything is generated if a prompt cannot fit the context."""
        ...

    def template_warnings(self) -> list[str]:
        """Traps in the chat template (prefilled ``<think>``, reasoning stripped from history)."""
        ...

    def close(self) -> None: ...


def sample_seed(seed: int, key: str, index: int) -> int:
    """The seed of sample ``index`` of prompt ``key``: a 31-bit hash, independent of batching.

    31 bits because servers and engines store seeds as int32 or int64 and some reject more.

    >>> sample_seed(0, "p1", 0) == sample_seed(0, "p1", 0) != sample_seed(0, "p1", 1)
    True
    """
    data = f"{int(seed)}\x1f{key}\x1f{int(index)}".encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "big") >> 1


def check_context(prompt: Prompt, length: int, max_tokens: int, model: str, context: int) -> None:
    """Refuse a prompt whose `length` tokens plus the completion cap exceed the model's context."""
    if length + max_tokens > context:
        raise BackendError(
            f"prompt {prompt.key} has {length} tokens; with --max-tokens "
            f"{max_tokens} it exceeds {model}'s context of {context} — "
            "lower --max-tokens or leave out the long prompts"
        )


# name -> "module:class"; each class takes (model, **options).
BACKENDS: dict[str, str] = {
    "transformers": "engine.generate.transformers_backend:TransformersBackend",
    "vllm": "engine.generate.vllm_backend:VllmBackend",
    "openai": "engine.generate.openai_backend:OpenAIBackend",
}


def get_backend(name: str, *, model: str | None, **options: Any) -> Backend:
    """Build the backend registered as ``name``; an unknown name is a BackendError."""
    try:
        target = BACKENDS[name]
    except KeyError:
        raise BackendError(
            f"unknown backend {name!r} — backends are {', '.join(BACKENDS)}"
        ) from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)(model, **options)
