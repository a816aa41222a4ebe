"""The code verifier: run a response's program against a prompt's tests in the sandbox.

The code accuracy reward of the R1 recipe (R1 §2.2.2: "for LeetCode problems, a compiler can be
used to generate feedback based on predefined test cases") and the judge of code evaluations.
Stages, one module each: `extract` (the program: last fenced block after ``</think>``),
`checkers` (stdio output comparison), `harness` (what runs inside the sandbox for function
tests), `functions` (the function-call judge), `judge` (judge codes and the verdict).
The entry points live in `verify` (with the design notes on why no grader trick works).
"""

from __future__ import annotations

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
