"""Every exception class defined in our packages belongs to its package's tree (issue 16).

One small tree per package, drawn in its ``errors.py`` docstring (STYLE.md §7), so a caller can catch
"anything this package raises on purpose" with one ``except``: engine and training under
``RlvrError``, the sandbox under ``SandboxError``, the verifiers under ``VerifierError``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from engine.errors import RlvrError
from sandbox.errors import SandboxError
from verifiers.errors import VerifierError

ROOTS: dict[str, type[Exception]] = {
    "engine": RlvrError,
    "training": RlvrError,  # training/ raises the engine's user errors (RecipeError is a UserError)
    "sandbox": SandboxError,
    "verifiers": VerifierError,
}

# Outside every tree on purpose, each with its reason.
EXEMPT = {
    # A KeyboardInterrupt on purpose: `except Exception` (batch paths) must not swallow a signal.
    "engine.interrupt.Interrupted",
    # CLI-local: the library never raises it; the CLI prints it as one `error:` line (issue 16).
    "sandbox.cli.CliError",
    # The judge's harness runs inside the jail next to the candidate and imports nothing of ours;
    # these are its control flow (a recorded raise, a refused call, the stop of a test).
    "verifiers.code.harness.Raised",
    "verifiers.code.harness.Refused",
    "verifiers.code.harness.Stop",
}


def _modules(package: str) -> list[str]:
    root = importlib.import_module(package)
    return [package] + [m.name for m in pkgutil.walk_packages(root.__path__, f"{package}.")]


def _defined_exceptions(package: str) -> list[tuple[str, type[BaseException]]]:
    """(qualified name, class) of every exception class whose home module is in ``package``."""
    found = []
    for name in _modules(package):
        try:
            module = importlib.import_module(name)
        except ImportError:  # an optional extra (vllm, ...) is missing: nothing to check there
            continue
        for attr, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == name
                and not attr.startswith(
                    "_"
                )  # private: a module's own control flow, never raised out
            ):
                found.append((f"{name}.{attr}", obj))
    return found


@pytest.mark.parametrize("package", sorted(ROOTS))
def test_every_exception_belongs_to_its_package_tree(package: str) -> None:
    found = _defined_exceptions(package)
    outside = [q for q, cls in found if not issubclass(cls, ROOTS[package]) and q not in EXEMPT]
    assert outside == [], f"derive these from {ROOTS[package].__name__} (or say why not in EXEMPT)"


def test_the_check_sees_exceptions_and_the_trees() -> None:
    """The walk finds the trees' own classes, so an empty `outside` is not an empty search."""
    names = {q for package in ROOTS for q, _ in _defined_exceptions(package)}
    assert {"engine.errors.UserError", "sandbox.errors.JobError", "sandbox.errors.LaunchError"} <= (
        names
    )
    assert "verifiers.errors.ParseError" in names
    assert names >= EXEMPT, "an exemption names a class that no longer exists: drop it"


def test_sandbox_launch_error_is_a_sandbox_error_and_still_an_os_error() -> None:
    from sandbox import _slots as slots

    assert issubclass(slots.LaunchError, SandboxError)
    assert issubclass(slots.LaunchError, OSError)  # callers that catch OSError keep working


def test_cli_error_is_cli_local() -> None:
    from sandbox.cli import CliError

    assert not issubclass(CliError, SandboxError)
