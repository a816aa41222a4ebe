"""Typed comparison of function-call results (verifiers.code.compare): the rule, and totality."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifiers.code.codec import PlainObject, Unserializable, encode
from verifiers.code.compare import (
    MALFORMED,
    compare_values,
    decode_value,
    short_repr,
    values_equal,
)

TOL = "float:abs=1e-6,rel=1e-6"
CHECKERS = ("equal", "equal:strict", "equal:python", TOL, "float", "tokens", "")


@pytest.mark.parametrize(
    ("got", "want", "checker", "same"),
    [
        (True, 1, "equal", False),  # a bool is not a number (LeetCode's typed judge)
        (1, True, "equal", False),  # either way round
        (False, 0.0, "equal", False),
        ([True, 2], [1, 2], "equal", False),  # at any depth
        ({"k": True}, {"k": 1}, "equal", False),  # dict values
        ({True: "a"}, {1: "a"}, "equal", False),  # dict keys
        ({True}, {1}, "equal", False),  # set members
        (True, True, "equal", True),  # control: the same bool
        (True, 1, "equal:python", True),  # a case read from `assert f() == 1`: Python's ==
        (0, False, "equal:python", True),  # MBPP 414's reference
        (2, True, "equal:python", False),  # control: Python says no too
        (1, 1.0, "equal", True),  # Python numbers
        (1, 1.0, "equal:strict", False),  # exact types where the schema says so
        ([1, 2], (1, 2), "equal", False),  # a list is not a tuple (Python ==)
        ({1}, frozenset({1}), "equal", True),  # Python ==
        ({1}, frozenset({1}), "equal:strict", False),
        (float("nan"), float("nan"), "equal", True),  # NaN where NaN is expected
        (float("nan"), 1.0, "equal", False),
        (0.1 + 0.2, 0.3, "equal", False),  # no tolerance unless declared
        (0.1 + 0.2, 0.3, TOL, True),  # declared tolerance
        ([0.1 + 0.2, (1.0000001, {"x": 2.0000001})], [0.3, (1, {"x": 2})], TOL, True),  # nested
        (0.301, 0.3, TOL, False),  # outside it
        (True, 1.0, TOL, False),  # a bool is no number under tolerance either
        (3, 3.0000001, TOL, True),  # int against float
        (10**18 + 1, 1e18, TOL, False),  # a float cannot stand for a big int (C8)
        (10**18 + 1, 10**18, TOL, False),  # ints exactly
        (float("inf"), float("inf"), TOL, True),
        (float("inf"), float("-inf"), TOL, False),  # C9
        (float("nan"), 0.0, TOL, False),  # C9
        ({0.30000000000000004}, {0.3}, TOL, False),  # set members compare exactly
        ("1", 1, TOL, False),  # text is not a number
        (Decimal("sNaN"), 1, "equal", False),  # `==` raises InvalidOperation: never here
        (Decimal("sNaN"), Decimal("1"), "equal:python", False),
        (Decimal("0.5"), 0.5, "equal", True),
        (Fraction(1, 3), Fraction(2, 6), "equal", True),
        (Unserializable("E"), Unserializable("E"), "equal", False),  # opaque markers never match
        (MALFORMED, MALFORMED, "equal:python", False),
        (None, None, "equal", True),
        (b"ab", "ab", "equal", False),
    ],
)
def test_the_rule(got, want, checker, same) -> None:
    assert compare_values(got, want, checker) is same


def test_cyclic_objects_compare_without_recursing_forever() -> None:
    a, b = PlainObject("ListNode", {}), PlainObject("ListNode", {})
    a.attrs = {"val": 1, "next": a}
    b.attrs = {"val": 1, "next": b}
    c = PlainObject("ListNode", {"val": 2, "next": None})
    assert values_equal(a, b)
    assert not values_equal(a, c)


def test_deep_values_are_compared_not_raised() -> None:
    deep_a, deep_b, deep_c = 0, 0, 1
    for _ in range(5000):  # past the interpreter's recursion limit
        deep_a, deep_b, deep_c = [deep_a], [deep_b], [deep_c]
    for checker in CHECKERS:
        assert compare_values(deep_a, deep_c, checker) is False
        assert isinstance(compare_values(deep_a, deep_b, checker), bool)
    assert short_repr(deep_a) == "<list>"  # repr() itself would raise RecursionError
    assert short_repr(10**5000) == "<int>"  # repr() raises past 4,300 digits


@pytest.mark.parametrize(
    "node",
    [
        ["Q", "1", "0"],  # a Fraction over zero
        ["D", "not a number"],  # a Decimal that does not parse
        ["i", "9" * 5000],  # more digits than int() takes
        ["i", "--1"],
        ["f", "1" * 5000],  # a 5,000-digit float: inf, a value
        ["c", "x", "1"],
        ["d", [[["l", []], ["n"]]]],  # an unhashable key
        ["o", "X", ["unhashable"], []],
        ["r", 99],  # a back reference to nothing
        ["y", "zz"],
        ["zz"],
        [],
        None,
        12,
        "n",
        {"a": 1},
    ],
)
def test_any_record_node_decodes_or_is_malformed(node) -> None:
    value = decode_value(node)
    for checker in CHECKERS:
        assert isinstance(compare_values(value, 1, checker), bool)
    assert isinstance(short_repr(value), str)


def test_a_node_nested_past_the_recursion_limit_is_malformed() -> None:
    node: list = ["n"]
    for _ in range(20000):
        node = ["l", [node]]
    assert decode_value(node) is MALFORMED


# -- properties ------------------------------------------------------------------------------
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.binary(max_size=8)
    | st.decimals(allow_nan=True)
    | st.fractions()
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=3) | st.integers(), inner, max_size=3)
        | st.frozensets(st.integers() | st.text(max_size=3), max_size=3)
    ),
    max_leaves=20,
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=25,
)
_tags = st.sampled_from(["n", "b", "i", "f", "c", "s", "y", "Y", "D", "Q", "d", "l", "t"])
_nodes = st.recursive(
    st.tuples(_tags, _json).map(list) | _json,
    lambda inner: st.tuples(_tags, st.lists(inner, max_size=3)).map(list),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(_values, _values, st.sampled_from(CHECKERS))
def test_every_comparison_is_total(got, want, checker) -> None:
    assert isinstance(compare_values(got, want, checker), bool)
    assert isinstance(short_repr(got), str)


@settings(max_examples=300, deadline=None)
@given(_nodes, _nodes, st.sampled_from(CHECKERS))
def test_any_forged_record_value_gives_a_verdict(a, b, checker) -> None:
    got, want = decode_value(a), decode_value(b)
    assert isinstance(compare_values(got, want, checker), bool)


@settings(max_examples=200, deadline=None)
@given(_values)
def test_a_value_equals_its_round_trip(value) -> None:
    # What the candidate returns comes back through typed JSON: equal to itself under every
    # typed rule (NaN included), so a right answer is never rejected by the encoding.
    back = decode_value(encode(value))
    assert values_equal(back, value)
    assert values_equal(back, value, strict=True)
    assert values_equal(back, value, tolerance=(1e-9, 1e-9))


@settings(max_examples=200, deadline=None)
@given(st.booleans(), st.integers() | st.floats(allow_nan=False), st.sampled_from(CHECKERS[:2]))
def test_a_bool_never_equals_a_number(flag, number, checker) -> None:
    assert not compare_values(flag, number, checker)
    assert not compare_values([number], [flag], checker)


def test_nan_checks_do_not_compare_signalling_nans() -> None:
    assert math.isnan(float(Decimal("NaN")))
    assert compare_values(Decimal("sNaN"), Decimal("NaN"), "equal") is True  # both NaN
