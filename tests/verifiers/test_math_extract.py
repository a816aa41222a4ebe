"""Reading: which final answer is read from a response (or a gold), and what is normalised."""

from __future__ import annotations

import pytest

from verifiers.math.extract import extract_answer, extract_gold, find_boxed
from verifiers.math.normalize import normalize, parse_number


@pytest.mark.parametrize(
    ("response", "answer", "source"),
    [
        (r"so \boxed{42}.", "42", "boxed"),  # the box
        (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}", "boxed"),  # nested braces
        (r"\fbox{7}", "7", "boxed"),  # \fbox
        (r"\boxed 5 is it", "5", "boxed"),  # `\boxed 5` without braces
        (r"first \boxed{3}, then after checking, finally \boxed{4}", "4", "boxed"),  # last box wins
        (r"\boxed{1}, \boxed{2}", r"\{1, 2\}", "boxed"),  # final boxes joined: one set
        ("<think>\\boxed{9}</think>The answer is $8$.", "8", "phrase"),  # after </think> only
        ("<answer> 12 </answer>", "12", "answer-tag"),  # R1-Zero tags
        ("The final answer is $x^2$. I hope it is correct.", "x^2", "phrase"),  # Minerva phrase
        ("Answer: 17", "17", "phrase"),  # `Answer:`
        ("**Answer:** $3\\sqrt{2}$", "3\\sqrt{2}", "phrase"),  # markdown label
        ("We get \\[x = 5\\]", "x = 5", "latex"),  # display math
        ("Thus it is \\(\\frac{7}{9}\\).", "\\frac{7}{9}", "latex"),  # inline \( \)
        ("1 1/4", "1 1/4", "bare"),  # a bare answer string
        ("After all the work the total comes to 35 apples", "35", "bare"),  # last number
        (r"\boxed{6} is wrong... the answer is $7$", "7", "phrase"),  # a phrase after the box
    ],
)
def test_extract_answer(response: str, answer: str, source: str) -> None:
    found = extract_answer(response)
    assert (found.answer, found.source) == (answer, source)


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        ("", "no final answer found"),  # nothing at all
        ("<think>\\boxed{3} and", "unterminated"),  # reasoning without an end is never graded
    ],
)
def test_extract_nothing(response: str, reason: str) -> None:
    found = extract_answer(response)
    assert found.answer is None and reason in found.reason


def test_hedged_boxes_are_flagged() -> None:
    found = extract_answer(r"It is \boxed{4} or \boxed{5}")
    assert found.hedged


@pytest.mark.parametrize(
    ("gold", "answer"),
    [
        ("$1331$ and $1728$", "1331, 1728"),  # several spans: all of them
        ("  So the answer is: \\[ \\boxed{32349} \\]", "32349"),  # a boxed gold
        ("\\frac{1}{2}", "\\frac{1}{2}"),  # answer-only gold
        ("line segment, circle", "line segment, circle"),  # a short text gold stays whole
    ],
)
def test_extract_gold(gold: str, answer: str) -> None:
    assert extract_gold(gold).answer == answer


def test_find_boxed_is_linear_on_deep_braces() -> None:
    text = "\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}"
    ((start, end, content),) = find_boxed(text)
    assert (start, end) == (0, len(text)) and content.count("{") == 5000


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (r"\$1{,}000", "1000"),  # currency + thousands
        (r"\left( 1, 2 \right)", "( 1, 2 )"),  # sizing macros
        (r"\dfrac{1}{2}", r"\frac{1}{2}"),  # \dfrac
        (r"10\text{ cm}", "10"),  # unit text after a number
        ("90^{\\circ}", "90"),  # degree sign (flag kept)
        ("12^{\\mathrm{th}}", "12"),  # ordinal
        ("\x0crac{1}{2}", r"\frac{1}{2}"),  # JSON-eaten \f of \frac
        ("(-∞, 3) ∪ (4, 5]", r"(-\infty , 3) \cup (4, 5]"),  # unicode symbols
        ("**73**", "73"),  # markdown bold
    ],
)
def test_normalize(raw: str, text: str) -> None:
    assert normalize(raw).text == text


@pytest.mark.parametrize(
    ("text", "value", "decimals"),
    [
        ("025", 25, None),  # leading zeros
        ("-0.50", 0.5 * -1, 2),  # decimals shown are kept
        (r"\frac{3}{4}", 0.75, None),  # fraction
        ("1 1/4", 1.25, None),  # mixed number
        (r"2\frac{1}{2}", 2.5, None),  # LaTeX mixed number
        (r"3 \times 10^{2}", 300, None),  # scientific notation
    ],
)
def test_parse_number(text: str, value: float, decimals: int | None) -> None:
    number = parse_number(text)
    assert number is not None and float(number.value) == value and number.decimals == decimals


def test_parse_number_huge_integer_stays_a_string() -> None:
    number = parse_number("9" * 5000)
    assert number is not None and number.value is None and number.digits == "9" * 5000
