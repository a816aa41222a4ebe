"""Code test mapping: check bodies, assert scripts and contest tests into the one test schema."""

from __future__ import annotations

import base64
import json
import pickle
import zlib

import pytest

from engine.ingest.code_tests import (
    FieldError,
    SplitTests,
    defined_functions,
    function_tests,
    looks_pickled,
    parse_literal,
    script_tests,
    split_check,
    split_contest_tests,
    stdio_tests,
)
from verifiers.code.schema import CodeTests, FunctionCase

CHECK = """
METADATA = {"author": "jt"}

def helper(x):
    return x + 1

def check(candidate):
    assert candidate([1, 2], 3) == True
    assert candidate(-1, "a") == [1, (2, 3)], "message is dropped"
    assert True, "placeholder"
    import random
    x = random.randint(0, 9)
    assert candidate(x, 0) == x
    for i in range(3):
        assert candidate(i, helper(i)) == i
    assert abs(candidate(0.5, 1) - 1.5) < 1e-6
"""


def test_split_check_cases_for_simple_asserts_items_for_the_rest() -> None:
    split = split_check(CHECK, "f")
    assert split.cases == (
        FunctionCase(call="f([1, 2], 3)", expected="True"),
        FunctionCase(call='f(-1, "a")', expected="[1, (2, 3)]"),
    )
    assert split.asserts == (
        # the statements an assert needs travel with it
        "import random\nx = random.randint(0, 9)\nassert candidate(x, 0) == x",
        "for i in range(3):\n    assert candidate(i, helper(i)) == i",
        "assert abs(candidate(0.5, 1) - 1.5) < 1e-6",
    )
    assert split.setup == 'METADATA = {"author": "jt"}\n\ndef helper(x):\n    return x + 1'


@pytest.mark.parametrize(
    ("stmt", "is_case"),
    [
        ("assert candidate(1) == 2", True),  # the plain form
        ("assert candidate(a=1, b=[2]) == {'k': (1,)}", True),  # keywords and nested literals
        ("assert candidate(x) == 2", False),  # a name argument needs the statements before it
        ("assert candidate(*[1]) == 2", False),  # starred: not a plain call
        ("assert candidate(1) == y", False),  # expected is not a literal
        ("assert candidate(1) != 2", False),  # not ==
        ("assert candidate(1) == 2 == 2", False),  # chained comparison
        ("assert 2 == candidate(1)", False),  # reversed operands stay an assert
        ("assert other(1) == 2", False),  # a different function
        ("assert candidate(1) is True", False),  # identity, not equality
    ],
)
def test_simple_case_detection(stmt: str, is_case: bool) -> None:
    split = split_check(f"def check(candidate):\n    {stmt}\n", "f")
    assert (len(split.cases), len(split.asserts)) == ((1, 0) if is_case else (0, 1))


def test_call_prefix_for_methods_and_other_parameter_names() -> None:
    split = split_check("def check(fn):\n    assert fn(nums = [1]) == 1\n", "Solution().go")
    assert split.cases == (FunctionCase(call="Solution().go(nums = [1])", expected="1"),)


def test_each_test_counted_once() -> None:
    body = "\n".join(
        f"    assert candidate({i}) == {i}" if i % 2 else f"    assert candidate({i}) > -1"
        for i in range(10)
    )
    split = split_check(f"def check(candidate):\n{body}\n", "f")
    assert len(split.cases) + len(split.asserts) == 10


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("def check(candidate)\n    pass\n", "does not parse"),  # syntax error
        ("def test(candidate):\n    assert candidate(1) == 1\n", "no `def check"),  # wrong name
        ("def check():\n    assert True\n", "no `def check"),  # no candidate parameter
    ],
)
def test_split_check_errors(src: str, message: str) -> None:
    with pytest.raises(FieldError, match=message) as info:
        split_check(src, "f")
    assert info.value.field == "test"


def test_unicode_source_segments() -> None:
    split = split_check(
        'def check(candidate):\n    x = "é"\n    assert candidate(x) == "ü" + "é"\n', "f"
    )
    assert split.asserts == ('x = "é"\nassert candidate(x) == "ü" + "é"',)


@pytest.mark.parametrize(
    ("asserts", "code", "entry"),
    [
        (["assert f(1) == 2"], "", "f"),  # the called function
        (
            ["assert sum(10, 15) == 6"],
            "def sum(a, b):\n    return 6",
            "sum",
        ),  # MBPP 126 shadows a builtin
        (["assert set(g([1])) == {1}"], "", "g"),  # builtins around it are not the entry point
        (
            ["assert math.isclose(h(1), 2.0)"],
            "def h(x): return 2.0",
            "h",
        ),  # attribute call around it
    ],
)
def test_script_entry_point(asserts: list[str], code: str, entry: str) -> None:
    got, _ = script_tests("\n".join(asserts), defined=defined_functions(code))
    assert got == entry


def test_script_check_helper_goes_to_setup() -> None:
    src = "import io\ndef check(s):\n    return solve(s)\nassert check('1\\n') == '2\\n'\nassert solve(1) == 2\n"
    entry, split = script_tests(src)
    assert entry == "solve"
    assert split.setup == "import io\n\ndef check(s):\n    return solve(s)"
    assert split.asserts == ("assert check('1\\n') == '2\\n'",)
    assert split.cases == (FunctionCase(call="solve(1)", expected="2"),)


def test_script_without_calls_is_an_error() -> None:
    with pytest.raises(FieldError, match="entry point"):
        script_tests("assert 1 == 1")


CONTEST = """
my_solution = Solution()

_f1 = lambda lst: lst

test_input = { "word": "abc", "k": 2 }
assert my_solution.go(**test_input) == 5

test_input = { "head": _f1([1]) }
assert my_solution.go(**test_input) == [1]

test_input = { 1: "x" }
assert my_solution.go(**test_input) == 0
"""


def test_contest_tests() -> None:
    split = split_contest_tests(CONTEST, "go")
    assert split.cases == (
        FunctionCase(call='Solution().go(word="abc", k=2)', expected="5"),  # keyword arguments
        FunctionCase(call='Solution().go(**{ 1: "x" })', expected="0"),  # keys that are not names
    )
    assert split.asserts == (
        'test_input = { "head": _f1([1]) }\nassert my_solution.go(**test_input) == [1]',
    )
    assert split.setup == "my_solution = Solution()\n_f1 = lambda lst: lst"


def test_looks_pickled_without_unpickling() -> None:
    payload = pickle.dumps({"inputs": [1]})  # made here, never loaded
    assert looks_pickled(base64.b64encode(zlib.compress(payload)).decode())
    assert looks_pickled(base64.b64encode(payload).decode())
    assert not looks_pickled(base64.b64encode(b"just some text, base64-encoded").decode())
    assert not looks_pickled(json.dumps({"kind": "stdio", "cases": []}))
    assert not looks_pickled("assert f(1) == 2")


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('echo pwned')",  # a call is not a literal: refused, not run
        "[{'input': open('/etc/passwd').read()}]",  # nor inside a list
        "[" * 200_000,  # deep nesting does not crash the importer
    ],
)
def test_parse_literal_never_evaluates(text: str) -> None:
    with pytest.raises(FieldError, match="not a Python literal"):
        parse_literal(text, "testcases")


def test_function_and_stdio_tests_validate_through_codetests() -> None:
    fn = function_tests(
        SplitTests(cases=(FunctionCase(call="f(1)", expected="2"),), setup="B"),
        entry_point="f",
        setup="A",
    )
    tests = CodeTests.from_json(fn)
    assert (tests.kind, tests.entry_point, tests.setup, tests.meta) == (
        "function",
        "f",
        "A\n\nB",
        {"lang": "python"},
    )
    io = CodeTests.from_json(stdio_tests([("1\n", ["2\n", "2.0\n"])], field="test"))
    assert (io.checker, io.cases[0].expected) == ("tokens", ("2\n", "2.0\n"))
    with pytest.raises(FieldError, match="no test cases") as info:
        stdio_tests([], field="testcases")
    assert info.value.field == "testcases"
