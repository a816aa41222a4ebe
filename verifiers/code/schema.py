"""The one test schema for code prompts (``prompts.tests``, stored as JSON).

Ingest maps every code benchmark into it; the code verifier consumes it. Two kinds:

**stdio**: the program reads stdin and writes stdout; each case gives the input and the accepted
output(s). ``checker`` decides what "the same output" means::

    {"version": 1, "kind": "stdio", "checker": "tokens",
     "cases": [{"stdin": "1 2\\n", "expected": ["3\\n"]}]}

**function**: the program defines a function (or a class method); each case is a call whose result
is compared outside the sandbox to an expected value::

    {"version": 1, "kind": "function", "entry_point": "add", "checker": "equal",
     "setup": "from typing import List",
     "cases": [{"call": "add(1, 2)", "expected": "3"}],
     "asserts": ["assert candidate(1, 2) == 3"]}

- ``cases[].call`` / ``cases[].expected`` are Python *source* (literals and calls), never executed
  outside the sandbox; ``expected`` is read with ``ast.literal_eval`` where it is a literal.
- ``asserts`` are statements over ``candidate`` (HumanEval's ``check`` body split statement by
  statement, MBPP's ``test_list``) for tests that are not a plain ``call == literal``; they run one
  by one inside the sandbox, so the verdict says which one failed.
- ``setup`` is trusted dataset code that runs before the tests (imports, helpers).
- ``entry_point`` is ``name`` for a function or ``Class.method`` (LeetCode's ``Solution``).

``checker`` is one of ``tokens`` (default for stdio), ``exact``, ``lines``, ``unordered_lines``,
``float:abs=1e-6,rel=1e-6``, ``program`` (a testlib-style checker in ``checker_program``, language
``checker_lang``), and ``equal`` (default for function tests: typed equality of JSON-like values,
``True`` is not ``1``). Function tests also take ``equal:strict`` (exact types: ``1.0`` is not
``1``), ``equal:python`` (Python's ``==``: ingest's cases read from asserts) and
``float:abs=…,rel=…`` (numbers within tolerance, at any depth of the result); the rules are in
:mod:`verifiers.code.compare`. Assert items keep Python's own ``==``.

>>> t = CodeTests.from_json('{"kind": "stdio", "cases": [{"stdin": "", "expected": "1"}]}')
>>> t.checker, t.cases[0].expected
('tokens', ('1',))
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from verifiers.errors import TestSchemaError

__all__ = ["SCHEMA_VERSION", "CodeTests", "FunctionCase", "StdioCase", "TestSchemaError"]

SCHEMA_VERSION = 1
_CHECKER = re.compile(
    r"^(tokens|exact|lines|unordered_lines|equal|equal:strict|equal:python|program"
    r"|float(:(abs|rel)=[0-9.eE+-]+(,(abs|rel)=[0-9.eE+-]+)?)?)$"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class StdioCase:
    stdin: str
    expected: tuple[str, ...]  # any one of these outputs is accepted


@dataclass(frozen=True, kw_only=True, slots=True)
class FunctionCase:
    call: str  # Python source of the call, e.g. "two_sum([2, 7], 9)"
    expected: str  # Python source of the expected value, e.g. "[0, 1]"


@dataclass(frozen=True, kw_only=True, slots=True)
class CodeTests:
    __test__ = False

    kind: Literal["stdio", "function"]
    checker: str = ""
    cases: tuple[StdioCase, ...] | tuple[FunctionCase, ...] = ()
    asserts: tuple[str, ...] = ()
    entry_point: str | None = None
    setup: str = ""
    checker_program: str | None = None
    checker_lang: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("stdio", "function"):
            raise TestSchemaError(f"tests.kind={self.kind!r}: must be 'stdio' or 'function'")
        if not self.checker:
            object.__setattr__(self, "checker", "tokens" if self.kind == "stdio" else "equal")
        if not _CHECKER.match(self.checker):
            raise TestSchemaError(
                f"tests.checker={self.checker!r}: must be tokens, exact, lines, unordered_lines, "
                "equal, equal:strict, equal:python, program or float:abs=…,rel=…"
            )
        if self.checker == "program" and not self.checker_program:
            raise TestSchemaError("tests.checker_program: required when checker is 'program'")
        if self.kind == "function" and not self.entry_point and not self.asserts:
            raise TestSchemaError("tests.entry_point: required for function tests without asserts")
        if not self.cases and not self.asserts:
            raise TestSchemaError("tests.cases: no test cases (and no asserts)")

    @property
    def count(self) -> int:
        return len(self.cases) + len(self.asserts)

    # -- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"version": SCHEMA_VERSION, "kind": self.kind, "checker": self.checker}
        if self.kind == "stdio":
            stdio = cast(tuple[StdioCase, ...], self.cases)
            d["cases"] = [{"stdin": c.stdin, "expected": list(c.expected)} for c in stdio]
        else:
            calls = cast(tuple[FunctionCase, ...], self.cases)
            d["cases"] = [{"call": c.call, "expected": c.expected} for c in calls]
        for key in ("asserts", "entry_point", "setup", "checker_program", "checker_lang", "meta"):
            value = getattr(self, key)
            if value:
                d[key] = list(value) if isinstance(value, tuple) else value
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CodeTests:
        if not isinstance(d, dict):
            raise TestSchemaError(f"tests: expected a JSON object, got {type(d).__name__}")
        version = d.get("version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise TestSchemaError(
                f"tests.version={version!r}: this rlvr reads version {SCHEMA_VERSION}"
            )
        kind = d.get("kind")
        if kind not in ("stdio", "function"):
            raise TestSchemaError(f"tests.kind={kind!r}: must be 'stdio' or 'function'")
        raw_cases = d.get("cases") or []
        if not isinstance(raw_cases, list):
            raise TestSchemaError("tests.cases: expected a list")
        cases: list[Any] = []
        for i, c in enumerate(raw_cases):
            if not isinstance(c, dict):
                raise TestSchemaError(f"tests.cases[{i}]: expected an object")
            try:
                if kind == "stdio":
                    exp = c["expected"]
                    exp = (exp,) if isinstance(exp, str) else tuple(exp)
                    if not all(isinstance(e, str) for e in exp) or not isinstance(c["stdin"], str):
                        raise TypeError
                    cases.append(StdioCase(stdin=c["stdin"], expected=exp))
                else:
                    if not isinstance(c["call"], str) or not isinstance(c["expected"], str):
                        raise TypeError
                    cases.append(FunctionCase(call=c["call"], expected=c["expected"]))
            except KeyError as exc:
                raise TestSchemaError(f"tests.cases[{i}].{exc.args[0]}: missing") from None
            except TypeError:
                raise TestSchemaError(f"tests.cases[{i}]: fields must be strings") from None
        asserts = d.get("asserts") or []
        if not isinstance(asserts, list) or not all(isinstance(a, str) for a in asserts):
            raise TestSchemaError("tests.asserts: expected a list of strings")
        return cls(
            kind=kind,
            checker=d.get("checker") or "",
            cases=tuple(cases),
            asserts=tuple(asserts),
            entry_point=d.get("entry_point"),
            setup=d.get("setup") or "",
            checker_program=d.get("checker_program"),
            checker_lang=d.get("checker_lang"),
            meta=d.get("meta") or {},
        )

    @classmethod
    def from_json(cls, text: str) -> CodeTests:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise TestSchemaError(f"tests: invalid JSON ({exc.msg} at char {exc.pos})") from None
