"""The format reward of the R1 recipe: reasoning inside ``<think>…</think>``, then an answer.

R1 (v1 §2.2.2; v2 eq. 4) adds a rule-based format reward to the accuracy reward so that the model
puts its reasoning between think tags. We check the structure, not the content:

- exactly one ``<think>`` block, opened at the very start (after whitespace) and closed once;
- a non-empty answer after ``</think>``;
- with ``answer_tags=True`` (the R1-Zero template), the answer must be one ``<answer>…</answer>``.

Chat templates of R1-distilled models prefill ``<think>`` in the prompt, so completions start inside
the block and a strict check scores 0 forever (open-r1#560, trl#6966). ``prefilled_think=True``
accepts a completion that has no opening tag for that reason.

>>> verify_format("<think>2+2=4</think> The answer is 4.").reward
1.0
>>> verify_format("The answer is 4.").status
'incorrect'
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from verifiers.verdict import Verdict

__all__ = ["VERSION", "score_prompt", "verify_format"]

VERSION = "1"
_OPEN, _CLOSE = "<think>", "</think>"
_ANSWER = re.compile(r"^\s*<answer>(?P<body>.*?)</answer>\s*$", re.DOTALL)


def _problem(response: str, *, prefilled_think: bool, answer_tags: bool) -> str | None:
    """Return why `response` breaks the format, or None when it follows it."""
    text = response.lstrip()
    if text.startswith(_OPEN):
        text = text[len(_OPEN) :]
    elif not prefilled_think:
        return "does not start with <think>"
    if _OPEN in text:
        return "more than one <think> block"
    if text.count(_CLOSE) != 1:
        return "no </think>" if _CLOSE not in text else "more than one </think>"
    reasoning, answer = text.split(_CLOSE)
    if not reasoning.strip():
        return "empty reasoning"
    if not answer.strip():
        return "no answer after </think>"
    if answer_tags:
        m = _ANSWER.match(answer)
        if m is None or "<answer>" in m["body"]:
            return "answer is not exactly one <answer>…</answer> block"
        if not m["body"].strip():
            return "empty <answer> block"
    return None


def verify_format(
    response: str, *, prefilled_think: bool = False, answer_tags: bool = False
) -> Verdict:
    """Score the think/answer structure of one completion: reward 1.0 or 0.0, never None."""
    start = time.perf_counter()
    problem = _problem(response, prefilled_think=prefilled_think, answer_tags=answer_tags)
    return Verdict(
        status="incorrect" if problem else "correct",
        reward=0.0 if problem else 1.0,
        extracted=None,
        detail={"reason": problem} if problem else {},
        elapsed_ms=(time.perf_counter() - start) * 1000,
        verifier="format",
        verifier_version=VERSION,
    )


def score_prompt(prompt: Mapping[str, Any], response: str, **options: Any) -> Verdict:
    """Registry entry: the format does not depend on the prompt."""
    return verify_format(response, **options)
