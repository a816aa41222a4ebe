"""Reward adapters: our verifiers as TRL reward functions, and a verl ``compute_score``.

TRL 1.16's contract (``GRPOTrainer._calculate_rewards``): a reward function is called as
``fn(prompts=..., completions=..., completion_ids=..., **columns)`` where every dataset column
other than ``prompt`` arrives as a list of the same length (``answer``, ``tests``, ``meta`` of our
``grpo`` export), plus ``trainer_state``, ``log_extra`` and ``log_metric``. It returns one float or
``None`` per completion; ``None`` means "could not be judged" and TRL turns it into NaN, which the
weighted sum and the group baseline leave out. So a missing gold answer or a sandbox fault is
``None`` here, never 0 (DESIGN.md § Verdicts). Completions are strings (standard prompts, e.g. the
R1-Zero template) or lists of message dicts (conversational prompts); both are read.

Every reward is an instance of a module-level class with a ``__name__`` (TRL logs
``rewards/<name>/mean``), so it pickles for multi-process trainers. Factories validate their
arguments; the module-level defaults below are what ``trl grpo --config`` reaches by dotted path
(``reward_funcs: [verifiers.rewards.math_reward, verifiers.rewards.format_reward]``).
Code rewards judge the whole batch concurrently through the sandbox (``verify_code_batch`` or,
for the async variant, ``averify_code`` under a semaphore), never one completion at a time.

>>> math_reward(completions=["<think>2+2</think> \\\\boxed{4}"], answer=["4"])
[1.0]
>>> format_reward(completions=[[{"role": "assistant", "content": "4"}]])
[0.0]
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from verifiers import registry
from verifiers.verdict import Verdict

__all__ = [
    "AsyncVerifierReward",
    "VerifierReward",
    "async_code_reward",
    "code_reward",
    "completion_text",
    "compute_score",
    "countdown_reward",
    "format_reward",
    "language_reward",
    "make_code_reward",
    "make_format_reward",
    "make_language_reward",
    "make_reward",
    "math_reward",
    "r1_zero_format_reward",
]

log = logging.getLogger("verifiers.rewards")

# Keyword arguments TRL adds that are not dataset columns.
_NOT_COLUMNS = frozenset({"trainer_state", "log_extra", "log_metric", "environments"})


def completion_text(completion: Any) -> str:
    """The text a verifier reads from one TRL completion (a string or a list of messages).

    A conversational completion's assistant turns are joined; a ``reasoning_content`` field goes
    back inside ``<think>…</think>`` so that the format and language rewards see it.
    """
    if isinstance(completion, str):
        return completion
    parts = []
    for message in completion or ():
        if not isinstance(message, Mapping):
            continue
        reasoning = message.get("reasoning_content")
        if reasoning:
            parts.append(f"<think>\n{reasoning}\n</think>\n")
        parts.append(str(message.get("content") or ""))
    return "".join(parts)


def _rows(n: int, columns: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One prompts-table-like row per completion from the column lists TRL passes."""
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for key, values in columns.items():
        if key in _NOT_COLUMNS or not isinstance(values, Sequence) or isinstance(values, str):
            continue
        if len(values) != n:
            continue
        for row, value in zip(rows, values, strict=True):
            row[key] = value
    return rows


def _safe_score(verifier: str, row: Mapping[str, Any], text: str, options: dict) -> Verdict | None:
    try:
        return registry.get(verifier)(row, text, **dict(options))
    except Exception:  # a verifier fault: this sample cannot be judged (None), training goes on
        log.exception("%s verifier failed on one completion", verifier)
        return None


class VerifierReward:
    """A TRL reward function over one registry verifier (see the module docstring).

    ``last_verdicts`` holds the verdicts of the latest call (``None`` where the verifier itself
    failed), so that the training-rollout capture can write them to the lake; it is not pickled.
    """

    def __init__(self, verifier: str, *, name: str, workers: int = 1, **options: Any) -> None:
        registry.get(verifier)  # unknown name → KeyError naming the known ones
        if workers < 1:
            raise ValueError(f"workers={workers!r}: must be at least 1")
        self.verifier, self.__name__, self.workers = verifier, name, workers
        self.options = dict(options)
        self.last_verdicts: list[Verdict | None] = []

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "last_verdicts": []}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.verifier!r}, name={self.__name__!r})"

    def _judge(self, texts: list[str], rows: list[dict[str, Any]]) -> list[Verdict | None]:
        if self.workers == 1 or len(texts) < 2:
            return [
                _safe_score(self.verifier, r, t, self.options)
                for r, t in zip(rows, texts, strict=True)
            ]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            jobs = [pool.submit(_safe_score, self.verifier, r, t, self.options)
                    for r, t in zip(rows, texts, strict=True)]  # fmt: skip
            return [j.result() for j in jobs]

    def __call__(
        self, prompts: Any = None, completions: Sequence[Any] = (), completion_ids: Any = None,
        **columns: Any,
    ) -> list[float | None]:  # fmt: skip
        texts = [completion_text(c) for c in completions]
        verdicts = self._judge(texts, _rows(len(texts), columns))
        self.last_verdicts = verdicts
        return [None if v is None else v.reward for v in verdicts]


class _CodeReward(VerifierReward):
    """The code reward: the batch goes to the sandbox at once, ``workers`` jobs at a time."""

    def _judge(self, texts: list[str], rows: list[dict[str, Any]]) -> list[Verdict | None]:
        from verifiers.code import verify_code_batch

        items = [_code_item(r, t, self.options) for r, t in zip(rows, texts, strict=True)]
        todo = [i for i, item in enumerate(items) if item is not None]
        judged = verify_code_batch([it for it in items if it is not None], workers=self.workers)
        out: list[Verdict | None] = [None] * len(items)
        for i, verdict in zip(todo, judged, strict=True):
            out[i] = verdict
        for i, item in enumerate(items):
            if item is None:  # no tests for this prompt: the registry's unverifiable verdict
                out[i] = _safe_score("code", rows[i], texts[i], self.options)
        return out


def _code_item(row: Mapping[str, Any], text: str, options: Mapping[str, Any]) -> dict | None:
    """`verify_code` keywords for one sample, read from the row as `code.score_prompt` does."""
    from verifiers.code import CodeConfig

    tests = row.get("tests")
    if not tests:
        return None
    meta = row.get("meta") or {}
    if isinstance(meta, str):
        try:
            meta = json.loads(meta) if meta else {}
        except ValueError:
            meta = {}
    opts = dict(options)
    fields = set(CodeConfig.__dataclass_fields__)
    config = CodeConfig(**{k: opts.pop(k) for k in list(opts) if k in fields})
    prefix = opts.pop("prompt_prefix", None) or meta.get("prompt_prefix") or None
    if prefix and "extract" not in options:
        config = config.replace(extract="auto")  # completion-style prompts (HumanEval)
    lang = opts.pop("lang", None) or meta.get("lang") or "python"
    return {"tests": tests, "response": text, "lang": lang, "config": config,
            "prompt_prefix": prefix, **opts}  # fmt: skip


class AsyncVerifierReward(VerifierReward):
    """The async form: TRL gathers async rewards concurrently on its own event loop.

    Code completions are judged with ``averify_code`` under a semaphore of ``workers``; other
    verifiers run in worker threads, so the event loop never blocks on a verifier.
    """

    async def __call__(  # type: ignore[override]
        self, prompts: Any = None, completions: Sequence[Any] = (), completion_ids: Any = None,
        **columns: Any,
    ) -> list[float | None]:  # fmt: skip
        texts = [completion_text(c) for c in completions]
        rows = _rows(len(texts), columns)
        gate = asyncio.Semaphore(self.workers)

        async def one(row: dict[str, Any], text: str) -> Verdict | None:
            async with gate:
                item = _code_item(row, text, self.options) if self.verifier == "code" else None
                if item is None:
                    return await asyncio.to_thread(_safe_score, self.verifier, row, text,
                                                   self.options)  # fmt: skip
                from verifiers.code import averify_code

                try:
                    return await averify_code(item.pop("tests"), item.pop("response"), **item)
                except Exception:
                    log.exception("code verifier failed on one completion")
                    return None

        verdicts = list(
            await asyncio.gather(*(one(r, t) for r, t in zip(rows, texts, strict=True)))
        )
        self.last_verdicts = verdicts
        return [None if v is None else v.reward for v in verdicts]


# -- factories ---------------------------------------------------------------------------------


def make_reward(verifier: str, *, name: str | None = None, **options: Any) -> VerifierReward:
    """A reward over any registry verifier; ``options`` go to its prompt scorer.

    >>> make_reward("countdown").__name__
    'countdown_reward'
    """
    return VerifierReward(verifier, name=name or f"{verifier}_reward", **options)


def make_format_reward(
    *, answer_tags: bool = False, prefilled_think: bool = False, name: str = "format_reward"
) -> VerifierReward:
    """R1's format reward (v2 eq. 4). ``answer_tags=True`` for the R1-Zero template's
    ``<answer>`` block; ``prefilled_think=True`` for chat templates that open ``<think>``."""
    for key, value in (("answer_tags", answer_tags), ("prefilled_think", prefilled_think)):
        if not isinstance(value, bool):
            raise TypeError(f"{key}={value!r}: must be True or False")
    return VerifierReward("format", name=name, answer_tags=answer_tags,
                          prefilled_think=prefilled_think)  # fmt: skip


def make_language_reward(
    *, target: str = "en", threshold: float = 0.95, name: str = "language_reward"
) -> VerifierReward:
    """R1's language-consistency reward (v1 §2.3.2, v2 eq. 7): the share of target-language words
    in the reasoning. A prompt's ``meta.language`` overrides ``target``."""
    from verifiers.language import SCRIPTS

    if target not in SCRIPTS:
        raise ValueError(f"target={target!r}: must be one of {', '.join(SCRIPTS)}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold={threshold!r}: must be in [0, 1]")
    return _LanguageReward("language", name=name, target=target, threshold=threshold)


class _LanguageReward(VerifierReward):
    def _judge(self, texts: list[str], rows: list[dict[str, Any]]) -> list[Verdict | None]:
        from verifiers.language import verify_language

        out: list[Verdict | None] = []
        for row, text in zip(rows, texts, strict=True):
            meta = row.get("meta") or {}
            if isinstance(meta, str):
                try:
                    meta = json.loads(meta) if meta else {}
                except ValueError:
                    meta = {}
            opts = {**self.options, "target": meta.get("language", self.options["target"])}
            try:
                out.append(verify_language(text, **opts))
            except ValueError:  # an unknown meta.language: nothing to judge against
                out.append(None)
        return out


def make_code_reward(
    *, workers: int = 2, asynchronous: bool = False, name: str | None = None, **options: Any
) -> VerifierReward:
    """The code accuracy reward; ``options`` are `CodeConfig` fields (e.g. ``test_cpu_s``)."""
    from verifiers.code import CodeConfig

    unknown = set(options) - set(CodeConfig.__dataclass_fields__) - {"lang", "checker"}
    if unknown:
        raise ValueError(f"unknown code reward option(s) {sorted(unknown)}: use CodeConfig fields")
    CodeConfig(**{k: v for k, v in options.items() if k not in ("lang", "checker")})
    cls = AsyncVerifierReward if asynchronous else _CodeReward
    default = "async_code_reward" if asynchronous else "code_reward"
    return cls("code", name=name or default, workers=workers, **options)


math_reward = make_reward("math")
countdown_reward = make_reward("countdown")
format_reward = make_format_reward()
r1_zero_format_reward = make_format_reward(answer_tags=True, name="r1_zero_format_reward")
language_reward = make_language_reward()
code_reward = make_code_reward()
async_code_reward = make_code_reward(asynchronous=True)


# -- verl --------------------------------------------------------------------------------------

_CODE_SOURCES = ("code", "humaneval", "mbpp", "leetcode", "codeforces", "codecontests", "apps")


def _verl_verifier(data_source: str, extra_info: Mapping[str, Any]) -> str:
    named = extra_info.get("verifier") or extra_info.get("ability") or extra_info.get("task")
    if named in registry.REGISTRY:
        return str(named)
    source = (data_source or "").lower()
    if "countdown" in source:
        return "countdown"
    return "code" if any(s in source for s in _CODE_SOURCES) else "math"


def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: Mapping | None = None
) -> float | None:
    """verl's custom reward (``custom_reward_function.path=verifiers/rewards.py``,
    ``.name=compute_score``): our verifiers on one response.

    The verifier is ``extra_info["verifier"|"ability"|"task"]`` when it names one, else guessed
    from ``data_source`` (countdown, code benchmarks, otherwise math). ``ground_truth`` is the
    math answer, the code tests (JSON) or, for countdown, the meta (``{"numbers", "target"}``).
    Returns the reward, or None when the response cannot be judged (no gold, sandbox fault):
    verl has no "skip" value, so filter those rows rather than read them as 0.

    >>> compute_score("synth-arithmetic", "\\\\boxed{7}", "7")
    1.0
    """
    extra = dict(extra_info or {})
    verifier = _verl_verifier(data_source, extra)
    row: dict[str, Any] = {"meta": extra.get("meta")}
    if verifier == "code":
        row["tests"] = ground_truth
    elif verifier == "countdown":
        row["meta"] = (
            ground_truth if isinstance(ground_truth, (Mapping, str)) else extra.get("meta")
        )
    else:
        row["answer"] = None if ground_truth is None else str(ground_truth)
    verdict = _safe_score(verifier, row, solution_str or "", {})
    return None if verdict is None else verdict.reward
