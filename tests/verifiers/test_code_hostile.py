"""hostile-cases.md group C: verdict integrity. Every hostile program must get no AC (zero false
accepts); every correct program must still be AC. All candidate code runs in the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

import sandbox
from sandbox import JobResult, RunResult
from sandbox.backends import get_backend
from verifiers.code import CodeConfig, functions, verify_code

pytestmark = pytest.mark.skipif(
    get_backend().unavailable() is not None, reason="the sandbox cannot run jobs here"
)

RAW = CodeConfig(extract="raw", test_cpu_s=1.0)

# add(a, b): two literal cases (one a big int), then assert items of three shapes.
ADD = {
    "kind": "function",
    "entry_point": "add",
    "cases": [
        {"call": "add(1, 2)", "expected": "3"},
        {"call": "add(10**20, 1)", "expected": "100000000000000000001"},
    ],
    "asserts": [
        "assert candidate(2, 2) == 4",
        "assert abs(candidate(0.5, 0.25) - 0.75) < 1e-9",
        "assert not candidate(0, 0)",
    ],
}
ASSERTS_ONLY = {
    "kind": "function",
    "entry_point": "add",
    "asserts": ["assert candidate(2, 2) == 4"],
}
GOOD = "def add(a, b):\n    return a + b\n"


def judge(tests, code, **kw):
    return verify_code(tests, code, config=kw.pop("config", RAW), **kw)


def assert_no_accept(verdict):
    assert verdict.status != "correct", verdict.detail
    assert verdict.reward in (0.0, None) or verdict.reward < 1.0
    assert verdict.reward is not None, f"a hostile program got reward None: {verdict.detail}"


def test_correct_solution_is_accepted():
    v = judge(ADD, GOOD)
    assert v.status == "correct" and v.reward == 1.0
    assert [t["code"] for t in v.detail["tests"]] == ["AC"] * 5


# -- C1: early "successful" exit ---------------------------------------------------------------
@pytest.mark.parametrize(
    "code",
    [
        "import sys\nsys.exit(0)\n",  # exit at import time
        "def add(a, b):\n    import sys\n    sys.exit(0)\n",  # exit inside the call
        "def add(a, b):\n    import os\n    os._exit(0)\n",  # no cleanup at all
        "def add(a, b):\n    raise SystemExit(0)\n",  # the exception form
        "def add(a, b):\n    import posix\n    posix._exit(0)\n",  # the os module bypassed
        "import ctypes\ndef add(a, b):\n    ctypes.CDLL(None)._exit(0)\n",  # libc directly
        # atexit hook that prints a fake success after an early exit
        "import atexit\natexit.register(lambda: print('ACCEPTED'))\n"
        "def add(a, b):\n    raise SystemExit(0)\n",
        # exit from another thread while the test waits
        "import os, threading, time\n"
        "def add(a, b):\n    threading.Timer(0.01, lambda: os._exit(0)).start()\n"
        "    time.sleep(2)\n",
        # correct on the first test, then leave before the rest
        "n = 0\ndef add(a, b):\n    global n\n    n += 1\n    if n > 1:\n"
        "        import os; os._exit(0)\n    return a + b\n",
    ],
)
def test_c1_early_exit_is_never_accepted(code):
    v = judge(ADD, code, config=CodeConfig(extract="raw", test_cpu_s=1.0, all_tests=True))
    assert_no_accept(v)
    assert any(t["code"] == "RE" for t in v.detail["tests"])


@pytest.mark.parametrize(
    "main",
    [
        "#include <cstdlib>\nint main(){ std::_Exit(0); }",  # C++ immediate exit
        "#include <cstdlib>\nint main(){ std::quick_exit(0); }",  # quick_exit
        "#include <unistd.h>\nint main(){ _exit(0); }",  # POSIX _exit
    ],
)
def test_c1_cpp_early_exit_on_stdio_is_wrong_answer(main):
    tests = {"kind": "stdio", "cases": [{"stdin": "1 2\n", "expected": "3"}]}
    v = judge(tests, main, lang="cpp")
    assert_no_accept(v)
    assert v.detail["tests"][0]["code"] == "WA"


# -- C2: always-equal objects --------------------------------------------------------------------
@pytest.mark.parametrize(
    "code",
    [
        # the classic: __eq__ always True
        "class E:\n    __eq__ = lambda s, o: True\n    __ne__ = lambda s, o: False\n"
        "    __hash__ = lambda s: 0\n    __bool__ = lambda s: False\n"
        "    def __sub__(s, o): return 0\n    def __abs__(s): return 0\n"
        "def add(a, b):\n    return E()\n",
        # an int subclass that claims equality (encoded as its real int value)
        "class I(int):\n    __eq__ = lambda s, o: True\n    __ne__ = lambda s, o: False\n"
        "    __hash__ = int.__hash__\ndef add(a, b):\n    return I(7)\n",
        # a list subclass that claims equality
        "class L(list):\n    __eq__ = lambda s, o: True\ndef add(a, b):\n    return L([0])\n",
        # a str subclass
        "class S(str):\n    __eq__ = lambda s, o: True\ndef add(a, b):\n    return S('x')\n",
    ],
)
def test_c2_always_equal_objects_are_wrong(code):
    v = judge(ADD, code, config=CodeConfig(extract="raw", all_tests=True))
    assert_no_accept(v)
    assert v.detail["passed"] == 0


# -- C3: monkey-patching what the tests use --------------------------------------------------------
@pytest.mark.parametrize(
    ("asserts", "code"),
    [
        # patch builtins.abs used by a tolerance assert
        (
            ["assert abs(candidate(0.5, 0.25) - 0.75) < 1e-9"],
            "import builtins\nbuiltins.abs = lambda x: 0\ndef add(a, b):\n    return 99.0\n",
        ),
        # patch math.isclose
        (
            ["import math\nassert math.isclose(candidate(1, 2), 3)"],
            "import math\nmath.isclose = lambda *a, **k: True\ndef add(a, b):\n    return 0\n",
        ),
        # replace AssertionError so a failing assert raises something swallowed
        (
            ["assert candidate(2, 2) == 4"],
            "import builtins\nclass Quiet(BaseException): pass\n"
            "builtins.AssertionError = Quiet\ndef add(a, b):\n    return 5\n",
        ),
        # patch isinstance/sorted/len used by the tests
        (
            ["assert sorted(candidate([3, 1], 0)) == [1, 3]"],
            "import builtins\nbuiltins.sorted = lambda x: [1, 3]\ndef add(a, b):\n    return [9]\n",
        ),
        # shadow the helper functions the tests call, in the candidate's own module
        (
            ["assert candidate(2, 2) == 4"],
            "import sys\ndef add(a, b):\n    sys.modules['__main__'].decode = lambda *a, **k: 4\n"
            "    return 5\n",
        ),
    ],
)
def test_c3_monkeypatching_does_not_change_the_verdict(asserts, code):
    tests = {"kind": "function", "entry_point": "add", "asserts": asserts}
    assert_no_accept(judge(tests, code))


# -- C4: introspecting the grader -------------------------------------------------------------------
FRAME_WALK = """
import gc, re, sys
def add(a, b):
    texts = []
    f = sys._getframe(1)
    while f is not None:
        texts.append(repr(f.f_locals))
        f = f.f_back
    for o in gc.get_objects():
        if isinstance(o, dict):
            texts.append(repr(o)[:100000])
    m = re.search(r"==\\s*(\\d+)", " ".join(texts))
    return int(m.group(1)) if m else -1
"""
CONSTS = """
import gc, types
def add(a, b):
    for o in gc.get_objects():
        if isinstance(o, types.FunctionType) and o.__code__.co_filename.startswith('<test'):
            for c in o.__code__.co_consts:
                if isinstance(c, int) and c not in (a, b):
                    return c
    return -1
"""


@pytest.mark.parametrize(
    "code",
    [
        FRAME_WALK,  # frames and every dict: the expected value is not in the process
        CONSTS,  # code constants of the test code
        "def add(a, b):\n    return open(__file__).read()\n",  # no test appended to the file
        "def add(a, b):\n    return len(open('/work/main.py').read())\n",  # the harness source
        "import sys\ndef add(a, b):\n    return sys.stdin.read()\n",  # stdin was consumed
    ],
)
def test_c4_expected_values_are_not_in_the_sandbox(code):
    assert_no_accept(judge(ASSERTS_ONLY, code))
    assert_no_accept(judge({**ADD, "asserts": []}, code))


# -- C5: create or overwrite the checker ------------------------------------------------------------
CHECKER = """
import sys
inp, out, ans = (open(p).read().split() for p in sys.argv[1:4])
sys.exit(0 if sorted(out) == sorted(ans) else 1)
"""


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("print(2, 1)", True),  # another valid answer: the checker accepts it
        ("print(1, 3)", False),  # wrong
        # overwrite the checker and answer files it can find, then print garbage
        (
            "import os\nfor n in ('checker.py', 'main.py', 'answer.txt', 'output.txt'):\n"
            "    try:\n        open(n, 'w').write('import sys; sys.exit(0)')\n"
            "    except OSError:\n        pass\nprint('garbage')",
            False,
        ),
    ],
)
def test_c5_checker_program_runs_apart(code, ok):
    tests = {
        "kind": "stdio",
        "checker": "program",
        "checker_program": CHECKER,
        "cases": [{"stdin": "", "expected": "1 2"}],
    }
    v = judge(tests, code)
    assert (v.status == "correct") is ok, v.detail


# -- C6: forged result channel ------------------------------------------------------------------------
FORGE = """
import gc, os
def add(a, b):
    for o in gc.get_objects():
        if type(o).__name__ == 'Channel':
            for i in range(10):
                o.send({"t": "res", "i": i, "kind": "case", "ok": True, "v": ["i", "4"],
                        "cpu": 0, "wall": 0, "calls": []})
                o.send({"t": "rep", "i": i, "ok": True})
            o.send({"t": "end", "n": 10})
    for fd in range(3, 20):
        try:
            os.write(fd, b'x 0 {"t": "end"}\\nACCEPTED\\n')
        except OSError:
            pass
    print("ACCEPTED")
    os._exit(0)
"""


@pytest.mark.parametrize(
    "code",
    [
        FORGE,  # finds the channel object and forges records, then exits
        "def add(a, b):\n    print('ACCEPTED')\n    print('PASSED 5/5')\n    return 0\n",
    ],
)
def test_c6_forged_records_do_not_pass(code):
    v = judge(ADD, code, config=CodeConfig(extract="raw", all_tests=True))
    assert_no_accept(v)


def test_c6_stdio_printing_accepted_is_wrong():
    tests = {"kind": "stdio", "cases": [{"stdin": "1 2\n", "expected": "3"}]}
    assert_no_accept(judge(tests, "print('ACCEPTED')\nprint('1')"))


# -- C7, C8, C10, C11: comparators on real programs -------------------------------------------------
@pytest.mark.parametrize(
    ("checker", "expected", "code"),
    [
        ("tokens", "1\n2\n3\n", "print(1)"),  # C7 prefix only
        ("tokens", "1\n2\n3\n", "pass"),  # C7 nothing at all
        ("lines", "1\n2\n3\n", "print(1)"),  # C7 with the lines checker
        ("tokens", "Alice", "print('ALICE')"),  # C8 case
        ("tokens", "1000000000000000001", "print(1e18)"),  # C8 big int as a double
        ("float:abs=1e-6,rel=1e-6", "1000000000000000001", "print(1e18)"),  # C8 with floats
        ("tokens", "1 2", "print(2, 1)"),  # C8 order
        ("float:abs=1e-6", "1.5", "print('nan')"),  # C9 NaN
        ("float:abs=1e-6", "1.5", "print('inf')"),  # C9 inf
        ("float:abs=1e-6", "1.5", "print('1e309')"),  # C9 overflow
        ("tokens", "1000", "print('1_000')"),  # C10 underscores
        ("float:abs=1e-6", "1000", "print('1_000')"),  # C10 underscores, float checker
        ("tokens", "123", "print('\u0661\u0662\u0663')"),  # C10 Arabic-Indic digits
        ("float:abs=1e-6", "123", "print('\u0661\u0662\u0663')"),  # C10 same, float checker
        ("tokens", "16", "print('0x10')"),  # C10 hex
        ("float:abs=1e-6", "5", "print('+5')"),  # C10 sign on an integer
        ("tokens", "3", "import sys; sys.stdout.buffer.write(b'\\xff\\xfe3\\n')"),  # C11 bytes
        ("tokens", "3", "import sys; sys.stdout.buffer.write(b'\\xef\\xbb\\xbf3')"),  # C11 BOM
    ],
)
def test_c7_to_c11_comparators_reject(checker, expected, code):
    tests = {"kind": "stdio", "checker": checker, "cases": [{"stdin": "", "expected": expected}]}
    v = judge(tests, code)
    assert_no_accept(v)
    assert v.detail["tests"][0]["code"] == "WA"


@pytest.mark.parametrize(
    "code",
    [
        "import sys\nprint(sum(map(int, sys.stdin.buffer.read().split())))",  # C11b stdin.buffer
        "import os\nprint(sum(map(int, os.read(0, 100).split())))",  # C11b raw fd
        "from math import *\ndef main():\n    print(floor(sum(map(int, input().split()))))\n"
        "main()",  # wildcard import
        "print(sum(map(int, input().split())), end='  \\r\\n')",  # C11 trailing whitespace, CRLF
    ],
)
def test_c11b_correct_programs_are_accepted(code):
    tests = {"kind": "stdio", "cases": [{"stdin": "1 2\n", "expected": "3\n"}]}
    assert judge(tests, code).status == "correct"


# -- C12: every test counts ----------------------------------------------------------------------------
def test_c12_failing_only_a_late_test_gets_no_reward():
    cases = [{"call": f"add({i}, 1)", "expected": str(i + 1)} for i in range(20)]
    tests = {"kind": "function", "entry_point": "add", "cases": cases}
    code = "def add(a, b):\n    return a + b + (a == 15)\n"
    binary = judge(tests, code)
    assert binary.reward == 0.0 and binary.detail["first_failure"]["i"] == 15
    frac = judge(tests, code, config=CodeConfig(extract="raw", reward="fraction"))
    assert frac.reward == pytest.approx(19 / 20)


# -- C13: infrastructure faults are SE, never a reward ------------------------------------------------
def test_c13_sandbox_error_is_unverifiable(monkeypatch):
    def broken(job, **kw):
        return JobResult(compile=RunResult(status="sandbox_error", message="no jail"), runs=())

    monkeypatch.setattr(sandbox, "run", broken)
    for tests in (ADD, {"kind": "stdio", "cases": [{"stdin": "", "expected": "1"}]}):
        v = judge(tests, GOOD)
        assert v.status == "unverifiable" and v.reward is None
        assert v.detail["tests"][0]["code"] == "SE"


def test_c13_harness_that_does_not_start_is_se(monkeypatch):
    monkeypatch.setattr(
        functions, "harness_files", lambda: ("main.py", "import sys\nsys.exit(3)\n")
    )
    v = judge(ADD, GOOD)
    assert v.status == "unverifiable" and v.reward is None


# -- C14: dataset values are never evaluated outside the sandbox ----------------------------------------
def test_c14_non_literal_expected_is_evaluated_in_the_sandbox_only(tmp_path: Path):
    marker = tmp_path / "pwned"
    touch = f"__import__('pathlib').Path({str(marker)!r}).touch() or 3"
    tests = {
        "kind": "function",
        "entry_point": "add",
        "cases": [
            {"call": "add(1, 2)", "expected": "sum([1, 2])"},  # not a literal: clean replay
            {"call": "add(1, 2)", "expected": touch},  # a side effect: never on the host
        ],
    }
    v = judge(tests, GOOD, config=CodeConfig(extract="raw", all_tests=True))
    assert not marker.exists()
    codes = [t["code"] for t in v.detail["tests"]]
    assert codes == ["AC", "SE"]  # the jail's read-only root refuses the write: a dataset fault
    assert v.reward is None


# -- C15: import shadowing ------------------------------------------------------------------------------
def test_c15_shadowing_modules_in_the_work_dir_does_not_help():
    code = (
        "for name in ('json.py', 'random.py', 'sitecustomize.py'):\n"
        "    try:\n        open(name, 'w').write('raise SystemExit(0)')\n"
        "    except OSError:\n        pass\n"
        "def add(a, b):\n    return 0\n"
    )
    assert_no_accept(judge(ADD, code))


# -- C17: several valid answers through a checker (see C5) and the candidate's own randomness --------
def test_c16_candidate_randomness_does_not_shift_the_tests_random_stream():
    tests = {
        "kind": "function",
        "entry_point": "ident",
        "asserts": [
            "import random\nfor _ in range(5):\n    x = random.randint(0, 100)\n"
            "    assert candidate(x) == x"
        ],
    }
    code = "import random\ndef ident(x):\n    random.random()\n    return x\n"
    assert judge(tests, code).status == "correct"


def test_c13_a_sandbox_that_raises_is_se_not_a_crash(monkeypatch):
    def raising(job, **kw):
        raise OSError("seccomp filter file vanished")

    monkeypatch.setattr(sandbox, "run", raising)
    for tests in (ADD, {"kind": "stdio", "cases": [{"stdin": "", "expected": "1"}]}):
        v = judge(tests, GOOD)
        assert v.status == "unverifiable" and v.reward is None
