"""Calls sent ahead (harness `_send_window`): plain cases of a function-call problem are written to
the candidate's process in one window, and the window shares one test's limits.

What a policy could try against it: hide a slow test behind fast neighbours (its CPU charged to
them), or make a whole window slow so that its tests are judged by shared time. The rule under
test: a test is accepted from a window only while the window's total CPU and wall time are within
one test's limits; past that the candidate is killed and the tests run again one call at a time,
so the per-test limit is exact. Controls: a slow but legal program (every test under the limit,
the window over it) is all AC, and the honest wrong program is still WA.
"""

from __future__ import annotations

import pytest

from sandbox.backends import get_backend
from verifiers.code import CodeConfig, verify_code
from verifiers.code.functions import _plain_call

pytestmark = pytest.mark.skipif(
    get_backend().unavailable() is not None, reason="the sandbox cannot run jobs here"
)

CFG = CodeConfig(test_cpu_s=0.5, extract="raw", reward="fraction")
BURN = "import time\ndef burn(s):\n    t = time.process_time()\n    while time.process_time() - t < s: pass\n"


def _tests(n: int, setup: str = "", call: str = "f({i})") -> dict:
    cases = [{"call": call.format(i=i), "expected": str(i)} for i in range(n)]
    return {"kind": "function", "entry_point": "f", "cases": cases, "setup": setup}


def _codes(verdict) -> list[str]:
    return [t["code"] for t in verdict.detail["tests"]]


def test_plain_cases_are_sent_ahead_and_others_are_not() -> None:
    # The candidate sees the next requests already in its pipe (fd 3) only when the cases are
    # plain calls over literals; `f(x)` reads a name of the setup, so it runs as written.
    program = "import select\ndef f(x):\n    return x if select.select([3], [], [], 0.3)[0] else -1"
    v = verify_code(_tests(3), program, config=CFG)
    assert _codes(v) == ["AC", "AC", "WA"], v.detail  # the last call has nothing behind it
    v = verify_code(_tests(3, setup="x = 0", call="f({i} + x)"), program, config=CFG)
    assert _codes(v) == ["WA", "WA", "WA"], v.detail


@pytest.mark.parametrize(
    "slow",
    [
        0,  # the first call of the window
        2,  # in the middle: its CPU must not be charged to its fast neighbours
        3,  # the last one
    ],
)
def test_a_slow_test_in_a_window_is_tle_however_fast_its_neighbours(slow: int) -> None:
    program = BURN + f"def f(x):\n    if x == {slow}:\n        burn(0.8)\n    return x"
    v = verify_code(_tests(4), program, config=CFG)
    assert _codes(v) == ["TLE" if i == slow else "AC" for i in range(4)], v.detail
    assert v.reward == 0.75


def test_a_window_over_one_tests_limit_runs_again_one_call_at_a_time() -> None:
    # Control: every call 0.2 s (under the 0.5 s limit), the window 0.8 s: all AC, each test's
    # own time under the limit, and a wrong program as slow is still WA, never TLE or None.
    right = BURN + "def f(x):\n    burn(0.2)\n    return x"
    v = verify_code(_tests(4), right, config=CFG)
    assert _codes(v) == ["AC"] * 4 and v.reward == 1.0, v.detail
    assert all(t["time_s"] < 0.5 for t in v.detail["tests"]), v.detail
    wrong = BURN + "def f(x):\n    burn(0.2)\n    return x + 1"
    v = verify_code(_tests(4), wrong, config=CFG)
    assert _codes(v) == ["WA"] * 4 and v.reward == 0.0, v.detail


def test_a_sleeping_window_is_held_to_one_tests_wall_limit() -> None:
    # Each call sleeps 1.5 s: under the 3.5 s wall limit alone, over it together; all AC.
    program = "import time\ndef f(x):\n    time.sleep(1.5)\n    return x"
    v = verify_code(_tests(3), program, config=CFG)
    assert _codes(v) == ["AC"] * 3, v.detail


@pytest.mark.parametrize(
    ("call", "name"),
    [
        ("f(1, [2, (3,)], k={'a': -1.5})", "f"),  # literals, keywords included
        ("f(set(), b'x', None)", "f"),  # set() and bytes are literals too
        ("f(g(1))", None),  # a nested call may be the candidate's
        ("f(x)", None),  # a name of the tests
        ("f(*[1])", None),  # unpacking
        ("f(**{'a': 1})", None),
        ("o.f(1)", None),  # a method of an object
        ("f(1)(2)", None),  # the value called again
        ("f(1) == 2", None),  # not a bare call
        ("f(", None),  # not Python
    ],
)
def test_plain_call(call: str, name: str | None) -> None:
    assert _plain_call(call) == name
