"""Output checkers (pure comparisons: no program runs here)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifiers.code.checkers import get_checker


@pytest.mark.parametrize(
    ("spec", "output", "expected", "ok"),
    [
        ("tokens", b"1 2\n", "1 2", True),  # plain
        ("tokens", b"1\n2\n", "1 2", True),  # any whitespace between tokens
        ("tokens", b"  1\t2  \r\n\n", "1 2\n", True),  # CRLF, tabs, trailing blank lines
        ("tokens", b"1", "1 2", False),  # a prefix is not the answer (C7)
        ("tokens", b"", "1", False),  # nothing printed
        ("tokens", b"1 2 3", "1 2", False),  # extra token
        ("tokens", b"ALICE", "Alice", False),  # case matters (C8)
        ("tokens", b"1.0", "1", False),  # tokens compare bytes, not numbers
        ("tokens", b"1_000", "1000", False),  # C10
        ("tokens", "١٢٣".encode(), "123", False),  # C10 non-ASCII digits
        ("tokens", b"\xff3", "3", False),  # invalid UTF-8 is a mismatch, not an error (C11)
        ("exact", b"3\n", "3\n", True),  # same bytes
        ("exact", b"3", "3\n", False),  # missing newline matters
        ("lines", b"a b  \nc\r\n\n\n", "a b\nc", True),  # trailing whitespace, blank lines
        ("lines", b"a  b\nc", "a b\nc", False),  # inner whitespace matters
        ("lines", b"a\n\nb", "a\nb", False),  # an inner blank line matters
        ("unordered_lines", b"b\na\n", "a\nb\n", True),  # any order
        ("unordered_lines", b"a\na\n", "a\nb\n", False),  # multiplicity counts
        ("float:abs=1e-6", b"0.3333333", "0.333333333", True),  # within abs
        ("float:abs=1e-6", b"0.334", "0.333333333", False),  # outside
        ("float:rel=1e-6", b"1000000.5", "1000000", True),  # within rel
        ("float:abs=1e-6,rel=1e-6", b"2.000000", "2", True),  # a float for a small int
        ("float:abs=1e-6", b"1e18", "1000000000000000001", False),  # C8 big int via double
        ("float:abs=1e-6", b"1000000000000000000", "1000000000000000001", False),  # ints exact
        ("float:abs=1e-6", b"nan", "1.5", False),  # C9
        ("float:abs=1e-6", b"nan", "nan", True),  # NaN only for NaN
        ("float:abs=1e-6", b"inf", "1.5", False),  # C9
        ("float:abs=1e-6", b"-inf", "inf", False),  # sign of infinity
        ("float:abs=1e-6", b"1e309", "1.5", False),  # overflow is not a number
        ("float:abs=1e-6", b"+5", "5", False),  # C10 leading plus
        ("float:abs=1e-6", b"0x10", "16", False),  # C10 hex
        ("float:abs=1e-6", b"5.", "5", False),  # C10 trailing dot
        ("float:abs=1e-6", b"1_0", "10", False),  # C10 underscore
        ("float:abs=1e-6", b"YES", "YES", True),  # words compare exactly
        ("float:abs=1e-6", b"1.5", "1.5 2", False),  # token count
    ],
)
def test_checkers(spec, output, expected, ok):
    assert get_checker(spec).check(output, expected).ok is ok


def test_any_accepted_answer_matches():
    check = get_checker("tokens")
    assert check.check_any(b"2 1", ("1 2", "2 1")).ok
    assert not check.check_any(b"3", ("1 2", "2 1")).ok


@pytest.mark.parametrize(
    "spec",
    [
        "float:abs=x",  # not a number
        "float:tol=1",  # unknown key
        "float:abs=-1",  # negative
        "regex",  # unknown checker
    ],
)
def test_bad_specs_name_the_value(spec):
    with pytest.raises(ValueError, match="checker"):
        get_checker(spec)


@given(st.lists(st.integers(), max_size=20), st.sampled_from([" ", "\n", "\t", "  \r\n"]))
def test_tokens_ignore_whitespace_kind(numbers, sep):
    expected = " ".join(map(str, numbers))
    assert get_checker("tokens").check(sep.join(map(str, numbers)).encode(), expected).ok


@given(st.integers(), st.integers())
def test_float_checker_compares_integers_exactly(a, b):
    assert get_checker("float:abs=1e-6,rel=1e-6").check(str(a).encode(), str(b)).ok is (a == b)


# -- totality (issue 9, class 4): a checker gives a verdict on any output, never an exception ---
SPECS = ("tokens", "exact", "lines", "unordered_lines", "float", "float:abs=1e-6,rel=1e-6")
BIG = "9" * 5000  # more digits than int() converts


@pytest.mark.parametrize(
    ("spec", "output", "expected", "ok"),
    [
        ("float", BIG.encode(), BIG, True),  # a 5,000-digit answer, right
        ("float", BIG.encode(), "1" + BIG, False),  # and wrong
        ("float", ("0" + BIG).encode(), BIG, True),  # leading zeros: the same integer
        ("float", BIG.encode(), "1.5", False),  # a huge integer for a float
        ("float", b"1." + BIG.encode(), "1.5", False),  # a 5,000-digit float token
        ("float", b"1" + b"0" * 400 + b".0", "1.5", False),  # a float past 1e308
        ("float", b"1e99999", "1e99999", True),  # byte-equal tokens match
        ("float", b"1e99999", "1e99998", False),  # two infinities are not answers
        ("float", b"-0", "0", True),  # the integer zero has no sign
        ("float", b"12345678901234567", "12345678901234567.0", False),  # > 15 digits via float
        ("tokens", b"\xff\xfe \xed\xa0\x80", "a b", False),  # invalid UTF-8 / encoded surrogate
        ("lines", b"\n" * 100000 + b"1", "1", False),  # a flood of newlines: counted, not split
        ("lines", b"1" + b"\n \t" * 100000, "1", True),  # trailing blank lines
        ("unordered_lines", b"\n" * 100000, "", True),
        ("exact", b"\xed\xa0\x80", "\ud800", True),  # a lone surrogate in the expected text
        ("tokens", b"a", "\udcff", False),  # an escaped byte in the expected text
    ],
)
def test_adversarial_outputs_get_a_verdict(spec, output, expected, ok):
    assert get_checker(spec).check(output, expected).ok is ok


@given(
    st.sampled_from(SPECS),
    st.binary(max_size=64) | st.text(max_size=32).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.text(max_size=32),
)
def test_every_checker_is_total(spec, output, expected):
    result = get_checker(spec).check(output, expected)
    assert isinstance(result.ok, bool) and isinstance(result.reason, str)
    assert get_checker(spec).check(expected, expected).ok  # any text matches itself


@given(
    st.text(alphabet="0123456789", max_size=40),
    st.integers(min_value=1, max_value=9),
    st.booleans(),
)
def test_float_checker_compares_huge_integers_exactly(digits, bump, negative):
    number = ("-" if negative else "") + "1" + "7" * 4400 + digits  # past int()'s 4,300 digits
    other = number[:-1] + str((int(number[-1]) + bump) % 10)  # one digit off
    check = get_checker("float")
    assert check.check(number.encode(), number).ok
    assert not check.check(other.encode(), number).ok


def _reference_lines(data: bytes) -> list[bytes]:
    """The plain definition of the ``lines`` checker (split, rstrip, drop trailing blank lines)
    that the counting implementation must agree with."""
    lines = [line.rstrip(b" \t\r\f\v") for line in data.split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


_ws_text = st.lists(st.sampled_from([b"a", b"b", b" ", b"\t", b"\r", b"\n", b"\x0b", b"\x0c"]))


@given(_ws_text.map(b"".join), _ws_text.map(b"".join))
def test_line_and_token_checkers_match_their_plain_definitions(out, exp):
    text = exp.decode()
    lines_ok = _reference_lines(out) == _reference_lines(exp)
    assert get_checker("lines").check(out, text).ok is lines_ok
    unordered_ok = sorted(_reference_lines(out)) == sorted(_reference_lines(exp))
    assert get_checker("unordered_lines").check(out, text).ok is unordered_ok
    assert get_checker("tokens").check(out, text).ok is (out.split() == exp.split())
