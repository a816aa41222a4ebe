"""The function-call judge: one sandbox run per verdict, decided in a process without the candidate.

Flow (see :mod:`verifiers.code.harness` for what runs inside): the harness's *judge* process runs
the trusted prompt prefix, setup and the original test code; the candidate's code runs only in a
process forked from it before the tests were read, answering calls (issue 9, classes 2 and 3).

1. One harness run for all tests: cases (their values come back typed; compared here, on decoded
   values, against ``ast.literal_eval`` of the expected source or the judge's evaluation of a
   non-literal one) and assert items (decided in the judge process: held or not). Per-test CPU
   and wall limits are kept by the judge process from outside the candidate's; the run's total is
   the backstop. A test that killed the candidate gets TLE/MLE/RE; in all-tests mode the harness
   is restarted after it.
2. Nothing of the response reaches the judge process but the names of its functions the tests
   call (proxies there): no import of the response, no name that the prefix, setup or tests
   define (`_candidate_names`).
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import importlib.util
import json
import marshal
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any, TypedDict

from sandbox import Job, Limits, Run, RunResult, get_language
from verifiers.code import codec, harness
from verifiers.code.compare import MALFORMED, compare_values, decode_value, short_repr
from verifiers.code.config import CodeConfig
from verifiers.code.judge import (
    TestResult,
    ast_guard,
    code_for_status,
    python_syntax_error,
    run_job,
    run_reason,
)
from verifiers.code.probes import (
    bound_names,
    complete_asserts,
)
from verifiers.code.schema import CodeTests, FunctionCase

__all__ = [
    "HARNESS_SOURCE",
    "MAX_CHANNEL_BYTES",
    "MAX_RECORD_BYTES",
    "RawRecord",
    "build_program",
    "harness_files",
    "harness_pyc",
    "judge_function",
    "parse_channel",
]

# The program run in the jail: the codec, then the harness (which imports the codec only where it
# is not `__main__`), as one file: one .pyc to unmarshal, no import path inside the jail.
HARNESS_SOURCE = "\n\n".join(
    Path(module.__file__ or "").read_text(encoding="utf-8") for module in (codec, harness)
)


def harness_pyc(magic: bytes = importlib.util.MAGIC_NUMBER) -> bytes:
    """The harness as a .pyc (unchecked-hash header, PEP 552), which `python3 main.pyc` runs."""
    code = compile(HARNESS_SOURCE, "main.py", "exec", dont_inherit=True)
    return magic + (1).to_bytes(4, "little") + bytes(8) + marshal.dumps(code)


@functools.cache
def harness_files() -> tuple[str, bytes | str]:
    """(file name, content) of the harness sent into the jail.

    Compiling the ~1,000 lines of codec and harness costs ~5 ms on every run (a script is never
    cached), a sixth of a harness run; so when the jail's interpreter reads our bytecode (same
    MAGIC, checked once by asking that interpreter, our own trusted one-liner) it gets a .pyc;
    otherwise the source.
    """
    interpreter = get_language("python").run[0]
    probe = "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"
    try:
        out = subprocess.run([interpreter, "-I", "-c", probe], capture_output=True, text=True,
                             timeout=10, check=True).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        out = ""
    if out == importlib.util.MAGIC_NUMBER.hex():
        return "main.pyc", harness_pyc()
    return "main.py", HARNESS_SOURCE


_NO_VALUE = object()


def build_program(prefix: str | None, code: str, entry_point: str | None) -> str:
    """The program the harness loads: the prompt prefix, then the candidate's code.

    A response that defines the entry point itself (a whole function or class) comes after the
    prefix as its own block; a body (HumanEval completion style) continues the prefix directly.
    """
    if not prefix:
        return code
    name = (entry_point or "").split(".")[0]
    try:
        with ast_guard():
            tree = ast.parse(code)
        defines = any(
            isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and s.name == name
            for s in tree.body
        )
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        defines = False
    if not defines:
        return prefix + code
    program = prefix.rstrip("\n") + "\n\n\n" + code
    try:
        with ast_guard():
            ast.parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # A prompt ending in a bare signature (`def f(x):`) gets a body before the response.
        return prefix.rstrip("\n") + "\n    pass\n\n\n" + code
    return program


# Caps on what the verifier parses of one run's channel (issue 9, class 4), defence in depth
# behind the harness's own cap on a reply (`harness.MAX_REPLY`): a record of `[[],[],...]` costs
# ~20x its size in Python objects here (8 MB of JSON: ~180 MB).
MAX_RECORD_BYTES = 4 << 20
MAX_CHANNEL_BYTES = 8 << 20
_TEXT_FIELDS = ("t", "kind", "why", "msg", "exc")


# A channel record as the verifier parsed it: shaped like a `protocol.Record` by claim only (the
# run's stdout is the jail's), so every field used is checked where it is read (`_index`,
# `_seconds`, `_clean`; judging is total: tests/adversarial/test_code_totality.py).
RawRecord = dict[str, Any]


def parse_channel(stdout: bytes, nonce: str) -> list[RawRecord]:
    """The harness's records, in order; stops at the first break in the numbering.

    A record over `MAX_RECORD_BYTES` (or past `MAX_CHANNEL_BYTES` in all) is not parsed: an
    ``{"t": "oversized"}`` record stands in for it and parsing stops (the test in flight is OLE).
    Text fields are made strings of bounded length, whatever the record claims.
    """
    records: list[RawRecord] = []
    tag, start, budget = nonce.encode() + b" ", 0, MAX_CHANNEL_BYTES
    while start < len(stdout):
        end = stdout.find(b"\n", start)
        end = len(stdout) if end < 0 else end
        line, start = memoryview(stdout)[start:end], end + 1
        if bytes(line[: len(tag)]) != tag:
            continue
        seq = bytes(line[len(tag) : len(tag) + 24]).partition(b" ")[0]
        if seq != str(len(records)).encode():
            break  # a record out of sequence: nothing after it is trusted
        size = len(line) - len(tag) - len(seq) - 1
        budget -= size
        if size > MAX_RECORD_BYTES or budget < 0:
            records.append({"t": "oversized", "bytes": size})
            break
        try:
            doc = json.loads(bytes(line[len(tag) + len(seq) + 1 :]))
        except (ValueError, RecursionError, MemoryError):  # nested past the parser's depth
            break
        if not isinstance(doc, dict):
            break
        records.append(_clean(doc))
    return records


def _clean(doc: RawRecord) -> RawRecord:
    for key in _TEXT_FIELDS:
        if key in doc:
            value = doc[key]
            doc[key] = value[:500] if isinstance(value, str) else f"<{type(value).__name__}>"
    if not isinstance(doc.get("calls", []), list):
        doc["calls"] = []
    return doc


class _Run:
    """One harness run's outcome: its records by kind, the sandbox result, or a fault."""

    def __init__(self, records: list[RawRecord], run: RunResult | None, fault: str | None) -> None:
        self.run, self.fault = run, fault
        self.ready = bool(records) and records[0].get("t") == "ready"
        self.by_kind: dict[str, list[RawRecord]] = {}
        for rec in records:
            self.by_kind.setdefault(str(rec.get("t")), []).append(rec)
        self.ended = "end" in self.by_kind
        if fault is None and not self.ready:
            self.fault = "the harness did not start: " + (run_reason(run) if run else "no run")

    def first(self, kind: str) -> RawRecord | None:
        found = self.by_kind.get(kind)
        return found[0] if found else None


_CANDIDATE_KEYS = ("program", "prefix", "entry", "nonce")


def _run_harness(doc: dict[str, Any], limits: Limits, config: CodeConfig) -> _Run:
    nonce = secrets.token_hex(16)
    # Part A is all the candidate's process ever holds; part B (the tests) is read by the judge
    # process after it forked the candidate's (the harness reads both without `json`). The nonce
    # may be in A: only the judge process holds the channel's fd.
    doc = {**doc, "nonce": nonce}
    part_a = marshal.dumps({k: doc[k] for k in _CANDIDATE_KEYS})
    part_b = marshal.dumps({k: v for k, v in doc.items() if k not in _CANDIDATE_KEYS})
    stdin = b"%016x" % len(part_a) + part_a + part_b
    name, content = harness_files()
    job = Job(
        language="python",
        files={name: content},
        main=name,
        runs=(Run(stdin=stdin),),
        limits=limits,
        warm=True,  # the harness reads its whole doc before it runs anything of the job
    )
    result = run_job(job, backend=config.backend)
    if result.compile is not None and result.compile.status == "sandbox_error":
        return _Run([], None, f"sandbox: {result.compile.message}")
    if not result.runs or result.runs[0].status == "sandbox_error":
        msg = result.runs[0].message if result.runs else "no run made"
        return _Run([], None, f"sandbox: {msg}")
    run = result.runs[0]
    return _Run(parse_channel(run.stdout, nonce), run, None)


def _limits(n_tests: int, config: CodeConfig) -> Limits:
    cpu = min(config.max_run_cpu_s, 2.0 + n_tests * config.test_cpu_s)
    return Limits(cpu_s=cpu, wall_s=2 * cpu + 5, memory_mb=config.memory_mb, output_bytes=64 << 20)


def _index(rec: RawRecord, total: int) -> int | None:
    """A record's test index if it is a valid one (a forged record may carry anything)."""
    i = rec.get("i")
    return i if type(i) is int and 0 <= i < total else None


def _crash_code(run: RunResult | None, out: _Run | None = None) -> tuple[str, str]:
    if out is not None and "oversized" in out.by_kind:  # the candidate's values, not our fault
        size = out.by_kind["oversized"][0].get("bytes")
        return (
            "OLE",
            f"a result record of {size} bytes (cap {MAX_RECORD_BYTES}, run {MAX_CHANNEL_BYTES})",
        )
    if run is None:
        return "SE", "no run"
    if run.status == "ok":
        return "RE", "exited before finishing the tests (no completion record)"
    return code_for_status(run), run_reason(run)


def _expected_values(cases: tuple[FunctionCase, ...]) -> list[Any]:
    out = []
    for case in cases:
        try:
            out.append(ast.literal_eval(case.expected))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            out.append(_NO_VALUE)  # evaluated by the harness's judge process
    return out


def judge_function(
    tests: CodeTests, program: str, *, config: CodeConfig, prefix: str = ""
) -> tuple[list[TestResult], dict[str, Any] | None]:
    cases: tuple[FunctionCase, ...] = tests.cases  # type: ignore[assignment]
    total = len(cases) + len(tests.asserts)
    with ast_guard():  # a `def check(candidate)` module that never calls check gets the call
        tests = dataclasses.replace(tests, asserts=complete_asserts(tests.asserts, tests.setup))
    bad = python_syntax_error(program)
    if bad:
        info = {"status": "compile_error", "message": bad}
        return [TestResult(i=i, code="CE", reason=bad) for i in range(total)], info
    with ast_guard():
        base = _base_doc(tests, program, prefix, config)
        expected = _expected_values(cases)
    # Non-literal expected sources are evaluated by the judge process, never the candidate's.
    base["expected"] = {str(i): c.expected for i, c in enumerate(cases) if expected[i] is _NO_VALUE}
    rec = _record(base, total, config)
    if rec.fault is not None:
        return [TestResult(i=i, code="SE", reason=rec.fault) for i in range(total)], None
    load = rec.load
    if load is not None and not load.get("ok"):
        why = f"the program failed to load: {load.get('exc')}: {load.get('msg', '')}"[:300]
        return [TestResult(i=i, code="RE", reason=why) for i in range(total)], None
    results = []
    for i in range(total):
        if i in rec.crashes:
            results.append(rec.crashes[i])
        elif i in rec.results:
            got = _judge_one(i, rec.results[i], expected, rec.expected, config, tests.checker)
            results.append(got)
    return results, None


def _base_doc(tests: CodeTests, program: str, prefix: str, config: CodeConfig) -> dict[str, Any]:
    """What the harness gets: `_CANDIDATE_KEYS` for the candidate's process, the rest (the
    tests, run as written) for the judge process only."""
    cases: tuple[FunctionCase, ...] = tests.cases  # type: ignore[assignment]
    sources = [tests.setup, *(c.call for c in cases), *tests.asserts]
    bound, modules = _candidate_names(program, prefix, tests.entry_point, sources)
    return {
        "prefix": prefix,
        "program": program,
        "setup": tests.setup,
        "entry": tests.entry_point or "",
        "bound": bound,
        "modules": modules,
        "cases": [c.call for c in cases],
        # Cases the judge may send ahead in one window (harness `_send_window`): a call of a
        # name the candidate answers, over literals only (building it runs no other code).
        "batch": {
            i: name
            for i, c in enumerate(cases)
            if (name := _plain_call(c.call)) is not None
            and bound.get(name) not in (None, "data", "class")
        },
        "asserts": list(tests.asserts),
        "seed": config.seed,
        # seed random per test only where something can use it: importing it costs ~1 ms a run
        "rng": any("random" in text for text in (program, prefix, *sources)),
        "test_cpu_s": config.test_cpu_s,
        "test_wall_s": max(3 * config.test_cpu_s, config.test_cpu_s + 3),
    }


def _candidate_names(
    program: str, prefix: str, entry_point: str | None, sources: list[str]
) -> tuple[dict[str, str], list[str]]:
    """The names the judge process binds to the candidate (`bound_names`, less any name the
    prompt prefix, the setup or the tests bind themselves, imports included: a helper of the
    tests is never the candidate's, issue 9 classes 2-3), and names the tests use that nothing
    defines (a stdlib module the dataset forgot to import, MBPP 596's ``sys``: imported there by
    its own name, never from the response)."""
    bound = bound_names(
        program=program, prefix=prefix, entry_point=entry_point, tests_sources=sources
    )
    defined = _bound_in(tuple(sources)) | _bound_in((prefix,))
    keep = {"candidate", (entry_point or "").rpartition(".")[0] or entry_point}
    bound = {k: v for k, v in bound.items() if k in keep or k not in defined}
    used = set().union(*map(_loaded_in, sources))
    free = used - defined - keep - set(dir(builtins))
    return bound, sorted(free & sys.stdlib_module_names)


@functools.lru_cache(maxsize=8192)
def _plain_call(text: str) -> str | None:
    """The function name of a case ``name(literal, ..., key=literal)``, else None."""
    try:
        node = ast.parse(text, mode="eval").body
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            return None
        for arg in (*node.args, *(k.value for k in node.keywords if k.arg is not None)):
            ast.literal_eval(arg)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        return None
    if any(k.arg is None for k in node.keywords):
        return None
    return node.func.id


@functools.lru_cache(maxsize=4096)
def _loaded_in(text: str) -> frozenset[str]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return frozenset()
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))


@functools.lru_cache(maxsize=1024)
def _bound_in(texts: tuple[str, ...]) -> frozenset[str]:
    """Every name the sources bind anywhere (assignments, defs, classes, imports, arguments)."""
    out: set[str] = set()
    for text in texts:
        try:
            tree = ast.parse(text or "")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                out.add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                out.add(node.name)
            elif isinstance(node, ast.alias):
                out.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, ast.arg):
                out.add(node.arg)
    return frozenset(out)


@dataclasses.dataclass(slots=True)
class _Recorded:
    """What the harness runs of one verdict left (`_record`): the record of each test that ran,
    the tests that ended a run, the judge's values of non-literal expected sources, the load
    record, or a fault of ours (then nothing else counts)."""

    results: dict[int, RawRecord] = dataclasses.field(default_factory=dict)  # ``res``, by test
    crashes: dict[int, TestResult] = dataclasses.field(default_factory=dict)  # TLE/MLE/RE/OLE
    expected: dict[int, RawRecord] = dataclasses.field(default_factory=dict)  # ``exp``, by case
    load: RawRecord | None = None  # the first run's ``load`` record
    fault: str | None = None  # ours: the verdict is SE

    def keep(self, out: _Run, total: int) -> None:
        """A run's ``exp`` and ``res`` records with a valid index; the first one of each wins."""
        for kind, kept in (("exp", self.expected), ("res", self.results)):
            for rec in out.by_kind.get(kind, []):
                i = _index(rec, total)
                if i is not None:
                    kept.setdefault(i, rec)


def _record(base: dict[str, Any], total: int, config: CodeConfig) -> _Recorded:
    """Harness runs, restarted after a test that ended one (all-tests mode) or, one call at a
    time, from a window of calls sent ahead that took too long together (``retry``)."""
    rec = _Recorded()
    start, skip = 0, list[int]()
    attempt = 0
    while attempt <= config.max_restarts:
        doc = {**base, "start": start, "skip": skip}
        out = _run_harness(doc, _limits(total - start, config), config)
        if out.fault is not None:
            rec.fault = out.fault
            return rec
        rec.load = rec.load or out.first("load")
        if rec.load is None or not rec.load.get("ok"):
            if rec.load is None:  # died while loading the program (import-time loop, MemoryError)
                code, why = _crash_code(out.run, out)
                rec.crashes[start] = TestResult(i=start, code=code, reason=f"while loading: {why}")
            return rec
        rec.keep(out, total)
        retry = out.first("retry")  # calls sent ahead took over one test's limits together
        if retry is not None and base.get("batch") and _index(retry, total) is not None:
            base = {**base, "batch": {}}  # from that test on, one call at a time: no restart
            start = int(retry["i"])
            continue
        attempt += 1
        if out.ended:
            break
        halt = _halt(out, total)
        inflight = _in_flight(halt, rec.results, start, skip)
        if inflight >= total:
            break
        code, why = _stop_code(halt, out)
        rec.crashes[inflight] = TestResult(i=inflight, code=code, reason=why)
        if config.stop_at_first_failure:
            break
        skip = [*skip, inflight]
        start = inflight + 1
        if start >= total:
            break
    return rec


def _halt(out: _Run, total: int) -> RawRecord | None:
    """The run's ``tle``, ``ole`` or ``died`` record (`protocol.Halt`), if its index is valid."""
    halt = out.first("tle") or out.first("ole") or out.first("died")
    return halt if halt is not None and _index(halt, total) is not None else None


def _in_flight(
    halt: RawRecord | None, results: dict[int, RawRecord], start: int, skip: list[int]
) -> int:
    """The test that ended a run: the one the judge names, else the one after the last record."""
    done = [i for i in results if i >= start]
    inflight = int(halt["i"]) if halt else (max(done) + 1 if done else start)
    while inflight in skip:
        inflight += 1
    return inflight


def _stop_code(stop: RawRecord | None, out: _Run) -> tuple[str, str]:
    """The code of the test that ended a run: the judge process's ``tle`` or ``ole`` (it killed
    the candidate past a per-test limit or the reply cap) or ``died`` (the run's status: MLE when
    the memory cgroup OOM-killed it), else what the run's status says."""
    if stop is None or out.run is None:
        return _crash_code(out.run, out)
    kind, why = stop.get("t"), str(stop.get("why", ""))[:200]
    if kind == "tle":
        return "TLE", f"{why} time per test (the judge process killed the candidate)"
    if kind == "ole":
        return "OLE", why
    code, status = _crash_code(out.run, out)
    return ("RE" if code == "SE" else code), f"{why}; {status}".strip("; ")


class _Timed(TypedDict):
    """The fields every `TestResult` of a recorded test shares."""

    i: int
    time_s: float
    wall_s: float


def _judge_one(
    i: int,
    rec: RawRecord,
    expected: list[Any],
    exp_values: dict[int, RawRecord],
    config: CodeConfig,
    checker: str = "equal",
) -> TestResult:
    cpu, wall = _seconds(rec.get("cpu")), _seconds(rec.get("wall"))
    common: _Timed = {"i": i, "time_s": round(cpu, 6), "wall_s": round(wall, 6)}
    if cpu > config.test_cpu_s:
        return TestResult(code="TLE", reason=f"CPU {cpu:.3f} s > {config.test_cpu_s:g} s", **common)
    if i < len(expected):  # by position, whatever the record claims
        return _judge_case(i, rec, expected, exp_values, common, checker)
    if rec.get("ok") is True:  # the judge process ran the assert item: it held
        return TestResult(code="AC", **common)
    why, msg = rec.get("why"), str(rec.get("msg", ""))[:300]
    if why == "raised":
        return TestResult(code="RE", reason=f"candidate raised {msg}", **common)
    return TestResult(code="WA", reason=f"{why}: {msg}".strip(": "), **common)


def _seconds(value: Any) -> float:
    """A record's time; anything else (a forged 10**400, NaN) counts as over any limit."""
    if type(value) is float and 0 <= value < 1e9:
        return value
    if type(value) is int and 0 <= value < 10**9:
        return float(value)
    return 0.0 if value is None else 1e9


def _judge_case(
    i: int,
    rec: RawRecord,
    expected: list[Any],
    exp_values: dict[int, RawRecord],
    common: _Timed,
    checker: str = "equal",
) -> TestResult:
    """A case's result against its expected value, by the tests' checker (`compare`): total,
    whatever the record holds (a forged node is a malformed value, WA)."""
    if not rec.get("ok"):
        return TestResult(code="RE", reason=f"{rec.get('why')}: {rec.get('msg')}", **common)
    want = expected[i]
    if want is _NO_VALUE:
        got_exp = exp_values.get(i)
        if got_exp is None or "err" in got_exp:
            why = (got_exp or {}).get("err", "expected value not evaluated")
            return TestResult(code="SE", reason=f"expected value: {why}", **common)
        want = decode_value(got_exp.get("v"))
        if want is MALFORMED:
            return TestResult(code="SE", reason="expected value: not decodable", **common)
    got = decode_value(rec.get("v"))
    if got is MALFORMED:
        return TestResult(code="WA", reason="malformed value", **common)
    if compare_values(got, want, checker):
        return TestResult(code="AC", **common)
    return TestResult(
        code="WA", reason=f"got {short_repr(got)}, expected {short_repr(want)}", **common
    )
