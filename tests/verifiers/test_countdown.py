"""The countdown verifier: reading (the extraction rule), the whitelist parser, exact judging, and
properties — every planted solution verifies; any mutation of its numbers does not."""

from __future__ import annotations

import json
import re
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.tasks import synthesize
from verifiers import registry
from verifiers.countdown import (
    ExpressionError,
    extract_expression,
    parse_expression,
    verify_countdown,
)

NUMBERS, TARGET = [3, 7, 25, 50], 325  # 50 * 7 - 25 = 325; (7 + 3 + 3) * 25 needs two 3s


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("<answer>50 * 7 - 25</answer>", "50 * 7 - 25"),  # answer tags
        ("<answer>1+2</answer> then <answer>50*7-25</answer>", "50*7-25"),  # the last block
        ("so \\boxed{50 \\times 7 - 25}", "50 \\times 7 - 25"),  # boxed, LaTeX operator kept
        ("\\boxed{(50)} and \\boxed{{50*7}-25}", "{50*7}-25"),  # last boxed, braces balanced
        ("thinking...\n50*7 - 25\n\n", "50*7 - 25"),  # last non-empty line
        ("Answer: 50*7 - 25.", "50*7 - 25"),  # label before ':' and final '.' dropped
        ("<answer>50*7-25 = 325</answer>", "50*7-25"),  # equation: left side
        ("<answer>325 = 50*7-25</answer>", "50*7-25"),  # bare-number left side: right side
        ("<think><answer>50*7-25</answer></think>\n1+2", "1+2"),  # only after </think>
        ("", None),  # nothing at all
        ("<think>50*7-25</think>   \n ", None),  # nothing after the reasoning
    ],
)
def test_extraction_rule(response: str, expected: str | None) -> None:
    assert extract_expression(response) == expected


@pytest.mark.parametrize(
    ("text", "value", "literals"),
    [
        ("50 * 7 - 25", Fraction(325), (50, 7, 25)),
        ("(7 − 3) × 25 ÷ 2", Fraction(50), (7, 3, 25, 2)),  # unicode minus, ×, ÷
        ("7 x 3 X 2 · 1", Fraction(42), (7, 3, 2, 1)),  # x, X and · as multiplication
        ("\\left(7 \\cdot 3\\right) \\div 2", Fraction(21, 2), (7, 3, 2)),  # LaTeX spellings
        ("7 / 2 * 2", Fraction(7), (7, 2, 2)),  # exact: no float rounding
        ("1 - 2 - 3", Fraction(-4), (1, 2, 3)),  # left associative
        ("2 + 3 * 4", Fraction(14), (2, 3, 4)),  # precedence
        ("((((5))))", Fraction(5), (5,)),  # redundant parentheses are fine
        ("1 – 1", Fraction(0), (1, 1)),  # en dash as minus
    ],
)
def test_parser_values(text: str, value: Fraction, literals: tuple[int, ...]) -> None:
    parsed = parse_expression(text)
    assert (parsed.value, parsed.literals) == (value, literals)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("-3 + 5", "sign before a number"),  # unary minus: operations are binary
        ("3 + +5", "sign before a number"),
        ("2 ** 3", "unexpected '*'"),  # no power
        ("2 ^ 3", "not allowed"),
        ("3.5 * 2", "whole numbers"),  # no decimals
        ("1,000 - 3", "whole numbers"),
        ("(3 + 4", "unbalanced"),
        ("3 + 4)", "unbalanced"),
        ("3 4", "unexpected 4"),  # juxtaposition is not multiplication
        ("3 +", "incomplete"),
        ("()", "unexpected ')'"),
        ("5 / (3 - 3)", "division by zero"),
        ("abs(3)", "not allowed"),
    ],
)
def test_parser_rejects_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(reason)):
        parse_expression(text)


@pytest.mark.parametrize(
    ("response", "status", "reason"),
    [
        ("<answer>50 * 7 - 25</answer>", "correct", None),
        ("<answer>(50 − 25) + 7 × 3 × 3 + 7 × 25</answer>", "incorrect", "more times"),
        ("<answer>(7 + 3 + 3) * 25</answer>", "incorrect", "number 3 used more times"),
        ("<answer>325</answer>", "incorrect", "325 is not one of the given numbers"),
        ("<answer>50 * 7</answer>", "incorrect", "evaluates to 350, not 325"),
        ("<answer>50 * 7 - 25 / 0</answer>", "incorrect", "division by zero"),
        ("I cannot do it.", "incorrect", "not allowed"),
        ("<think>hmm</think>", "incorrect", "no expression found"),
    ],
)
def test_verdicts(response: str, status: str, reason: str | None) -> None:
    verdict = verify_countdown(NUMBERS, TARGET, response)
    assert verdict.status == status and verdict.reward == (1.0 if status == "correct" else 0.0)
    assert verdict.verifier == "countdown"
    if reason:
        assert reason in verdict.detail["reason"]


def test_registry_reads_numbers_from_meta_text_or_dict() -> None:
    meta = {"numbers": NUMBERS, "target": TARGET}
    for row in ({"meta": meta}, {"meta": json.dumps(meta)}):
        assert registry.score("countdown", row, "<answer>50*7-25</answer>").status == "correct"


@pytest.mark.parametrize(
    "meta",
    [
        None,  # no meta at all
        "not json",
        {"numbers": [3, 7]},  # no target
        {"numbers": [], "target": 5},  # no numbers
        {"numbers": [3, "7"], "target": 10},  # a non-integer number
        {"numbers": [3, 7], "target": 10.0},  # a float target
        {"numbers": [True, 7], "target": 8},  # bool is not a number here
    ],
)
def test_prompt_without_usable_numbers_is_unverifiable_not_wrong(meta) -> None:
    verdict = registry.score("countdown", {"meta": meta}, "<answer>3 + 7</answer>")
    assert verdict.status == "unverifiable" and verdict.reward is None


# -- properties -------------------------------------------------------------------------------


@st.composite
def planted(draw) -> tuple[list[int], str, int]:
    """A random expression over a random multiset, and its (integer) value."""
    numbers = draw(st.lists(st.integers(1, 100), min_size=2, max_size=6))
    order = draw(st.permutations(numbers))
    used = order[: draw(st.integers(1, len(order)))]
    text = str(used[0])
    for value in used[1:]:
        op = draw(st.sampled_from(["+", "-", "*", "/", "×", "÷", "−"]))
        text = f"({text}) {op} {value}" if draw(st.booleans()) else f"{text} {op} {value}"
    value = parse_expression(text).value
    assume(value.denominator == 1)
    return numbers, text, int(value)


@settings(max_examples=200, deadline=None)
@given(planted())
def test_any_valid_solution_verifies(case: tuple[list[int], str, int]) -> None:
    numbers, text, target = case
    assert verify_countdown(numbers, target, f"<answer>{text}</answer>").status == "correct"
    assert verify_countdown(numbers, target, f"<think>x</think>\\boxed{{{text}}}").ok


@settings(max_examples=200, deadline=None)
@given(planted(), st.data())
def test_any_mutation_of_the_numbers_is_incorrect(case, data) -> None:
    numbers, text, target = case
    literals = parse_expression(text).literals
    victim = data.draw(st.sampled_from(literals))
    keep = Counter(literals)[victim] - 1  # one copy fewer than the solution uses
    # Take copies of a number away from the multiset: the solution now overuses it.
    fewer = [v for v in numbers if v != victim] + [victim] * keep
    verdict = verify_countdown(fewer, target, f"<answer>{text}</answer>")
    assert verdict.status == "incorrect" and verdict.reward == 0.0
    # Or change those copies into another value: the same, seen as a wrong number.
    other = data.draw(st.integers(1, 100).filter(lambda v: v not in numbers))
    swapped = fewer + [other] * (numbers.count(victim) - keep)
    assert not verify_countdown(swapped, target, f"<answer>{text}</answer>").ok


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["easy", "medium", "hard"]), st.integers(0, 10_000))
def test_every_synthesized_countdown_solution_verifies(difficulty: str, seed: int) -> None:
    for p in synthesize("countdown", n=5, seed=seed, difficulty=difficulty):
        row = {"meta": json.dumps(p.meta)}
        assert registry.score("countdown", row, f"<answer>{p.meta['solution']}</answer>").ok
