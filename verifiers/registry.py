"""The verifier registry: an explicit dict, no discovery magic (STYLE.md §1).

Each entry names a *prompt scorer*: ``score(prompt, response, **options) -> Verdict`` where
``prompt`` is a row of the ``prompts`` table (a mapping with ``answer``, ``tests``, ``meta``, ...).
That one signature lets the engine score any rollout against its prompt without knowing which
verifier family it is. Modules load lazily so that ``rlvr sql`` never imports sympy.

>>> sorted(names())[:2]
['code', 'countdown']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from verifiers.errors import UnknownVerifier
from verifiers.verdict import Verdict

__all__ = ["REGISTRY", "PromptScorer", "get", "names", "score"]

PromptScorer = Callable[..., Verdict]

# name -> "module:attribute" of a PromptScorer
REGISTRY: dict[str, str] = {
    "math": "verifiers.math:score_prompt",
    "code": "verifiers.code:score_prompt",
    "format": "verifiers.format:score_prompt",
    "language": "verifiers.language:score_prompt",
    "countdown": "verifiers.countdown:score_prompt",
}


def names() -> list[str]:
    return list(REGISTRY)


def get(name: str) -> PromptScorer:
    """Return the prompt scorer registered as `name`; UnknownVerifier (a KeyError) names the known ones."""
    try:
        target = REGISTRY[name]
    except KeyError:
        raise UnknownVerifier(name, REGISTRY) from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def score(name: str, prompt: Mapping[str, Any], response: str, **options: Any) -> Verdict:
    return get(name)(prompt, response, **options)
