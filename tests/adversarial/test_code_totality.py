"""Issue 9, classes 4 and 7 (verifier side): a wrong answer never becomes "no reward", and the
dataset forms that used to reject every right answer are judged as their users expect.

Class 4: every comparison and checker is total and what the verifier parses is capped, so no
value or output a candidate can make turns its verdict into ``unverifiable`` (reward None) or
crashes the verifier. Class 7: asserts over comprehensions, generators and lambdas, ``check``
functions, declared float tolerance and ``True`` vs ``1``.

Every attack has its controls (the right program AC, the honest wrong one WA), and every wrong
program here must get reward 0.0: never 1.0, never None.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.backends import get_backend
from verifiers.code import CodeConfig, functions, verify_code
from verifiers.code.functions import MAX_CHANNEL_BYTES, MAX_RECORD_BYTES, parse_channel

needs_sandbox = pytest.mark.skipif(
    get_backend().unavailable() is not None, reason="the sandbox cannot run jobs here"
)
RAW = CodeConfig(extract="raw")
TOL = "float:abs=1e-6,rel=1e-6"


def judge(tests: dict, code: str, **kw):
    return verify_code(tests, code, config=RAW, **kw)


def assert_ac(verdict) -> None:
    assert (verdict.status, verdict.reward) == ("correct", 1.0), verdict.detail


def assert_zero(verdict, *codes: str) -> None:
    """A wrong program: reward exactly 0 (never 1.0, never None), with the expected judge code."""
    assert (verdict.status, verdict.reward) == ("incorrect", 0.0), verdict.detail
    if codes:
        assert verdict.detail["first_failure"]["code"] in codes, verdict.detail


def fn_tests(call: str, expected: str, *, checker: str = "equal", entry: str = "f") -> dict:
    return {
        "kind": "function",
        "entry_point": entry,
        "checker": checker,
        "cases": [{"call": call, "expected": expected}],
    }


def assert_tests(*items: str, setup: str = "", entry: str = "f") -> dict:
    return {"kind": "function", "entry_point": entry, "asserts": list(items), "setup": setup}


RIGHT = "def f(x):\n    return x * 2\n"
WRONG = "def f(x):\n    return x + 2\n"  # right for x == 2 only


# -- class 4: values the verifier must compare without raising --------------------------------
HOSTILE_RETURNS = {
    # Decimal('sNaN') == anything raises InvalidOperation
    "snan": "from decimal import Decimal\ndef f(x):\n    return Decimal('sNaN')\n",
    # a Fraction over zero: its typed JSON ["Q", "1", "0"] raises ZeroDivisionError when decoded
    "fraction_over_zero": (
        "from fractions import Fraction\n"
        "def f(x):\n    q = Fraction(1, 2)\n    q._denominator = 0\n    return q\n"
    ),
    # more digits than int() converts (4,300)
    "huge_int": "def f(x):\n    return 10 ** 6000 + 7\n",
    # 10,000 levels of lists: past every recursion limit on the way
    "deep_list": "def f(x):\n    v = []\n    for _ in range(10000):\n        v = [v]\n    return v\n",
    # a value whose encoding is far over the result cap (OLE, not a verifier out of memory)
    "oversized": "def f(x):\n    return [[]] * 3_000_000\n",
    # an exception whose message is 10 MB and whose repr raises
    "huge_exception": (
        "class E(Exception):\n    def __repr__(self):\n        raise RuntimeError\n"
        "def f(x):\n    raise E('x' * 10_000_000)\n"
    ),
    # a lone surrogate and a NUL in a string (not UTF-8 encodable), and bytes that are no UTF-8
    "surrogate": "def f(x):\n    return '\\ud800\\x00' + chr(0xDFFF)\n",
    "bad_bytes": "def f(x):\n    return b'\\xff\\xfe6'\n",
    # NaN and infinity where a number is expected
    "nan": "def f(x):\n    return float('nan')\n",
    "inf": "def f(x):\n    return float('inf')\n",
}


@needs_sandbox
@pytest.mark.parametrize("checker", ["equal", "equal:strict", "equal:python", TOL])
@pytest.mark.parametrize("name", sorted(HOSTILE_RETURNS))
def test_hostile_return_values_on_cases_score_zero(name: str, checker: str) -> None:
    tests = fn_tests("f(3)", "6", checker=checker)
    assert_zero(judge(tests, HOSTILE_RETURNS[name]))


@needs_sandbox
@pytest.mark.parametrize("name", sorted(HOSTILE_RETURNS))
def test_hostile_return_values_on_asserts_score_zero(name: str) -> None:
    tests = assert_tests("assert f(3) == 6", "assert abs(f(1) - 2) < 1e-9")
    assert_zero(judge(tests, HOSTILE_RETURNS[name]))


@needs_sandbox
@pytest.mark.parametrize("checker", ["equal", "equal:strict", "equal:python", TOL])
def test_controls_for_hostile_values(checker: str) -> None:
    tests = fn_tests("f(3)", "6", checker=checker)
    assert_ac(judge(tests, RIGHT))
    assert_zero(judge(fn_tests("f(3)", "6", checker=checker), WRONG), "WA")


@needs_sandbox
def test_a_right_huge_result_is_still_right() -> None:
    # control for the caps: a big but honest value (a 20,000-element list) is judged, not capped
    tests = fn_tests("f(20000)", repr(list(range(20000))))
    assert_ac(judge(tests, "def f(n):\n    return list(range(n))\n"))
    assert_zero(judge(tests, "def f(n):\n    return list(range(n - 1))\n"), "WA")


@needs_sandbox
def test_a_result_over_the_record_cap_is_ole() -> None:
    # 400,000 ints encode to ~5.6 MB: under the harness's reply cap, over the verifier's record
    # cap; the verdict is OLE (reward 0), not a verifier holding ~100 MB of parsed JSON.
    tests = fn_tests("f(400000)", "0")
    assert_zero(judge(tests, "def f(n):\n    return list(range(n))\n"), "OLE")
    assert_ac(judge(tests, "def f(n):\n    return 0\n"))


@needs_sandbox
def test_writing_forged_records_on_every_fd_scores_zero() -> None:
    # The candidate cannot know the nonce; it floods every fd it may hold with record-shaped
    # lines, one of them far over the record cap, then answers wrongly.
    flood = (
        "import os\n"
        "line = b'0' * 32 + b' 0 ' + b'[' * 100000 + b'\\n'\n"
        "big = b'0' * 32 + b' 1 {\"t\": \"res\", \"v\": [' + b'[],' * 3_000_000 + b'[]]}\\n'\n"
        "for fd in range(1, 64):\n"
        "    for data in (line, big):\n"
        "        try:\n            os.write(fd, data)\n        except OSError:\n            pass\n"
        "def f(x):\n    return x + 2\n"
    )
    tests = fn_tests("f(3)", "6")
    assert_zero(judge(tests, flood))
    assert_ac(judge(tests, RIGHT))


def test_the_channel_parser_caps_records_and_their_total() -> None:
    nonce = "ab" * 16
    small = json.dumps({"t": "res", "i": 0, "v": ["i", "1"]}).encode()
    big = b'{"t":"res","v":[' + b"[]," * (MAX_RECORD_BYTES // 3) + b"[]]}"
    assert len(big) > MAX_RECORD_BYTES
    out = parse_channel(b"%s 0 %s\n%s 1 %s\n" % (nonce.encode(), small, nonce.encode(), big), nonce)
    assert [r["t"] for r in out] == ["res", "oversized"]
    # many records each under the cap: parsing stops at the channel's total
    each = b'{"t":"res","v":"' + b"x" * (MAX_RECORD_BYTES - 64) + b'"}'
    lines = b"".join(
        b"%s %d %s\n" % (nonce.encode(), k, each) for k in range(MAX_CHANNEL_BYTES // len(each) + 2)
    )
    out = parse_channel(lines, nonce)
    assert out[-1]["t"] == "oversized"
    assert sum(len(r.get("v", "")) for r in out) <= MAX_CHANNEL_BYTES


@pytest.mark.parametrize(
    "record",
    [
        {"t": ["nested"] * 3, "msg": {"deep": [[[]]]}, "why": 10**300, "calls": "x"},
        {"t": "res", "msg": "m" * 10**6, "exc": None},
    ],
)
def test_the_channel_parser_bounds_text_fields(record) -> None:
    nonce = "cd" * 16
    (got,) = parse_channel(b"%s 0 %s\n" % (nonce.encode(), json.dumps(record).encode()), nonce)
    for key in ("t", "msg", "why", "exc"):
        if key in got:
            assert isinstance(got[key], str) and len(got[key]) <= 500
    assert isinstance(got.get("calls", []), list)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=20,
)
_record_keys = st.sampled_from(["t", "i", "ok", "v", "cpu", "wall", "why", "msg", "exc", "calls"])


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(_record_keys, _json_values, max_size=10),
    st.integers(min_value=0, max_value=3),
    st.sampled_from(["equal", "equal:strict", "equal:python", TOL]),
)
def test_any_record_the_channel_carries_gets_a_judge_code(record, i, checker) -> None:
    # Whatever a record holds once parsed (the verifier's side of the channel), judging it gives
    # a judge code of the program, never an exception and never SE (that is ours only).
    nonce = "ef" * 16
    line = b"%s 0 %s\n" % (nonce.encode(), json.dumps(record).encode())
    (parsed,) = parse_channel(line, nonce)
    expected = [6, [1.5, True], functions._NO_VALUE]
    exp_values = {2: {"v": ["i", "6"]}}
    got = functions._judge_one(i, parsed, expected, exp_values, RAW, checker)
    assert got.code in ("AC", "WA", "RE", "TLE")
    if got.code == "AC":  # only a record that claims the right value, as a value
        assert i == 3 or parsed.get("ok")


# -- class 4 on stdio: outputs the checkers must judge without raising ------------------------
STDIO_ATTACKS = [
    ("float", "print('9' * 5000)"),  # 5,000 digits against a float checker
    ("float", "print('1.' + '9' * 5000)"),
    ("float", "print('1e999999')"),
    ("float", "print('nan')"),
    ("tokens", "import sys; sys.stdout.buffer.write(b'\\xff\\xfe \\xed\\xa0\\x80\\n')"),
    ("lines", "import sys; sys.stdout.write('\\n' * 3_000_000 + '0.5')"),
    ("unordered_lines", "import sys; sys.stdout.write('x\\n' * 3_000_000)"),
    ("exact", "import sys; sys.stdout.buffer.write(b'\\x00' * 1000)"),
]


@needs_sandbox
@pytest.mark.parametrize(("checker", "code"), STDIO_ATTACKS)
def test_hostile_outputs_score_zero(checker: str, code: str) -> None:
    tests = {"kind": "stdio", "checker": checker, "cases": [{"stdin": "", "expected": "0.5\n"}]}
    assert_zero(judge(tests, code))
    assert_ac(judge(tests, "print(0.5)"))  # control


# -- class 7a: candidate calls inside comprehensions, generators and lambdas ------------------
NESTED_SCOPE_ASSERTS = [
    "assert all(candidate(x) == x * 2 for x in range(5))",  # the generator
    "xs = [1, 2, 3]\nys = [2, 4, 6]\nassert [candidate(i) for i in xs] == ys",  # the list
    "assert {k: candidate(k) for k in (1, 2)} == {1: 2, 2: 4}",  # dict comprehension
    "assert [[candidate(a) for a in r] for r in [[1], [2, 3]]] == [[2], [4, 6]]",  # nested
    "assert sum(candidate(x) for x in range(4)) == 12",  # generator consumed by a builtin
    "assert list(map(candidate, [1, 5])) == [2, 10]",  # the candidate handed on, not called
    "g = lambda v: candidate(v) + 1\nassert g(3) == 7",  # a lambda bound in the test
    "assert (lambda v: candidate(v))(4) == 8",  # a lambda called in place
    "assert not any(candidate(x) != 2 * x for x in [0, 7] if x >= 0)",  # a filter clause
]


@needs_sandbox
@pytest.mark.parametrize("item", NESTED_SCOPE_ASSERTS)
def test_nested_scope_asserts_are_judged(item: str) -> None:
    tests = assert_tests(item)
    assert_ac(judge(tests, RIGHT))
    assert_zero(judge(tests, WRONG))


@needs_sandbox
def test_a_candidate_that_fails_only_late_in_a_generator_is_wrong() -> None:
    tests = assert_tests("assert all(candidate(x) == x * 2 for x in range(50))")
    late = "def f(x):\n    return x * 2 if x < 49 else 0\n"
    raises = "def f(x):\n    if x == 30:\n        raise ValueError\n    return x * 2\n"
    assert_zero(judge(tests, late))
    assert_zero(judge(tests, raises))
    assert_ac(judge(tests, RIGHT))


# -- class 7b: check(candidate) functions -----------------------------------------------------
CHECK = "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(5) == 10\n"
CHECK_FORMS = {
    "called_with_entry_point": assert_tests(CHECK + "\ncheck(f)"),
    "called_with_candidate": assert_tests(CHECK + "\ncheck(candidate)"),
    "never_called": assert_tests("METADATA = {'author': 'x'}\n\n\n" + CHECK),  # HumanEval `test`
    "renamed_parameter": assert_tests(
        "def check(fn):\n    assert fn(2) == 4\n    assert fn(5) == 10\n\ncheck(f)"
    ),
    "in_setup": assert_tests("check(f)", setup=CHECK),
    "assert_on_its_result": assert_tests(
        "def check(fn):\n    return fn(2) == 4 and fn(5) == 10\n\nassert check(f)"
    ),
    "table_loop_helper": assert_tests(  # HumanEval+/MBPP+ style
        "def assertion(out, exp):\n    assert out == exp\n\n"
        "def check(candidate):\n    inputs = [[2], [5]]\n    results = [4, 10]\n"
        "    for inp, exp in zip(inputs, results):\n        assertion(candidate(*inp), exp)\n\n"
        "check(f)"
    ),
}


@needs_sandbox
@pytest.mark.parametrize("form", sorted(CHECK_FORMS))
def test_check_functions_are_judged(form: str) -> None:
    tests = CHECK_FORMS[form]
    assert_ac(judge(tests, RIGHT))
    assert_zero(judge(tests, WRONG))


@needs_sandbox
def test_check_on_a_class_method_entry_point() -> None:
    tests = assert_tests(
        "def check(candidate):\n    assert candidate(4) == 8\n\ncheck(Solution().f)",
        entry="Solution.f",
    )
    assert_ac(judge(tests, "class Solution:\n    def f(self, x):\n        return 2 * x\n"))
    assert_zero(judge(tests, "class Solution:\n    def f(self, x):\n        return 3 + x\n"))


@needs_sandbox
def test_a_candidate_defining_its_own_check_changes_nothing() -> None:
    # Attack on the completed call: the response defines a `check` that passes everything (and
    # a `METADATA`); the dataset's check is the one that runs.
    cheat = "def check(candidate):\n    return None\n\nMETADATA = {}\n\n" + WRONG
    for form in ("never_called", "called_with_entry_point", "in_setup"):
        assert_zero(judge(CHECK_FORMS[form], cheat))


# -- class 7c: declared float tolerance on function calls -------------------------------------
@needs_sandbox
@pytest.mark.parametrize(
    ("expected", "right"),
    [
        ("0.3", "0.1 + 0.2"),  # a float
        ("[0.3, (1, {'k': 2.0})]", "[0.1 + 0.2, (1.0000000001, {'k': 2 + 1e-9})]"),  # nested
        ("3", "3.0000000001"),  # an int expected, a float returned
    ],
)
def test_declared_tolerance_is_honoured(expected: str, right: str) -> None:
    tests = fn_tests("f(0)", expected, checker=TOL)
    assert_ac(judge(tests, f"def f(x):\n    return {right}\n"))
    assert_zero(judge(fn_tests("f(0)", expected), f"def f(x):\n    return {right}\n"), "WA")


@needs_sandbox
@pytest.mark.parametrize(
    "wrong",
    [
        "0.3001",  # outside the tolerance
        "True",  # a bool for 1.0-ish numbers
        "'0.3'",  # text that looks like the number
        "[0.3]",  # the right number in the wrong shape
        "float('nan')",
        "float('inf')",
    ],
)
def test_tolerance_does_not_accept_wrong_values(wrong: str) -> None:
    tests = fn_tests("f(0)", "0.3", checker=TOL)
    assert_zero(judge(tests, f"def f(x):\n    return {wrong}\n"), "WA")
    assert_zero(
        judge(fn_tests("f(0)", "[1.0, 0.3]", checker=TOL), "def f(x):\n    return [True, 0.3]\n")
    )


# -- class 7d: True is not 1 in typed cases; asserts keep Python's == --------------------------
@needs_sandbox
def test_typed_cases_tell_bool_from_int() -> None:
    typed = fn_tests("f(1)", "1")
    assert_ac(judge(typed, "def f(x):\n    return 1\n"))
    assert_zero(judge(typed, "def f(x):\n    return True\n"), "WA")
    assert_zero(judge(fn_tests("f(1)", "[True, 0]"), "def f(x):\n    return [1, 0]\n"), "WA")
    strict = fn_tests("f(1)", "1", checker="equal:strict")
    assert_zero(judge(strict, "def f(x):\n    return 1.0\n"), "WA")
    assert_ac(judge(fn_tests("f(1)", "1"), "def f(x):\n    return 1.0\n"))  # Python numbers


@needs_sandbox
def test_asserts_and_cases_read_from_asserts_keep_python_equality() -> None:
    # `assert f(1) == 1` holds for True in Python: the dataset's own verdict
    assert_ac(judge(assert_tests("assert f(1) == 1"), "def f(x):\n    return True\n"))
    python = fn_tests("f(1)", "False", checker="equal:python")  # MBPP 414's reference
    assert_ac(judge(python, "def f(x):\n    return 0\n"))
    assert_zero(judge(python, "def f(x):\n    return 1\n"), "WA")
