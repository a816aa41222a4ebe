"""The code verifier: run a response's program against a prompt's tests in the sandbox.

The code accuracy reward of the R1 recipe (R1 §2.2.2: "for LeetCode problems, a compiler can be
used to generate feedback based on predefined test cases") and the judge of code evaluations.
Stages, one module each: `extract` (the program: last fenced block after ``</think>``),
`checkers` (stdio output comparison), `harness` (what runs inside the sandbox for function
tests), `functions` (the function-call judge), `judge` (judge codes and the verdict), `schema` (the
code-test schema every code prompt's tests follow).
The entry points live in `verify` (with the design notes on why no grader trick works).

The re-exports below load on first use, so ``verifiers.code.schema`` and ``.config`` (read by
ingest and the lake) import without the sandbox and the judge.
"""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
    from verifiers.code.config import CodeConfig
    from verifiers.code.judge import CODES, TestResult
    from verifiers.code.verify import averify_code, score_prompt, verify_code, verify_code_batch

__all__ = [
    "CODES",
    "CodeConfig",
    "TestResult",
    "averify_code",
    "score_prompt",
    "verify_code",
    "verify_code_batch",
]

_HOME = {
    "CODES": "verifiers.code.judge",
    "CodeConfig": "verifiers.code.config",
    "TestResult": "verifiers.code.judge",
    "averify_code": "verifiers.code.verify",
    "score_prompt": "verifiers.code.verify",
    "verify_code": "verifiers.code.verify",
    "verify_code_batch": "verifiers.code.verify",
}


def __getattr__(name: str) -> typing.Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups (and monkeypatch) see a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
