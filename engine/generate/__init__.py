"""Generation backends behind one interface (DESIGN.md § Generation).

One module per backend and an explicit registry (STYLE.md §1). torch, transformers and vLLM load
only when their backend is built, so importing this package costs nothing.

>>> sorted(BACKENDS)
['openai', 'transformers', 'vllm']
>>> backend = get_backend("transformers", model="models/tiny")  # doctest: +SKIP
>>> backend.generate([Prompt(key="p1", text="2+3=")], SamplingParams(n=8))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from engine.generate.base import (
    Backend,
    BackendError,
    GenerationError,
    Prompt,
    Sample,
    SamplingParams,
    sample_seed,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "GenerationError",
    "Prompt",
    "Sample",
    "SamplingParams",
    "get_backend",
    "sample_seed",
]

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
