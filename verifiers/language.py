"""The language-consistency reward of R1: the share of target-language words in the reasoning.

R1 (v1 §2.3.2; v2 eq. 7): ``Reward_language = Num(Words_target) / Num(Words)``, computed over the
chain of thought, to stop the language mixing that RL otherwise produces. Words are runs of letters of
one script; a CJK character counts as one word (Chinese has no spaces). Digits, punctuation, LaTeX
commands and code are not words of any language: ``\\frac`` and ``x_1`` are skipped, so a math-heavy
English CoT is not penalised for its formulas.

Supported targets: ``en`` (Latin script), ``zh`` (CJK ideographs), ``ru`` (Cyrillic), and any other
Unicode script name reachable by `SCRIPTS`. The verdict is ``correct`` when the share reaches
``threshold``; the reward is the share itself (a float in [0, 1]), or None when there is no word.

>>> verify_language("<think>We add the two numbers.</think> 4", target="en").reward
1.0
>>> verify_language("<think>We 加 the 数字.</think>", target="en").reward  # 2 of 5 words
0.4
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from verifiers.verdict import Status, Verdict

__all__ = ["SCRIPTS", "VERSION", "language_share", "score_prompt", "verify_language"]

VERSION = "1"

# One pattern per script: what counts as one word of that script.
SCRIPTS: dict[str, str] = {
    "en": r"[A-Za-z\u00C0-\u024F]+",
    "zh": r"[\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF]",
    "ja": r"[\u3040-\u30FF]+",
    "ko": r"[\uAC00-\uD7AF]+",
    "ru": r"[\u0400-\u04FF]+",
    "ar": r"[\u0600-\u06FF]+",
}
_ANY_WORD = re.compile("|".join(f"(?P<{k}>{v})" for k, v in SCRIPTS.items()))
# Not prose: LaTeX commands, identifiers glued to digits or underscores, fenced and inline code.
_NOT_PROSE = re.compile(r"```.*?```|`[^`]*`|\\[A-Za-z]+|\b\w*[\d_]\w*\b", re.DOTALL)
_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)


def language_share(text: str, target: str = "en") -> float | None:
    """Share of words of `text` that are in the target script; None when `text` has no word."""
    if target not in SCRIPTS:
        raise ValueError(f"target={target!r}: must be one of {', '.join(SCRIPTS)}")
    counts = dict.fromkeys(SCRIPTS, 0)
    for m in _ANY_WORD.finditer(_NOT_PROSE.sub(" ", text)):
        counts[m.lastgroup] += 1  # type: ignore[index]
    total = sum(counts.values())
    return counts[target] / total if total else None


def _reasoning(response: str) -> str:
    m = _THINK.search(response)
    if m:
        return m.group(1)
    # Prefilled <think> (the completion starts inside the block): reasoning ends at </think>.
    head, sep, _ = response.partition("</think>")
    return head if sep else response


def verify_language(
    response: str, *, target: str = "en", threshold: float = 0.95, whole_response: bool = False
) -> Verdict:
    """Score language consistency of the reasoning (or of the whole response)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold={threshold!r}: must be in [0, 1]")
    start = time.perf_counter()
    share = language_share(response if whole_response else _reasoning(response), target)
    status: Status
    if share is None:
        status, reward = "unverifiable", None
    else:
        status, reward = ("correct" if share >= threshold else "incorrect"), share
    return Verdict(
        status=status,
        reward=reward,
        detail={"target": target, "share": share, "threshold": threshold},
        elapsed_ms=(time.perf_counter() - start) * 1000,
        verifier="language",
        verifier_version=VERSION,
    )


def score_prompt(prompt: Mapping[str, Any], response: str, **options: Any) -> Verdict:
    """Registry entry: the target language may come from the prompt's meta (``meta.language``)."""
    meta = prompt.get("meta") or {}
    if isinstance(meta, str):
        import json

        meta = json.loads(meta) if meta else {}
    options.setdefault("target", meta.get("language", "en"))
    return verify_language(response, **options)
