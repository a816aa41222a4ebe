"""Judging, cheapest first: strings, then exact numbers, then (in a worker) symbolic equivalence.

`judge_fast` runs in the calling process and decides most answers without sympy: equal normalised
strings, multiple-choice letters, and exact integer/rational arithmetic on numbers and lists of
numbers. It returns None when only the symbolic stage (`verifiers.math.symbolic`, run in the bounded
worker pool) can decide.

Numeric policy (math-verification.md §6.2): integers and fractions are compared exactly; a tolerance
exists only when the gold is a decimal (`decimal_slack`: gold ``21.93`` accepts ``21\\frac{13}{14}``;
an answer rounded less precisely, ``118`` for ``117.95``, passes too), or when a decimal answer with
at least `decimal_sig_digits` significant digits approximates an exact non-integer gold (``0.3333``
for ``\\frac{1}{3}``). ``10000`` never equals ``10001``: there is no tolerance between integers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from verifiers.math.normalize import Normalized, Number, parse_number
from verifiers.math.structure import structure_of

__all__ = ["Decision", "decimal_slack", "judge_fast", "numbers_equal"]

_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_LETTER = re.compile(r"^\(?([A-Ea-e])\)?$")


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether the answer matched, and which comparison decided it."""

    equal: bool
    match: str
    reason: str = ""


def numbers_equal(gold: Number, pred: Number, sig_digits: int) -> Decision:
    """Exact comparison of two numbers, with the decimal tolerances of the module docstring."""
    if gold.is_integer and pred.is_integer:  # never a tolerance between integers
        return Decision(gold.digits == pred.digits, "exact-integer")
    if gold.value is None or pred.value is None:
        return Decision(False, "exact-integer", "one side is a huge integer, the other is not")
    g, p = gold.value, pred.value
    if g == p:
        return Decision(True, "exact-rational")
    if g.denominator == 1 and not gold.decimals:
        return Decision(False, "exact-rational", "an integer gold needs the exact integer")
    if gold.decimals:
        shown = pred.decimals or 0
        if shown < gold.decimals and _sig_digits(pred) >= (2 if shown else 3):
            # a less precise rounding of the gold (`2.65` for `2.653`, `118` for `117.95`)
            return Decision(abs(g - p) <= Fraction(1, 2 * 10**shown), "decimal-rounding")
        return Decision(abs(g - p) <= decimal_slack(gold), "decimal-rounding")
    if pred.decimals and _sig_digits(pred) >= sig_digits:
        return Decision(abs(g - p) <= Fraction(1, 10**pred.decimals), "decimal-approximation")
    return Decision(False, "exact-rational")


def decimal_slack(gold: Number) -> Fraction:
    """Tolerance of a decimal gold: half a unit of its last digit (its rounding), or a whole unit
    when it shows 4+ significant digits (golds are often truncated: `41.494` for 41.4949…). A gold
    with fewer than 3 significant digits (`0.5`, `2.5`) is an exact value: no tolerance."""
    sig = _sig_digits(gold)
    if sig < 3:
        return Fraction(0)
    unit = Fraction(1, 10 ** (gold.decimals or 0))
    return unit if sig >= 4 else unit / 2


def _sig_digits(number: Number) -> int:
    value = abs(number.value or Fraction(0))
    if value == 0:
        return 0
    whole = len(str(int(value))) if value >= 1 else 0
    return whole + (number.decimals or 0) - (0 if value >= 1 else _leading_zeros(value))


def _leading_zeros(value: Fraction) -> int:
    zeros = 0
    while value < Fraction(1, 10) and zeros < 400:
        value *= 10
        zeros += 1
    return zeros


def _percent_variants(num: Number, flagged: bool, policy: str) -> list[Number]:
    if not flagged or policy == "strip" or num.value is None:
        return [num]
    scaled = Number(num.value / 100, decimals=(num.decimals or 0) + 2)
    return [scaled] if policy == "fraction" else [num, scaled]


def _numbers(gold: Normalized, pred: Normalized, opts: dict[str, Any]) -> Decision | None:
    g, p = parse_number(gold.text), parse_number(pred.text)
    if g is None or p is None:
        return None
    if opts["percent"] != "strip" and gold.percent != pred.percent:
        golds = _percent_variants(g, gold.percent, opts["percent"])
        preds = _percent_variants(p, pred.percent, opts["percent"])
        decisions = [numbers_equal(a, b, opts["decimal_sig_digits"]) for a in golds for b in preds]
        return next((d for d in decisions if d.equal), decisions[-1])
    return numbers_equal(g, p, opts["decimal_sig_digits"])


def _number_lists(gold: str, pred: str, opts: dict[str, Any]) -> Decision | None:
    """Lists, tuples and sets of plain numbers, decided exactly (order per the structure)."""
    gk, gi = structure_of(gold)
    pk, pi = structure_of(pred)
    if gk == "scalar" or pk == "scalar":
        return None
    parsed_g, parsed_p = [parse_number(x) for x in gi], [parse_number(x) for x in pi]
    gn = [n for n in parsed_g if n is not None]
    pn = [n for n in parsed_p if n is not None]
    if len(gn) != len(parsed_g) or len(pn) != len(parsed_p):  # an item is not a plain number
        return None
    if len(gn) != len(pn):
        return Decision(False, f"{gk}-length", f"{len(pn)} items for {len(gn)} expected")
    if "ratio" in (gk, pk) and gk != pk:
        return None
    ordered = gk in ("tuple", "interval", "ratio") or (
        gk == "list" and opts["bare_lists"] == "ordered"
    )
    if (gk == "interval" or pk == "interval") and gold[0] + gold[-1] != pred[0] + pred[-1]:
        return None if gk != pk else Decision(False, "interval", "open/closed ends differ")
    if gk in ("tuple", "interval") and pk not in ("tuple", "interval"):
        return None
    sig = opts["decimal_sig_digits"]
    if ordered:
        ok = all(numbers_equal(a, b, sig).equal for a, b in zip(gn, pn, strict=True))
        return Decision(ok, f"{gk}-ordered")
    unused = list(pn)
    for a in gn:
        hit = next((b for b in unused if numbers_equal(a, b, sig).equal), None)
        if hit is None:
            return Decision(False, f"{gk}-unordered")
        unused.remove(hit)
    return Decision(True, f"{gk}-unordered")


def _letters(gold: Normalized, pred: Normalized) -> Decision | None:
    g = _LETTER.match(gold.compact)
    if g is None or not g.group(1).isupper():
        return None
    p = _LETTER.match(pred.compact)
    if p is None:
        return None
    return Decision(g.group(1).upper() == p.group(1).upper(), "choice-letter")


def _comma_as_point(norm: Normalized) -> Normalized:
    if not _DECIMAL_COMMA.fullmatch(norm.compact):
        return norm
    text = norm.compact.replace(",", ".")
    return Normalized(text, text, norm.percent, norm.degrees)


def judge_fast(gold: Normalized, pred: Normalized, opts: dict[str, Any]) -> Decision | None:
    """Decide without sympy, or return None to send the pair to the symbolic stage."""
    if gold.compact == pred.compact and (
        opts["percent"] != "fraction" or gold.percent == pred.percent
    ):
        return Decision(True, "string")
    if not pred.compact:
        return Decision(False, "string", "empty answer")
    if "." in gold.compact + pred.compact:  # a European decimal comma against a decimal point
        gold, pred = _comma_as_point(gold), _comma_as_point(pred)
    return (
        _letters(gold, pred)
        or _numbers(gold, pred, opts)
        or _number_lists(gold.text, pred.text, opts)
    )
