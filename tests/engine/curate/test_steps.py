"""Every selection predicate with a kept and a dropped example (rows as the selector feeds them)."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.curate import steps as S
from engine.curate.text import repetition_score

BENCH = ("Let x be the smallest positive integer such that the sum of its digits equals "
         "twenty three and x is divisible by eleven")  # fmt: skip


def rows(**columns) -> pl.DataFrame:
    base = {"prompt_id": "p", "task": "math", "problem": "Add two and two.", "correct": True,
            "finish_reason": "stop", "format_reward": 1.0, "tokens": 10, "pass_rate": 0.5,
            "reasoning": "We add two and two.", "completion": "<think>We add.</think> 4"}  # fmt: skip
    n = max(len(v) for v in columns.values())
    data = {k: columns.get(k, [v] * n) for k, v in base.items()}
    return pl.DataFrame(data | columns)


def kept(step: S.Step, frame: pl.DataFrame, *, benchmarks: dict | None = None) -> list[bool]:
    step.prepare(S.Context(benchmark_texts=benchmarks or {}, unit="rollouts"))
    return step.keep(frame).to_list()


@pytest.mark.parametrize(
    ("step", "frame", "expected"),
    [
        (S.Correct(), rows(correct=[True, False, None]), [True, False, False]),
        (S.NotTruncated(), rows(finish_reason=["stop", "length", None]), [True, False, True]),
        # a missing format verdict is scored by the format verifier itself
        (
            S.Format(),
            rows(
                format_reward=[1.0, 0.0, None, None],
                completion=["x", "x", "<think>a</think> b", "no tags"],
            ),
            [True, False, True, False],
        ),
        # 2 of 5 words are not English; a reasoning of formulas only has no words: kept
        (
            S.Language(threshold=0.9),
            rows(reasoning=["We add two numbers", "We 加 the 数字 ok", "$1+1=2$"]),
            [True, False, True],
        ),
        (
            S.NoLongParagraphs(max_words=5),
            rows(reasoning=["one two three\n\nfour five six", "a b c d e f g"]),
            [True, False],
        ),
        # code fences are fine in code tasks, not in math reasoning
        (
            S.NoCodeBlocks(),
            rows(
                task=["math", "math", "code"],
                reasoning=["x = 1", "```python\nx = 1\n```", "```\nx\n```"],
            ),
            [True, False, True],
        ),
        (
            S.NoRepetition(max_score=0.5),
            rows(completion=["the cat sat on the mat today", "go on and " * 30]),
            [True, False],
        ),
        (
            S.Length(min_tokens=5, max_tokens=20),
            rows(tokens=[4, 5, 20, 21, None]),
            [False, True, True, False, False],
        ),
        # exact duplicates up to whitespace; the first (shortest, by the selector's order) stays
        (S.ExactDedup(), rows(completion=["a  b", "a b", "a c"]), [True, False, True]),
        (S.PassRate(), rows(pass_rate=[0.0, 0.5, 1.0, None]), [False, True, False, False]),
        (S.PassRate(min=0.0, max=1.0, inclusive=True), rows(pass_rate=[0.0, 1.0]), [True, True]),
        (S.MaxPerPrompt(m=2), rows(prompt_id=["p", "p", "p", "q"]), [True, True, False, True]),
    ],
)
def test_predicate(step: S.Step, frame: pl.DataFrame, expected: list[bool]) -> None:
    assert kept(step, frame) == expected


def test_stateful_steps_remember_across_batches() -> None:
    dedup, cap = S.ExactDedup(), S.MaxPerPrompt(m=1)
    assert kept(dedup, rows(completion=["x"])) == [True]
    assert dedup.keep(rows(completion=["x", "y"])).to_list() == [False, True]
    assert kept(cap, rows(prompt_id=["p"])) == [True]
    assert cap.keep(rows(prompt_id=["p", "q"])).to_list() == [False, True]


def test_near_dedup_drops_a_light_edit_and_keeps_a_different_text() -> None:
    words = [f"w{i}" for i in range(200)]
    original = " ".join(words)
    edited = " ".join([*words[:100], "changed", *words[101:]])  # one word of 200
    other = " ".join(reversed(words))
    frame = rows(completion=[original, edited, other])
    assert kept(S.NearDedup(threshold=0.8), frame) == [True, False, True]


def test_decontamination_drops_a_planted_10_gram_and_keeps_a_9_gram() -> None:
    bench = {"math500": [BENCH]}
    ten = " ".join(BENCH.split()[3:13])
    nine = " ".join(BENCH.split()[3:12])
    frame = rows(prompt_id=["p1", "p2", "p3"],
                 problem=[f"Solve: {ten.upper()}, please.", f"Solve: {nine} now.", "Unrelated."])  # fmt: skip
    assert kept(S.Decontaminate(benchmarks=("math500",)), frame, benchmarks=bench) == [
        False, True, True]  # fmt: skip
    # a benchmark the recipe does not name does not count
    assert kept(S.Decontaminate(benchmarks=("aime24",)), frame, benchmarks=bench) == [True] * 3
    # n is configurable: with 9-grams the 9-gram overlap is caught too
    assert kept(S.Decontaminate(n=9, benchmarks=("math500",)), frame, benchmarks=bench) == [
        False, False, True]  # fmt: skip


def test_decontamination_of_completions() -> None:
    bench = {"b": [BENCH]}
    frame = rows(problem=["Other problem.", "Other problem."],
                 completion=[f"I recall: {BENCH}", "fresh reasoning"], prompt_id=["p", "q"])  # fmt: skip
    step = S.Decontaminate(benchmarks=("b",), field="completion")
    assert kept(step, frame, benchmarks=bench) == [False, True]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=0, max_size=60))
def test_repetition_score_is_a_share(tokens: list[str]) -> None:
    score = repetition_score(" ".join(tokens))
    assert 0.0 <= score < 1.0
    if (
        len(tokens) >= 4
        and len(set(zip(tokens, tokens[1:], tokens[2:], tokens[3:], strict=False))) == 1
    ):
        assert score == pytest.approx(1 - 1 / (len(tokens) - 3))
