"""Code presets: one adapter per benchmark file; tests as CodeTests JSON, reference solutions,
entry point and prompt prefix in ``meta``."""

from __future__ import annotations

import re
from typing import Any

from engine.errors import FieldError
from engine.ingest.code_tests import (
    commonoj_cases,
    cpp_main_asserts,
    defined_functions,
    function_tests,
    looks_pickled,
    script_tests,
    split_check,
    split_contest_tests,
    stdio_tests,
    xcodeeval_cases,
)
from engine.ingest.presets.base import Draft, _json_field, _list, _pick, _str

__all__ = [
    "codecontests",
    "codeforces",
    "humaneval",
    "humaneval_cpp",
    "leetcode_contest",
    "leetcodedataset",
    "livecodebench",
    "mbpp",
    "merge_codeforces",
    "rl_train_oj",
]


def humaneval(rec: dict[str, Any]) -> Draft:
    entry, prompt = _str(rec, "entry_point"), _str(rec, "prompt")
    tests = function_tests(split_check(_str(rec, "test"), entry), entry_point=entry)
    solution = (
        [{"lang": "python", "code": rec["canonical_solution"]}]
        if rec.get("canonical_solution")
        else []
    )
    return Draft(
        problem=prompt,
        task="code",
        tests=tests,
        meta={
            **_pick(rec, "task_id"),
            "entry_point": entry,
            "prompt_prefix": prompt,
            "solutions": solution,
        },
    )


def _mbpp_split(task_id: int) -> str:
    # The split of the original MBPP release (Austin et al. 2021, §2.1).
    return (
        "prompt"
        if task_id <= 10
        else "test"
        if task_id <= 510
        else "validation"
        if task_id <= 600
        else "train"
    )


def mbpp(rec: dict[str, Any]) -> Draft:
    test_list = _list(rec, "test_list")
    if not test_list or not all(isinstance(t, str) for t in test_list):
        raise FieldError("test_list", "expected a non-empty list of assert strings")
    code, task_id = rec.get("code") or "", rec.get("task_id")
    if not isinstance(task_id, int):
        raise FieldError("task_id", "expected an integer (it decides the split)")
    entry, split = script_tests(
        "\n".join(test_list), defined=defined_functions(code), field="test_list"
    )
    tests = function_tests(
        split, entry_point=entry, setup=rec.get("test_setup_code") or "", field="test_list"
    )
    # The original MBPP prompt shows the tests: they name the function the model must write.
    problem = f"{_str(rec, 'text')}\nYour code should pass these tests:\n\n" + "\n".join(test_list)
    return Draft(
        problem=problem,
        task="code",
        tests=tests,
        split=_mbpp_split(task_id),
        meta={
            "task_id": task_id,
            "entry_point": entry,
            "solutions": [{"lang": "python", "code": code}] if code else [],
            **_pick(rec, "challenge_test_list"),
        },
    )


def _method_of(entry: str, key: str) -> str:
    name = entry.rsplit(".", 1)[-1].strip()
    if not name.isidentifier():
        raise FieldError(key, f"cannot read a method name from {entry!r}")
    return name


def leetcodedataset(rec: dict[str, Any]) -> Draft:
    method = _method_of(_str(rec, "entry_point"), "entry_point")
    # `test` is the curated check(candidate); `input_output` holds raw runs ("Execution timed out",
    # "Error: ...") and would count the same tests twice, so it is not imported.
    tests = function_tests(
        split_check(_str(rec, "test"), f"Solution().{method}"), entry_point=f"Solution.{method}"
    )
    starter = rec.get("starter_code") or ""
    problem = _str(rec, "problem_description").rstrip()
    if starter:
        problem += f"\n\nUse this starter code:\n```python\n{starter.rstrip()}\n```"
    return Draft(
        problem=problem,
        task="code",
        tests=tests,
        meta={
            **_pick(
                rec,
                "task_id",
                "question_id",
                "difficulty",
                "tags",
                "estimated_date",
                "starter_code",
            ),
            "entry_point": f"Solution.{method}",
            "prompt_prefix": rec.get("prompt") or "",
            "solutions": [{"lang": "python", "code": rec["completion"]}]
            if rec.get("completion")
            else [],
        },
    )


# What DeepSeek-Coder's LeetCode prompts assume is imported (typing names in the stubs).
_CONTEST_HEADER = (
    "from typing import *\nfrom collections import *\nfrom functools import *\nfrom itertools import *\n"
    "from heapq import *\nfrom bisect import *\nfrom math import *\nimport math\n"
)


def leetcode_contest(rec: dict[str, Any]) -> Draft:
    prompt = _str(rec, "prompt")
    head, sep, stub = prompt.rpartition("class Solution")
    match = re.search(r"def\s+(\w+)\s*\(\s*self", stub)
    if not sep or not match:
        raise FieldError("prompt", "no `class Solution` with a method in the prompt")
    method = match.group(1)
    tests = function_tests(
        split_contest_tests(_str(rec, "test"), method), entry_point=f"Solution.{method}"
    )
    meta = rec.get("meta")
    info = meta if isinstance(meta, dict) else {}
    return Draft(
        problem=rec.get("prompt_sft") or prompt,
        task="code",
        tests=tests,
        meta={
            **_pick(rec, "task_id", "url", "title", "start_time"),
            **_pick(info, "difficulty", "questionId"),
            "entry_point": f"Solution.{method}",
            "prompt_prefix": _CONTEST_HEADER + head,
            "solutions": [],
        },
    )


def humaneval_cpp(rec: dict[str, Any]) -> Draft:
    """MultiPL-E C++: asserts are C++ statements for ``int main() { auto candidate = f; ... }``."""
    harness = _str(rec, "tests")
    entry, split = cpp_main_asserts(harness)
    tests = function_tests(split, entry_point=entry, lang="cpp", field="tests")
    return Draft(
        problem=_str(rec, "prompt"),
        task="code",
        tests=tests,
        meta={
            **_pick(rec, "task_id", "name", "stop_tokens"),
            "entry_point": entry,
            "lang": "cpp",
            "prompt_prefix": rec["prompt"],
            "harness": harness,
            "solutions": [],
        },
    )


_CF_LANGS = {"GNU C++": "cpp", "Python 3": "python", "GNU C": "c", "Mono C#": "csharp"}


def codeforces(rec: dict[str, Any]) -> Draft:
    """CodeScope (xCodeEval) Codeforces stdio: one row per (problem, language), two accepted solutions."""
    lang = _str(rec, "lang")
    solutions = [
        {
            "lang": _CF_LANGS.get(lang, lang),
            "lang_name": lang,
            "code": _str(rec, key),
            "role": key.removesuffix("_source_code"),
        }
        for key in ("time_baseline_source_code", "memory_baseline_source_code")
    ]
    return Draft(
        problem=_str(rec, "description"),
        task="code",
        tests=stdio_tests(xcodeeval_cases(_str(rec, "testcases")), field="testcases"),
        meta={**_pick(rec, "src_uid"), "row_ids": [rec.get("id")], "solutions": solutions},
        group=_str(rec, "src_uid"),
    )


def merge_codeforces(drafts: list[Draft]) -> Draft:
    """One prompt per problem, with the accepted solutions of every language row."""
    first = drafts[0]
    meta = {
        **first.meta,
        "row_ids": [i for d in drafts for i in d.meta["row_ids"]],
        "solutions": [s for d in drafts for s in d.meta["solutions"]],
    }
    return Draft(
        problem=first.problem, task=first.task, tests=first.tests, split=first.split, meta=meta
    )


def codecontests(rec: dict[str, Any]) -> Draft:
    """SandboxFusion CommonOJ format: ``test`` = JSON [{input: {stdin}, output: {stdout}}]."""
    pairs = commonoj_cases(_json_field(rec, "test"))
    labels = _json_field(rec, "labels") if rec.get("labels") else {}
    return Draft(
        problem=_str(rec, "content"),
        task="code",
        tests=stdio_tests(pairs, field="test"),
        meta={**_pick(rec, "id", "__internal_uuid__"), "labels": labels, "solutions": []},
    )


def livecodebench(rec: dict[str, Any]) -> Draft:
    """LiveCodeBench sample: its tests are base64(zlib(pickle)) and are REFUSED, never unpickled.

    The prompt is imported without tests (the verifier answers ``unverifiable``), with the reason
    in ``meta.tests_refused``; ``canonical_solution`` is a placeholder (``sys.exit(0)``) and dropped.
    """
    test = _str(rec, "test")
    if not looks_pickled(test):
        raise FieldError(
            "test", "unknown LiveCodeBench test encoding (expected base64 pickle data)"
        )
    reason = "pickle-encoded tests (base64(zlib(pickle))): rlvr never unpickles dataset fields"
    return Draft(
        problem=_str(rec, "content"),
        task="code",
        tests=None,
        meta={
            **_pick(rec, "id"),
            "labels": _json_field(rec, "labels") if rec.get("labels") else {},
            "tests_refused": reason,
            "solutions": [],
        },
    )


def rl_train_oj(rec: dict[str, Any]) -> Draft:
    """SandboxFusion assert-only RL set: ``def solve`` plus top-level asserts (some via a check helper)."""
    entry, split = script_tests(_str(rec, "test"))
    return Draft(
        problem=_str(rec, "content"),
        task="code",
        split="train",
        tests=function_tests(split, entry_point=entry),
        meta={
            **_pick(rec, "id"),
            "labels": _json_field(rec, "labels") if rec.get("labels") else {},
            "entry_point": entry,
            "solutions": [],
        },
    )
