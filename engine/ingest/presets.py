"""Built-in adapters (``--preset``): one small function per benchmark file, one registry dict.

Each preset maps one input record to a :class:`Draft` (a prompts row before ids and timestamps):
math rows carry the gold ``answer`` as a string, code rows the ``tests`` as CodeTests JSON plus,
in ``meta``, the reference ``solutions`` (``[{"lang", "code"}]``), the ``entry_point`` and the
``prompt_prefix`` the code continues (see :mod:`engine.ingest.code_tests` for how the verifier puts
them together). Field names and formats come from ../shared/data/{math,code}/SOURCES.md.

>>> PRESETS["gsm8k"].map_row({"question": "1+1?", "answer": "1+1=2\\n#### 2"}).answer
'2'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

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

__all__ = ["PRESETS", "Draft", "Preset", "Task", "answer_text", "last_boxed", "preset_for_file"]

Task = Literal["math", "code", "general"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Draft:
    """A prompts row before ``prompt_id``, ``dataset`` and ``created_at`` are added."""

    problem: str
    task: Task
    answer: str | None = None
    tests: str | None = None  # CodeTests JSON
    split: str = "test"
    meta: dict[str, Any] = field(default_factory=dict)
    group: str | None = None  # drafts with one group become one prompt (see Preset.merge)


@dataclass(frozen=True, kw_only=True, slots=True)
class Preset:
    """An adapter: the dataset name it imports as by default and the files ``auto`` recognises."""

    name: str
    dataset: str
    task: Task
    files: tuple[str, ...]
    map_row: Callable[[dict[str, Any]], Draft]
    merge: Callable[[list[Draft]], Draft] | None = None


# -- field helpers ----------------------------------------------------------------------------
def _str(rec: dict[str, Any], key: str) -> str:
    """A required, non-empty string field."""
    if key not in rec or rec[key] is None:
        raise FieldError(key, "missing required field")
    value = rec[key]
    if not isinstance(value, str):
        raise FieldError(key, f"expected a string, got {type(value).__name__}")
    if not value.strip():
        raise FieldError(key, "empty string")
    return value


def _list(rec: dict[str, Any], key: str) -> list[Any]:
    if key not in rec or rec[key] is None:
        raise FieldError(key, "missing required field")
    if not isinstance(rec[key], list):
        raise FieldError(key, f"expected a list, got {type(rec[key]).__name__}")
    return rec[key]


def _pick(rec: dict[str, Any], *keys: str) -> dict[str, Any]:
    """Optional fields kept in meta (absent ones are left out)."""
    return {k: rec[k] for k in keys if rec.get(k) is not None}


def _json_field(rec: dict[str, Any], key: str) -> Any:
    try:
        return json.loads(_str(rec, key))
    except json.JSONDecodeError as exc:
        raise FieldError(key, f"malformed JSON inside the field ({exc.msg})") from None


def answer_text(value: Any, key: str = "answer") -> str:
    """A gold answer as a string: AMC's float ``27.0`` becomes ``'27'``; AIME's ``'025'`` stays."""
    if isinstance(value, bool) or value is None:
        raise FieldError(key, f"expected a string or number, got {type(value).__name__}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        if not value.strip():
            raise FieldError(key, "empty string")
        return value
    raise FieldError(key, f"expected a string or number, got {type(value).__name__}")


def last_boxed(text: str) -> str | None:
    r"""Content of the last ``\boxed{...}`` (nested braces allowed); None if there is none."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth, j = 1, i
    while j < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        j += 1
    return text[i : j - 1].strip() if depth == 0 else None


# -- math ---------------------------------------------------------------------------------------
def math500(rec: dict[str, Any]) -> Draft:
    return Draft(
        problem=_str(rec, "problem"),
        task="math",
        answer=answer_text(rec.get("answer")),
        meta=_pick(rec, "unique_id", "subject", "level", "solution"),
    )


def aime24(rec: dict[str, Any]) -> Draft:
    return Draft(
        problem=_str(rec, "problem"),
        task="math",
        answer=_str(rec, "answer"),
        meta=_pick(rec, "id", "url", "solution"),
    )


def amc23(rec: dict[str, Any]) -> Draft:
    return Draft(
        problem=_str(rec, "problem"),
        task="math",
        answer=answer_text(rec.get("answer")),
        meta=_pick(rec, "id", "url"),
    )


def gsm8k(rec: dict[str, Any]) -> Draft:
    solution = _str(rec, "answer")
    if "####" not in solution:
        raise FieldError("answer", "no '####' before the final number")
    gold = solution.rsplit("####", 1)[1].strip().replace(",", "")
    if not gold:
        raise FieldError("answer", "nothing after '####'")
    return Draft(
        problem=_str(rec, "question"),
        task="math",
        answer=gold,
        meta={**_pick(rec, "idx"), "solution": solution},
    )


def minerva(rec: dict[str, Any]) -> Draft:
    solution = _str(rec, "solution")
    gold = last_boxed(solution)
    if not gold:
        raise FieldError("solution", "no \\boxed{...} answer in the solution")
    return Draft(
        problem=_str(rec, "problem"),
        task="math",
        answer=gold,
        meta=_pick(rec, "idx", "type", "solution"),
    )


def olympiadbench(rec: dict[str, Any]) -> Draft:
    finals = _list(rec, "final_answer")
    if not finals or not all(isinstance(a, str) and a.strip() for a in finals):
        raise FieldError("final_answer", "expected a non-empty list of strings")
    context = rec.get("context")
    problem = _str(rec, "question")
    return Draft(
        problem=f"{context}\n\n{problem}" if context else problem,
        task="math",
        answer=", ".join(finals),
        meta=_pick(
            rec, "id", "subfield", "answer_type", "is_multiple_answer", "unit", "error", "solution"
        ),
    )


def rllm(rec: dict[str, Any]) -> Draft:
    """DeepScaleR/rLLM evaluation format (``problem``, ``answer`` string or float)."""
    return Draft(
        problem=_str(rec, "problem"),
        task="math",
        answer=answer_text(rec.get("answer")),
        meta=_pick(
            rec,
            "unique_id",
            "url",
            "year",
            "aime_number",
            "problem_number",
            "difficulty",
            "solution",
        ),
    )


def qwen_math_cot(rec: dict[str, Any]) -> Draft:
    """Qwen2.5-Math graded sample: the problems with their gold (``gt``); responses are not imported."""
    return Draft(
        problem=_str(rec, "question"),
        task="math",
        answer=answer_text(rec.get("gt"), "gt"),
        meta=_pick(rec, "idx", "level", "gt_cot"),
    )


def tinyv_hardverify(rec: dict[str, Any]) -> Draft:
    return Draft(
        problem=_str(rec, "question"),
        task="math",
        answer=answer_text(rec.get("ground_truth"), "ground_truth"),
        meta=_pick(rec, "id", "source", "split", "fn_output", "tn_output"),
    )


# -- code ---------------------------------------------------------------------------------------
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
    info = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
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


# Explicit registry (no discovery): one Preset per adapter; `files` are the names `auto` knows.
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="math500",
            dataset="math500",
            task="math",
            files=("math500_test.jsonl",),
            map_row=math500,
        ),
        Preset(
            name="aime24",
            dataset="aime24",
            task="math",
            files=("aime24_test.jsonl",),
            map_row=aime24,
        ),
        Preset(
            name="amc23", dataset="amc23", task="math", files=("amc23_test.jsonl",), map_row=amc23
        ),
        Preset(
            name="gsm8k", dataset="gsm8k", task="math", files=("gsm8k_test.jsonl",), map_row=gsm8k
        ),
        Preset(
            name="minerva",
            dataset="minerva_math",
            task="math",
            files=("minerva_math_test.jsonl",),
            map_row=minerva,
        ),
        Preset(
            name="olympiadbench",
            dataset="olympiadbench",
            task="math",
            files=("olympiadbench_test.jsonl",),
            map_row=olympiadbench,
        ),
        Preset(
            name="rllm_math500",
            dataset="rllm_math500",
            task="math",
            files=("rllm_math500.json",),
            map_row=rllm,
        ),
        Preset(
            name="rllm_aime24",
            dataset="rllm_aime24",
            task="math",
            files=("rllm_aime24.json",),
            map_row=rllm,
        ),
        Preset(
            name="rllm_amc", dataset="rllm_amc", task="math", files=("rllm_amc.json",), map_row=rllm
        ),
        Preset(
            name="qwen_math_cot",
            dataset="qwen_math_cot_100",
            task="math",
            files=("qwen_math_cot_100_graded.jsonl",),
            map_row=qwen_math_cot,
        ),
        Preset(
            name="hardverify",
            dataset="tinyv_hardverify",
            task="math",
            files=("tinyv_HardVerify-Math.json",),
            map_row=tinyv_hardverify,
        ),
        Preset(
            name="humaneval",
            dataset="humaneval",
            task="code",
            files=("humaneval_openai.jsonl", "HumanEval.jsonl"),
            map_row=humaneval,
        ),
        Preset(
            name="mbpp",
            dataset="mbpp",
            task="code",
            files=("mbpp_full_deepseekcoder.jsonl", "mbpp.jsonl"),
            map_row=mbpp,
        ),
        Preset(
            name="leetcodedataset",
            dataset="leetcodedataset",
            task="code",
            files=("leetcodedataset_v0.3.1_test.jsonl",),
            map_row=leetcodedataset,
        ),
        Preset(
            name="leetcode_contest",
            dataset="leetcode_contest",
            task="code",
            files=("leetcode_contest_2023jul_2024jan_deepseekcoder.jsonl", "20240121-Jul.jsonl"),
            map_row=leetcode_contest,
        ),
        Preset(
            name="humaneval_cpp",
            dataset="humaneval_cpp",
            task="code",
            files=("humaneval_cpp_multipl_e_deepseekcoder.jsonl", "humaneval-cpp.jsonl"),
            map_row=humaneval_cpp,
        ),
        Preset(
            name="codeforces",
            dataset="codeforces_stdio",
            task="code",
            files=("codescope_code_optimization_cf_stdio_2solutions.jsonl",),
            map_row=codeforces,
            merge=merge_codeforces,
        ),  # rows fold into one prompt per group
        Preset(
            name="codecontests",
            dataset="codecontests",
            task="code",
            files=("sandboxfusion_code_eval_code_contests.jsonl",),
            map_row=codecontests,
        ),
        Preset(
            name="livecodebench",
            dataset="livecodebench",
            task="code",
            files=("sandboxfusion_code_eval_live_code_bench_v1.jsonl",),
            map_row=livecodebench,
        ),
        Preset(
            name="rl_train_oj",
            dataset="rl_train_oj",
            task="code",
            files=("sandboxfusion_code_eval_rl_train_oj_0328_1707.jsonl",),
            map_row=rl_train_oj,
        ),
    )
}


def preset_for_file(name: str) -> Preset | None:
    """The preset whose known file names include ``name`` (a base name); None if unknown."""
    return next((p for p in PRESETS.values() if name in p.files), None)
