"""Simple asserts decided outside the jail: the same verdicts as the replay jail, or no decision."""

from __future__ import annotations

import pytest

from sandbox.backends import get_backend
from verifiers.code import CodeConfig, verify_code
from verifiers.code import functions as functions_mod
from verifiers.code.decide import decide_assert, decide_expected, shadowed_names
from verifiers.code.harness import args_key, encode

needs_sandbox = pytest.mark.skipif(
    get_backend().unavailable() is not None, reason="the sandbox cannot run jobs here"
)
BOUND = {"candidate": "func"}
NONE: frozenset[str] = frozenset()


def _call(args: list, value, name: str = "candidate") -> dict:
    pre = encode([list(args), {}])
    return {"n": name, "a": None, "k": "call", "x": args_key(pre), "v": encode(value)}


@pytest.mark.parametrize(
    ("source", "calls", "want"),
    [
        ("assert candidate(3 * 19) == [3, 19]", [_call([57], [3, 19])], {"ok": True}),
        ("assert candidate(57) == [3, 19]", [_call([57], [19, 3])], {"ok": False}),
        ("assert abs(candidate(1.33) - 0.33) < 1e-6", [_call([1.33], 0.33)], {"ok": True}),
        ("assert candidate('<>')", [_call(["<>"], True)], {"ok": True}),
        ("assert not candidate('<>')", [_call(["<>"], True)], {"ok": False}),
        ("assert candidate(1) is True", [_call([1], 1)], {"ok": False}),  # 1 is not True
        ("assert candidate([1, 0**0]) == None", [_call([[1, 1]], None)], {"ok": True}),
        ("assert candidate(2) == 3, 'wrong'", [_call([2], 4)], {"ok": False, "msg": "wrong"}),
        ("assert sorted(candidate(2)) == [1, 2]", [_call([2], [2, 1])], {"ok": True}),
        ("assert candidate(5) == 25", [_call([4], 16)], {"ok": False, "why": "diverged"}),
        ("assert candidate(1) + 1 == 2", [_call([1], None)], {"ok": False, "why": "error"}),
    ],
)
def test_decides_simple_asserts_on_recorded_values(source, calls, want) -> None:
    got = decide_assert(source, calls, BOUND, NONE)
    assert got is not None
    assert {k: got.get(k) for k in want} == want


def test_a_raising_candidate_is_reported_as_raised() -> None:
    call = {**_call([0], None), "exc": "ZeroDivisionError", "msg": "division by zero"}
    del call["v"]
    got = decide_assert("assert candidate(0) == 1", [call], BOUND, NONE)
    assert got == {"ok": False, "why": "raised", "msg": "ZeroDivisionError"}


@pytest.mark.parametrize(
    "source",
    [
        "assert candidate(1) * 10**9 == 0",  # a recorded value times a big number
        "assert 'ab' * 10**10 == candidate(1)",  # growth from a constant string
        "assert 2 ** 10**10 == candidate(1)",  # an unbounded power
        "assert candidate(1).real == 1",  # attributes
        "assert sum(x for x in candidate(1)) == 1",  # comprehensions
        "assert helper(candidate(1))",  # a name from the prompt
        "assert __import__('os')",  # not a whitelisted builtin
        "for x in range(3):\n    assert candidate(x) == x",  # not one assert
        "assert candidate(*[1]) == 1",  # starred arguments
    ],
)
def test_anything_outside_the_subset_goes_to_the_jail(source) -> None:
    assert decide_assert(source, [_call([1], 1)], BOUND, NONE) is None


def test_a_builtin_the_prompt_redefines_is_not_taken_for_the_real_one() -> None:
    shadowed = shadowed_names("def sum(xs):\n    return 0\n", "", "import math")
    assert "sum" in shadowed and "math" in shadowed
    source = "assert sum(candidate(1)) == 3"
    calls = [_call([1], [1, 2])]
    assert decide_assert(source, calls, BOUND, shadowed) is None
    assert decide_assert(source, calls, BOUND, NONE) == {"ok": True}


@pytest.mark.parametrize(
    ("source", "want"),
    [("3 + 5 + 7", encode(15)), ("(3 + 5, 3 * 5)", encode((8, 15))), ("2.0/3.0", encode(2 / 3))],
)
def test_constant_expected_values(source, want) -> None:
    assert decide_expected(source, NONE) == {"v": want}


@pytest.mark.parametrize("source", ["10 ** 10 ** 10", "'a' * 5", "helper(1)", "[x for x in 'ab']"])
def test_other_expected_values_go_to_the_jail(source) -> None:
    assert decide_expected(source, NONE) is None


@needs_sandbox
@pytest.mark.parametrize(
    "program",
    [
        "def f(x):\n    return x * x\n",  # all pass
        "def f(x):\n    return x * x + (x == 3)\n",  # one wrong value
        "def f(x):\n    return 1 / (x - 2) if x == 2 else x * x\n",  # one raises
        "def f(x):\n    return float(x * x) + 1e-9\n",  # close, not equal
    ],
)
def test_same_verdicts_as_the_replay_jail(program, monkeypatch) -> None:
    """Differential: every test's code and reason with the decision here, then without it."""
    tests = {
        "kind": "function",
        "entry_point": "f",
        "asserts": [
            "assert candidate(1) == 1",
            "assert candidate(2) == 2 * 2",
            "assert abs(candidate(3) - 9) < 1e-6",
            "assert candidate(4) in (16, 17)",
            "assert not candidate(0)",
            "assert sorted([candidate(5), 0]) == [0, 25]",
        ],
    }
    cfg = CodeConfig(extract="raw", all_tests=True)

    def outcome():
        v = verify_code(tests, program, config=cfg)
        return v.status, [(t["code"], t.get("reason", "")) for t in v.detail["tests"]]

    here = outcome()
    monkeypatch.setattr(functions_mod, "decide_assert", lambda *a: None)
    jailed = outcome()
    assert here == jailed
