"""The math verifier's entry points: `verify_math`, `averify_math`, `verify_math_batch` and the
registry's `score_prompt` (the package docstring describes the stages they run).

One response: extract the final answer (after ``</think>``), normalise both sides, judge cheaply in
this process (`compare`), and only if that cannot decide, symbolically in a bounded worker process
(`bound` + `symbolic`). Every call returns a `Verdict`; a fault of ours is an ``error`` verdict.

>>> verify_math("2", "\\\\boxed{2}").status
'correct'
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from verifiers.math.bound import get_pool
from verifiers.math.compare import Decision, judge_fast
from verifiers.math.config import MathConfig
from verifiers.math.extract import extract_answer, extract_gold
from verifiers.math.normalize import Normalized, normalize
from verifiers.math.structure import split_top, structure_of
from verifiers.verdict import Verdict

__all__ = [
    "VERSION",
    "MathConfig",
    "averify_math",
    "score_prompt",
    "verify_math",
    "verify_math_batch",
]

VERSION = "3"
_DEFAULT = MathConfig()
_OR = re.compile(r"\s+or\s+|\\text\{\s*or\s*\}|\\vee(?![a-z])|\\lor(?![a-z])")
_POWER_10 = re.compile(r"^10\^\{?(\d{1,4})\}?$")


def _verdict(status: str, reward: float | None, start: float, **fields: Any) -> Verdict:
    return Verdict(
        status=status,  # type: ignore[arg-type]
        reward=reward,
        elapsed_ms=(time.perf_counter() - start) * 1000,
        verifier="math",
        verifier_version=VERSION,
        **fields,
    )


def _hedged(gold: Normalized, pred: Normalized) -> bool:
    """ "4 or 5" for a single-valued gold is a hedge (math-verification.md §0)."""
    if not _OR.search(pred.text) or _OR.search(gold.text):
        return False
    options = {"".join(part.split()) for part in split_top(_OR.sub("\x00", pred.text), ("\x00",))}
    return len(options) > 1 and structure_of(gold.text)[0] == "scalar"


def _powers_of_ten(norm: Normalized) -> Normalized:
    """`10^{18}` → its digits, so huge powers of ten stay on the exact fast path."""
    m = _POWER_10.match(norm.compact)
    if not m:
        return norm
    digits = "1" + "0" * int(m.group(1))
    return Normalized(digits, digits, norm.percent, norm.degrees)


def _judge(gold: Normalized, pred: Normalized, cfg: MathConfig) -> Decision | tuple[str, Any]:
    opts = cfg.judge_options()
    decided = judge_fast(_powers_of_ten(gold), _powers_of_ten(pred), opts)
    if decided is not None:
        return decided
    if len(pred.text) > cfg.max_answer_chars:
        return Decision(False, "string", f"answer longer than {cfg.max_answer_chars} characters")
    flags = (
        {"degrees": gold.degrees, "percent": gold.percent},
        {"degrees": pred.degrees, "percent": pred.percent},
    )
    status, value = get_pool().call(
        "judge",
        (gold.text, pred.text, *flags, opts),
        timeout_s=cfg.timeout_s,
        startup_timeout_s=cfg.startup_timeout_s,
    )
    return value if status == "ok" else (status, value)


def _verify(gold: str | None, response: str, cfg: MathConfig, start: float) -> Verdict:
    if gold is None or not str(gold).strip():
        return _verdict("unverifiable", None, start, detail={"reason": "no gold answer"})
    gold_read = extract_gold(str(gold))
    if gold_read.answer is None:
        return _verdict("unverifiable", None, start, detail={"reason": gold_read.reason})
    read = extract_answer(response if isinstance(response, str) else str(response))
    base = {"gold": gold_read.answer, "source": read.source}
    if read.answer is None:
        return _verdict("incorrect", 0.0, start, detail={**base, "reason": read.reason})
    g, p = normalize(gold_read.answer), normalize(read.answer)
    if read.hedged or _hedged(g, p):
        detail = {**base, "match": "hedge", "reason": "several different final answers"}
        return _verdict("incorrect", 0.0, start, extracted=read.answer, detail=detail)
    decided = _judge(g, p, cfg)
    if isinstance(decided, Decision) and decided.match == "gold-unparseable":
        detail = {**base, "reason": f"the gold answer cannot be parsed ({decided.reason})"}
        return _verdict("unverifiable", None, start, extracted=read.answer, detail=detail)
    if isinstance(decided, Decision):
        detail = {**base, "match": decided.match, "reason": decided.reason}
        status, reward = ("correct", 1.0) if decided.equal else ("incorrect", 0.0)
        return _verdict(status, reward, start, extracted=read.answer, detail=detail)
    status, message = decided
    if status == "timeout":
        detail = {**base, "reason": f"symbolic check ran over {cfg.timeout_s}s; worker replaced"}
        return _verdict("timeout", cfg.timeout_reward, start, extracted=read.answer, detail=detail)
    detail = {**base, "reason": str(message)}
    return _verdict("error", None, start, extracted=read.answer, detail=detail)


def verify_math(gold: str, response: str, *, config: MathConfig | None = None) -> Verdict:
    """Judge one response against one gold answer; never raises for bad input, never hangs."""
    start = time.perf_counter()
    cfg = config or _DEFAULT
    try:
        return _verify(gold, response, cfg, start)
    except Exception as exc:  # the API boundary: a fault of ours is an `error` verdict, not a crash
        reason = f"verifier fault: {type(exc).__name__}: {exc}"[:300]
        return _verdict("error", None, start, detail={"reason": reason})


async def averify_math(gold: str, response: str, *, config: MathConfig | None = None) -> Verdict:
    """`verify_math` for asyncio: the wait happens in a thread, the event loop never blocks."""
    return await asyncio.to_thread(verify_math, gold, response, config=config)


def verify_math_batch(
    pairs: Iterable[tuple[str, str]],
    *,
    workers: int = 2,
    config: MathConfig | None = None,
    progress: bool = False,
) -> list[Verdict]:
    """Judge many (gold, response) pairs in parallel; results keep the input order.

    >>> [v.status for v in verify_math_batch([("2", "\\\\boxed{2}"), ("2", "3")], workers=2)]
    ['correct', 'incorrect']
    """
    items = list(pairs)
    if workers < 1:
        raise ValueError(f"verify_math_batch(workers={workers!r}): must be at least 1")
    get_pool(workers)
    results: list[Verdict] = []
    with ThreadPoolExecutor(max_workers=workers) as ex:
        mapped = ex.map(lambda gp: verify_math(gp[0], gp[1], config=config), items)
        if not progress:
            return list(mapped)
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("verifying", total=len(items))
            for verdict in mapped:
                results.append(verdict)
                bar.advance(task)
    return results


def score_prompt(prompt: Mapping[str, Any], response: str, **options: Any) -> Verdict:
    """Registry entry: judge `response` against ``prompt["answer"]`` (None/empty → unverifiable).

    `options` are `MathConfig` fields, or ``config=MathConfig(...)``.
    """
    config = options.pop("config", None) or (MathConfig(**options) if options else None)
    answer = prompt.get("answer")
    return verify_math("" if answer is None else str(answer), response, config=config)
