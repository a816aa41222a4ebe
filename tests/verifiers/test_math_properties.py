"""Properties over open-ended inputs (hypothesis): formatting never changes a verdict."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from verifiers.math import verify_math

WRAPPERS = [
    r"so \boxed{{{}}}",
    "The answer is ${}$.",
    r"Therefore \({}\)",
    "The final answer is ${}$. I hope it is correct.",
    r"<think>scratch 12345</think> \[\boxed{{{}}}\]",
    "Answer: {}",
]
integers = st.integers(min_value=-(10**40), max_value=10**40)


def thousands(n: int) -> str:
    return f"{n:,}".replace(",", "{,}")


@settings(max_examples=60, deadline=None)
@given(integers, st.sampled_from(WRAPPERS))
def test_an_integer_equals_itself_in_every_format(n: int, wrapper: str) -> None:
    assert verify_math(str(n), wrapper.format(n)).ok


@settings(max_examples=60, deadline=None)
@given(integers, st.sampled_from(WRAPPERS), st.sampled_from([1, -1, 10**20]))
def test_an_integer_never_equals_itself_plus_something(n: int, wrapper: str, d: int) -> None:
    assert not verify_math(str(n), wrapper.format(n + d)).ok


@settings(max_examples=60, deadline=None)
@given(integers, integers)
def test_reformatting_a_number_never_changes_the_verdict(gold: int, answer: int) -> None:
    expected = verify_math(str(gold), rf"\boxed{{{answer}}}").ok
    assert expected is (gold == answer)
    spellings = [thousands(answer), f"{answer}.0", f"${answer}$"]
    if answer >= 0:
        spellings.append("00" + str(answer))  # leading zeros (AIME)
    for spelling in spellings:
        assert verify_math(str(gold), rf"\boxed{{{spelling}}}").ok is expected, spelling


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 999), st.integers(1, 999), st.sampled_from(WRAPPERS))
def test_a_fraction_equals_itself_in_every_format(a: int, b: int, wrapper: str) -> None:
    gold = rf"\frac{{{a}}}{{{b}}}"
    assert verify_math(gold, wrapper.format(rf"\dfrac{{{a}}}{{{b}}}")).ok
    assert verify_math(gold, wrapper.format(f"{a}/{b}")).ok
    assert not verify_math(gold, wrapper.format(rf"\frac{{{a + b}}}{{{b}}}")).ok


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([r"\sqrt{2}+1", r"\pi^2", "x^2+1", r"(1, \sqrt{3})", r"\{1, 2\}"]))
def test_a_symbolic_answer_equals_itself_in_every_format(expr: str) -> None:
    for wrapper in WRAPPERS:
        assert verify_math(expr, wrapper.format(expr)).ok, wrapper
