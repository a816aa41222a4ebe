"""Issue 9, classes 2 and 3: the process that decides must hold nothing of the candidate, and the
candidate's process nothing of the tests.

Class 2 ("the clean replay is not clean"): the response's imports and names must never be bound
where the tests run. Class 3 ("trusted and untrusted code share one process"): expected values
computed by test code, the tests' helpers and the per-test limits must be out of the candidate's
reach. Every attack is a wrong program that the previous design scored 1.0 (or could have); each
comes with its controls: the right program is still AC, the honest wrong one still WA, and no
attack gets reward None. Prompts are real HumanEval rows (../shared/data/code) or rows in
HumanEval's own format mapped by the same ingest preset; one attack goes through
`engine.verify.judge`, the code path of ``rlvr verify``.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from engine.ingest.presets import PRESETS
from engine.verify import VerifyConfig
from engine.verify import judge as score_judge
from sandbox.backends import get_backend
from verifiers import registry
from verifiers.code import CodeConfig, verify_code
from verifiers.code.functions import _candidate_names

pytestmark = pytest.mark.skipif(
    get_backend().unavailable() is not None, reason="the sandbox cannot run jobs here"
)


# -- prompts -----------------------------------------------------------------------------------
def _prompt(raw: dict[str, Any]) -> dict[str, Any]:
    """A prompts-table row, made by the HumanEval ingest preset from a row in its format."""
    draft = PRESETS["humaneval"].map_row(raw)
    return {"task": "code", "tests": draft.tests, "meta": draft.meta}


@pytest.fixture(scope="module")
def humaneval(shared_data: Path) -> dict[str, dict]:
    rows = (json.loads(x) for x in (shared_data / "code" / "humaneval_openai.jsonl").open())
    return {r["task_id"]: r for r in rows}


def _synthetic(prompt: str, entry: str, check: str, top: str = "") -> dict[str, Any]:
    """A prompt in HumanEval's format: ``top`` is test-module code before ``check`` (setup)."""
    body = textwrap.indent(textwrap.dedent(check).strip(), "    ")
    test = f"{top}\n\ndef check(candidate):\n{body}\n"
    raw = {"task_id": "Synthetic/0", "prompt": prompt, "entry_point": entry, "test": test}
    return _prompt({**raw, "canonical_solution": "    pass\n"})


def score(prompt: dict[str, Any], response: str, **options: Any):
    return registry.score("code", prompt, response, **options)


def assert_wrong(verdict) -> None:
    """Reward 0: neither accepted (1.0) nor turned into "no reward" (None)."""
    assert verdict.status == "incorrect" and verdict.reward == 0.0, verdict.detail


def assert_right(verdict) -> None:
    assert verdict.status == "correct" and verdict.reward == 1.0, verdict.detail


# -- class 2: nothing of the response is bound where the tests run ------------------------------
ABS_ALIAS = """from operator import not_ as abs


def truncate_number(number: float) -> float:
    return 0.5
"""


def test_c2_import_alias_over_abs_through_rlvr_verify(humaneval) -> None:
    """HumanEval/2 checks ``abs(candidate(1.33) - 0.33) < 1e-6``: with ``abs`` bound to the
    response's ``operator.not_`` every such assert holds (``False < 1e-6``). Judged through
    `engine.verify.judge`, the code path of ``rlvr verify``."""
    prompt = _prompt(humaneval["HumanEval/2"])
    config = VerifyConfig(workers=1)

    def reward(completion: str) -> float | None:
        return score_judge("code", {"rollout_id": "r", "completion": completion}, prompt, config)[
            "reward"
        ]

    assert reward(ABS_ALIAS) == 0.0  # the attack
    assert reward(humaneval["HumanEval/2"]["canonical_solution"]) == 1.0  # control: right
    assert reward(ABS_ALIAS.split("\n", 1)[1]) == 0.0  # control: the same wrong answer, no alias


FORGE_VERDICT = """
import gc, os
for o in gc.get_objects():
    if type(o).__name__ == "Channel":
        for i in range(8):
            o.send({"t": "rep", "i": i, "ok": True})
            o.send({"t": "res", "i": i, "kind": "assert", "ok": True, "cpu": 0, "wall": 0})
        o.send({"t": "end", "n": 8})
        os._exit(0)
"""


def test_c2_alias_over_a_builtin_that_runs_code(humaneval) -> None:
    """HumanEval/37 checks ``tuple(candidate(...)) == ...``: ``from builtins import exec as tuple``
    ran the candidate's returned string in the process that decides, which forged its verdict."""
    prompt = _prompt(humaneval["HumanEval/37"])
    attack = (
        "from builtins import exec as tuple\n\n\n"
        f"def sort_even(l: list):\n    return {FORGE_VERDICT!r}\n"
    )
    assert_wrong(score(prompt, attack))
    assert_right(score(prompt, humaneval["HumanEval/37"]["canonical_solution"]))
    assert_wrong(score(prompt, "def sort_even(l: list):\n    return sorted(l)\n"))  # honest


ISCLOSE_PROMPT = '''from math import isclose


def square(x: float) -> float:
    """The square of x.
    >>> square(2.0)
    4.0
    """
'''
ISCLOSE_CHECK = """
assert candidate(2.0) == 4.0
assert isclose(candidate(1.5), 2.25)
assert isclose(candidate(0.1), 0.01)
"""
WRONG_SQUARE = "def square(x: float) -> float:\n    return 4.0 if x == 2.0 else 0.0\n"


@pytest.mark.parametrize(
    "attack",
    [
        # alias over a function the prompt imports (`isclose` from math): ne(got, want) is True
        "from operator import ne as isclose\n\n\n" + WRONG_SQUARE,
        # a definition over the prompt's import: the tests must still call math.isclose
        "def isclose(*args, **kwargs):\n    return True\n\n\n" + WRONG_SQUARE,
        # a module alias with the same name as the prompt's function's module
        "import operator as math\nfrom operator import ne as isclose\n\n\n" + WRONG_SQUARE,
    ],
)
def test_c2_names_the_prompt_imports_stay_the_prompts(attack) -> None:
    prompt = _synthetic(ISCLOSE_PROMPT, "square", ISCLOSE_CHECK)
    assert_wrong(score(prompt, attack))
    assert_right(score(prompt, "    return x * x\n"))  # control: a body, as HumanEval completes
    assert_wrong(score(prompt, WRONG_SQUARE))  # control: honest wrong


PLANT = """
for name in ("string.py", "random.py", "select.py", "marshal.py"):
    try:
        open(name, "w").write({forge!r})
    except OSError:
        pass


def decode_cyclic(s: str):
    return s
"""


def test_c2_modules_planted_in_the_work_dir_never_load_in_the_judge(humaneval) -> None:
    """HumanEval/38's test item imports ``string`` and ``random`` after the candidate's process
    started: modules it writes into its work dir must not be what the tests import."""
    prompt = _prompt(humaneval["HumanEval/38"])
    assert_wrong(score(prompt, PLANT.format(forge=FORGE_VERDICT)))
    assert_right(score(prompt, humaneval["HumanEval/38"]["canonical_solution"]))


# -- class 3: the tests' values, helpers and limits are out of the candidate's reach ---------------
READ_TESTS_MODULE = """
import sys


def decode_cyclic(s: str):
    tests = sys.modules.get("__tests__")
    if tests is not None and "str" in vars(tests):
        return vars(tests)["str"]
    return ""
"""
READ_FRAMES = """
import sys


def decode_cyclic(s: str):
    f = sys._getframe(1)
    while f is not None:
        for scope in (f.f_locals, f.f_globals):
            if scope.get("encoded_str") == s and isinstance(scope.get("str"), str):
                return scope["str"]
        f = f.f_back
    return ""
"""


@pytest.mark.parametrize("attack", [READ_TESTS_MODULE, READ_FRAMES])
def test_c3_expected_built_by_test_code_is_not_in_the_candidates_process(humaneval, attack):
    """HumanEval/38 builds the expected string and its encoding in the test loop; the candidate
    returned it from the tests' module or frames when both shared its process."""
    prompt = _prompt(humaneval["HumanEval/38"])
    assert_wrong(score(prompt, attack))
    assert_right(score(prompt, humaneval["HumanEval/38"]["canonical_solution"]))
    assert_wrong(score(prompt, "def decode_cyclic(s: str):\n    return s[::-1]\n"))  # honest


SQUARE_PROMPT = 'def square(x: int) -> int:\n    """The square of x."""\n'
TABLE_CHECK = """
for x, want in [(2, 4), (3, 9), (12, 144), (-7, 49)]:
    assert candidate(x) == want
"""
TABLE_FROM_MODULE = """
import sys


def square(x: int) -> int:
    tests = vars(sys.modules.get("__tests__", sys))
    return tests.get("want", -1)
"""
TABLE_FROM_GC = """
import gc


def square(x: int) -> int:
    for o in gc.get_objects():
        if isinstance(o, (list, tuple)):
            for pair in o:
                if isinstance(pair, tuple) and len(pair) == 2 and pair[0] == x:
                    return pair[1]
    return -1
"""
TABLE_FROM_CONSTS = """
import gc, types


def square(x: int) -> int:
    for o in gc.get_objects():
        if isinstance(o, types.CodeType) or hasattr(o, "__code__"):
            code = o if isinstance(o, types.CodeType) else o.__code__
            for c in code.co_consts:
                if isinstance(c, tuple):
                    for pair in c:
                        if isinstance(pair, tuple) and len(pair) == 2 and pair[0] == x:
                            return pair[1]
    return -1
"""
TABLE_FROM_JUDGE_MEMORY = """
import os, re


def square(x: int) -> int:
    pid = os.getppid()
    try:
        maps = open(f"/proc/{pid}/maps").read().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb")
    except OSError:
        return -1
    for line in maps:
        lo, hi = (int(v, 16) for v in line.split()[0].split("-"))
        if "rw" not in line.split()[1] or hi - lo > 1 << 28:
            continue
        try:
            mem.seek(lo)
            data = mem.read(hi - lo)
        except (OSError, ValueError, OverflowError):
            continue
        m = re.search(rb"want in \\[([^\\]]*)\\]", data)
        if m:
            for a, b in re.findall(rb"\\((-?\\d+), (-?\\d+)\\)", m.group(1)):
                if int(a) == x:
                    return int(b)
    return -1
"""


@pytest.mark.parametrize(
    "attack",
    [
        TABLE_FROM_MODULE,  # the loop variable in the tests' module (sys.modules)
        TABLE_FROM_GC,  # the table itself, through gc.get_objects()
        TABLE_FROM_CONSTS,  # the table in the constants of the tests' code objects
        TABLE_FROM_JUDGE_MEMORY,  # the judge process's memory through /proc (same uid)
    ],
)
def test_c3_a_table_of_expected_values_is_out_of_reach(attack) -> None:
    prompt = _synthetic(SQUARE_PROMPT, "square", TABLE_CHECK)
    assert_wrong(score(prompt, attack))
    assert_right(score(prompt, "    return x * x\n"))
    assert_wrong(score(prompt, "def square(x: int) -> int:\n    return x + x\n"))


CLOSE_TOP = "def _close(a, b):\n    return abs(a - b) < 1e-9\n"
CLOSE_CHECK = "assert _close(candidate(0.5), 0.25)\nassert _close(candidate(3.0), 9.0)\n"
HIJACK_CLOSE = "def _close(a, b):\n    return True\n\n\ndef square(x):\n    return 0.0\n"


def test_c3_a_function_named_like_a_setup_helper_is_not_the_helper() -> None:
    prompt = _synthetic(SQUARE_PROMPT, "square", CLOSE_CHECK, top=CLOSE_TOP)
    assert json.loads(prompt["tests"])["setup"].startswith("def _close")  # the helper: setup
    assert_wrong(score(prompt, HIJACK_CLOSE))
    assert_right(score(prompt, "    return x * x\n"))
    assert_wrong(score(prompt, "def square(x):\n    return 0.0\n"))


CHECK_MODULE = {
    "kind": "function",
    "entry_point": "square",
    "asserts": [
        "def check(fn):\n    assert fn(2) == 4\n    assert fn(-3) == 9\n\n\ncheck(candidate)",
    ],
}


def test_c3_a_check_function_of_the_tests_is_not_the_candidates() -> None:
    """A ``check(candidate)`` test module: the candidate's own ``check`` must not replace it."""
    raw = CodeConfig(extract="raw")
    attack = "def check(fn):\n    pass\n\n\ndef square(x):\n    return 0\n"
    assert_wrong(verify_code(CHECK_MODULE, attack, config=raw))
    assert_right(verify_code(CHECK_MODULE, "def square(x):\n    return x * x\n", config=raw))
    assert_wrong(verify_code(CHECK_MODULE, "def square(x):\n    return 0\n", config=raw))


STUB_CLOCKS = """
import itertools, resource, signal, time
resource.setrlimit = lambda *a, **k: None
resource.getrlimit = lambda *a: (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
for name in ("process_time", "perf_counter", "monotonic", "time", "thread_time"):
    setattr(time, name, lambda: 0.0)
for name in ("process_time_ns", "perf_counter_ns", "monotonic_ns", "time_ns"):
    setattr(time, name, lambda: 0)
signal.signal(signal.SIGXCPU, signal.SIG_IGN)
"""
FAST_CLOCKS = """
import itertools, resource, time
_tick = itertools.count()
for name in ("process_time", "perf_counter", "monotonic", "time"):
    setattr(time, name, lambda: next(_tick) * 1000.0)
resource.setrlimit = lambda *a, **k: None
"""
BURN = "\ndef square(x: int) -> int:\n    n = 0\n    for i in range(15_000_000):\n        n += i\n    return x * x\n"
QUICK = "\ndef square(x: int) -> int:\n    return x * x\n"
LIMITED = CodeConfig(extract="raw", test_cpu_s=0.25)
ONE_TEST = {"kind": "function", "entry_point": "square", "asserts": ["assert candidate(3) == 9"]}


def test_c3_stubbing_resource_and_the_clocks_does_not_dodge_the_per_test_limit() -> None:
    """The CPU of a test is read by the judge from the candidate's process CPU clock: a slow
    program that stubs ``resource.setrlimit``, every ``time`` clock and SIGXCPU is still TLE."""
    v = verify_code(ONE_TEST, STUB_CLOCKS + BURN, config=LIMITED)
    assert_wrong(v)
    assert v.detail["tests"][0]["code"] == "TLE"
    slow = verify_code(ONE_TEST, BURN, config=LIMITED)  # control: honest slow
    assert_wrong(slow)
    assert slow.detail["tests"][0]["code"] == "TLE"
    assert_right(verify_code(ONE_TEST, STUB_CLOCKS + QUICK, config=LIMITED))  # control: fast


def test_c3_clocks_the_candidate_makes_race_do_not_fail_a_correct_program() -> None:
    """The other way round: clocks that jump by 1000 s per read in the candidate's process are
    not what the judge measures; a quick correct program stays AC."""
    assert_right(verify_code(ONE_TEST, FAST_CLOCKS + QUICK, config=LIMITED))


@pytest.mark.parametrize(
    "attack",
    [
        # kill the judge process: the tests in flight have no verdict, never an AC
        "import os, signal\ndef square(x):\n    os.kill(os.getppid(), signal.SIGKILL)\n"
        "    return x * x\n",
        # write forged replies (a stand-in tag, a nested bomb) on every fd, then answer wrong
        "import os\ndef square(x):\n    for fd in range(3, 12):\n        try:\n"
        '            os.write(fd, b\'{"v": ["P", "X", 0, ["l", []], []]}\\n\')\n'
        "            os.write(fd, b'{\"v\": ' + b'[' * 100000 + b']' * 100000 + b'}\\n')\n"
        "        except OSError:\n            pass\n    return 0\n",
        # stop the judge process: the run ends at its wall limit, TLE
        "import os, signal\ndef square(x):\n    os.kill(os.getppid(), signal.SIGSTOP)\n"
        "    return x * x\n",
    ],
)
def test_c3_the_candidate_cannot_take_over_or_silence_the_judge(attack) -> None:
    config = CodeConfig(extract="raw", test_cpu_s=0.5)
    assert_wrong(verify_code(ONE_TEST, attack, config=config))


# -- which names are the candidate's (decided from the sources, never from the run) ---------------
def test_candidate_names_exclude_every_trusted_binding_and_find_forgotten_modules() -> None:
    program = (
        "import math as m\nfrom operator import ne as isclose\n"
        "def square(x): return x\ndef _close(a, b): return True\ndef check(f): pass\n"
        "def helper(x): return x\nclass Node: pass\n"
    )
    bound, modules = _candidate_names(
        program,
        "from math import isclose\ndef square(x):\n    pass\n",
        "square",
        [
            "def _close(a, b):\n    return abs(a - b) < 1e-9",
            "def check(fn):\n    assert fn(1)\n\ncheck(candidate)",
            "assert isclose(candidate(1), helper(1)) and Node() and _close(1, 1)",
            "assert sys.getsizeof(candidate(1)) and m.pi",
        ],
    )
    assert bound == {"candidate": "func", "square": "func", "helper": "func", "Node": "data"}
    assert modules == ["sys"]  # a module the tests forgot to import; never the response's `m`


# -- the candidate's exceptions, as the tests in the judge process see them ---------------------
RAISES = {
    "kind": "function",
    "entry_point": "root",
    "asserts": [
        "assert root(9) == 3",
        "try:\n    root(-1)\n    raise RuntimeError('no error for -1')\nexcept ValueError:\n    pass",
        "assert all(root(x * x) == x for x in range(5))",
    ],
}


@pytest.mark.parametrize(
    ("code", "right"),
    [
        # control: raises ValueError as asked; the test's `except ValueError` catches it
        (
            "import math\ndef root(x):\n    if x < 0:\n        raise ValueError(x)\n"
            "    return math.isqrt(x)\n",
            True,
        ),
        # honest wrong: no error for -1
        ("import math\ndef root(x):\n    return math.isqrt(abs(x))\n", False),
        # a StopIteration must not end the tests' generator early (all() of nothing left)
        (
            "import math\ndef root(x):\n    if x < 0:\n        raise ValueError(x)\n"
            "    if x > 0:\n        raise StopIteration\n    return 0\n",
            False,
        ),
        # an AssertionError (or a subclass) is the candidate's failure, never the test's pass
        ("def root(x):\n    raise AssertionError('skip')\n", False),
    ],
)
def test_exceptions_of_the_candidate_reach_the_tests_as_their_builtin_types(code, right) -> None:
    v = verify_code(RAISES, code, config=CodeConfig(extract="raw"))
    (assert_right if right else assert_wrong)(v)


def test_a_result_over_the_reply_cap_is_ole_not_a_judge_crash() -> None:
    """A 12 MB result is never decoded by the judge process: the candidate is killed, OLE."""
    huge = "def square(x):\n    return 'x' * (12 << 20)\n"
    v = verify_code(ONE_TEST, huge, config=CodeConfig(extract="raw"))
    assert_wrong(v)
    assert v.detail["tests"][0]["code"] == "OLE", v.detail
    assert_right(verify_code(ONE_TEST, QUICK, config=CodeConfig(extract="raw")))


@pytest.mark.parametrize(
    ("attack", "wrong"),
    [
        # at import time, before the judge could have announced itself: never "no reward"
        ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + QUICK, True),
        ("import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\n" + QUICK, True),
        # from a thread, a moment later (during the setup, the test or after the verdict)
        (
            "import os, signal, threading\n"
            "threading.Timer(0.002, os.kill, (os.getppid(), signal.SIGKILL)).start()\n" + QUICK,
            False,
        ),
    ],
)
def test_c3_killing_the_judge_is_the_candidates_failure_never_ours(attack, wrong) -> None:
    config = CodeConfig(extract="raw", test_cpu_s=0.5)
    for _ in range(3):  # a race in the old order (fork, then `ready`): repeat
        v = verify_code(ONE_TEST, attack, config=config)
        assert v.reward is not None and v.status != "unverifiable", v.detail
        if wrong:
            assert_wrong(v)
