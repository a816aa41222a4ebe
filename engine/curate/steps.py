"""The selection predicates: one frozen dataclass per step, named in :data:`STEPS` (no discovery).

A step sees the candidate rows in batches, in the selection's fixed order (prompt, correct first,
shortest first, rollout id), and returns which rows it keeps. Stateful steps (duplicates, at most
m per prompt) remember what they kept, so applying the steps batch by batch gives exactly the
result of applying each to the whole table in turn. Parameters are the dataclass fields; a recipe
sets them by name (``engine.curate.recipe``).

The R1 filters (v1 §2.3.3, "we have filtered out chain-of-thought with mixed languages, long
paragraphs, and code blocks. For each prompt, we sample multiple responses and retain only the
correct ones"): ``correct``, ``language``, ``no_long_paragraphs``, ``no_code_blocks``. The others are
what open-r1, OpenThoughts and NeMo-Skills add (docs/r1-pipelines.md §2.4, §8).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, ClassVar, Literal

import numpy as np
import polars as pl
import rensa

from engine.curate import text as tx
from verifiers import language
from verifiers.format import verify_format
from verifiers.language import SCRIPTS

__all__ = [
    "BOTH",
    "STEPS",
    "Context",
    "Correct",
    "Decontaminate",
    "ExactDedup",
    "Format",
    "Language",
    "Length",
    "MaxPerPrompt",
    "NearDedup",
    "NoCodeBlocks",
    "NoLongParagraphs",
    "NoRepetition",
    "NotTruncated",
    "PassRate",
    "Shared",
    "Step",
    "Unit",
]

Unit = Literal["rollouts", "prompts"]
# What verifiers.language does not count as words (LaTeX, code, identifiers); the batch version
# of language_share reuses it, and tests/engine/curate/test_text.py checks the two agree.
_NOT_PROSE = language._NOT_PROSE.pattern
BOTH: tuple[Unit, ...] = ("rollouts", "prompts")


@dataclass(frozen=True, kw_only=True)
class Context:
    """What a step may look at besides its rows: benchmark prompts for decontamination."""

    benchmark_texts: dict[str, list[str]]  # dataset -> its prompts' problems
    unit: Unit


class Shared:
    """What the steps of one batch compute once and share: the word hashes of a column (the
    repetition score and the MinHash shingles both read the completion's words). ``rows`` are
    the batch positions of the frame a step is given; the driver keeps it current."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows
        self._words: dict[str, tuple[np.ndarray, tx.WordHashes]] = {}

    def words(self, field_name: str, texts: pl.Series) -> tx.WordHashes:
        hit = self._words.get(field_name)
        if hit is not None and np.isin(self.rows, hit[0], assume_unique=True).all():
            return hit[1].subset(np.searchsorted(hit[0], self.rows))
        words = tx.WordHashes.of(texts)
        self._words[field_name] = (self.rows, words)
        return words


def _words(shared: Shared | None, field_name: str, texts: pl.Series) -> tx.WordHashes:
    return shared.words(field_name, texts) if shared is not None else tx.WordHashes.of(texts)


@dataclass(frozen=True, kw_only=True)
class Step:
    """A predicate over rows. A row-local step decides each row alone (``keep``); a stateful
    one (``stateful = True``) computes per-row ``features`` alone, then ``decide``s over them in
    the selection's order, remembering what it kept — so the costly part of every step can run
    on batches in parallel while the decisions stay in order (engine.curate.select)."""

    name: ClassVar[str]
    units: ClassVar[tuple[Unit, ...]] = ("rollouts",)
    stateful: ClassVar[bool] = False

    def prepare(self, context: Context) -> None:
        """Called once before the first batch."""

    def keep(self, batch: pl.DataFrame, shared: Shared | None = None) -> pl.Series:
        if self.stateful:
            return _mask(self.decide(self.features(batch, shared)))
        raise NotImplementedError

    def features(self, batch: pl.DataFrame, shared: Shared | None = None) -> Any:
        """Stateful steps: what ``decide`` needs of each row, indexable by row positions."""
        raise NotImplementedError

    def take(self, features: Any, rows: np.ndarray) -> Any:
        return features[rows]

    def sql_superset(self) -> str | None:
        """A SQL condition over the candidate columns that every row ``keep`` keeps satisfies
        (a superset of the kept rows), or None: the selector streams the text of rows that
        fail it as NULL, since some leading step drops them before any text is read."""
        return None

    def decide(self, features: Any) -> np.ndarray:
        """Stateful steps: keep or drop each row, in order, given the rows kept before."""
        raise NotImplementedError

    def validate(self) -> str | None:
        """Why the parameters are wrong, or None."""
        return None


def _text(batch: pl.DataFrame, field_name: str) -> pl.Series:
    """The reasoning when the rollout has one, else its whole completion (R1 filters the CoT)."""
    if field_name == "reasoning":
        return batch["reasoning"].fill_null(batch["completion"])
    return batch[field_name]


def _mask(values: Sequence[bool] | np.ndarray) -> pl.Series:
    return pl.Series("keep", values, dtype=pl.Boolean)


@dataclass(frozen=True, kw_only=True)
class Correct(Step):
    """Keep rollouts the task's verifier judged correct (rejection sampling, R1 §2.3.3)."""

    name = "correct"

    def sql_superset(self) -> str:
        return "correct"

    def keep(self, batch: pl.DataFrame, shared: Shared | None = None) -> pl.Series:
        return batch["correct"].fill_null(False)


@dataclass(frozen=True, kw_only=True)
class NotTruncated(Step):
    """Drop rollouts cut by the length limit (``finish_reason = 'length'``)."""

    name = "not_truncated"

    def sql_superset(self) -> str:
        return "coalesce(finish_reason <> 'length', true)"

    def keep(self, batch: pl.DataFrame, shared: Shared | None = None) -> pl.Series:
        return (batch["finish_reason"] != "length").fill_null(True)


@dataclass(frozen=True, kw_only=True)
class Format(Step):
    """Format reward ≥ ``min_reward``; a rollout with no ``format`` verdict is scored here by the
    same verifier (verifiers.format), so the step never depends on which verifiers ran."""

    name = "format"
    min_reward: float = 1.0
    prefilled_think: bool = False
    answer_tags: bool = False

    def sql_superset(self) -> str:  # a row without a verdict is scored from its text
        return f"(format_reward IS NULL OR format_reward >= {float(self.min_reward)!r})"

    def keep(self, batch: pl.DataFrame, shared: Shared | None = None) -> pl.Series:
        rewards = batch["format_reward"]
        missing = rewards.is_null().to_numpy()
        if missing.any():  # the verifier runs only where no format verdict was stored
            rows = np.flatnonzero(missing)
            texts = batch["completion"].gather(rows).to_list()
            scored = [
                verify_format(
                    text, prefilled_think=self.prefilled_think, answer_tags=self.answer_tags
                ).reward
                for text in texts
            ]
            rewards = rewards.cast(pl.Float64).scatter(rows, pl.Series(scored, dtype=pl.Float64))
        # NaN is no reward (polars would order it above every number)
        return (rewards.fill_nan(None) >= self.min_reward).fill_null(False).alias("keep")


@dataclass(frozen=True, kw_only=True)
class Language(Step):
    """Language-consistent CoT: the share of target-language words (verifiers.language, R1 v2
    eq. 7) reaches ``threshold``. A reasoning with no word at all (only formulas) is kept."""

    name = "language"
    target: str = "en"
    threshold: float = 0.95
    field: str = "reasoning"

    def validate(self) -> str | None:
        if self.target not in SCRIPTS:
            return f"target {self.target!r} is not one of {', '.join(SCRIPTS)}"
        return None if 0 <= self.threshold <= 1 else "threshold must be within [0, 1]"

    def keep(self, batch: pl.DataFrame, shared: Shared | None = None) -> pl.Series:
        shares = tx.language_shares(_text(batch, self.field), self.target, SCRIPTS, _NOT_PROSE)
        return (shares >= self.threshold).fill_null(True)


@dataclass(frozen=True, kw_only=True)
class NoLongParagraphs(Step):
    """No paragraph (blank-line separated) of more than ``max_words`` words (R1 readability)."""

    name = "no_long_paragraphs"
    max_words: int = 400
    field: str = "reasoning"

    def keep(self, batch: pl.DataFrame, shared: Shared | None = None) -> pl.Series:
        return tx.paragraphs_within(_text(batch, self.field), self.max_words)


@dataclass(frozen=True, kw_only=True)
class NoCodeBlocks(Step):
    """No fenced code block in the reasoning, except for tasks in ``allow_tasks`` (R1 §2.3.3)."""

    name = "no_code_blocks"
    allow_tasks: tuple[str, ...] = ("code",)
    field: str = "reasoning"

    def keep(self, batch: pl.DataFrame, shared: Shared | None = None) -> pl.Series:
        allowed = batch["task"].is_in(list(self.allow_tasks)).fill_null(False)
        return allowed | ~tx.code_blocks(_text(batch, self.field))


@dataclass(frozen=True, kw_only=True)
class NoRepetition(Step):
    """No degenerate repetition: seq-rep-n (share of repeated word n-grams) ≤ ``max_score``."""

    name = "no_repetition"
    n: int = 4
    max_score: float = 0.5
    field: str = "completion"

    def keep(self, batch: pl.DataFrame, shared: Shared | None = None) -> pl.Series:
        texts = batch[self.field]
        return (
            tx.repetition_scores(texts, self.n, _words(shared, self.field, texts)) <= self.max_score
        )


@dataclass(frozen=True, kw_only=True)
class Length(Step):
    """``min_tokens`` ≤ completion tokens ≤ ``max_tokens`` (words when the count is unknown)."""

    name = "length"
    min_tokens: int = 0
    max_tokens: int | None = None

    def keep(self, batch: pl.DataFrame, shared: Shared | None = None) -> pl.Series:
        tokens = batch["tokens"]
        upper = self.max_tokens if self.max_tokens is not None else 2**62
        return ((tokens >= self.min_tokens) & (tokens <= upper)).fill_null(False)


@dataclass(frozen=True, kw_only=True)
class ExactDedup(Step):
    """Keep the first row of each text (whitespace-collapsed); the order makes it the shortest."""

    name = "exact_dedup"
    units = BOTH
    stateful = True
    field: str = "completion"
    seen: set[int] = dc_field(default_factory=set, init=False, repr=False, compare=False)

    def features(self, batch: pl.DataFrame, shared: Shared | None = None) -> np.ndarray:
        return tx.normalized_hashes(batch[self.field]).to_numpy()

    def decide(self, features: np.ndarray) -> np.ndarray:
        keep = []
        for key in features.tolist():
            keep.append(key not in self.seen)
            self.seen.add(key)
        return np.array(keep, dtype=bool)


@dataclass(frozen=True, kw_only=True)
class NearDedup(Step):
    """Drop a row whose text is a near-duplicate (estimated Jaccard of word ``shingle``-grams ≥
    ``threshold``) of a row already kept.

    MinHash signatures come from rensa (Rust), not datasketch: on the same 2,200 documents
    (128 permutations, LSH threshold 0.8) rensa took 0.15 s and datasketch 2.0 8.8 s, both finding
    the same 200 planted duplicates; rensa is maintained (0.5.0, 2026) and computes a whole
    batch's signatures from polars-hashed shingles in one call. The banded LSH index (``num_bands``
    bands of ``num_perm / num_bands`` rows) is kept here because the selection needs "similar to a
    row already *kept*, in order" — rensa's batch flags mark both rows of a pair. A candidate from
    the index is confirmed by the share of equal signature entries, so a band collision alone
    never drops a row."""

    name = "near_dedup"
    units = BOTH
    stateful = True
    field: str = "completion"
    threshold: float = 0.8
    num_perm: int = 128
    num_bands: int = 16
    shingle: int = 5
    seed: int = 0
    _state: dict[str, Any] = dc_field(default_factory=dict, init=False, repr=False, compare=False)

    def validate(self) -> str | None:
        if not 0 < self.threshold <= 1:
            return "threshold must be within (0, 1]"
        if self.num_perm % self.num_bands:
            return f"num_perm {self.num_perm} must be a multiple of num_bands {self.num_bands}"
        return None

    def prepare(self, context: Context) -> None:
        rows = self.num_perm // self.num_bands
        weights = np.random.default_rng(self.seed).integers(1, 2**63, size=rows, dtype=np.uint64)
        self._state.update(index=tx.BandIndex(self.num_bands), weights=weights | 1)

    def _signatures(self, texts: pl.Series, words: tx.WordHashes) -> np.ndarray:
        flat, offsets = tx.shingle_hashes(texts, self.shingle, words)
        matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
            flat, offsets, self.num_perm, self.seed
        )
        flat_rows = itertools.chain.from_iterable(matrix.to_rows())  # 2x faster than asarray
        size = len(texts) * self.num_perm
        return np.fromiter(flat_rows, dtype=np.uint32, count=size).reshape(len(texts), -1)

    def features(
        self, batch: pl.DataFrame, shared: Shared | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        texts = batch[self.field]
        signatures = self._signatures(texts, _words(shared, self.field, texts))
        # one 64-bit key per band: a random linear hash of its rows (wrapping is fine: a shared
        # key only proposes a candidate, which the signature comparison then confirms)
        split = signatures.reshape(len(signatures), self.num_bands, -1).astype(np.uint64)
        return signatures, (split * self._state["weights"]).sum(axis=2, dtype=np.uint64)

    def take(self, features: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> tuple:
        return features[0][rows], features[1][rows]

    def decide(self, features: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        index: tx.BandIndex = self._state["index"]
        signatures, keys = features
        need = self.threshold * self.num_perm
        earlier = index.candidates(keys)  # kept in batches before this one
        here = tx.earlier_sharing(keys)  # rows before it in this batch sharing a band key
        keep = np.ones(len(keys), dtype=bool)
        # only rows with a candidate are looked at, in order (a kept row before it in this
        # batch counts, a dropped one does not)
        for row in sorted({r for r, found in enumerate(earlier) if found} | here.keys()):
            signature = signatures[row]
            similar = any(
                np.count_nonzero(index.signature(c) == signature) >= need
                for c in earlier[row] or ()
            ) or any(
                keep[c] and np.count_nonzero(signatures[c] == signature) >= need
                for c in here.get(row, ())
            )
            keep[row] = not similar
        index.add(keys[keep], signatures[keep])
        return keep


@dataclass(frozen=True, kw_only=True)
class Decontaminate(Step):
    """Drop rows sharing a word ``n``-gram with a prompt of a ``benchmarks`` dataset in the lake
    (R1 v2 Supp. D.1: 10-grams). ``field``: the row's ``problem`` (default; the paper filters
    training prompts), ``completion`` or ``both``."""

    name = "decontaminate"
    units = BOTH
    n: int = 10
    benchmarks: tuple[str, ...] = ()
    field: Literal["problem", "completion", "both"] = "problem"
    _state: dict[str, Any] = dc_field(default_factory=dict, init=False, repr=False, compare=False)

    def validate(self) -> str | None:
        if self.field not in ("problem", "completion", "both"):
            return f"field {self.field!r} must be problem, completion or both"
        return None if self.n >= 1 else "n must be ≥ 1"

    def prepare(self, context: Context) -> None:
        grams: set[int] = set()
        for name in self.benchmarks:
            for problem in context.benchmark_texts.get(name, ()):
                grams |= tx.ngram_hashes(tx.words(problem), self.n)
        self._state.update(grams=grams, cache={})

    def _hit(self, text: str | None) -> bool:
        grams = self._state["grams"]
        tokens = tx.words(text)
        n = self.n
        return any(
            tx.xxhash.xxh3_64_intdigest(" ".join(tokens[i : i + n]).encode()) in grams
            for i in range(len(tokens) - n + 1)
        )

    def keep(self, batch: pl.DataFrame, shared: Shared | None = None) -> pl.Series:
        if not self._state["grams"]:
            return _mask([True] * batch.height)
        cache: dict[str, bool] = self._state["cache"]  # per prompt: problems repeat across rows
        prompts = batch["prompt_id"].to_list()
        if self.field != "completion":
            for prompt, problem in zip(prompts, batch["problem"].to_list(), strict=True):
                if prompt not in cache:
                    cache[prompt] = self._hit(problem)
        hits = [cache[p] for p in prompts] if self.field != "completion" else [False] * len(prompts)
        if self.field != "problem":
            completions = batch["completion"].to_list()
            hits = [hit or self._hit(text) for hit, text in zip(hits, completions, strict=True)]
        return _mask([not hit for hit in hits])

    def _extra(self) -> list[str]:
        return ["completion"] if self.field != "problem" else []


@dataclass(frozen=True, kw_only=True)
class PassRate(Step):
    """Prompts whose pass rate over the source runs lies in (``min``, ``max``) — open bounds by
    default, since a GRPO group whose rewards are all equal carries no signal (open-r1 pass-rate
    filtering); ``inclusive: true`` closes them."""

    name = "pass_rate"
    units = BOTH
    min: float = 0.0
    max: float = 1.0
    inclusive: bool = False

    def validate(self) -> str | None:
        return None if 0 <= self.min <= self.max <= 1 else "need 0 ≤ min ≤ max ≤ 1"

    def keep(self, batch: pl.DataFrame, shared: Shared | None = None) -> pl.Series:
        rate = batch["pass_rate"]
        if self.inclusive:
            inside = (rate >= self.min) & (rate <= self.max)
        else:
            inside = (rate > self.min) & (rate < self.max)
        return inside.fill_null(False)


@dataclass(frozen=True, kw_only=True)
class MaxPerPrompt(Step):
    """At most ``m`` rows per prompt: the first in order, i.e. correct first, then shortest."""

    name = "max_per_prompt"
    stateful = True
    m: int = 4
    counts: dict[str, int] = dc_field(default_factory=dict, init=False, repr=False, compare=False)

    def validate(self) -> str | None:
        return None if self.m >= 1 else "m must be ≥ 1"

    def features(self, batch: pl.DataFrame, shared: Shared | None = None) -> np.ndarray:
        return batch["prompt_id"].to_numpy()

    def decide(self, features: np.ndarray) -> np.ndarray:
        keep = []
        for prompt in features.tolist():
            count = self.counts.get(prompt, 0)
            keep.append(count < self.m)
            self.counts[prompt] = count + 1
        return np.array(keep, dtype=bool)


STEPS: dict[str, type[Step]] = {
    step.name: step
    for step in (
        Correct,
        NotTruncated,
        Format,
        Language,
        NoLongParagraphs,
        NoCodeBlocks,
        NoRepetition,
        Length,
        ExactDedup,
        NearDedup,
        Decontaminate,
        PassRate,
        MaxPerPrompt,
    )
}
