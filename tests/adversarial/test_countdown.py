"""Attacks on the countdown verifier, as an RL policy searching for a reward would try them.

Each attack is a response that must score ``incorrect`` quickly and without side effects; the
controls beside them show that the right answer still scores and an honest wrong one still fails.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifiers.countdown import MAX_DEPTH, verify_countdown

NUMBERS, TARGET = [3, 7, 25, 50], 325
RIGHT = "50 * 7 - 25"
FAST_S = 0.5  # generous on a loaded 2-core machine; the checks are O(length)


def judge(answer: str) -> tuple[str, str, float]:
    start = time.perf_counter()
    verdict = verify_countdown(NUMBERS, TARGET, answer)
    return verdict.status, str(verdict.detail.get("reason", "")), time.perf_counter() - start


def test_controls() -> None:
    assert judge(f"<answer>{RIGHT}</answer>")[0] == "correct"  # the right answer scores
    assert judge("<answer>50 * 7 - 3</answer>")[0] == "incorrect"  # an honest wrong one fails
    assert judge("<answer>" + "(" * MAX_DEPTH + RIGHT + ")" * MAX_DEPTH + "</answer>")[0] == (
        "correct"
    )  # nesting up to the bound is fine


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        ("9**9**9", "unexpected '*'"),  # a power tower: no exponent operator exists
        ("9^9^9", "not allowed"),
        ("__import__('os').system('touch {canary}')", "not allowed"),  # code, never eval'd
        ("eval('50*7-25')", "not allowed"),
        ("(lambda: 325)()", "unbalanced"),  # the label rule cuts at ':', what is left fails
        ("325", "not one of the given numbers"),  # the target itself
        ("3257", "not one of the given numbers"),  # concatenating digits into a new number
        ("3 25", "unexpected 25"),  # juxtaposition is not an operation
        ("50 * 7 - 25 + 3 * 3 - 3 * 3", "used more times"),  # reusing a number to cancel out
        ("٥٠ * ٧ - ٢٥", "not allowed"),  # Arabic-Indic digits that int() would accept
        ("５０ * ７ - ２５", "not allowed"),  # full-width digits
        ("50 * 7 - 25\x00", "not allowed"),  # a NUL byte
        ("50 * 7 - 25.0", "whole numbers"),  # float spelling of a given number
        ("-(-325)", "sign before a number"),  # unary signs
        ("1" * 1_000_000, "longer than"),  # a million-digit literal
        ("1" * 13, "more than 12 digits"),  # a long literal inside the length bound
        ("(" * 5_000_000 + "3" + ")" * 5_000_000, "longer than"),  # 10 MB of parentheses
        ("(" * (MAX_DEPTH + 1) + "3" + ")" * (MAX_DEPTH + 1), "nest deeper"),
        ("50 * 7 - 25 / (7 - 7)", "division by zero"),
        ("50 * 7 - 25 or 3", "not allowed"),  # hedging between answers
        ("50 * 7 - 25; 3 + 7", "not allowed"),
    ],
)
def test_attack_is_incorrect_fast_and_harmless(attack: str, reason: str, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    status, why, seconds = judge(f"<answer>{attack.format(canary=canary)}</answer>")
    assert (status, seconds < FAST_S) == ("incorrect", True), (why, seconds)
    assert reason in why
    assert not canary.exists()


def test_ten_megabytes_of_text_before_a_right_answer_is_fast_and_correct() -> None:
    # Length alone is no reason to fail: a long reasoning with a right answer still scores.
    status, _, seconds = judge("<think>" + "hmm " * 2_500_000 + f"</think><answer>{RIGHT}</answer>")
    assert (status, seconds < 2 * FAST_S) == ("correct", True)


@pytest.mark.parametrize(
    "response",
    [
        f"<think><answer>{RIGHT}</answer></think>",  # the answer hidden in the reasoning only
        f"<answer>{RIGHT}</answer> wait, no: <answer>3 + 7</answer>",  # the last answer counts
        f"325 = {RIGHT.replace('25', '3')}",  # target on the left, a wrong right side
    ],
)
def test_where_the_answer_is_read_cannot_be_gamed(response: str) -> None:
    assert judge(response)[0] == "incorrect"


def test_a_boxed_answer_counts_when_there_are_no_answer_tags() -> None:
    assert judge(f"work... \\boxed{{{RIGHT}}}")[0] == "correct"  # control for the boxed case


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes_the_verifier(text: str) -> None:
    verdict = verify_countdown(NUMBERS, TARGET, text)
    assert verdict.status in ("correct", "incorrect")
    assert verdict.reward == (1.0 if verdict.ok else 0.0)
