"""Output checkers for stdin/stdout tests: does the program's output match an accepted answer?

Every checker compares *bytes the program wrote* with the expected text, in the verifier process,
after the program is dead (hostile-cases C5/C7/C8). What "the same" means is the problem's choice,
never the verifier's leniency:

===================  ==============================================================================
spec                 accepts
===================  ==============================================================================
``tokens``           the same whitespace-separated tokens, byte for byte (testlib ``wcmp``; default)
``exact``            the same bytes
``lines``            the same lines, trailing whitespace of each line and trailing blank lines ignored
``unordered_lines``  the same lines (as ``lines``) in any order, with multiplicity
``float:abs=A,rel=R`` tokens; numeric tokens within ``A`` absolute or ``R`` relative error; integers
                     exactly (never through a float); NaN/inf only against the same NaN/inf
``program``          a testlib-style checker program (run by the judge, in the sandbox)
===================  ==============================================================================

Numbers are read with a strict ASCII grammar: ``1_000``, ``١٢٣`` (Arabic-Indic digits), ``0x10``
and `` +5`` are not numbers, so they only match the identical token (C10). Invalid UTF-8 in the
output is compared as bytes and simply does not match (C11).

Every checker is *total* (issue 9, class 4): whatever bytes the program wrote, ``check`` returns a
`CheckResult` and never raises, so a candidate cannot turn a wrong answer into a verifier fault
(reward None). Integers are compared as digit strings, never through ``int()`` (a 5,000-digit
token would exceed CPython's int/str conversion limit), and tokens and lines are read lazily or
counted first, so the verifier holds no more than one copy of the output.

>>> get_checker("tokens").check(b"1  2\\n", "1 2").ok
True
>>> get_checker("float:abs=1e-6").check(b"1e18", "1000000000000000001").ok
False
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["CheckResult", "Checker", "get_checker"]

_INT = re.compile(rb"-?[0-9]+")
_FLOAT = re.compile(rb"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_TOKEN = re.compile(rb"[^ \t\n\r\x0b\x0c]+")  # what bytes.split() splits on
_SPECIAL = {b"nan": "nan", b"-nan": "nan", b"inf": "inf", b"+inf": "inf", b"-inf": "-inf"}
_EXACT_FLOAT_DIGITS = 15  # an integer of more digits may not be exactly a double (2**53 has 16)
_TRAILING = b" \t\r\f\v\n"


@dataclass(frozen=True, kw_only=True, slots=True)
class CheckResult:
    ok: bool
    reason: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Checker:
    """A parsed checker spec; `check` compares one output with one expected answer."""

    kind: str
    abs_tol: float = 0.0
    rel_tol: float = 0.0

    def check(self, output: bytes, expected: str) -> CheckResult:
        """Compare; total on any output (bytes, or text) and any expected text."""
        got, want = _as_bytes(output), _as_bytes(expected)
        if self.kind == "exact":
            return _result(got == want, "bytes differ")
        if self.kind == "tokens":
            return _compare_tokens(got, want, _same_bytes)
        if self.kind in ("lines", "unordered_lines"):
            return _compare_lines(got, want, ordered=self.kind == "lines")
        if self.kind == "float":
            return _compare_tokens(got, want, self._numbers_match)
        raise ValueError(f"checker {self.kind!r} does not compare in-process")

    def _numbers_match(self, got: bytes, want: bytes) -> bool:
        return _numbers_match(got, want, self.abs_tol, self.rel_tol)

    def check_any(self, output: bytes, accepted: tuple[str, ...]) -> CheckResult:
        """AC if the output matches any accepted answer (xCodeEval lists several)."""
        first = CheckResult(ok=False, reason="no accepted answer")
        for i, expected in enumerate(accepted):
            got = self.check(output, expected)
            if got.ok:
                return got
            if i == 0:
                first = got
        return first


def _as_bytes(data: bytes | str) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    try:
        return str(data).encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte ('\ud800')
        return str(data).encode("utf-8", "surrogatepass")


def _same_bytes(got: bytes, want: bytes) -> bool:
    return got == want


def _result(ok: bool, reason: str) -> CheckResult:
    return CheckResult(ok=True) if ok else CheckResult(ok=False, reason=reason)


def _show(token: bytes) -> str:
    text = token.decode("utf-8", "replace")
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _compare_tokens(got: bytes, want: bytes, same: Callable[[bytes, bytes], bool]) -> CheckResult:
    """Token by token, lazily (no list of the output's tokens); then the counts: a prefix of the
    answer is not the answer (C7: never zip without strict)."""
    mine, theirs = _TOKEN.finditer(got), _TOKEN.finditer(want)
    i = 0
    for w in theirs:
        g = next(mine, None)
        if g is None:
            return CheckResult(ok=False, reason=f"{i} tokens, expected {i + 1 + _count(theirs)}")
        if not same(g.group(), w.group()):
            return CheckResult(
                ok=False, reason=f"token {i}: {_show(g.group())} vs {_show(w.group())}"
            )
        i += 1
    extra = _count(mine)
    if extra:
        return CheckResult(ok=False, reason=f"{i + extra} tokens, expected {i}")
    return CheckResult(ok=True)


def _count(matches: Iterator[re.Match[bytes]]) -> int:
    return sum(1 for _ in matches)


def _compare_lines(got: bytes, want: bytes, *, ordered: bool) -> CheckResult:
    """Lines without trailing whitespace, trailing blank lines ignored (stripping the whole text's
    tail is the same thing); the line counts first, so a flood of newlines is never split."""
    got, want = got.rstrip(_TRAILING), want.rstrip(_TRAILING)
    n_got, n_want = got.count(b"\n") + bool(got), want.count(b"\n") + bool(want)
    if n_got != n_want:
        return CheckResult(ok=False, reason=f"{n_got} lines, expected {n_want}")
    mine, theirs = _lines(got), _lines(want)
    if ordered:
        return _result(mine == theirs, "lines differ")
    return _result(sorted(mine) == sorted(theirs), "line multisets differ")


def _lines(data: bytes) -> list[bytes]:
    return [line.rstrip(b" \t\r\f\v") for line in data.split(b"\n")] if data else []


def _number(token: bytes) -> bytes | float | str | None:
    """A canonical integer (digit bytes, sign kept, leading zeros dropped: never `int()`, which
    refuses 5,000 digits), a float, 'nan'/'inf'/'-inf', or None for a token that is no number."""
    if _INT.fullmatch(token):
        sign, digits = (b"-", token[1:]) if token.startswith(b"-") else (b"", token)
        digits = digits.lstrip(b"0") or b"0"
        return digits if digits == b"0" else sign + digits
    if _FLOAT.fullmatch(token):
        return float(token)  # any length; a huge exponent is inf, rejected below
    return _SPECIAL.get(token.lower())


def _as_float(value: bytes | float) -> float | None:
    """The float for a number; None for an integer that a double cannot hold exactly."""
    if isinstance(value, float):
        return value
    if len(value.lstrip(b"-")) > _EXACT_FLOAT_DIGITS:
        return None  # a float cannot stand for this integer (C8)
    return float(value)


def _numbers_match(got: bytes, want: bytes, abs_tol: float, rel_tol: float) -> bool:
    if got == want:
        return True
    g, w = _number(got), _number(want)
    if g is None or w is None:
        return False
    if isinstance(g, str) or isinstance(w, str):
        return g == w  # NaN and infinities match only themselves (C9)
    if isinstance(g, bytes) and isinstance(w, bytes):
        return g == w  # integers exactly, never through floats (C8)
    gf, wf = _as_float(g), _as_float(w)
    if gf is None or wf is None:
        return False
    if not (math.isfinite(gf) and math.isfinite(wf)):
        return False  # "1e309" overflows to inf: not a finite answer
    diff = abs(gf - wf)
    return diff <= abs_tol or diff <= rel_tol * abs(wf)


@lru_cache(maxsize=64)
def get_checker(spec: str) -> Checker:
    """Parse a checker spec (see the module docstring); ValueError names a bad one."""
    spec = (spec or "tokens").strip()
    if spec in ("tokens", "exact", "lines", "unordered_lines", "program"):
        return Checker(kind=spec)
    if spec == "float" or spec.startswith("float:"):
        tol = {"abs": 0.0, "rel": 0.0}
        for part in filter(None, spec[len("float") :].lstrip(":").split(",")):
            key, _, value = part.partition("=")
            try:
                number = float(value)
            except ValueError:
                number = -1.0
            if key not in tol or not (number >= 0 and math.isfinite(number)):
                raise ValueError(f"checker {spec!r}: expected float:abs=<x>,rel=<y> with x, y >= 0")
            tol[key] = number
        if spec == "float":
            tol = {"abs": 1e-6, "rel": 1e-6}
        return Checker(kind="float", abs_tol=tol["abs"], rel_tol=tol["rel"])
    raise ValueError(
        f"checker {spec!r}: use tokens, exact, lines, unordered_lines, float:abs=…,rel=… or program"
    )
