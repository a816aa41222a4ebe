"""Judge codes, the verdict they add up to, and the public API (score_prompt, batch, async)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

import verifiers.code as code_api
from sandbox import RunResult
from sandbox.backends import get_backend
from verifiers import registry
from verifiers.code import CodeConfig, TestResult, score_prompt, verify_code, verify_code_batch
from verifiers.code.judge import code_for_status, make_verdict

needs_sandbox = pytest.mark.skipif(
    get_backend().unavailable() is not None, reason="the sandbox cannot run jobs here"
)
STDIO = {
    "kind": "stdio",
    "cases": [{"stdin": "2\n", "expected": "4"}, {"stdin": "3\n", "expected": "9"}],
}
SQUARE = "```python\nn = int(input())\nprint(n * n)\n```"


def _verdict(codes, **cfg):
    results = [TestResult(i=i, code=c) for i, c in enumerate(codes)]
    return make_verdict(
        results,
        total=len(codes),
        config=CodeConfig(**cfg),
        extracted="x",
        started=time.perf_counter(),
    )


@pytest.mark.parametrize(
    ("codes", "cfg", "status", "reward"),
    [
        (["AC", "AC"], {}, "correct", 1.0),  # all pass
        (["AC", "WA"], {}, "incorrect", 0.0),  # binary: one failure is 0
        (["AC", "WA", "AC", "AC"], {"reward": "fraction"}, "incorrect", 0.75),  # fraction
        (["AC", "SE"], {}, "unverifiable", None),  # a fault before any failure: no reward
        (["WA", "SE"], {}, "incorrect", 0.0),  # a real failure first decides a binary reward
        (["AC", "WA", "SE"], {"reward": "fraction"}, "unverifiable", None),  # fraction needs all
        (["TLE"], {}, "incorrect", 0.0),  # a program timeout is the program's failure
        (["CE"], {}, "incorrect", 0.0),  # no program
    ],
)
def test_verdict_from_codes(codes, cfg, status, reward):
    v = _verdict(codes, **cfg)
    assert (v.status, v.reward) == (status, reward)
    assert v.reward is not None or v.status == "unverifiable"


def test_first_failure_mode_cuts_the_detail():
    v = _verdict(["AC", "WA", "AC"])
    assert [t["code"] for t in v.detail["tests"]] == ["AC", "WA"]
    assert v.detail["first_failure"]["i"] == 1
    all_tests = _verdict(["AC", "WA", "AC"], all_tests=True)
    assert len(all_tests.detail["tests"]) == 3


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("time_limit", "TLE"),
        ("memory_limit", "MLE"),
        ("output_limit", "OLE"),
        ("runtime_error", "RE"),
        ("compile_error", "CE"),
        ("sandbox_error", "SE"),
    ],
)
def test_sandbox_status_to_code(status, code):
    assert code_for_status(RunResult(status=status)) == code


def test_config_validation_names_the_value():
    with pytest.raises(ValueError, match=r"CodeConfig\.reward='half'"):
        CodeConfig(reward="half")  # type: ignore[arg-type]
    assert CodeConfig(reward="fraction").stop_at_first_failure is False
    assert CodeConfig().stop_at_first_failure is True


@pytest.mark.parametrize(
    ("tests", "status"),
    [
        ("{oops", "error"),  # not JSON
        ({"kind": "stdio", "cases": []}, "error"),  # no cases
        ({"kind": "stdio", "checker": "regex", "cases": [{"stdin": "", "expected": ""}]}, "error"),
    ],
)
def test_bad_tests_are_an_error_verdict_not_an_exception(tests, status):
    v = verify_code(tests, SQUARE)
    assert v.status == status and v.reward is None and "bad tests" in v.detail["reason"]


def test_function_tests_in_cpp_are_unverifiable():
    tests = {"kind": "function", "entry_point": "f", "asserts": ["assert(candidate(1) == 1);"]}
    v = verify_code(tests, "```cpp\nint f(int x){return x;}\n```", lang="cpp")
    assert v.status == "unverifiable" and v.reward is None


def test_no_code_block_is_ce_without_running_anything(monkeypatch):
    monkeypatch.setattr("sandbox.run", lambda *a, **k: pytest.fail("nothing should run"))
    v = verify_code(STDIO, "I think the answer is n squared.")
    assert v.status == "incorrect" and v.reward == 0.0
    assert v.detail["tests"][0]["code"] == "CE" and "no ```python" in v.detail["tests"][0]["reason"]


def test_python_syntax_error_is_ce():
    v = verify_code(STDIO, "```python\ndef (:\n```")
    assert v.detail["tests"][0]["code"] == "CE" and "SyntaxError" in v.detail["compile"]["message"]


@needs_sandbox
def test_stdio_correct_and_wrong():
    assert verify_code(STDIO, SQUARE).status == "correct"
    v = verify_code(STDIO, "```python\nprint(4)\n```")
    assert v.status == "incorrect" and v.detail["first_failure"]["i"] == 1


@needs_sandbox
def test_cpp_compile_error_and_compile_once():
    v = verify_code(STDIO, "```cpp\nint main( {\n```", lang="cpp")
    assert v.status == "incorrect" and v.detail["tests"][0]["code"] == "CE"
    ok = verify_code(
        STDIO,
        '```cpp\n#include <cstdio>\nint main(){long long n;scanf("%lld",&n);printf("%lld\\n",n*n);}\n```',
        lang="cpp",
    )
    assert ok.status == "correct" and ok.detail["compile"]["status"] == "ok"


@needs_sandbox
@pytest.mark.parametrize(
    ("program", "code"),
    [
        ("while True: pass", "TLE"),  # CPU
        ("import time; time.sleep(30)", "TLE"),  # wall backstop
        ("x = bytearray(1 << 31)", "MLE"),  # memory
        ("raise ValueError('no')", "RE"),  # crash
        ("import sys\nwhile True: sys.stdout.write('x' * 65536)", "OLE"),  # output flood
    ],
)
def test_stdio_limit_codes(program, code):
    cfg = CodeConfig(test_cpu_s=0.5, memory_mb=256, extract="raw")
    v = verify_code(STDIO, program, config=cfg)
    assert v.detail["tests"][0]["code"] == code and v.reward == 0.0


@needs_sandbox
@pytest.mark.parametrize(
    ("program", "code"),
    [
        ("def f(x):\n    while True: pass", "TLE"),  # per-test CPU limit inside the harness
        ("def f(x):\n    import time; time.sleep(60)", "TLE"),  # per-test wall watchdog
        ("def f(x):\n    return bytearray(1 << 31)", "MLE"),  # memory
        ("def f(x):\n    raise KeyError(x)", "RE"),  # the candidate raised
        ("def f(x):\n    return x + 1", "WA"),  # wrong value
    ],
)
def test_function_codes(program, code):
    tests = {
        "kind": "function",
        "entry_point": "f",
        "cases": [{"call": "f(1)", "expected": "1"}, {"call": "f(2)", "expected": "2"}],
    }
    cfg = CodeConfig(test_cpu_s=0.5, memory_mb=256, extract="raw")
    v = verify_code(tests, program, config=cfg)
    assert v.detail["tests"][0]["code"] == code, v.detail


@needs_sandbox
def test_all_tests_mode_restarts_after_a_fatal_test():
    tests = {
        "kind": "function",
        "entry_point": "f",
        "cases": [{"call": f"f({i})", "expected": str(i)} for i in range(4)],
    }
    program = "def f(x):\n    if x == 1:\n        while True: pass\n    return x"
    cfg = CodeConfig(test_cpu_s=0.5, extract="raw", reward="fraction")
    v = verify_code(tests, program, config=cfg)
    assert [t["code"] for t in v.detail["tests"]] == ["AC", "TLE", "AC", "AC"]
    assert v.reward == 0.75


@needs_sandbox
def test_class_method_entry_points_and_objects():
    tests = {
        "kind": "function",
        "entry_point": "Solution.twoSum",
        "cases": [{"call": "Solution().twoSum([2, 7, 11], 9)", "expected": "[0, 1]"}],
        "asserts": ["assert candidate([3, 3], 6) == [0, 1]"],
    }
    program = (
        "class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n"
        "        for i, x in enumerate(nums):\n            if target - x in seen:\n"
        "                return [seen[target - x], i]\n            seen[x] = i\n"
    )
    assert verify_code(tests, program, config=CodeConfig(extract="raw")).status == "correct"


@needs_sandbox
def test_score_prompt_reads_tests_and_prompt_prefix():
    tests = {"kind": "function", "entry_point": "inc", "asserts": ["assert candidate(1) == 2"]}
    prompt = {"tests": json.dumps(tests), "meta": json.dumps({"prompt_prefix": "def inc(x):\n"})}
    assert score_prompt(prompt, "    return x + 1\n").status == "correct"  # a bare body
    assert score_prompt(prompt, "    return x\n").status == "incorrect"
    full = "```python\ndef inc(x):\n    return x + 1\n```"
    assert score_prompt(prompt, full).status == "correct"  # whole function in a block
    assert registry.get("code") is score_prompt
    assert score_prompt({"tests": None}, full).status == "unverifiable"


@needs_sandbox
def test_batch_keeps_order_and_survives_bad_items():
    items = [
        {"tests": STDIO, "response": SQUARE},
        {"response": SQUARE},  # no tests key
        (STDIO, "```python\nprint(0)\n```"),
    ]
    out = verify_code_batch(items, concurrency=2)
    assert [v.status for v in out] == ["correct", "error", "incorrect"]


@needs_sandbox
def test_batch_takes_workers_like_the_math_batch(monkeypatch):
    """`workers=` (verify_math_batch's keyword) sizes the pool; `concurrency=` is its old alias."""
    import concurrent.futures

    import verifiers.code.verify as code_verify

    sizes = []
    real = concurrent.futures.ThreadPoolExecutor

    def pool(max_workers=None, **kw):
        sizes.append(max_workers)
        return real(max_workers=max_workers, **kw)

    monkeypatch.setattr(code_verify, "ThreadPoolExecutor", pool)
    pairs = [(STDIO, SQUARE), (STDIO, "```python\nprint(0)\n```")]
    assert [v.status for v in verify_code_batch(pairs, workers=3)] == ["correct", "incorrect"]
    assert [v.status for v in verify_code_batch(pairs, concurrency=1)] == ["correct", "incorrect"]
    assert sizes == [3, 1]


@needs_sandbox
def test_async_variant():
    v = asyncio.run(code_api.averify_code(STDIO, SQUARE))
    assert v.status == "correct"


@needs_sandbox
def test_old_escape_sequences_are_not_compile_errors():
    # "\w" in a plain string is a SyntaxWarning, not an error (MBPP references use it)
    tests = {"kind": "function", "entry_point": "f", "cases": [{"call": "f()", "expected": "2"}]}
    assert verify_code(
        tests, 'def f():\n    return len("\\w")', config=CodeConfig(extract="raw")
    ).ok


@needs_sandbox
def test_harness_imports_random_only_where_something_can_use_it():
    """Seeding costs an import per run; a program and tests that never mention it skip it."""
    tests = {"kind": "function", "entry_point": "f", "asserts": ["assert candidate() is False"]}
    probe = "import sys\ndef f():\n    return ('ran' + 'dom') in sys.modules\n"
    assert verify_code(tests, probe, config=CodeConfig(extract="raw")).status == "correct"
    uses = probe + "import random\n"  # mentioned: imported and seeded per test
    assert verify_code(tests, uses, config=CodeConfig(extract="raw")).status == "incorrect"
