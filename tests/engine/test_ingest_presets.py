"""Presets: every benchmark file in ../shared/data maps to prompts rows (counts from SOURCES.md),
with exact gold answers and code tests that validate through the one test schema."""

from __future__ import annotations

import base64
import json
import pickle
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from engine.errors import FieldError, InputError
from engine.ingest.core import Prepared, prepare
from engine.ingest.presets import PRESETS, answer_text, last_boxed, preset_for_file
from verifiers.code.schema import CodeTests

_CACHE: dict[str, Prepared] = {}


@pytest.fixture(scope="module")
def imported(shared_data: Path):
    """prepare() each file once per module (the LeetCode files take about a second each)."""

    def get(rel: str) -> Prepared:
        if rel not in _CACHE:
            _CACHE[rel] = prepare(shared_data / rel, preset="auto")
        return _CACHE[rel]

    return get


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(row["meta"])


# (file, preset, prompts, task) — counts from the SOURCES.md files.
FILES = [
    ("math/math500_test.jsonl", "math500", 500, "math"),
    ("math/aime24_test.jsonl", "aime24", 30, "math"),
    ("math/amc23_test.jsonl", "amc23", 40, "math"),
    ("math/gsm8k_test.jsonl", "gsm8k", 1319, "math"),
    ("math/minerva_math_test.jsonl", "minerva", 272, "math"),
    ("math/olympiadbench_test.jsonl", "olympiadbench", 675, "math"),
    ("math/rllm_math500.json", "rllm_math500", 500, "math"),
    ("math/rllm_aime24.json", "rllm_aime24", 30, "math"),
    ("math/rllm_amc.json", "rllm_amc", 83, "math"),
    ("math/qwen_math_cot_100_graded.jsonl", "qwen_math_cot", 100, "math"),
    ("math/tinyv_HardVerify-Math.json", "hardverify", 250, "math"),
    ("code/humaneval_openai.jsonl", "humaneval", 164, "code"),
    ("code/mbpp_full_deepseekcoder.jsonl", "mbpp", 974, "code"),
    ("code/leetcodedataset_v0.3.1_test.jsonl", "leetcodedataset", 228, "code"),
    ("code/leetcode_contest_2023jul_2024jan_deepseekcoder.jsonl", "leetcode_contest", 180, "code"),
    ("code/humaneval_cpp_multipl_e_deepseekcoder.jsonl", "humaneval_cpp", 161, "code"),
    (
        "code/codescope_code_optimization_cf_stdio_2solutions.jsonl",
        "codeforces",
        61,
        "code",
    ),  # 121 rows, 61 problems
    ("code/sandboxfusion_code_eval_code_contests.jsonl", "codecontests", 20, "code"),
    ("code/sandboxfusion_code_eval_live_code_bench_v1.jsonl", "livecodebench", 3, "code"),
    ("code/sandboxfusion_code_eval_rl_train_oj_0328_1707.jsonl", "rl_train_oj", 20, "code"),
]


@pytest.mark.parametrize(("rel", "preset", "count", "task"), FILES, ids=[f[1] for f in FILES])
def test_every_benchmark_file(imported, rel: str, preset: str, count: int, task: str) -> None:
    prep = imported(rel)
    assert prep.preset == preset  # --preset auto found it from the file name
    assert len(prep.rows) == count
    assert prep.per_task == {task: count}
    assert len({r["prompt_id"] for r in prep.rows}) == count
    for row in prep.rows:
        if task == "math":
            assert row["answer"] and row["tests"] is None
        elif row["tests"] is not None:  # every code test document round-trips through the schema
            tests = CodeTests.from_json(row["tests"])
            assert tests.count >= 1
            assert CodeTests.from_json(tests.to_json()) == tests


def test_every_preset_is_exercised() -> None:
    assert {f[1] for f in FILES} == set(PRESETS)


@pytest.mark.parametrize(
    ("rel", "index", "answer"),
    [
        ("math/aime24_test.jsonl", 7, "025"),  # leading zero kept: AIME answers are strings
        ("math/amc23_test.jsonl", 0, "27"),  # JSON float 27.0 -> "27"
        ("math/rllm_amc.json", 0, "142"),  # DeepScaleR's AMC floats too
        ("math/gsm8k_test.jsonl", 0, "18"),  # the number after ####
        ("math/gsm8k_test.jsonl", 146, "2125"),  # "#### 2,125": commas stripped
        ("math/minerva_math_test.jsonl", 0, "1.6"),  # last \boxed{...}
        ("math/minerva_math_test.jsonl", 25, r"\frac{a M^{1 / 3}}{G M^{2 / 3}+b}"),  # nested braces
        ("math/olympiadbench_test.jsonl", 5, "$(1,8,19), (2,7,13), (4,5,7)$"),  # a multiple answer
        ("math/math500_test.jsonl", 0, r"\left( 3, \frac{\pi}{2} \right)"),
    ],
)
def test_exact_gold_answers(imported, rel: str, index: int, answer: str) -> None:
    assert imported(rel).rows[index]["answer"] == answer


def test_olympiadbench_meta_keeps_answer_shape(imported) -> None:
    rows = imported("math/olympiadbench_test.jsonl").rows
    meta = _meta(rows[13])
    assert (rows[13]["answer"], meta["is_multiple_answer"], meta["answer_type"]) == (
        "$69$,$84$",
        True,
        "Numerical",
    )
    units = [_meta(r).get("unit") for r in rows]
    assert "minute" in units and sum(_meta(r)["is_multiple_answer"] for r in rows) == 94


def test_humaneval_every_row_tested_with_prefix_and_solution(imported) -> None:
    rows = imported("code/humaneval_openai.jsonl").rows
    assert len(rows) == 164
    for row in rows:
        tests, meta = CodeTests.from_json(row["tests"]), _meta(row)
        assert tests.count >= 1 and tests.entry_point == meta["entry_point"]
        assert meta["prompt_prefix"] == row["problem"] and meta["solutions"][0]["lang"] == "python"
        assert all(c.call.startswith(meta["entry_point"] + "(") for c in tests.cases)
    first = CodeTests.from_json(rows[0]["tests"])
    assert first.cases[0].call == "has_close_elements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3)"
    assert first.cases[0].expected == "True" and len(first.cases) == 7 and not first.asserts
    assert first.setup.startswith("METADATA")


def test_mbpp_splits_and_setup(imported) -> None:
    rows = imported("code/mbpp_full_deepseekcoder.jsonl").rows
    assert Counter(r["split"] for r in rows) == {
        "test": 500,
        "train": 374,
        "validation": 90,
        "prompt": 10,
    }
    by_id = {_meta(r)["task_id"]: r for r in rows}
    assert (
        by_id[11]["split"] == "test"
        and by_id[510]["split"] == "test"
        and by_id[511]["split"] == "validation"
    )
    assert CodeTests.from_json(by_id[126]["tests"]).entry_point == "sum"  # shadows the builtin
    with_setup = [r for r in rows if CodeTests.from_json(r["tests"]).setup]
    assert len(with_setup) == 2 and "Node(1)" in CodeTests.from_json(with_setup[0]["tests"]).setup


@pytest.mark.parametrize(
    "rel",
    [
        "code/leetcodedataset_v0.3.1_test.jsonl",
        "code/leetcode_contest_2023jul_2024jan_deepseekcoder.jsonl",
    ],
)
def test_leetcode_method_entry_points(imported, rel: str) -> None:
    for row in imported(rel).rows:
        tests = CodeTests.from_json(row["tests"])
        method = tests.entry_point.removeprefix("Solution.")
        assert tests.entry_point.startswith("Solution.") and method.isidentifier()
        assert all(c.call.startswith(f"Solution().{method}(") for c in tests.cases)


def test_leetcode_contest_counts_each_test_once(imported, shared_data: Path) -> None:
    rows = imported("code/leetcode_contest_2023jul_2024jan_deepseekcoder.jsonl").rows
    raw = [
        json.loads(line)
        for line in (
            shared_data / "code/leetcode_contest_2023jul_2024jan_deepseekcoder.jsonl"
        ).open()
    ]
    assert sum(CodeTests.from_json(r["tests"]).count for r in rows) == sum(
        r["test"].count("\nassert ") for r in raw
    )


def test_codeforces_cases_and_solutions(imported) -> None:
    rows = imported("code/codescope_code_optimization_cf_stdio_2solutions.jsonl").rows
    first = CodeTests.from_json(rows[0]["tests"])
    assert (first.kind, first.checker, len(first.cases)) == ("stdio", "tokens", 50)
    assert (first.cases[0].stdin, first.cases[0].expected) == ("3\n5 6\n1 2\n", ("5\n",))
    solutions = [s for r in rows for s in _meta(r)["solutions"]]
    assert len(solutions) == 242  # two accepted solutions for each of the 121 rows
    assert Counter(s["lang"] for s in solutions) == {"cpp": 62, "python": 60, "c": 60, "csharp": 60}
    assert (
        sum(CodeTests.from_json(r["tests"]).count for r in rows) == 2557
    )  # per problem, not per row


def test_codecontests_cases(imported) -> None:
    rows = imported("code/sandboxfusion_code_eval_code_contests.jsonl").rows
    assert sum(CodeTests.from_json(r["tests"]).count for r in rows) == 2233
    assert _meta(rows[0])["labels"]["source"] == "CODECHEF"


def test_pickled_livecodebench_tests_are_refused(imported) -> None:
    prep = imported("code/sandboxfusion_code_eval_live_code_bench_v1.jsonl")
    assert all(
        r["tests"] is None and "never unpickles" in _meta(r)["tests_refused"] for r in prep.rows
    )
    assert sum(prep.without_tests.values()) == 3


def test_humaneval_cpp_asserts(imported) -> None:
    row = imported("code/humaneval_cpp_multipl_e_deepseekcoder.jsonl").rows[0]
    tests = CodeTests.from_json(row["tests"])
    assert (tests.entry_point, tests.meta, tests.cases) == ("string_length", {"lang": "cpp"}, ())
    assert tests.asserts[0] == 'assert(candidate(("")) == (0));'
    assert _meta(row)["harness"].startswith("}\nint main()")


# -- unit cases of the preset functions, without the data folder --------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (27.0, "27"),  # integer-valued float
        (0.5, "0.5"),  # other floats keep their value
        (7, "7"),
        ("025", "025"),  # strings stay as they are
    ],
)
def test_answer_text(value: Any, expected: str) -> None:
    assert answer_text(value) == expected


@pytest.mark.parametrize("value", [True, None, [1], {"a": 1}, "  "])  # wrong types and empty text
def test_answer_text_rejects(value: Any) -> None:
    with pytest.raises(FieldError):
        answer_text(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"so \boxed{1} then \boxed{\frac{1}{2}}.", r"\frac{1}{2}"),  # the last one, nested braces
        (r"\fbox{x}", "x"),  # fbox too
        (r"\boxed{unclosed", None),  # unbalanced: no answer
        ("no box", None),
    ],
)
def test_last_boxed(text: str, expected: str | None) -> None:
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    ("preset", "record", "field", "message"),
    [
        ("gsm8k", {"question": "q", "answer": "no marker"}, "answer", "####"),  # no gold marker
        ("gsm8k", {"answer": "#### 1"}, "question", "missing"),  # missing problem
        (
            "gsm8k",
            {"question": 5, "answer": "#### 1"},
            "question",
            "expected a string",
        ),  # wrong type
        ("minerva", {"problem": "p", "solution": "no box"}, "solution", "boxed"),
        (
            "olympiadbench",
            {"question": "q", "final_answer": "2"},
            "final_answer",
            "expected a list",
        ),
        ("mbpp", {"text": "t", "task_id": 11, "test_list": []}, "test_list", "non-empty list"),
        (
            "codeforces",
            {
                "lang": "Python 3",
                "description": "d",
                "src_uid": "u",
                "testcases": "os.system('x')",
                "time_baseline_source_code": "a",
                "memory_baseline_source_code": "b",
            },
            "testcases",
            "not a Python literal",
        ),  # never eval'd
        ("codecontests", {"content": "c", "test": '[{"input": {}}]'}, "test", "stdin"),
        ("livecodebench", {"content": "c", "test": "plain text tests"}, "test", "unknown"),
    ],
)
def test_preset_field_errors(preset: str, record: dict, field: str, message: str) -> None:
    with pytest.raises(FieldError, match=message) as info:
        PRESETS[preset].map_row(record)
    assert info.value.field == field


def test_preset_error_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "gsm8k_test.jsonl"
    path.write_text('{"question": "q", "answer": "#### 1"}\n{"question": "q2", "answer": 4}\n')
    with pytest.raises(InputError) as info:
        prepare(path, preset="auto")
    assert (info.value.line, info.value.field) == (2, "answer")
    assert str(info.value) == f"{path}:2, field 'answer': expected a string, got int"


def test_generic_tests_column_refuses_pickle(tmp_path: Path) -> None:
    blob = base64.b64encode(
        zlib.compress(pickle.dumps([1, 2]))
    ).decode()  # built here, never loaded
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"problem": "p", "tests": blob}) + "\n")
    with pytest.raises(InputError, match="pickle-encoded tests are refused") as info:
        prepare(path, dataset="x")
    assert (info.value.line, info.value.field) == (1, "tests")


def test_preset_for_file() -> None:
    assert preset_for_file("gsm8k_test.jsonl").name == "gsm8k"
    assert preset_for_file("HumanEval.jsonl").name == "humaneval"  # the upstream name too
    assert preset_for_file("unknown.jsonl") is None


def test_public_api() -> None:
    import engine.ingest

    assert set(engine.ingest.__all__) == {
        "PRESETS", "Draft", "ImportSummary", "Preset", "Prepared", "Record", "detect_format",
        "import_prompts", "parse_mapping", "prepare", "preset_for_file", "read_records",
    }  # fmt: skip
    assert all(hasattr(engine.ingest, name) for name in engine.ingest.__all__)
