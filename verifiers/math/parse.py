"""LaTeX → sympy, behind guards. Runs only inside the bounded worker processes.

Units are *not* stripped by the parser (its unit list removes a bare ``m`` from ``\\frac{1}{2}m``);
`normalize.strip_units` removes units only after a number.

Parser choice: ``latex2sympy2_extended`` (ANTLR grammar, the backend of Math-Verify). It already
handles what answers contain and sympy's own ``parse_latex`` (Lark or ANTLR) does not: ``\\frac12``
and ``\\sqrt3``, ``\\pm``, ``\\infty``, intervals, set braces, matrices (pmatrix/bmatrix/array),
``\\%``, degrees and implicit multiplication, and it is the parser whose behaviour on model output
is best documented (Math-Verify's 268 test cases). It never calls ``eval``. Its weaknesses (a
list ``1,2`` read as a set, ``(1,2)`` read as an interval, mixed numbers) are handled *before* it:
`compare.structure_of` splits lists, tuples and intervals, and `normalize.mixed_to_expression`
rewrites mixed numbers, so this module only ever parses one scalar, relation or matrix.

Guards (`guard`) refuse inputs that would make sympy run away, so they are answered at once instead
of burning the whole time bound: power towers, huge exponents and factorials, deep brace nesting
and overlong strings. Whatever slips through is still stopped by the worker's wall-clock kill.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

from verifiers.errors import ParseError

__all__ = ["ParseError", "guard", "to_sympy"]

_MAX_DEPTH = 40
_MAX_POW_DIGITS = 100_000  # an exact power with more digits than this is refused
# a chain of numeric powers `a^{b^{c}}`, with any braces or \\left( between the levels
_CHAIN = re.compile(r"\d+(?:\.\d+)?(?:\s*\^\s*(?:\{|\(|\\left\(|\s)*\d+(?:\.\d+)?)+")
_FACT = re.compile(r"(\d+)\s*!")
_DIGIT_RUN = re.compile(r"\d{1001,}")


def _depth(text: str) -> int:
    depth = best = 0
    for ch in text:
        if ch in "{([":
            depth += 1
            best = max(best, depth)
        elif ch in "})]":
            depth -= 1
    return best


def guard(text: str, max_chars: int = 2000) -> str | None:
    """Why `text` must not reach sympy, or None when it is safe to parse."""
    if len(text) > max_chars:
        return f"answer longer than {max_chars} characters"
    if _depth(text) > _MAX_DEPTH:
        return f"brackets nested deeper than {_MAX_DEPTH}"
    for m in _CHAIN.finditer(text):
        why = _power_chain(re.findall(r"\d+(?:\.\d+)?", m.group(0)))
        if why:
            return why
    if any(int(m.group(1)[:8]) > 5000 for m in _FACT.finditer(text)):
        return "factorial too large to evaluate exactly"
    if "^" in text and _DIGIT_RUN.search(text):
        return "a power of a 1000-digit number"
    return None


def _power_chain(numbers: list[str]) -> str:
    """Refuse a numeric power (tower) whose exact value would have too many digits."""
    log10 = math.log10(max(float(numbers[-1]), 1.0))
    for base in reversed(numbers[:-1]):
        b = float(base)
        if b <= 1:
            return ""
        if log10 > 300:
            return "power tower too large to evaluate exactly"
        log10 = 10**log10 * math.log10(b)
        if log10 > _MAX_POW_DIGITS:
            return "power too large to evaluate exactly"
    return ""


@lru_cache(maxsize=1)
def _parser() -> tuple[Any, Any, Any]:
    from latex2sympy2_extended import NormalizationConfig, latex2sympy
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig

    norm = NormalizationConfig(
        basic_latex=True,
        units=False,
        malformed_operators=True,
        nits=True,
        boxed="all",
        equations=False,
    )
    conv = ConversionConfig(interpret_as_mixed_fractions=False, lowercase_symbols=False)
    return latex2sympy, norm, conv


_MALFORMED_FRAC = re.compile(r"\\frac(\{[^{}]*\})([A-Za-z0-9])")
_PLAIN_FUNC = re.compile(r"(?<![\\A-Za-z])(sin|cos|tan|cot|sec|csc|ln|log|exp)(?=\s*[({\\])")


def _prepare(text: str) -> str:
    text = re.sub(r"\\sqrt\s*\(([^()]*)\)", r"\\sqrt{\1}", text)  # \sqrt(2) is √2 (MV#41)
    text = _MALFORMED_FRAC.sub(r"\\frac\1{\2}", text)  # \frac{1+a}c
    text = _PLAIN_FUNC.sub(r"\\\1", text)  # `\text{sin}(x)` became `sin(x)`
    return text.replace("\\infty", "\\infty ").replace("\\mid", "|")


def _exact_decimals(expr: Any) -> Any:
    """Decimal literals are exact: `10^{0.01}` is `10^{1/100}` (a Float would differ at 1e-17)."""
    import sympy as sp

    floats = expr.atoms(sp.Float) if hasattr(expr, "atoms") else set()
    if not floats:
        return expr
    return expr.xreplace({f: sp.Rational(str(f)) for f in floats if f.is_finite})


@lru_cache(maxsize=4096)
def to_sympy(text: str, max_chars: int = 2000) -> Any:
    """Parse one answer (scalar, relation, set or matrix) into sympy; ParseError when impossible."""
    why = guard(text, max_chars)
    if why:
        raise ParseError(why)
    latex2sympy, norm, conv = _parser()
    try:
        value = latex2sympy(_prepare(text), normalization_config=norm, conversion_config=conv)
        return _exact_decimals(value)
    except (RecursionError, MemoryError) as exc:
        raise ParseError(f"{type(exc).__name__} while parsing") from exc
    except Exception as exc:  # the ANTLR parser raises many unrelated types on bad input
        raise ParseError(f"cannot parse {text[:60]!r}: {type(exc).__name__}") from exc
