"""Built-in adapters (``--preset``): one small function per benchmark file (`math`, `code`), one
registry dict here; `base` holds the `Draft` and `Preset` types and the field helpers.

Each preset maps one input record to a :class:`Draft` (a prompts row before ids and timestamps):
math rows carry the gold ``answer`` as a string, code rows the ``tests`` as CodeTests JSON plus,
in ``meta``, the reference ``solutions`` (``[{"lang", "code"}]``), the ``entry_point`` and the
``prompt_prefix`` the code continues (see :mod:`engine.ingest.code_tests` for how the verifier puts
them together). Field names and formats come from ../shared/data/{math,code}/SOURCES.md.

>>> PRESETS["gsm8k"].map_row({"question": "1+1?", "answer": "1+1=2\\n#### 2"}).answer
'2'
"""

from __future__ import annotations

import engine.ingest.presets.code as _code
import engine.ingest.presets.math as _math
from engine.ingest.presets.base import Draft, Preset, Task, answer_text, last_boxed

__all__ = ["PRESETS", "Draft", "Preset", "Task", "answer_text", "last_boxed", "preset_for_file"]

# Explicit registry (no discovery): one Preset per adapter; `files` are the names `auto` knows.
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="math500",
            dataset="math500",
            task="math",
            files=("math500_test.jsonl",),
            map_row=_math.math500,
        ),
        Preset(
            name="aime24",
            dataset="aime24",
            task="math",
            files=("aime24_test.jsonl",),
            map_row=_math.aime24,
        ),
        Preset(
            name="amc23",
            dataset="amc23",
            task="math",
            files=("amc23_test.jsonl",),
            map_row=_math.amc23,
        ),
        Preset(
            name="gsm8k",
            dataset="gsm8k",
            task="math",
            files=("gsm8k_test.jsonl",),
            map_row=_math.gsm8k,
        ),
        Preset(
            name="minerva",
            dataset="minerva_math",
            task="math",
            files=("minerva_math_test.jsonl",),
            map_row=_math.minerva,
        ),
        Preset(
            name="olympiadbench",
            dataset="olympiadbench",
            task="math",
            files=("olympiadbench_test.jsonl",),
            map_row=_math.olympiadbench,
        ),
        Preset(
            name="rllm_math500",
            dataset="rllm_math500",
            task="math",
            files=("rllm_math500.json",),
            map_row=_math.rllm,
        ),
        Preset(
            name="rllm_aime24",
            dataset="rllm_aime24",
            task="math",
            files=("rllm_aime24.json",),
            map_row=_math.rllm,
        ),
        Preset(
            name="rllm_amc",
            dataset="rllm_amc",
            task="math",
            files=("rllm_amc.json",),
            map_row=_math.rllm,
        ),
        Preset(
            name="qwen_math_cot",
            dataset="qwen_math_cot_100",
            task="math",
            files=("qwen_math_cot_100_graded.jsonl",),
            map_row=_math.qwen_math_cot,
        ),
        Preset(
            name="hardverify",
            dataset="tinyv_hardverify",
            task="math",
            files=("tinyv_HardVerify-Math.json",),
            map_row=_math.tinyv_hardverify,
        ),
        Preset(
            name="humaneval",
            dataset="humaneval",
            task="code",
            files=("humaneval_openai.jsonl", "HumanEval.jsonl"),
            map_row=_code.humaneval,
        ),
        Preset(
            name="mbpp",
            dataset="mbpp",
            task="code",
            files=("mbpp_full_deepseekcoder.jsonl", "mbpp.jsonl"),
            map_row=_code.mbpp,
        ),
        Preset(
            name="leetcodedataset",
            dataset="leetcodedataset",
            task="code",
            files=("leetcodedataset_v0.3.1_test.jsonl",),
            map_row=_code.leetcodedataset,
        ),
        Preset(
            name="leetcode_contest",
            dataset="leetcode_contest",
            task="code",
            files=("leetcode_contest_2023jul_2024jan_deepseekcoder.jsonl", "20240121-Jul.jsonl"),
            map_row=_code.leetcode_contest,
        ),
        Preset(
            name="humaneval_cpp",
            dataset="humaneval_cpp",
            task="code",
            files=("humaneval_cpp_multipl_e_deepseekcoder.jsonl", "humaneval-cpp.jsonl"),
            map_row=_code.humaneval_cpp,
        ),
        Preset(
            name="codeforces",
            dataset="codeforces_stdio",
            task="code",
            files=("codescope_code_optimization_cf_stdio_2solutions.jsonl",),
            map_row=_code.codeforces,
            merge=_code.merge_codeforces,
        ),  # rows fold into one prompt per group
        Preset(
            name="codecontests",
            dataset="codecontests",
            task="code",
            files=("sandboxfusion_code_eval_code_contests.jsonl",),
            map_row=_code.codecontests,
        ),
        Preset(
            name="livecodebench",
            dataset="livecodebench",
            task="code",
            files=("sandboxfusion_code_eval_live_code_bench_v1.jsonl",),
            map_row=_code.livecodebench,
        ),
        Preset(
            name="rl_train_oj",
            dataset="rl_train_oj",
            task="code",
            files=("sandboxfusion_code_eval_rl_train_oj_0328_1707.jsonl",),
            map_row=_code.rl_train_oj,
        ),
    )
}


def preset_for_file(name: str) -> Preset | None:
    """The preset whose known file names include ``name`` (a base name); None if unknown."""
    return next((p for p in PRESETS.values() if name in p.files), None)
