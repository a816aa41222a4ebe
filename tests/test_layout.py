"""The layout rules of DESIGN.md: import direction, heavy imports, public surfaces."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sandbox", "verifiers", "engine", "training")
# What each package may import from the others (DESIGN.md § Layout).
ALLOWED = {
    "sandbox": set(),
    "verifiers": {"sandbox"},
    "engine": {"verifiers", "sandbox"},
    "training": {"engine", "verifiers", "sandbox"},
}
HEAVY = {"torch", "transformers", "trl", "vllm"}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level module, imported at module level?) for every import in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(n.split(".")[0], id(node) in top_level) for n in names]
    return found


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_flow_one_way(package: str) -> None:
    for path in _modules(package):
        for module, _ in _imports(path):
            if module in PACKAGES and module != package:
                rel = path.relative_to(ROOT)
                # engine/cli.py is the one place that may reach training, lazily (DESIGN.md).
                assert module in ALLOWED[package] or (
                    str(rel) == "engine/cli.py" and module == "training"
                ), f"{rel} imports {module}: {package} may import only {sorted(ALLOWED[package])}"


@pytest.mark.parametrize("package", ("sandbox", "verifiers", "engine"))
def test_no_torch_at_module_level_outside_training(package: str) -> None:
    for path in _modules(package):
        heavy = {m for m, top in _imports(path) if top and m in HEAVY}
        assert not heavy, f"{path.relative_to(ROOT)} imports {heavy} at module level"


def test_cli_starts_without_torch() -> None:
    # Everything `rlvr --help` and `rlvr-sandbox` load: all command modules, the service.
    code = (
        "import sys, engine.cli, sandbox.cli, sandbox.service; engine.cli._register_commands(); "
        f"sys.exit(int(any(m in sys.modules for m in {sorted(HEAVY)!r})))"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


@pytest.mark.parametrize("package", ("engine", "verifiers", "sandbox"))
def test_public_surface_is_all(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__, f"{package}.__all__ is empty"
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.__all__ names {name!r}, which it does not define"
