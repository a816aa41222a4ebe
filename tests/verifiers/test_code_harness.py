"""The harness's host side: typed JSON, the channel parser, probes. Only trusted values here."""

from __future__ import annotations

import json
import math
from collections import deque
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifiers.code.codec import PlainObject, Unserializable, decode, encode
from verifiers.code.functions import parse_channel
from verifiers.code.probes import PROBE, bound_names, probe_source

plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=4)
        | st.frozensets(st.integers(), max_size=4)
    ),
    max_leaves=20,
)


@given(plain)
def test_round_trip_keeps_value_and_type(value):
    back = decode(json.loads(json.dumps(encode(value))))
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize(
    ("value", "node"),
    [
        (10**30 + 1, ["i", str(10**30 + 1)]),  # big ints as exact strings
        (True, ["b", True]),  # bool apart from int
        (0.1, ["f", "0.1"]),  # floats by repr
        ((1, 2), ["t", [["i", "1"], ["i", "2"]]]),  # tuple apart from list
        (b"\x00", ["y", "00"]),  # bytes as hex
        (deque([1]), ["q", [["i", "1"]]]),  # deque kept
        (Decimal("1.10"), ["D", "1.10"]),  # Decimal text
        (Fraction(1, 3), ["Q", "1", "3"]),  # Fraction parts
        (object(), ["u", "object"]),  # anything else: opaque
        (lambda: 0, ["u", "function"]),  # functions too
    ],
)
def test_encoding(value, node):
    assert encode(value) == node


def test_subclass_with_rigged_eq_is_encoded_as_its_base_value():
    class Rigged(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    assert decode(encode(Rigged(5))) == 5 and decode(encode(Rigged(5))) != 6


def test_nan_and_cycles():
    assert math.isnan(decode(encode(float("nan"))))
    loop: list = []
    loop.append(loop)
    assert encode(loop)[1][0] == ["u", "cyclic container"]


def test_objects_of_trusted_classes_and_cycles():
    class Node:
        def __init__(self, val, nxt=None):
            self.val, self.next = val, nxt

    a = Node(1)
    a.next = Node(2, a)  # a cycle
    node = encode(a, (Node,))
    plain_obj = decode(node)
    assert isinstance(plain_obj, PlainObject) and plain_obj.cls == "Node"
    rebuilt = decode(node, {"Node": Node})
    assert rebuilt.next.next is rebuilt and rebuilt.next.val == 2


@pytest.mark.parametrize(
    "node",
    [
        ["i", "1_000"],  # not a strict int
        ["i", "١٢٣"],  # non-ASCII digits
        ["i", ""],  # empty
        ["zz", 1],  # unknown tag
        ["s", 5],  # a str that is not one
    ],
)
def test_decode_is_strict(node):
    with pytest.raises((ValueError, TypeError)):
        decode(node)


def test_unserializable_equals_nothing():
    u = Unserializable("E")
    assert u != 3 and u != u and [u] != [3]


def test_channel_needs_nonce_and_sequence():
    good = b'n 0 {"t": "ready"}\nn 1 {"t": "end"}\n'
    assert [r["t"] for r in parse_channel(good, "n")] == ["ready", "end"]
    noise = b'x 0 {"t": "end"}\nACCEPTED\nn 0 {"t": "ready"}\n'
    assert [r["t"] for r in parse_channel(noise, "n")] == ["ready"]  # wrong nonce ignored
    gap = b'n 0 {"t": "ready"}\nn 2 {"t": "end"}\n'
    assert [r["t"] for r in parse_channel(gap, "n")] == ["ready"]  # a gap ends trust
    junk = b'n 0 {"t": "ready"}\nn 1 [1]\nn 2 {"t": "end"}\n'
    assert len(parse_channel(junk, "n")) == 1  # not an object


@pytest.mark.parametrize(
    ("source", "probe"),
    [
        ("assert candidate(2, 2) == 4", f"{PROBE}(candidate(2, 2))"),  # expected value dropped
        ("assert abs(candidate(x) - 0.75) < 1e-9", f"{PROBE}(candidate(x))"),  # tolerance
        ("assert not candidate(0)", f"{PROBE}(candidate(0))"),  # negation
        ("assert candidate(a) == candidate(b)", f"{PROBE}(candidate(a), candidate(b))"),  # two
        ("expected = [1, 2]\nassert candidate(3) == expected", f"pass\n{PROBE}(candidate(3))"),
        ("r = candidate(1)\nassert r == 7", "r = candidate(1)\npass"),  # a call in an assignment
        ("assert True == True", "pass"),  # nothing of the candidate
        ("assert my_solution.f(**test_input) == 3", f"{PROBE}(my_solution.f(**test_input))"),
        ("assert Solution().f(1) == 2", f"{PROBE}(Solution().f(1))"),  # class entry
    ],
)
def test_probes_keep_calls_and_drop_expected_values(source, probe):
    names = {"candidate", "my_solution", "Solution"}
    assert probe_source(source, names) == probe


def test_bound_names_never_include_builtins_or_prefix_names():
    program = "def helper(x): pass\ndef abs(x): return 0\ndef f(x): return helper(x)\nK = 1\n"
    bound = bound_names(
        program=program,
        prefix="def shared(x): pass\n",
        entry_point="f",
        tests_sources=["assert abs(candidate(1)) == helper(2) == shared(3)"],
    )
    assert bound == {"candidate": "func", "f": "func", "helper": "func"}


def test_channel_survives_a_forged_deeply_nested_record():
    deep = b"[" * 100_000 + b"]" * 100_000
    records = parse_channel(b'n 0 {"t": "ready"}\nn 1 ' + deep + b"\n", "n")
    assert [r["t"] for r in records] == ["ready"]


def test_harness_ships_as_bytecode_only_when_the_jail_reads_it(monkeypatch) -> None:
    """The .pyc saves recompiling the harness per run; a foreign MAGIC falls back to source."""
    import importlib.util
    import marshal

    from verifiers.code import functions

    pyc = functions.harness_pyc()
    assert pyc[:4] == importlib.util.MAGIC_NUMBER
    assert marshal.loads(pyc[16:]).co_filename == "main.py"
    functions.harness_files.cache_clear()
    try:
        assert (
            functions.harness_files()[0] == "main.pyc"
        )  # this machine's jail runs /usr/bin/python3 3.11
        monkeypatch.setattr(functions.importlib.util, "MAGIC_NUMBER", b"\x00\x00\r\n")
        functions.harness_files.cache_clear()
        assert functions.harness_files() == ("main.py", functions.HARNESS_SOURCE)
    finally:
        functions.harness_files.cache_clear()
