"""The code test schema: round trips and errors that name the field."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifiers.code.schema import CodeTests, FunctionCase, StdioCase, TestSchemaError

text = st.text(max_size=30)


@given(
    st.lists(st.tuples(text, st.lists(text, min_size=1, max_size=3)), min_size=1, max_size=5),
    st.sampled_from(["tokens", "exact", "lines", "unordered_lines", "float:abs=1e-6,rel=1e-9"]),
)
def test_stdio_round_trip(cases: list, checker: str) -> None:
    t = CodeTests(
        kind="stdio",
        checker=checker,
        cases=tuple(StdioCase(stdin=i, expected=tuple(o)) for i, o in cases),
    )
    assert CodeTests.from_json(t.to_json()) == t


def test_function_round_trip_and_defaults() -> None:
    t = CodeTests(
        kind="function",
        entry_point="Solution.twoSum",
        setup="from typing import List",
        cases=(FunctionCase(call="twoSum([2, 7], 9)", expected="[0, 1]"),),
        asserts=("assert abs(candidate(1.0) - 0.5) < 1e-6",),
    )
    back = CodeTests.from_dict(json.loads(t.to_json()))
    assert back == t and back.checker == "equal" and back.count == 2


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"kind": "batch", "cases": [{"stdin": "", "expected": ""}]}, "tests.kind"),  # unknown kind
        ({"kind": "stdio", "cases": []}, "tests.cases"),  # nothing to test
        ({"kind": "stdio", "cases": [{"stdin": ""}]}, "tests.cases[0].expected"),  # missing output
        (
            {"kind": "stdio", "cases": [{"stdin": 1, "expected": "1"}]},
            "tests.cases[0]",
        ),  # wrong type
        (
            {"kind": "stdio", "checker": "float:tol", "cases": [{"stdin": "", "expected": "1"}]},
            "tests.checker",
        ),
        (
            {"kind": "stdio", "checker": "program", "cases": [{"stdin": "", "expected": "1"}]},
            "tests.checker_program",
        ),
        ({"kind": "function", "cases": [{"call": "f()", "expected": "1"}]}, "tests.entry_point"),
        ({"version": 2, "kind": "stdio"}, "tests.version"),  # from a newer rlvr
        ([1, 2], "tests"),  # not an object
    ],
)
def test_errors_name_the_field(doc: object, field: str) -> None:
    with pytest.raises(TestSchemaError) as err:
        CodeTests.from_dict(doc)  # type: ignore[arg-type]
    assert str(err.value).startswith(field)


def test_invalid_json_is_a_schema_error() -> None:
    with pytest.raises(TestSchemaError, match="invalid JSON"):
        CodeTests.from_json("{not json")


def test_the_schema_imports_without_the_sandbox_or_the_judge() -> None:
    """Ingest and the lake read the schema; `verifiers.code`'s re-exports must not pull in the
    sandbox for them (they load on first use)."""
    import subprocess
    import sys

    probe = (
        "import sys, verifiers.code.schema, verifiers.codetests, verifiers.code.config\n"
        "print(sorted(m for m in sys.modules if m == 'sandbox' or m == 'verifiers.code.verify'))\n"
        "import verifiers.code\n"
        "verifiers.code.verify_code\n"
        "print('sandbox' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True"]
