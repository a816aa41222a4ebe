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

>>> get_checker("tokens").check(b"1  2\\n", "1 2").ok
True
>>> get_checker("float:abs=1e-6").check(b"1e18", "1000000000000000001").ok
False
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["CheckResult", "Checker", "get_checker"]

_INT = re.compile(rb"-?[0-9]+")
_FLOAT = re.compile(rb"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_SPECIAL = {b"nan": "nan", b"-nan": "nan", b"inf": "inf", b"+inf": "inf", b"-inf": "-inf"}
_EXACT_FLOAT_INT = 2**53  # beyond this an integer is not exactly a double


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
        want = expected.encode("utf-8", "surrogateescape")
        if self.kind == "exact":
            return _result(output == want, "bytes differ")
        if self.kind == "tokens":
            return _compare_tokens(output.split(), want.split())
        if self.kind == "lines":
            return _result(_lines(output) == _lines(want), "lines differ")
        if self.kind == "unordered_lines":
            return _result(sorted(_lines(output)) == sorted(_lines(want)), "line multisets differ")
        if self.kind == "float":
            return self._compare_floats(output.split(), want.split())
        raise ValueError(f"checker {self.kind!r} does not compare in-process")

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

    def _compare_floats(self, got: list[bytes], want: list[bytes]) -> CheckResult:
        if len(got) != len(want):
            return CheckResult(ok=False, reason=f"{len(got)} tokens, expected {len(want)}")
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if not _numbers_match(g, w, self.abs_tol, self.rel_tol):
                return CheckResult(ok=False, reason=f"token {i}: {_show(g)} vs {_show(w)}")
        return CheckResult(ok=True)


def _result(ok: bool, reason: str) -> CheckResult:
    return CheckResult(ok=True) if ok else CheckResult(ok=False, reason=reason)


def _show(token: bytes) -> str:
    text = token.decode("utf-8", "replace")
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _compare_tokens(got: list[bytes], want: list[bytes]) -> CheckResult:
    # Counts first: a prefix of the answer is not the answer (C7: never zip without strict).
    if len(got) != len(want):
        return CheckResult(ok=False, reason=f"{len(got)} tokens, expected {len(want)}")
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if g != w:
            return CheckResult(ok=False, reason=f"token {i}: {_show(g)} vs {_show(w)}")
    return CheckResult(ok=True)


def _lines(data: bytes) -> list[bytes]:
    lines = [line.rstrip(b" \t\r\f\v") for line in data.split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _number(token: bytes) -> int | float | str | None:
    """An int, a float, 'nan'/'inf'/'-inf', or None for a token that is not a number."""
    if _INT.fullmatch(token):
        return int(token)
    if _FLOAT.fullmatch(token):
        return float(token)
    return _SPECIAL.get(token.lower())


def _numbers_match(got: bytes, want: bytes, abs_tol: float, rel_tol: float) -> bool:
    if got == want:
        return True
    g, w = _number(got), _number(want)
    if g is None or w is None:
        return False
    if isinstance(g, str) or isinstance(w, str):
        return g == w  # NaN and infinities match only themselves (C9)
    if isinstance(g, int) and isinstance(w, int):
        return g == w  # integers exactly, never through floats (C8)
    for value in (g, w):
        if isinstance(value, int) and abs(value) > _EXACT_FLOAT_INT:
            return False  # a float cannot stand for this integer
    gf, wf = float(g), float(w)
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
