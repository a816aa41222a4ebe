"""How the code verifier judges: limits, stopping rule, reward shape, extraction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = ["CodeConfig"]


@dataclass(frozen=True, kw_only=True, slots=True)
class CodeConfig:
    """Options of one verdict (frozen, hashable; errors name the value and the reason).

    test_cpu_s: CPU seconds per test; a test over it is ``TLE`` (stdio: the sandbox kills the run;
        function tests: RLIMIT_CPU per test inside the harness, plus the run's total as backstop).
    memory_mb: memory per run; over it is ``MLE``.
    reward: ``binary`` (1 only if every test is AC) or ``fraction`` (AC tests / all tests).
    all_tests: run every test even after a failure; None = only for ``fraction`` rewards.
    extract: ``fenced`` (the last fenced block after ``</think>``; none -> CE), ``raw`` (the
        response is the program, e.g. HumanEval completions), ``auto`` (fenced if any fence).
    max_run_cpu_s: cap on the CPU budget of one function-harness run (all its tests together).
    max_restarts: in all-tests mode, how often a harness that died mid-way is restarted after
        the test that killed it.
    backend: the sandbox backend (None = the sandbox's default).
    seed: seeds ``random`` before every test, in the harness's judge process (the tests').

    >>> CodeConfig(reward="fraction").stop_at_first_failure
    False
    """

    test_cpu_s: float = 2.0
    memory_mb: int = 512
    reward: Literal["binary", "fraction"] = "binary"
    all_tests: bool | None = None
    extract: Literal["fenced", "raw", "auto"] = "fenced"
    max_run_cpu_s: float = 60.0
    max_restarts: int = 8
    backend: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.test_cpu_s > 0:
            raise ValueError(f"CodeConfig.test_cpu_s={self.test_cpu_s!r}: must be > 0")
        if not self.memory_mb > 0:
            raise ValueError(f"CodeConfig.memory_mb={self.memory_mb!r}: must be > 0")
        if self.reward not in ("binary", "fraction"):
            raise ValueError(f"CodeConfig.reward={self.reward!r}: must be 'binary' or 'fraction'")
        if self.extract not in ("fenced", "raw", "auto"):
            raise ValueError(f"CodeConfig.extract={self.extract!r}: must be fenced, raw or auto")
        if not self.max_run_cpu_s >= self.test_cpu_s:
            raise ValueError(
                f"CodeConfig.max_run_cpu_s={self.max_run_cpu_s!r}: must be >= test_cpu_s"
            )
        if self.max_restarts < 0:
            raise ValueError(f"CodeConfig.max_restarts={self.max_restarts!r}: must be >= 0")

    @property
    def stop_at_first_failure(self) -> bool:
        return not (self.all_tests if self.all_tests is not None else self.reward == "fraction")

    def replace(self, **changes: Any) -> CodeConfig:
        return replace(self, **changes)
