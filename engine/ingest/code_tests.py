"""Ingest: map code benchmarks' test formats into the one test schema (:mod:`verifiers.code.schema`).

Nothing here executes dataset code: test sources are read with :mod:`ast` (parse, source
segments, ``literal_eval``) and Python-literal strings with ``ast.literal_eval``, never ``eval``.
Pickled test data is refused, not unpickled (:func:`looks_pickled`).

How the code verifier runs a function-style prompt (the contract these mappings rely on)::

    program  = meta.prompt_prefix + candidate code   # HumanEval prompt, LeetCode import header
    setup                                            # runs after the program, before any test
    candidate = <entry_point>                        # "f" -> f; "Solution.f" -> Solution().f
    cases, then asserts, in order, in that one namespace

**Cases or asserts, never both.** Each test of the source becomes exactly one item, so the verifier
counts every test once (``CodeTests.count``):

- A test that is exactly ``assert candidate(<literals>) == <literal>`` (an optional message is
  dropped) becomes a ``FunctionCase``: ``call`` is the call with ``candidate`` replaced by the entry
  point (``f(...)``, ``Solution().f(...)``), ``expected`` the literal's source. Its arguments must
  be literals too, so the case stands alone and its result can be compared outside the sandbox.
- Every other test becomes one ``asserts`` item: the statement's source, prefixed by the
  non-assert statements just before it (``import random``, ``lst = ...``), so each item carries
  what it needs. Items run in order in one namespace, like the original ``check`` body, so a later
  item may use a name an earlier one defined.
- ``assert True`` placeholders test nothing and are dropped.
- Top-level code of a test module other than ``check`` (HumanEval's ``METADATA``, helper
  functions) goes into ``setup``.

Per dataset (presets in :mod:`engine.ingest.presets`; ``tests.meta.lang`` is ``python`` unless said):

- HumanEval: function, ``entry_point`` = its entry point, ``check`` body split as above,
  ``meta.prompt_prefix`` = ``prompt``, ``meta.solutions`` = ``canonical_solution`` (a body).
- MBPP: function, entry point = the function the asserts call that ``code`` defines;
  ``test_list`` split as above; ``test_setup_code`` -> ``setup``; split by task id (11-510 test).
- LeetCodeDataset: function, ``Solution.<method>``; cases call ``Solution().<method>(...)``;
  built from ``test`` only (``input_output`` repeats those tests and holds raw error strings);
  ``meta.prompt_prefix`` = the dataset's import/helper header (``ListNode``, ``inf``, ...).
- LeetCode contest (DeepSeek-Coder): function, ``Solution.<method>``; ``test_input`` + assert
  pairs become cases with keyword arguments; ``my_solution = Solution()`` and ``_f1``-style
  helpers -> ``setup``; ``meta.prompt_prefix`` = typing/collections imports + classes before
  ``class Solution`` in the prompt.
- HumanEval C++ (MultiPL-E): function, ``tests.meta.lang = "cpp"``, ``asserts`` = the C++
  ``assert(candidate(...) == ...);`` statements (no cases); ``meta.harness`` keeps the original
  ``tests`` text (``}`` + ``int main``), ``meta.prompt_prefix`` the prompt.
- Codeforces (CodeScope/xCodeEval): stdio, checker ``tokens``, one prompt per problem (rows of
  one ``src_uid`` merged), every listed output accepted; ``meta.solutions`` = both accepted
  solutions of every language row with ``lang`` (cpp, c, python, csharp).
- CodeContests (SandboxFusion): stdio, checker ``tokens``, stdin -> [stdout].
- SandboxFusion RL set: function, entry ``solve`` (or what the asserts call); ``check`` helpers
  -> ``setup``; split ``train``.
- LiveCodeBench: tests are pickled -> ``tests`` NULL, reason in ``meta.tests_refused``.
"""

from __future__ import annotations

import ast
import base64
import binascii
import builtins
import contextlib
import re
import textwrap
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import FieldError
from verifiers.code.schema import CodeTests, FunctionCase, StdioCase

__all__ = [
    "FieldError",
    "SplitTests",
    "commonoj_cases",
    "cpp_main_asserts",
    "defined_functions",
    "function_tests",
    "looks_pickled",
    "parse_literal",
    "script_tests",
    "split_check",
    "split_contest_tests",
    "stdio_tests",
    "xcodeeval_cases",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class SplitTests:
    """Tests read from a test source: standalone cases, ordered assert items, setup code."""

    cases: tuple[FunctionCase, ...] = ()
    asserts: tuple[str, ...] = ()
    setup: str = ""


def parse_literal(text: str, field: str) -> Any:
    """A Python literal (``ast.literal_eval``, never ``eval``); FieldError if it is not one."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise FieldError(field, f"not a Python literal ({type(exc).__name__})") from None


def looks_pickled(text: str) -> bool:
    """True for base64(zlib(pickle)) or base64(pickle) data, detected without unpickling.

    LiveCodeBench stores private tests this way; unpickling a dataset field runs arbitrary code,
    so ingest refuses it (see ../shared/data/code/SOURCES.md).
    """
    if len(text) < 16 or any(c.isspace() for c in text[:64]):
        return False
    try:
        raw = base64.b64decode(text[: 4096 - 4096 % 4], validate=True)
    except (binascii.Error, ValueError):
        return False
    with contextlib.suppress(zlib.error):
        raw = zlib.decompressobj().decompress(raw, 64)
    return len(raw) >= 2 and raw[0] == 0x80 and 2 <= raw[1] <= 5  # PROTO opcode, protocol 2-5


class _Source:
    """Source text with its lines split once: ``ast.get_source_segment`` re-splits the whole
    text on every call, which is quadratic on LeetCode's 100-assert test files."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines: list[str] = []
        start = 0
        for m in _NEWLINE.finditer(text):  # the line ends ast counts (not \f or \u2028)
            self.lines.append(text[start : m.end()])
            start = m.end()
        self.lines.append(text[start:])

    def segment(self, node: ast.AST) -> str:
        """The node's source, dedented (the first line padded to its column, as ``padded=True``)."""
        l0, l1 = node.lineno - 1, node.end_lineno - 1  # type: ignore[attr-defined]
        c0, c1 = node.col_offset, node.end_col_offset  # type: ignore[attr-defined]  # UTF-8 bytes
        first = self.lines[l0].encode()
        if l0 == l1:
            return first[c0:c1].decode().strip()
        pad = re.sub(r"[^\t ]", " ", first[:c0].decode())
        text = pad + first[c0:].decode() + "".join(self.lines[l0 + 1 : l1])
        text += self.lines[l1].encode()[:c1].decode()
        return textwrap.dedent(text).strip()


_NEWLINE = re.compile(r"\r\n|\r|\n")


def _segment(src: _Source, node: ast.AST) -> str:
    return src.segment(node)


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def _simple_case(stmt: ast.stmt, src: _Source, name: str, call_prefix: str) -> FunctionCase | None:
    """``assert name(<literals>) == <literal>`` as a case calling ``call_prefix(...)``; else None."""
    if not isinstance(stmt, ast.Assert) or not isinstance(stmt.test, ast.Compare):
        return None
    cmp = stmt.test
    if len(cmp.ops) != 1 or not isinstance(cmp.ops[0], ast.Eq):
        return None
    call = cmp.left
    if not (
        isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == name
    ):
        return None
    args = [*call.args, *(k.value for k in call.keywords)]
    if any(k.arg is None for k in call.keywords) or not all(_is_literal(a) for a in args):
        return None
    if not _is_literal(cmp.comparators[0]):
        return None
    call_src = _segment(src, call)
    return FunctionCase(
        call=call_prefix + call_src[len(name) :], expected=_segment(src, cmp.comparators[0])
    )


def _is_placeholder(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Assert)
        and isinstance(stmt.test, ast.Constant)
        and stmt.test.value is True
    )


def _has_assert(stmt: ast.stmt) -> bool:
    return any(isinstance(n, ast.Assert) for n in ast.walk(stmt))


def _group(stmts: Sequence[ast.stmt], src: _Source, name: str, call_prefix: str) -> SplitTests:
    """Cases for simple tests, assert items (with the statements they need) for the rest."""
    cases: list[FunctionCase] = []
    items: list[str] = []
    pending: list[str] = []
    for stmt in stmts:
        if _is_placeholder(stmt):
            continue
        case = _simple_case(stmt, src, name, call_prefix)
        if case is not None:
            cases.append(case)
        elif _has_assert(stmt):
            items.append("\n".join([*pending, _segment(src, stmt)]))
            pending = []
        else:
            pending.append(_segment(src, stmt))
    if pending:  # trailing statements still run (they may raise): keep them with the last item
        if items:
            items[-1] = "\n".join([items[-1], *pending])
        elif not cases:
            items.append("\n".join(pending))
    return SplitTests(cases=tuple(cases), asserts=tuple(items))


def _parse(src: str, field: str) -> ast.Module:
    try:
        return ast.parse(src)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise FieldError(field, f"test code does not parse ({type(exc).__name__})") from None


def split_check(test_src: str, call_prefix: str, *, field: str = "test") -> SplitTests:
    """Split a ``def check(candidate): ...`` module (HumanEval, LeetCodeDataset) into tests.

    ``call_prefix`` is what replaces ``candidate`` in a case's call: ``"f"`` or ``"Solution().f"``.
    """
    module = _parse(test_src, field)
    check = next(
        (s for s in module.body if isinstance(s, ast.FunctionDef) and s.name == "check"), None
    )
    if check is None or not check.args.args:
        raise FieldError(field, "no `def check(candidate):` in the test code")
    param = check.args.args[0].arg
    src = _Source(test_src)
    split = _group(check.body, src, param, call_prefix)
    setup = "\n\n".join(_segment(src, s) for s in module.body if s is not check)
    return SplitTests(cases=split.cases, asserts=split.asserts, setup=setup)


def script_tests(
    src: str, *, defined: Sequence[str] = (), field: str = "test"
) -> tuple[str, SplitTests]:
    """Top-level asserts over a named function (MBPP ``test_list``, assert-only RL sets).

    Returns (entry point, tests). Helper imports, functions and classes of the script go into
    setup. The entry point is the function called in the tests that the reference solution
    defines (``defined``), else the most called name that is neither a builtin nor defined by
    the script (MBPP 126 defines its own ``sum``; RL sets call ``solve`` through a ``check`` helper).
    """
    module = _parse(src, field)
    helpers = [s for s in module.body if isinstance(s, _HELPERS) and not _has_assert(s)]
    local = {getattr(s, "name", "") for s in helpers}
    names = [
        n.func.id
        for s in module.body
        for n in ast.walk(s)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id not in local
    ]
    ranked = sorted(
        dict.fromkeys(names), key=names.count, reverse=True
    )  # stable: first seen wins ties
    entry = next((n for n in ranked if n in defined), None)
    entry = entry or next((n for n in ranked if n not in _BUILTINS), None)
    if entry is None:
        raise FieldError(field, "no function call in the asserts: cannot tell the entry point")
    body = [s for s in module.body if not any(s is h for h in helpers)]
    source = _Source(src)
    split = _group(body, source, entry, entry)
    setup = "\n\n".join(_segment(source, s) for s in helpers)
    return entry, SplitTests(cases=split.cases, asserts=split.asserts, setup=setup)


_HELPERS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def defined_functions(code: str) -> list[str]:
    """Names of the top-level functions a reference solution defines ([] if it does not parse)."""
    try:
        module = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return [s.name for s in module.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]


_BUILTINS = frozenset(dir(builtins))


def split_contest_tests(test_src: str, method: str, *, field: str = "test") -> SplitTests:
    """DeepSeek-Coder LeetCode contest tests: ``test_input = {...}`` then
    ``assert my_solution.<method>(**test_input) == <literal>``.

    Literal pairs become cases ``Solution().<method>(k=v, ...)``; anything else an assert item that
    keeps its ``test_input`` line; ``my_solution = Solution()`` and helpers (``_f1 = lambda ...``)
    go into setup.
    """
    module = _parse(test_src, field)
    src = _Source(test_src)
    cases: list[FunctionCase] = []
    items: list[str] = []
    pending: list[str] = []
    current: ast.expr | None = None
    setup = ["my_solution = Solution()"]
    for stmt in module.body:
        if _is_solution_binding(stmt):
            continue
        if _is_contest_helper(stmt):  # `_f1 = lambda lst: ListNode(...)`, imports, defs
            setup.append(_segment(src, stmt))
            continue
        if _is_test_input(stmt):
            current = stmt.value  # type: ignore[attr-defined]
            pending = [_segment(src, stmt)]
            continue
        case = _contest_case(stmt, src, method, current)
        if case is not None:
            cases.append(case)
        elif _has_assert(stmt):
            items.append("\n".join([*pending, _segment(src, stmt)]))
        else:
            pending.append(_segment(src, stmt))
            continue
        pending = []
    return SplitTests(cases=tuple(cases), asserts=tuple(items), setup="\n".join(setup))


def _is_contest_helper(stmt: ast.stmt) -> bool:
    if _has_assert(stmt) or _is_test_input(stmt):
        return False
    return isinstance(stmt, (*_HELPERS, ast.Assign))


def _is_solution_binding(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Assign)
        and [getattr(t, "id", None) for t in stmt.targets] == ["my_solution"]
        and isinstance(stmt.value, ast.Call)
        and getattr(stmt.value.func, "id", None) == "Solution"
        and not stmt.value.args
    )


def _is_test_input(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Assign) and [getattr(t, "id", None) for t in stmt.targets] == [
        "test_input"
    ]


def _contest_case(
    stmt: ast.stmt, src: _Source, method: str, current: ast.expr | None
) -> FunctionCase | None:
    if not isinstance(current, ast.Dict) or not _is_literal(current):
        return None
    if not (isinstance(stmt, ast.Assert) and isinstance(stmt.test, ast.Compare)):
        return None
    cmp = stmt.test
    call = cmp.left
    if (
        len(cmp.ops) != 1
        or not isinstance(cmp.ops[0], ast.Eq)
        or not _is_literal(cmp.comparators[0])
    ):
        return None
    if not (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == method
        and getattr(call.func.value, "id", None) == "my_solution"
        and not call.args
        and [(k.arg, getattr(k.value, "id", None)) for k in call.keywords] == [(None, "test_input")]
    ):
        return None
    keys = [k.value if isinstance(k, ast.Constant) else None for k in current.keys]
    names = [k for k in keys if isinstance(k, str) and k.isidentifier()]
    if len(names) == len(keys):  # every key a keyword name
        args = ", ".join(
            f"{k}={_segment(src, v)}" for k, v in zip(names, current.values, strict=True)
        )
    else:
        args = "**" + _segment(src, current)
    return FunctionCase(
        call=f"Solution().{method}({args})", expected=_segment(src, cmp.comparators[0])
    )


def cpp_main_asserts(harness: str, *, field: str = "tests") -> tuple[str, SplitTests]:
    """MultiPL-E C++ tests (``}\\nint main() { auto candidate = f; assert(...); ... }``).

    Returns the function name and each ``assert(...);`` statement as one C++ assert item; the
    verifier compiles them into ``main`` after the program (``meta.lang == "cpp"``).
    """
    match = re.search(r"auto\s+candidate\s*=\s*(\w+)\s*;", harness)
    if not match:
        raise FieldError(field, "no `auto candidate = <function>;` in the C++ tests")
    asserts, buf = [], ""
    for line in harness.splitlines():
        buf = f"{buf}\n{line.strip()}" if buf else line.strip()
        if not buf.startswith("assert"):
            buf = ""
        elif buf.endswith(";"):  # a statement may span lines
            asserts.append(buf)
            buf = ""
    return match.group(1), SplitTests(asserts=tuple(asserts))


def xcodeeval_cases(text: str, *, field: str = "testcases") -> list[tuple[str, list[str]]]:
    """xCodeEval/CodeScope tests: a *Python-literal* list of ``{'input': str, 'output': [str]}``,
    read with ``ast.literal_eval`` (never ``eval``); any listed output is accepted."""
    raw = parse_literal(text, field)
    if not isinstance(raw, list) or not raw:
        raise FieldError(field, "expected a non-empty list of {'input', 'output'}")
    pairs: list[tuple[str, list[str]]] = []
    for i, case in enumerate(raw):
        out = case.get("output") if isinstance(case, dict) else None
        out = [out] if isinstance(out, str) else out
        strings = isinstance(out, list) and all(isinstance(o, str) for o in out)
        if not (isinstance(out, list) and strings) or not isinstance(case.get("input"), str):
            raise FieldError(field, f"case {i}: expected {{'input': str, 'output': [str, ...]}}")
        pairs.append((case["input"], out))
    return pairs


def commonoj_cases(raw: Any, *, field: str = "test") -> list[tuple[str, list[str]]]:
    """SandboxFusion CommonOJ tests: a JSON list of ``{input: {stdin}, output: {stdout}}``."""
    if not isinstance(raw, list) or not raw:
        raise FieldError(
            field, "expected a non-empty JSON list of {input: {stdin}, output: {stdout}}"
        )
    try:
        pairs = [(c["input"]["stdin"], [c["output"]["stdout"]]) for c in raw]
    except (KeyError, TypeError):
        raise FieldError(field, "each case needs input.stdin and output.stdout") from None
    if not all(isinstance(i, str) and isinstance(o[0], str) for i, o in pairs):
        raise FieldError(field, "stdin and stdout must be strings")
    return pairs


def function_tests(
    split: SplitTests,
    *,
    entry_point: str,
    setup: str = "",
    lang: str = "python",
    field: str = "test",
) -> str:
    """CodeTests JSON for function-call tests (validated by CodeTests itself).

    Every case here was read from an ``assert f(...) == <literal>``, so it is compared as that
    assert would be (checker ``equal:python``: ``0 == False``, as MBPP 414's reference needs),
    not by the typed ``equal`` meant for cases written as data (issue 9, class 7d)."""
    joined_setup = "\n\n".join(s for s in (setup, split.setup) if s)
    return _to_json(
        field,
        kind="function",
        checker="equal:python",
        entry_point=entry_point,
        cases=split.cases,
        asserts=split.asserts,
        setup=joined_setup,
        meta={"lang": lang},
    )


def stdio_tests(
    pairs: Sequence[tuple[str, Sequence[str]]], *, field: str, checker: str = ""
) -> str:
    """CodeTests JSON for stdin/stdout tests: (stdin, accepted outputs) pairs."""
    cases = tuple(StdioCase(stdin=i, expected=tuple(o)) for i, o in pairs)
    return _to_json(field, kind="stdio", cases=cases, checker=checker)


def _to_json(field: str, **kwargs: Any) -> str:
    from verifiers.code.schema import TestSchemaError

    try:
        return CodeTests(**kwargs).to_json()
    except TestSchemaError as exc:
        raise FieldError(field, str(exc)) from None
