"""Typed comparison of function-call results: a recorded value against the expected value.

Function tests (``cases``) are compared here, in the verifier, on decoded plain values (never on
an object the candidate made). The rule follows what users of HumanEval, MBPP and LeetCode
datasets expect, and the test's ``checker`` (:mod:`verifiers.code.schema`):

==========================  =====================================================================
checker                     a result equals the expected value when
==========================  =====================================================================
``equal`` (default)         Python ``==``, except that ``bool`` is not a number: ``True`` never
                            equals ``1`` (nor ``False`` ``0``/``0.0``), at any depth, as LeetCode's
                            JSON judge and typed languages see it. ``1 == 1.0`` (Python numbers);
                            ``[1] != (1,)``; ``{1} == frozenset({1})``; NaN equals NaN (the
                            right answer where NaN is expected).
``equal:strict``            as ``equal``, and exact types: ``1 != 1.0``, ``set != frozenset``.
``equal:python``            Python ``==`` on the decoded values, as the ``assert f(x) == y`` the
                            case was read from would decide (``True == 1``): ingest gives it to
                            every case it reads from a dataset's asserts (HumanEval, MBPP,
                            LeetCode), so the case passes exactly when the dataset's assert does
                            (MBPP 414's reference returns ``0`` for ``== False``).
``float:abs=A,rel=R``       as ``equal``, but two numbers (int or float, not bool) match within
                            ``A`` absolute or ``R`` relative error (testlib ``doubleCompare``), at
                            any depth of lists, tuples, dict values and object fields; an integer
                            beyond 2**53 only matches itself; NaN/inf only the same NaN/inf.
==========================  =====================================================================

Why two rules: a case written as data (a JSON ``expected``, LeetCode's typed judge) says
``true`` or ``1`` and means it, so ``equal`` tells them apart; an assert is Python, and a user of
an assert-based dataset expects its verdict, so assert items (run as written) and the cases
ingest reads from asserts (``equal:python``) keep Python's ``==``.

Every comparison is total (issue 9, class 4): any decoded value on either side (``Decimal('sNaN')``,
cyclic objects, 10,000-deep lists, huge ints) gives True or False, never an exception; and
`decode_value` turns any record node into a value or `MALFORMED` without raising.

>>> values_equal(True, 1), values_equal(1, 1.0), values_equal(1, 1.0, strict=True)
(False, True, False)
>>> compare_values(True, 1, "equal:python"), compare_values(0.1 + 0.2, 0.3, "float:abs=1e-9")
(True, True)
>>> values_equal([0.1 + 0.2], [0.3], tolerance=(1e-9, 0.0))
True
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal
from fractions import Fraction
from typing import Any

from verifiers.code import codec

__all__ = [
    "MALFORMED",
    "MAX_DEPTH",
    "compare_values",
    "decode_value",
    "parse_value_checker",
    "short_repr",
    "values_equal",
]

MAX_DEPTH = 400  # deeper than the codec encodes (200): only a forged record gets here
_EXACT_FLOAT_INT = 2**53
_SEQUENCES = (list, tuple, deque)
_SETS = (set, frozenset)


class _Malformed:
    """A record node that does not decode: equal to nothing."""

    def __repr__(self) -> str:
        return "<malformed value>"


MALFORMED: Any = _Malformed()


def decode_value(node: Any) -> Any:
    """`codec.decode` for a node from the candidate's record; `MALFORMED` instead of raising
    (a forged node may be anything: a Fraction over zero, a bad Decimal, 10,000 levels deep)."""
    try:
        return codec.decode(node)
    except (
        Exception,
        RecursionError,
        MemoryError,
    ):  # the candidate wrote it: never a fault of ours
        return MALFORMED


def parse_value_checker(spec: str) -> tuple[tuple[float, float] | None, bool]:
    """(tolerance, strict) of a function test's ``checker``: ``float:…`` and ``equal:strict`` as
    in the module docstring; any other spec (the schema's default ``equal``, or a stdio checker
    name) is ``equal``."""
    spec = (spec or "").strip()
    if spec == "equal:strict":
        return None, True
    if spec == "float" or spec.startswith("float:"):
        from verifiers.code.checkers import get_checker

        try:
            checker = get_checker(spec)
        except ValueError:  # the schema validated it already; a bad one here compares exactly
            return None, False
        return (checker.abs_tol, checker.rel_tol), False
    return None, False


def compare_values(got: Any, want: Any, checker: str = "equal") -> bool:
    """Does the result ``got`` equal ``want`` under the tests' ``checker``? Never raises."""
    if (checker or "").strip() == "equal:python":
        return _python_equal(got, want)
    tolerance, strict = parse_value_checker(checker)
    return values_equal(got, want, tolerance=tolerance, strict=strict)


def values_equal(
    got: Any, want: Any, *, tolerance: tuple[float, float] | None = None, strict: bool = False
) -> bool:
    """Typed equality (``equal``/``equal:strict``/``float:…``, see the module docstring); never
    raises."""
    try:
        return _equal(got, want, tolerance, strict, 0, set())
    except (Exception, RecursionError, MemoryError):  # e.g. a hostile __eq__ on a decoded class
        return False


def _equal(g: Any, w: Any, tol, strict: bool, depth: int, seen: set) -> bool:
    if depth > MAX_DEPTH or g is MALFORMED or w is MALFORMED:
        return False
    if isinstance(g, codec.Unserializable) or isinstance(w, codec.Unserializable):
        return False
    if _is_number(g) or _is_number(w):
        return _numbers_equal(g, w, tol, strict)
    if strict and type(g) is not type(w):
        return False
    d = depth + 1
    if isinstance(g, _SEQUENCES) and isinstance(w, _SEQUENCES):
        if not _same_kind(g, w) or len(g) != len(w):
            return False
        for a, b in zip(g, w, strict=True):  # noqa: SIM110 (a loop: one frame per level)
            if not _equal(a, b, tol, strict, d, seen):
                return False
        return True
    if isinstance(g, dict) and isinstance(w, dict):
        return _mappings_equal(g, w, tol, strict, d, seen)
    if isinstance(g, _SETS) and isinstance(w, _SETS):
        return _sets_equal(g, w, tol, strict, d, seen)
    if isinstance(g, codec.PlainObject) and isinstance(w, codec.PlainObject):
        key = (id(g), id(w))
        if key in seen:  # a cycle: equal so far
            return True
        seen.add(key)
        return g.cls == w.cls and _mappings_equal(g.attrs, w.attrs, tol, strict, d, seen)
    if type(g) in _PLAIN and type(w) in _PLAIN:
        return type(g) is type(w) and g == w
    return _python_equal(g, w)


_PLAIN = (str, bytes, bytearray, type(None))


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float | complex | Decimal | Fraction)


def _same_kind(g: Any, w: Any) -> bool:
    """Python's sequence equality: a list only equals a list, a tuple a tuple."""
    return next(t for t in _SEQUENCES if isinstance(g, t)) is next(
        t for t in _SEQUENCES if isinstance(w, t)
    )


def _numbers_equal(g: Any, w: Any, tol, strict: bool) -> bool:
    if not (_is_number(g) and _is_number(w)):
        return False
    if isinstance(g, bool) or isinstance(w, bool):
        return type(g) is type(w) and g == w  # True is not 1 (issue 9, class 7d)
    if strict and type(g) is not type(w):
        return False
    if _is_nan(g) or _is_nan(w):
        return _is_nan(g) and _is_nan(w)
    if tol is not None and isinstance(g, int | float) and isinstance(w, int | float):
        return _close(g, w, *tol)
    return _python_equal(g, w)


def _is_nan(x: Any) -> bool:
    if isinstance(x, float):
        return math.isnan(x)
    if isinstance(x, Decimal):
        return x.is_nan()  # NaN and sNaN, without comparing (sNaN raises on ==)
    if isinstance(x, complex):
        return math.isnan(x.real) or math.isnan(x.imag)
    return False


def _close(g: int | float, w: int | float, abs_tol: float, rel_tol: float) -> bool:
    if isinstance(g, int) and isinstance(w, int):
        return g == w  # integers exactly, never through floats (C8)
    for x in (g, w):
        if isinstance(x, int) and abs(x) > _EXACT_FLOAT_INT:
            return False  # a float cannot stand for this integer
    gf, wf = float(g), float(w)
    if math.isinf(gf) or math.isinf(wf):
        return gf == wf  # an infinity only matches the same infinity (C9)
    diff = abs(gf - wf)
    return diff <= abs_tol or diff <= rel_tol * abs(wf)


def _python_equal(g: Any, w: Any) -> bool:
    if g is MALFORMED or w is MALFORMED:
        return False
    try:
        return bool(g == w)
    except (Exception, RecursionError, MemoryError):  # Decimal('sNaN') == x: InvalidOperation
        return False


def _mappings_equal(g: dict, w: dict, tol, strict: bool, depth: int, seen: set) -> bool:
    if len(g) != len(w):
        return False
    index = {k: k for k in w}
    for key, value in g.items():
        twin = _twin(index, key)
        if twin is _MISSING or not _equal(key, twin, None, strict, depth, seen):
            return False
        if not _equal(value, w[twin], tol, strict, depth, seen):
            return False
    return True


_MISSING = object()


def _twin(index: dict, key: Any) -> Any:
    """The member of ``index`` (``{k: k}``) that Python takes for ``key`` (``1`` for ``True``),
    or _MISSING; the typed comparison of the two comes after."""
    try:
        return index.get(key, _MISSING)
    except (Exception, RecursionError):
        return _MISSING


def _sets_equal(g, w, tol, strict: bool, depth: int, seen: set) -> bool:
    if len(g) != len(w):
        return False
    index = {k: k for k in w}
    for item in g:
        twin = _twin(index, item)
        if twin is _MISSING or not _equal(item, twin, None, strict, depth, seen):
            return False  # set members compare exactly: no tolerance inside a set
    return True


def short_repr(value: Any, limit: int = 120) -> str:
    """A short text for a reason; total (a deep list or a huge int never raises here)."""
    try:
        text = repr(value)
    except (Exception, RecursionError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
