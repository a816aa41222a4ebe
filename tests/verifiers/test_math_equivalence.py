"""Equivalence tables per category: (gold, response, expected), one comment per case."""

from __future__ import annotations

import pytest

from verifiers.math import verify_math


def judge(gold: str, response: str) -> bool:
    return verify_math(gold, response).status == "correct"


NUMBERS = [
    ("42", r"\boxed{42}", True),  # plain integer
    ("10^{18}", r"\boxed{1000000000000000001}", False),  # huge integers compared exactly
    (r"\frac{1}{2^{99}}", r"\boxed{\frac{1}{2^{98}}}", False),  # tiny magnitudes never collapse
    (r"\frac{1}{2004!}", r"$\frac{1}{2006!}$", False),  # Math-Verify#14 false positive
    (r"\frac{1}{2}", r"\boxed{0.5}", True),  # fraction vs exact decimal
    (r"\frac{3}{4}", "0.75", True),  # bare decimal answer
    ("0.1", ".1", True),  # leading point
    ("033", r"\boxed{33}", True),  # AIME leading zeros
    ("10000", r"\boxed{10001}", False),  # no relative tolerance on integers (Qwen 1e-4)
    ("5/4", "1 1/4", True),  # mixed number
    ("2.5", r"$2\frac{1}{2}$", True),  # LaTeX mixed number
    ("21.93", r"21 \dfrac{13}{14}", True),  # decimal gold: half a unit of its last digit
    (r"\frac{\sqrt{3}}{2}", "0.866", False),  # too few digits for an exact gold
    (r"\frac{1}{3}", "0.333333", True),  # six significant digits
    (r"\sqrt{17}", "4.123105625617661", True),  # a long decimal of a surd
    ("27.0", r"\boxed{27}", True),  # AMC floats
    ("2", r"\boxed{\frac{4}{2}}", True),  # unsimplified but equal
    ("2", r"\boxed{\infty}", False),  # infinity is not a number
]

FORMATTING = [
    (r"\$6", r"so she pays \boxed{6}", True),  # currency in the gold
    ("10", r"\$10", True),  # currency in the answer
    ("10{,}000", r"\boxed{10000}", True),  # thousands separator in the gold
    ("40,\\!000", "40000", True),  # `,\!` separator
    ("40,\\!000", "320,000", False),  # separator, different value
    (r"10\%", "10", True),  # percent sign is a unit (policy `strip`)
    ("50", "0.5", False),  # no x100 / /100 guessing
    (r"10\text{ units}", "10 ", True),  # unit text
    (r"10\text{ units}", "100 ", False),  # unit text, different value
    (r"5\text{ cm}", r"\boxed{5}", True),  # unit in the gold
    (r"90^\circ", r"\boxed{90}", True),  # degree sign
    (r"\frac{\pi}{6}", r"30^\circ", True),  # degrees vs radians
    (r"\text{Evelyn}", "Evelyn", True),  # text wrapper
    (r"\text{odd}", r"\text{even}", False),  # different words
    (r"\tfrac83", r"\frac{8}{3}", True),  # \tfrac and braces
    ("1000.99", "1000,99", True),  # European decimal comma against a point
    (r"62.5\%", r"\dfrac{5}{8}", True),  # percent read as a fraction (policy `either`)
    (r"41.4\%", r"\sqrt{2} - 1", True),  # ... also against a surd (symbolic path)
    ("117.95", "118", True),  # an answer rounded less precisely than the gold
    ("0.5", r"4-2\sqrt{3}", False),  # a 1-digit decimal gold is exact: no tolerance
    ("6.67", "20:3", True),  # a ratio read as its quotient against a decimal gold
    ("5:8", r"\dfrac{5}{8}", True),  # a ratio gold against its quotient
    ("12", "12^{\\mathrm{th}}", True),  # ordinal suffix
    ("7,4", r"7 \text{ goats and } 4 \text{ helicopters}", True),  # units inside a list
]

STRUCTURES = [
    (r"\{1, 2, 3\}", r"\{3, 2, 1\}", True),  # sets are unordered
    ("(1, 2)", "(2, 1)", False),  # tuples are ordered
    ("10, 4, -2", "4, 10, -2", True),  # bare lists are all-solutions answers: unordered
    ("10, 4, -2", "4, 10, 2", False),  # ... but every value must match
    ("(1,2),(2,1)", "(1,2)", False),  # one of two solutions is not enough
    ("[1, 2)", "[1, 2]", False),  # open vs closed end
    (
        r"(-\infty, -14) \cup (-3, \infty)",
        r"\((- \infty, -14) \cup (-3, \infty)\).",
        True,
    ),  # unions
    ("(0, 12.5)", "$0 < x < 12.5$", True),  # interval vs inequality
    (r"x \in [-2,7]", r"$-2 \le x \le 7$", True),  # membership vs double inequality
    (r"(-\infty, 3)", r"\boxed{x<3}", True),  # half-line
    ("$x > 5$", "Therefore $x < 5$ is the solution.", False),  # opposite half-lines
    ("y = 2x + 3", "2x - y + 3 = 0", True),  # equation rearranged
    (
        r"\frac{x^2}{4} + \frac{y^2}{3} = 1",
        r"\frac{x^2}{16} + \frac{y^2}{12} = 1",
        False,
    ),  # not proportional
    ("$1$", "$k = 1$", True),  # assignment vs value
    (r"1 \pm \sqrt{2}", r"1+\sqrt{2}, 1-\sqrt{2}", True),  # \pm expands to two values
    (r"\pm 2021", "2021", False),  # one of the two values is not enough
    (
        r"\begin{pmatrix}1\\2\end{pmatrix}",
        r"\boxed{\begin{pmatrix}1\\2\end{pmatrix}}",
        True,
    ),  # matrix
    (
        r"\begin{pmatrix}1\\2\end{pmatrix}",
        r"\boxed{\begin{pmatrix}1\\3\end{pmatrix}}",
        False,
    ),  # entry
    ("-2+7i", "7i - 2", True),  # complex number reordered
    ("$12:00$", "$1:00$", False),  # ratios / clock times compared item by item
    ("(p,q)=(3,2)", r"$\boxed{(3, 2)}$", True),  # named tuple
    ("$1331$ and $1728$", "$1728$", False),  # two answers expected, one given
    ("1,3", "Minimum: 1, Maximum: 3", True),  # labelled values
    ("16,3,1,1", "w=16, d=3, a=1, b=1", True),  # assignments as labels
    (r"\begin{pmatrix} -7 \\ 16 \\ 5 \end{pmatrix}", "(-7,16,5)", True),  # vector vs tuple
    (
        r"(\sqrt{2}, 0, \sqrt{2}), (\sqrt{2}, 0, -\sqrt{2}), (-\sqrt{2}, 0, \sqrt{2}), (-\sqrt{2}, 0, -\sqrt{2})",
        r"(\pm \sqrt{2}, 0, \pm \sqrt{2})",
        True,
    ),  # \pm inside a tuple
    ("f(x)=1", r"f(x) = 1 \text{ for all } x \in \mathbb{Q}", True),  # trailing qualifier
    (r"a \leqslant -2 \text{ or } a = 1", r"(-\infty, -2] \cup \{1\}", True),  # "or" as a union
    ("xy = 6", r"\dfrac{6}{x}", True),  # an equation solved for its one unknown
    (
        r"f(-3/4) \ge f(a^2 - a + 1)",
        r"f\left(-\frac{3}{4}\right) \geq f(a^2 - a + 1)",
        True,
    ),  # relation piecewise
    ("b < a < d < c", "a < b < c < d", False),  # a different order is a different relation
]

SYMBOLIC = [
    (r"1 - \sqrt{2}", "$1$", False),  # undelimited gold parsed whole (Math-Verify#74)
    (r"1 - \frac{1}{\mathrm{e}}", r"$1 + \frac{1}{\mathrm{e}}$", False),  # sign matters
    ("$4$", r"$4\sqrt(2)$", False),  # malformed sqrt is not dropped (Math-Verify#41)
    (r"\sqrt{1/n}", r"$\frac{1}{\sqrt{n}}$", True),  # equal for positive n
    (r"\frac{x+2}{7}", r"$\frac{x}{7}+\frac{2}{7}$", True),  # linear: no form constraint
    ("4(3-x)(3+x)", r"\boxed{(6-2x)(6+2x)}", False),  # not factored completely
    ("x^2+2x+1", r"Expanding, we get $\boxed{(x+1)^2}$", False),  # expanded form expected
    (r"\left(x-2\right)\left(x+2\right)", "(x-2)(x+2)", True),  # same factorisation
    ("3R^2", "a^2 + b^2 + c^2 - 12R^2", False),  # different expression
    (r"10\sqrt{3} + \sqrt4", r"10\sqrt3 + \sqrt{4}", True),  # malformed operators
    (r"2^{k-1}", r"\boxed{\infty}", False),  # infinity never equals a finite expression
    (r"\infty", r"+\infty", True),  # signed infinity
    ("f(n) = 2n+1007", "f(m) = 2m + 1007", True),  # renamed bound variable
    (r"x = k\pi", r"n\pi", True),  # renamed integer parameter
    ("$d$", r"$\text{E}$", False),  # a bare letter is a choice, never renamed
    (r"\frac{3}{2}n + \frac{1}{2}m", r"\dfrac{3n + m}{2}", True),  # `m` is not a unit here
    (r"10^{100}, 10^{1 / 100}", "10^{100}, 10^{0.01}", True),  # decimals are exact rationals
    ("$$f(x)=1$$", "$D = (0, 1.5)$", False),  # incomparable kinds: incorrect, not an error
    ("Petya will receive the last token.", "Petya", True),  # a phrase of a gold sentence
    ("Petya will receive the last token.", "Vasya", False),  # ... another name is not
    ("The answer is 5 apples in total", "apples", False),  # a gold with a number needs it
    (r"\text{infinitely many}", r"\infty", True),  # words for infinity
]

EXTRACTION = [
    ("5", r"\boxed{4} or \boxed{5}", False),  # hedge between two boxes
    ("5", "The answer is one of $1, 2, 3, 4, 5$.", False),  # listing candidates
    ("5", "4 or 5", False),  # hedge in words
    ("0", "", False),  # empty response
    ("0", r"\boxed{}", False),  # empty box
    ("C", r"The answer is \boxed{C}", True),  # multiple choice letter
    ("C", r"The answer is \boxed{(C)}", True),  # letter in parentheses
    ("C", r"The answer is \boxed{B}", False),  # wrong letter
    ("7", "<think>maybe \\boxed{3}</think> so \\boxed{7}", True),  # only after </think>
    ("3", "<think>maybe \\boxed{3}</think> so \\boxed{7}", False),  # reasoning is never graded
    ("3", "<think>maybe \\boxed{3} and then", False),  # unterminated think block
    ("3", "<answer>\\boxed{3}</answer>", True),  # R1-Zero answer tags
    ("41", r"share a common factor is \(\boxed{41}\).", True),  # box inside \( \)
    (r"\frac{7}{9}", r"the sum is \(\frac{7}{9}\).", True),  # last inline span
    ("120", "Final Answer: The volume of $V$ is 120. I hope it is correct.", True),  # phrase
    ("73", "Thus ... **73**.\n\nFinal Answer: **73**", True),  # markdown bold
    (r"\frac{1}{9}", r"So it's \frac{1}{9}", True),  # bare \frac in prose
    ("840", "so \\boxed{840}.\n\n**Final Answer**\n\\boxed{840}", True),  # same value twice
    ("(1,2),(2,1)", r"\boxed{(2, 1)}, \boxed{(1, 2)}", True),  # several final boxes = one set
]


@pytest.mark.parametrize(
    ("gold", "response", "expected"),
    NUMBERS + FORMATTING + STRUCTURES + SYMBOLIC + EXTRACTION,
)
def test_equivalence_table(gold: str, response: str, expected: bool) -> None:
    assert judge(gold, response) is expected


@pytest.mark.parametrize(
    ("gold", "response", "percent", "expected"),
    [
        (r"5\%", "0.05", "either", True),  # default: as written or divided by 100
        ("50", "0.5", "either", False),  # no x100 guessing without a % sign
        (r"5\%", "0.05", "strip", False),  # strip: the sign is a unit
        (r"5\%", "5", "strip", True),
        (r"5\%", "0.05", "fraction", True),  # fraction: 5% is 0.05
        (r"5\%", "0.05", "either", True),  # either reading
        (r"5\%", "5", "either", True),
    ],
)
def test_percent_policy(gold: str, response: str, percent: str, expected: bool) -> None:
    from verifiers.math import MathConfig

    verdict = verify_math(gold, response, config=MathConfig(percent=percent))  # type: ignore[arg-type]
    assert verdict.ok is expected


def test_ordered_bare_lists_option() -> None:
    from verifiers.math import MathConfig

    cfg = MathConfig(bare_lists="ordered")  # the MATH / hendrycks convention
    assert not verify_math("10, 4, -2", "4, 10, -2", config=cfg).ok
    assert verify_math("10, 4, -2", "10, 4, -2.0", config=cfg).ok


def test_interval_inequality_policy_off() -> None:
    from verifiers.math import MathConfig

    cfg = MathConfig(interval_inequality=False)
    assert not verify_math("(0, 12.5)", "$0 < x < 12.5$", config=cfg).ok


@pytest.mark.parametrize(
    ("gold", "response"),
    [
        ("$$f(x)=1$$", "$D = (0, 1.5)$"),  # an interval minus a symbol: sympy TypeError
        (
            r"-2 \le x \le 7",
            r"\left( -\frac{5\pi}{12} + k\pi, \frac{\pi}{12} + k\pi \right)",
        ),  # symbolic ends
        (r"137 \frac{1}{2}", r"\boxed{\frac{3 m}{2}-1}"),  # constant gold, polynomial answer
    ],
)
def test_incomparable_answers_are_incorrect_not_errors(gold: str, response: str) -> None:
    verdict = verify_math(gold, response)
    assert (verdict.status, verdict.reward) == ("incorrect", 0.0)
