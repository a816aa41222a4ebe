"""Assert items as the candidate's sandbox sees them: the calls, without the expected values.

``assert candidate(2, 2) == 4`` must not reach the candidate's process as written: the literal
``4`` would sit in a code object (``co_consts``) that ``gc`` or a frame walk can read (C4). So the
record run gets a *probe* version of each assert item, made here with :mod:`ast` (parsing only,
nothing runs):

- every ``assert <test>`` becomes ``__rlvr_probe__(<c1>, <c2>, ...)`` over the outermost calls of
  the candidate surface in ``<test>`` (``candidate(...)``, ``f(...)``, ``Solution().f(...)``,
  ``my_solution.f(...)``), in evaluation order; an assert with no such call becomes ``pass``;
- assignments whose names nothing else reads any more (``expected = [...]`` used only by an
  assert) are dropped, to a fixpoint.

A test module that defines ``check(candidate)`` and never calls it (a HumanEval ``test`` field
taken whole) is completed with ``check(candidate)`` (`complete_asserts`, issue 9 class 7b):
otherwise nothing would run and every program, right or wrong, would pass.

The clean replay process runs the *original* item on the recorded values, so the verdict is the
dataset's own assert. Replay matches recorded calls by name and encoded arguments, so a call the
original skips by short-circuit (``assert a or candidate(x)``) does not desynchronise it.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["PROBE", "bound_names", "complete_asserts", "probe_source", "surface_names"]

PROBE = "__rlvr_probe__"


def surface_names(entry_point: str | None, setup: str) -> set[str]:
    """Names that reach candidate code: ``candidate``, the entry point (or its class) and setup
    names bound to an instance of it (``my_solution = Solution()``)."""
    names = {"candidate"}
    if entry_point:
        names.add(entry_point.split(".")[0])
    try:
        tree = ast.parse(setup or "")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return names
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _touches(node.value, names):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _root(node: ast.AST) -> ast.AST:
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _is_surface_call(node: ast.AST, names: set[str]) -> bool:
    if not isinstance(node, ast.Call):
        return False
    root = _root(node.func)
    return isinstance(root, ast.Name) and root.id in names


def _touches(node: ast.AST, names: set[str]) -> bool:
    return any(_is_surface_call(n, names) for n in ast.walk(node))


def _outer_calls(node: ast.AST, names: set[str], out: list[ast.expr]) -> None:
    """Outermost surface calls, in source (evaluation) order."""
    if _is_surface_call(node, names):
        out.append(node)  # type: ignore[arg-type]
        return
    for child in ast.iter_child_nodes(node):
        _outer_calls(child, names, out)


class _Probe(ast.NodeTransformer):
    def __init__(self, names: set[str]) -> None:
        self.names = names

    def visit_Assert(self, node: ast.Assert) -> ast.stmt:
        calls: list[ast.expr] = []
        _outer_calls(node.test, self.names, calls)
        if not calls:
            return ast.copy_location(ast.Pass(), node)
        call = ast.Call(func=ast.Name(id=PROBE, ctx=ast.Load()), args=calls, keywords=[])
        return ast.copy_location(ast.Expr(value=call), node)


class _DropDead(ast.NodeTransformer):
    def __init__(self, used: set[str], names: set[str]) -> None:
        self.used, self.names = used, names
        self.changed = False

    def visit_Assign(self, node: ast.Assign) -> ast.stmt:
        targets = [t for t in node.targets if isinstance(t, ast.Name)]
        if _touches(node.value, self.names):
            return node  # `r = candidate(x)`: the call is the point
        if len(targets) == len(node.targets) and not any(t.id in self.used for t in targets):
            self.changed = True
            return ast.copy_location(ast.Pass(), node)
        return node


def probe_source(source: str, names: set[str]) -> str:
    """The probe version of one assert item (see the module docstring)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "pass"  # the replay reports the item as failing to run
    tree = _Probe(names).visit(tree)
    for _ in range(8):
        used = {
            n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        dropper = _DropDead(used, names)
        tree = dropper.visit(tree)
        if not dropper.changed:
            break
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source or "")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def complete_asserts(asserts: tuple[str, ...], setup: str = "") -> tuple[str, ...]:
    """Items as given, except that one defining ``check(<param>, ...)`` at top level when no
    source calls ``check`` gets ``check(candidate)`` appended (see the module docstring)."""
    calls = False
    defining = None
    for k, text in enumerate((setup, *asserts)):
        tree = _parse(text)
        if tree is None:
            continue
        calls = calls or any(
            isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "check"
            for n in ast.walk(tree)
        )
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef) and stmt.name == "check" and stmt.args.args:
                defining = k - 1  # -1: the setup
    if calls or defining is None or defining < 0:
        return asserts
    done = list(asserts)
    done[defining] = done[defining].rstrip() + "\n\n\ncheck(candidate)\n"
    return tuple(done)


@functools.lru_cache(maxsize=4096)
def _names_in(text: str) -> frozenset[str]:
    """Every name a source mentions (cached: a problem's tests are judged once per sample)."""
    try:
        return frozenset(n.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Name))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()


@functools.lru_cache(maxsize=4096)
def _top_level_names(source: str) -> Mapping[str, str]:
    """Names a module defines at top level, with ``class`` or ``func`` (anything else)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    out: dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef):
            out[stmt.name] = "class"
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            out[stmt.name] = "func"
        elif isinstance(stmt, ast.Assign):
            out.update((t.id, "func") for t in stmt.targets if isinstance(t, ast.Name))
    return MappingProxyType(out)  # cached: read-only


def bound_names(
    *, program: str, prefix: str, entry_point: str | None, tests_sources: list[str]
) -> dict[str, str]:
    """The candidate surface, decided here (never taken from the candidate's run): ``candidate``,
    the entry point (or its class), and names the tests use that the program defines and the
    trusted prefix does not. Builtins are never candidate names (a program defining ``abs`` must
    not change the tests' ``abs``), except the entry point itself (MBPP 126 defines ``sum``)."""
    import builtins

    bound = {"candidate": "func"}
    cls, _, _ = (entry_point or "").rpartition(".")
    if cls:
        bound[cls] = "class"
    elif entry_point:
        bound[entry_point] = "func"
    used = set().union(*map(_names_in, tests_sources))
    trusted = _top_level_names(prefix)
    for name, kind in _top_level_names(program).items():
        fresh = name in used and name not in trusted and name not in bound
        if fresh and not hasattr(builtins, name) and not name.startswith("__"):
            # A class the tests use to build inputs (MBPP's Node, Pair): "data".
            bound[name] = "data" if kind == "class" else kind
    return bound
