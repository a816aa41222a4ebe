"""The code verifier's entry points: `verify_code`, `averify_code`, `verify_code_batch` and the
registry's `score_prompt` (the package docstring lists the stages they run).

Design: why no grader trick of ../shared/docs/code-judging.md works here
------------------------------------------------------------------------
- **Expected values never enter the candidate's sandbox.** Stdio runs get the input only; the
  output is compared here (`checkers`), after the process tree is dead. Function runs get the
  calls only; the harness sends back each result as *typed JSON* (ints as exact decimal strings,
  floats by ``repr``, list/tuple/set/dict/bytes/None/bool kept apart; any other object, e.g. one
  with a rigged ``__eq__``, is an opaque ``unserializable`` marker that equals nothing) and the
  comparison happens here on decoded builtin values (C2, C4).
- **Results travel on a private channel** written only by the harness's judge process: numbered
  records tagged with a per-run random nonce, ending with an ``end`` record. The candidate's
  process never holds the channel's fd (it is closed there, and the judge is non-dumpable, so
  ``/proc/<pid>/mem`` and ``/proc/<pid>/fd`` are closed to it).
  ``sys.exit(0)``, ``os._exit(0)``, ``raise SystemExit``, atexit tricks: a test whose call did not
  return is ``RE``, never ``AC`` (C1); printing "ACCEPTED" gains nothing (C6).
- **Tests run in a process without candidate code** (issue 9, classes 2 and 3). The harness's
  judge process runs the prompt prefix, the setup and the tests as written (cases, HumanEval
  ``check`` items, MBPP asserts, non-literal expected values) and decides every assert; the
  candidate's program runs only in a process forked from it before it read any test, which
  answers calls and sees nothing but their arguments. The judge binds only proxies for the
  candidate's functions there (never an import or a name of the response over one the prefix,
  setup or tests define) and gets back decoded copies of the results. Patching
  ``AssertionError``, builtins, ``math``, ``resource``, the clocks or the prompt's helpers in the
  candidate's process changes nothing the judge computes or measures: per-test CPU and wall
  limits are read from the candidate's process CPU clock by the judge (C3, C4).
- **Checkers** (``program``) run in their own jail after the candidate's jail is gone; the
  candidate cannot create or overwrite them (C5). Comparators compare counts first (C7), integers
  exactly and never through floats, and a strict ASCII number grammar (C8-C10).
- **Every test counts** (C12): binary rewards need all tests; ``fraction`` runs all of them.
- **A candidate cannot choose "no reward"** (issue 9, class 4): every checker and comparison is
  total (`checkers`, `compare`: ``Decimal('sNaN')``, a Fraction over zero, 5,000-digit numbers,
  10,000-deep lists, invalid UTF-8 give a verdict, never an exception) and the verifier parses at
  most 4 MiB per record and 8 MiB per run (past it: ``OLE``). Function cases compare by the
  tests' ``checker``: typed (``True`` is not ``1``), ``equal:strict``, ``equal:python`` (cases
  read from asserts) or ``float:abs=…,rel=…`` at any depth (`compare`).
- **Faults of ours are ``SE``** (sandbox error, a harness that did not start, a dataset expected
  value that does not evaluate): the verdict is ``unverifiable`` with reward None, never 0 (C13).
- **Datasets are read, never run outside the sandbox** (C14): expected values with
  ``ast.literal_eval``; anything else is evaluated by the harness's judge process, in the sandbox.

>>> tests = {"kind": "stdio", "cases": [{"stdin": "1 2\\n", "expected": "3"}]}
>>> v = verify_code(tests, "```python\\nprint(sum(map(int, input().split())))\\n```")
>>> v.status, v.reward, v.detail["tests"][0]["code"]
('correct', 1.0, 'AC')
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sandbox import Limits
from verifiers.code.checkers import get_checker
from verifiers.code.config import CodeConfig
from verifiers.code.extract import extract_program
from verifiers.code.functions import build_program, judge_function
from verifiers.code.judge import CODES, VERSION, TestResult, judge_stdio, make_verdict
from verifiers.code.schema import CodeTests, TestSchemaError
from verifiers.verdict import Verdict

__all__ = [
    "CODES",
    "SUPPORTED",
    "CodeConfig",
    "TestResult",
    "averify_code",
    "score_prompt",
    "verify_code",
    "verify_code_batch",
]

log = logging.getLogger("verifiers.code")
SUPPORTED = {"stdio": ("python", "cpp", "c"), "function": ("python",)}


def _fail(status: str, reason: str, started: float, extracted: str | None = None) -> Verdict:
    return Verdict(
        status=status,  # type: ignore[arg-type]
        reward=None,
        extracted=extracted,
        detail={"reason": reason, "tests": []},
        elapsed_ms=round((time.perf_counter() - started) * 1000, 2),
        verifier="code",
        verifier_version=VERSION,
    )


def _load_tests(tests: CodeTests | Mapping | str) -> CodeTests:
    if isinstance(tests, CodeTests):
        return tests
    if isinstance(tests, str):
        return CodeTests.from_json(tests)
    return CodeTests.from_dict(dict(tests))


def _program(response: str, lang: str, config: CodeConfig) -> tuple[str | None, str]:
    if config.extract == "raw" or (config.extract == "auto" and "```" not in response):
        return (response, "") if response.strip() else (None, "empty response")
    got = extract_program(response, lang)
    return got.code, got.reason


def verify_code(
    tests: CodeTests | Mapping[str, Any] | str,
    response: str,
    *,
    lang: str = "python",
    checker: str | None = None,
    limits: Limits | None = None,
    config: CodeConfig | None = None,
    prompt_prefix: str | None = None,
) -> Verdict:
    """Judge ``response``'s program against ``tests``; never raises for bad input.

    ``checker`` overrides the tests' checker (stdio); ``limits`` sets per-test limits (its
    ``cpu_s``/``memory_mb`` win over ``config``); ``prompt_prefix`` is prepended to function
    programs (HumanEval's prompt). Detail: ``tests`` (per-test ``code``, ``time_s``, ``reason``),
    ``first_failure``, ``compile``, ``total``, ``passed``.
    """
    started = time.perf_counter()
    config = config or CodeConfig()
    if limits is not None:
        config = config.replace(test_cpu_s=limits.cpu_s, memory_mb=limits.memory_mb)
    try:
        parsed = _load_tests(tests)
        if checker is not None:
            get_checker(checker)
    except (TestSchemaError, ValueError) as exc:
        return _fail("error", f"bad tests: {exc}", started)
    lang = lang.lower()
    if lang not in SUPPORTED[parsed.kind]:
        why = f"{parsed.kind} tests in {lang!r} are not supported (use {SUPPORTED[parsed.kind]})"
        return _fail("unverifiable", why, started)
    code, why = _program(response, lang, config)
    total = parsed.count
    if code is None:
        results = [TestResult(i=0, code="CE", reason=why)]
        return make_verdict(
            results,
            total=total,
            config=config,
            extracted=None,
            started=started,
            compile_info={"status": "compile_error", "message": why},
        )
    if parsed.kind == "stdio":
        run_limits = limits or Limits(
            cpu_s=config.test_cpu_s,
            wall_s=3 * config.test_cpu_s + 2,
            memory_mb=config.memory_mb,
        )
        results, info = judge_stdio(
            parsed, code, lang=lang, checker=checker, limits=run_limits, config=config
        )
    else:
        prefix = prompt_prefix or ""
        program = build_program(prefix, code, parsed.entry_point)
        results, info = judge_function(parsed, program, config=config, prefix=prefix)
    return make_verdict(
        results, total=total, config=config, extracted=code, started=started, compile_info=info
    )


async def averify_code(*args: Any, **kwargs: Any) -> Verdict:
    """`verify_code` in a worker thread (the sandbox runs are blocking)."""
    return await asyncio.to_thread(verify_code, *args, **kwargs)


def _one(item: Mapping[str, Any] | tuple) -> Verdict:
    started = time.perf_counter()
    try:
        if isinstance(item, tuple):
            return verify_code(item[0], item[1])
        kwargs = dict(item)
        return verify_code(kwargs.pop("tests"), kwargs.pop("response"), **kwargs)
    except (KeyError, IndexError, TypeError) as exc:
        return _fail("error", f"bad batch item: {type(exc).__name__}: {exc}", started)
    except Exception as exc:  # a verifier bug: this item gets an error verdict (reward None)
        log.exception("code verifier failed on a batch item")
        return _fail("error", f"verifier fault: {type(exc).__name__}: {exc}"[:500], started)


def verify_code_batch(
    items: Iterable[Mapping[str, Any] | tuple],
    *,
    workers: int = 2,
    progress: bool | Callable[[int], None] = False,
    concurrency: int | None = None,
) -> list[Verdict]:
    """Judge many items (``{"tests", "response", ...verify_code kwargs}`` or ``(tests, response)``)
    with ``workers`` sandbox jobs at a time (the keyword of `verify_math_batch`; ``concurrency`` is
    its old name, still accepted); one bad item gets an ``error`` verdict, the batch goes on
    (STYLE.md §10). Results are in input order."""
    workers = workers if concurrency is None else concurrency
    items = list(items)
    done = 0
    out: list[Verdict | None] = [None] * len(items)
    bar = None
    if progress is True:
        from rich.progress import Progress

        bar = Progress(transient=True)
        task = bar.add_task("judging", total=len(items))
        bar.start()
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(_one, item): k for k, item in enumerate(items)}
            for fut in _as_completed(futures):
                out[futures[fut]] = fut.result()
                done += 1
                if bar is not None:
                    bar.update(task, completed=done)
                elif callable(progress):
                    progress(done)
    finally:
        if bar is not None:
            bar.stop()
    return [v for v in out if v is not None]


def _as_completed(futures):
    from concurrent.futures import as_completed

    return as_completed(futures)


def score_prompt(prompt: Mapping[str, Any], response: str, **options: Any) -> Verdict:
    """The registry entry (``code``): judge ``response`` against a prompts-table row.

    Reads ``prompt["tests"]`` (CodeTests JSON) and ``prompt["meta"]`` (``prompt_prefix``,
    ``lang``); ``options`` are `verify_code` keywords or `CodeConfig` fields. With a prompt
    prefix (completion-style prompts) and no ``extract`` option, a response without a fenced
    block is taken as the code itself (``extract="auto"``).
    """
    started = time.perf_counter()
    tests = prompt.get("tests")
    if not tests:
        return _fail("unverifiable", "the prompt has no code tests", started)
    meta = prompt.get("meta") or {}
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            meta = {}
    fields = set(CodeConfig.__dataclass_fields__)
    cfg = {k: options.pop(k) for k in list(options) if k in fields}
    config = options.pop("config", None) or CodeConfig()
    if cfg:
        try:
            config = config.replace(**cfg)
        except ValueError as exc:
            return _fail("error", str(exc), started)
    lang = options.pop("lang", None) or meta.get("lang") or _tests_lang(tests) or "python"
    prefix = options.pop("prompt_prefix", None) or meta.get("prompt_prefix") or None
    if prefix and "extract" not in cfg:
        # Completion-style prompts (HumanEval): a base model continues the prompt with a bare
        # body; a chat model answers with a fenced block. Without a fence, the text is the code.
        config = config.replace(extract="auto")
    return verify_code(tests, response, lang=lang, config=config, prompt_prefix=prefix, **options)


def _tests_lang(tests: Any) -> str | None:
    try:
        doc = json.loads(tests) if isinstance(tests, str) else tests
        return (doc.get("meta") or {}).get("lang")
    except (ValueError, AttributeError):
        return None
