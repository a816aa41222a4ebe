"""Decide simple assert items here, on the recorded values, instead of in a replay jail.

An assert item (HumanEval's ``check``) normally goes to a second, clean sandbox run: its source is
arbitrary test code, replayed on the candidate's recorded return values. Most items, though, are
one comparison of candidate calls with constants::

    assert candidate(3 * 19) == [3, 19]
    assert abs(candidate(1.33) - 0.33) < 1e-6
    assert candidate("<>")

For those the verifier evaluates the same expression in this process, with the harness's own
replay proxies serving the recorded values (`harness.Player`: calls matched by argument digest,
in order, so a divergence is reported exactly as the replay would). Values are decoded plain
builtins, never the candidate's objects. An expression qualifies only if it is built from:

- constants, container displays, comparisons, boolean and arithmetic operators, subscripts;
- calls of bound candidate functions and of the pure builtins in `SAFE_BUILTINS`;
- ``*``, ``**`` and ``<<`` only between numeric constants (an unbounded result needs both sides
  to be the test's own numbers, never a recorded value).

Anything else (loops, names from the prompt or the setup, classes, attributes) returns None and is
replayed in the jail as before; so does a builtin that the prompt, imports or setup mention. The item's message is not evaluated; a constant one is kept.
"""

from __future__ import annotations

import ast
import builtins
import functools
from collections import deque
from typing import Any

from verifiers.code import harness

__all__ = ["SAFE_BUILTINS", "decide_assert", "decide_expected", "shadowed_names"]

SAFE_BUILTINS = frozenset(
    {"abs", "all", "any", "bool", "float", "int", "len", "list", "max", "min", "round", "set"}
    | {"sorted", "str", "sum", "tuple", "frozenset", "dict"}
)
_ALLOWED = (
    ast.Expression, ast.Constant, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.Name, ast.Load,
    ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.Call, ast.keyword, ast.Subscript,
    ast.Slice, ast.cmpop, ast.boolop, ast.unaryop, ast.operator,
)  # fmt: skip
_GROWING = (ast.Mult, ast.Pow, ast.LShift)
_MAX_CONST_EXP = 256


def _numeric_constant(node: ast.AST) -> bool:
    """A subtree of number literals and arithmetic only, small enough to fold safely."""
    if isinstance(node, ast.Constant):
        return type(node.value) in (int, float, complex) and (
            type(node.value) is not int or abs(node.value) < 1 << 64
        )
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return _numeric_constant(node.operand)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div):
        return _numeric_constant(node.left) and _numeric_constant(node.right)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow | ast.FloorDiv | ast.Mod):
        exp = node.right
        small = isinstance(exp, ast.Constant) and type(exp.value) is int
        return small and abs(exp.value) <= _MAX_CONST_EXP and _numeric_constant(node.left)
    return False


def _qualifies(tree: ast.Expression, funcs: set[str], shadowed: frozenset[str]) -> set[str] | None:
    """The candidate names the expression calls, or None if it is outside the safe subset."""
    called: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            return None
        if isinstance(node, ast.Name):
            builtin = node.id in SAFE_BUILTINS and node.id not in shadowed
            if node.id not in funcs and not builtin:
                return None
            if node.id in funcs:
                called.add(node.id)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or any(
                isinstance(a, ast.Starred) for a in node.args
            ):
                return None
            if any(k.arg is None for k in node.keywords):
                return None
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, _GROWING)
            and not _numeric_constant(node)
        ):
            return None
    return called


def _evaluate(tree: ast.Expression, names: dict[str, Any]) -> Any:
    scope = {"__builtins__": {n: getattr(builtins, n) for n in SAFE_BUILTINS}, **names}
    return eval(compile(tree, "<assert>", "eval"), scope)  # the validated subset only


def _assert_parts(source: str) -> tuple[ast.expr, str] | None:
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if len(module.body) != 1 or not isinstance(module.body[0], ast.Assert):
        return None
    stmt = module.body[0]
    msg = stmt.msg
    text = str(msg.value) if isinstance(msg, ast.Constant) else ""
    return stmt.test, text


@functools.lru_cache(maxsize=1024)  # one prompt's header serves all its samples (CodeT: 100)
def shadowed_names(*sources: str) -> frozenset[str]:
    """Every identifier the trusted header (prompt prefix, imports, setup) mentions: a builtin
    it may redefine (a prompt's own ``sum``) must not be taken for the real one here."""
    out: set[str] = set()
    for text in sources:
        if not text:
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return SAFE_BUILTINS  # unknown: assume every builtin is shadowed
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                out.add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                out.add(node.name)
            elif isinstance(node, ast.alias):
                out.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, ast.arg):
                out.add(node.arg)
    return frozenset(out)


def decide_assert(
    source: str, calls: list[dict], bound: dict[str, str], shadowed: frozenset[str]
) -> dict | None:
    """The replay record (``{"ok": ...}``, with ``why``/``msg`` on failure) for one assert item,
    or None when it must go to the replay jail."""
    parts = _assert_parts(source)
    if parts is None:
        return None
    test, message = parts
    funcs = {name for name, kind in bound.items() if kind == "func"}
    tree = ast.Expression(test)
    if _qualifies(tree, funcs, shadowed) is None:
        return None
    player = harness.Player({})
    player.calls = deque(calls)
    proxies = {name: harness.ReplayFunc(player, name) for name in funcs}
    try:
        holds = bool(_evaluate(tree, proxies))
    except (MemoryError, RecursionError):
        return None  # the jail has the limits for this
    except Exception as exc:  # the verdict of this test, as the replay would give it
        why, msg = harness._outcome(exc)
        return {"ok": False, "why": why, "msg": msg}
    if holds:
        return {"ok": True}
    return {"ok": False, "why": "assert", "msg": message[:200]}


def decide_expected(source: str, shadowed: frozenset[str]) -> dict | None:
    """An expected value written as constant arithmetic (``3 + 5 + 7``, ``2.0/3.0``), encoded as
    the replay would send it; None for anything that needs the replay jail."""
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if _qualifies(tree, set(), shadowed) is None:
        return None
    try:
        return {"v": harness.encode(_evaluate(tree, {}))}
    except (MemoryError, RecursionError):
        return None
    except Exception as exc:  # a dataset fault, reported as the replay would
        return {"err": f"{type(exc).__name__}: {exc}"[:300]}
