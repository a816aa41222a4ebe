"""Generation backends behind one interface (DESIGN.md § Generation).

One module per backend and an explicit registry (STYLE.md §1). torch, transformers and vLLM load
only when their backend is built, so importing this package costs nothing.

>>> sorted(BACKENDS)
['openai', 'transformers', 'vllm']
>>> backend = get_backend("transformers", model="models/tiny")  # doctest: +SKIP
>>> backend.generate([Prompt(key="p1", text="2+3=")], SamplingParams(n=8))  # doctest: +SKIP
"""

from __future__ import annotations

from engine.generate.base import (
    BACKENDS,
    Backend,
    BackendError,
    GenerationError,
    Prompt,
    Sample,
    SamplingParams,
    get_backend,
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
