"""``__all__`` equals each module's public names (issue 16), as httpx's test_exported_members does.

Read from the source (no import: training's torch and the optional extras stay out of the way).
A module's public names are what it defines at top level without a leading ``_``; a package's
``__init__`` re-exports, so what it imports counts too (a module may re-export an import by naming
it in ``__all__``). Module-level loggers are not API.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "verifiers", "sandbox")
NOT_API = {"log", "logger"}


def _modules() -> list[str]:
    return sorted(
        str(p.relative_to(ROOT).with_suffix("")).replace("/", ".")
        for package in PACKAGES
        for p in (ROOT / package).rglob("*.py")
    )


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for node in body:
        out.append(node)
        if isinstance(node, ast.If):  # e.g. `if TYPE_CHECKING:` or a platform switch
            out += _top_level(node.body) + _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            out += _top_level(node.body) + [s for h in node.handlers for s in _top_level(h.body)]
    return out


def public_names(source: str, *, imports: bool) -> set[str]:
    """Names the module defines (and, with ``imports``, imports) at top level without a ``_``.

    >>> sorted(public_names("import os\\nX = 1\\n_y = 2\\ndef f(): pass", imports=False))
    ['X', 'f']
    >>> sorted(public_names("from a import b, c as d\\nfrom __future__ import annotations", imports=True))
    ['b', 'd']
    """
    names: set[str] = set()
    for node in _top_level(ast.parse(source).body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            for t in node.targets:
                if isinstance(t, ast.Tuple):
                    names |= {e.id for e in t.elts if isinstance(e, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif imports and isinstance(node, ast.ImportFrom) and node.module != "__future__":
            names |= {a.asname or a.name for a in node.names}
    return {n for n in names if not n.startswith("_") and n not in NOT_API}


def declared_all(source: str) -> set[str] | None:
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                assert node.value is not None
                return set(ast.literal_eval(node.value))
    return None


@pytest.mark.parametrize("module", _modules())
def test_all_equals_the_public_names(module: str) -> None:
    path = ROOT / (module.replace(".", "/") + ".py")
    source = path.read_text(encoding="utf-8")
    declared = declared_all(source)
    assert declared is not None, f"{module} has no __all__"
    init = path.name == "__init__.py"
    public = public_names(source, imports=init)  # a package's __init__ re-exports what it imports
    bound = public_names(source, imports=True)  # a module may re-export a name it imports
    assert public <= declared, f"{module}: public but not in __all__: {sorted(public - declared)}"
    assert declared <= bound, f"{module}: in __all__ but not bound: {sorted(declared - bound)}"
