"""Judge codes per test, the verdict they add up to, and the stdin/stdout judge.

Judge codes (DESIGN.md § Verdicts): ``AC WA TLE MLE RE CE OLE`` for the program, ``SE`` for a
fault of our own infrastructure. How a sandbox status becomes a code:

=================  =====  ===========================================================
sandbox status     code   note
=================  =====  ===========================================================
ok                 AC/WA  decided by the checker, outside the sandbox
time_limit         TLE    CPU limit, or the wall backstop (reason says which)
memory_limit       MLE
output_limit       OLE
runtime_error      RE     non-zero exit or fatal signal
compile_error      CE     compile once per verdict; every test is CE
sandbox_error      SE     never a reward: the verdict is ``unverifiable``, reward None
=================  =====  ===========================================================

The verdict: every test AC -> ``correct`` (reward 1). A failure -> ``incorrect`` (reward 0, or the
AC fraction with ``reward="fraction"``). An ``SE`` before any failure (or anywhere, for fraction
rewards) -> ``unverifiable`` with reward None: a sandbox fault is never scored as 0 (C13).
"""

from __future__ import annotations

import ast
import contextlib
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import sandbox
from sandbox import Job, JobResult, Limits, Run, RunResult
from verifiers.code.checkers import get_checker
from verifiers.code.config import CodeConfig
from verifiers.code.schema import CodeTests, StdioCase
from verifiers.verdict import Status, Verdict

__all__ = [
    "CODES",
    "VERSION",
    "StopFn",
    "TestResult",
    "ast_guard",
    "code_for_status",
    "compile_failure",
    "judge_stdio",
    "make_verdict",
    "python_syntax_error",
    "run_job",
    "run_reason",
]

CODES = ("AC", "WA", "TLE", "MLE", "RE", "CE", "OLE", "SE")
# 2: one harness run, tests decided in a process without the candidate; typed/tolerant case
# comparison by the tests' checker; uncalled check(candidate) completed (issue 9; CHANGELOG.md)
VERSION = "2"
# CPython 3.11 can fail `ast.parse` run from several threads at once ("AST constructor recursion
# depth mismatch", cpython gh-106905); batch judging runs in threads, so parsing is serialised.
_LOCK = threading.Lock()


@contextlib.contextmanager
def ast_guard() -> Iterator[None]:
    """Serialise `ast` work (see above) and silence its SyntaxWarnings (``"\\w"`` escapes in
    old code): a warning is not a compile error, even where warnings are errors (pytest)."""
    with _LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


StopFn = Callable[[int, RunResult], bool]
_STATUS_CODE = {
    "time_limit": "TLE",
    "memory_limit": "MLE",
    "output_limit": "OLE",
    "runtime_error": "RE",
    "compile_error": "CE",
    "sandbox_error": "SE",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class TestResult:
    """One test's judge code, with its measured cost and the reason for a non-AC code."""

    __test__ = False

    i: int
    code: str
    time_s: float = 0.0
    wall_s: float = 0.0
    memory_mb: float = 0.0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if not d["reason"]:
            del d["reason"]
        return d


def code_for_status(run: RunResult) -> str:
    """The judge code of a run that did not end normally (``ok`` needs a checker)."""
    return _STATUS_CODE.get(run.status, "SE")


def run_reason(run: RunResult) -> str:
    tail = run.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] if run.stderr else []
    return "; ".join(x for x in (run.message, *tail) if x)[:300]


def make_verdict(
    results: list[TestResult],
    *,
    total: int,
    config: CodeConfig,
    extracted: str | None,
    started: float,
    compile_info: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Verdict:
    """Add per-test codes up to one `Verdict` (see the module docstring)."""
    results = sorted(results, key=lambda r: r.i)
    first_bad = next((r for r in results if r.code not in ("AC", "SE")), None)
    first_se = next((r for r in results if r.code == "SE"), None)
    if config.stop_at_first_failure:
        cut = min((r.i for r in (first_bad, first_se) if r is not None), default=None)
        if cut is not None:
            results = [r for r in results if r.i <= cut]
    passed = sum(r.code == "AC" for r in results)
    detail: dict[str, Any] = {
        "tests": [r.to_dict() for r in results],
        "total": total,
        "passed": passed,
        "first_failure": None,
        "compile": compile_info,
        **(extra or {}),
    }
    failure = next((r for r in results if r.code != "AC"), None)
    if failure is not None:
        detail["first_failure"] = failure.to_dict()
    se_decides = first_se is not None and (
        config.reward == "fraction" or first_bad is None or first_se.i < first_bad.i
    )
    status: Status
    if se_decides:
        status, reward = "unverifiable", None
    elif passed == total and failure is None and total > 0:
        status, reward = "correct", 1.0
    else:
        status = "incorrect"
        reward = passed / total if config.reward == "fraction" and total else 0.0
    return Verdict(
        status=status,
        reward=reward,
        extracted=extracted,
        detail=detail,
        elapsed_ms=round((time.perf_counter() - started) * 1000, 2),
        verifier="code",
        verifier_version=VERSION,
    )


def run_job(job: Job, *, backend: str | None, stop: StopFn | None = None) -> JobResult:
    """`sandbox.run`, with a sandbox that raised turned into a ``sandbox_error`` result (SE):
    a fault of ours never escapes as an exception that would stop a batch, nor as a 0."""
    try:
        return sandbox.run(job, backend=backend, stop=stop)
    except (sandbox.SandboxError, OSError) as exc:
        message = f"sandbox raised {type(exc).__name__}: {exc}"[:500]
        return JobResult(compile=RunResult(status="sandbox_error", message=message), runs=())


def python_syntax_error(code: str) -> str | None:
    """A CE reason for Python that does not parse (checked here: parsing runs no code)."""
    try:
        with ast_guard():
            ast.parse(code)
    except SyntaxError as exc:
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"{type(exc).__name__}: the program does not parse"
    return None


def compile_failure(result: JobResult, total: int) -> tuple[list[TestResult], dict] | None:
    """CE for every test when compilation failed; SE when the compile step itself faulted."""
    comp = result.compile
    if comp is None or comp.ok:
        return None
    code = "SE" if comp.status == "sandbox_error" else "CE"
    info = {"status": comp.status, "message": comp.message[:2000]}
    return [TestResult(i=i, code=code, reason=comp.message[:300]) for i in range(total)], info


def judge_stdio(
    tests: CodeTests,
    program: str,
    *,
    lang: str,
    checker: str | None,
    limits: Limits,
    config: CodeConfig,
) -> tuple[list[TestResult], dict[str, Any] | None]:
    """Compile once, one fresh jail per test, stop at the first failure unless all tests."""
    spec = checker or tests.checker
    check = get_checker(spec)
    cases: tuple[StdioCase, ...] = tests.cases  # type: ignore[assignment]
    total = len(cases)
    if lang == "python":
        bad = python_syntax_error(program)
        if bad:
            return [TestResult(i=i, code="CE", reason=bad) for i in range(total)], {
                "status": "compile_error",
                "message": bad,
            }
    results: dict[int, TestResult] = {}
    in_process = check.kind != "program"

    def judge_run(i: int, run: RunResult) -> TestResult:
        common: dict[str, Any] = dict(
            i=i, time_s=run.cpu_s, wall_s=run.wall_s, memory_mb=run.memory_mb
        )
        if run.status != "ok":
            return TestResult(code=code_for_status(run), reason=run_reason(run), **common)
        if not in_process:
            return TestResult(code="AC", **common)  # provisional: the checker program decides
        got = check.check_any(run.stdout, cases[i].expected)
        return TestResult(code="AC" if got.ok else "WA", reason=got.reason, **common)

    def stop(i: int, run: RunResult) -> bool:
        results[i] = judge_run(i, run)
        return config.stop_at_first_failure and results[i].code != "AC"

    job = Job(
        language=lang,
        files={_main_name(lang): program},
        runs=tuple(Run(stdin=c.stdin) for c in cases),
        limits=limits,
    )
    outcome = run_job(job, backend=config.backend, stop=stop)
    failed = compile_failure(outcome, total)
    if failed is not None:
        return failed
    comp = outcome.compile
    info = {"status": comp.status, "cpu_s": comp.cpu_s} if comp is not None else None
    if not in_process:
        _run_checker_program(tests, cases, outcome, results, config)
    return list(results.values()), info


def _main_name(lang: str) -> str:
    return sandbox.get_language(lang).main


def _run_checker_program(
    tests: CodeTests,
    cases: tuple[StdioCase, ...],
    outcome: JobResult,
    results: dict[int, TestResult],
    config: CodeConfig,
) -> None:
    """testlib protocol ``checker input output answer`` in its own jail, after the candidate's
    process tree is gone (C5): exit 0 AC, 1 WA, 2 PE (WA), 3 FAIL (SE), anything else SE."""
    todo = [i for i, r in sorted(results.items()) if r.code == "AC"]
    if not todo:
        return
    runs = tuple(
        Run(
            files={
                "input.txt": cases[i].stdin,
                "output.txt": outcome.runs[i].stdout,
                "answer.txt": cases[i].expected[0],
            },
            args=("input.txt", "output.txt", "answer.txt"),
        )
        for i in todo
    )
    lang = tests.checker_lang or "python"
    verdicts: dict[int, str] = {}  # judge codes of _checker_code

    def stop(k: int, run: RunResult) -> bool:
        verdicts[todo[k]] = _checker_code(run)
        return config.stop_at_first_failure and verdicts[todo[k]] != "AC"

    job = Job(
        language=lang,
        files={_main_name(lang): tests.checker_program or ""},
        runs=runs,
        limits=Limits(cpu_s=10.0, memory_mb=1024),
    )
    checked = run_job(job, backend=config.backend, stop=stop)
    if not checked.compiled:
        verdicts = dict.fromkeys(todo, "SE")
    for i in todo:
        code = verdicts.get(i)
        old = results[i]
        if code is None:  # not checked: an earlier test already failed
            del results[i]
        elif code != "AC":
            why = "checker says wrong answer" if code == "WA" else "checker program failed"
            results[i] = TestResult(
                i=i, code=code, time_s=old.time_s, wall_s=old.wall_s, reason=why
            )


def _checker_code(run: RunResult) -> str:
    if run.status == "ok":
        return "AC"
    if run.status == "runtime_error" and run.exit_code in (1, 2):
        return "WA"
    return "SE"
