"""Reference solutions of the shared benchmarks are AC; mechanical mutants of them are not.

Prompts come from the ingest presets (engine.ingest), exactly as the lake stores them. The full
sweeps are ``slow``; the default suite judges a small sample of each. Known non-AC references
are listed with the reason (see benchmarks/results/code_bench.json).
"""

from __future__ import annotations

import ast
import collections
import json
from pathlib import Path

import pytest

from engine.ingest.presets import PRESETS, Draft
from sandbox.backends import get_backend
from verifiers.code import CodeConfig, verify_code_batch

pytestmark = pytest.mark.skipif(
    get_backend().unavailable() is not None, reason="the sandbox cannot run jobs here"
)
RAW = CodeConfig(extract="raw")


def _drafts(shared: Path, preset: str, name: str) -> list[Draft]:
    pre = PRESETS[preset]
    rows = [pre.map_row(json.loads(x)) for x in (shared / "code" / name).open() if x.strip()]
    if pre.merge is None:
        return rows
    groups: dict[str, list[Draft]] = collections.defaultdict(list)
    for d in rows:
        groups[d.group or ""].append(d)
    return [pre.merge(g) for g in groups.values()]


def _items(drafts: list[Draft], config: CodeConfig = RAW, langs=("python",)) -> list[dict]:
    return [
        {
            "tests": d.tests,
            "response": s["code"],
            "lang": s["lang"],
            "config": config,
            "prompt_prefix": d.meta.get("prompt_prefix"),
            "_id": f"{d.meta.get('task_id') or d.meta.get('src_uid')}:{s['lang']}:{k}",
        }
        for d in drafts
        for k, s in enumerate(d.meta["solutions"])
        if s["lang"] in langs
    ]


def _judge(items: list[dict]) -> dict[str, str]:
    ids = [it.pop("_id") for it in items]
    verdicts = verify_code_batch(items, concurrency=2)
    return {i: _status(v) for i, v in zip(ids, verdicts, strict=True)}


def _status(v) -> str:
    """``correct``, or the status with the first failure (shown when an assertion fails)."""
    if v.status == "correct":
        return "correct"
    first = v.detail.get("first_failure") or {}
    return f"{v.status} {first.get('code')} {first.get('reason', v.detail.get('reason', ''))}"


def test_humaneval_canonical_solutions_all_pass(shared_data):
    drafts = _drafts(shared_data, "humaneval", "humaneval_openai.jsonl")
    got = _judge(_items(drafts))
    assert len(got) == 164
    assert {k: v for k, v in got.items() if v != "correct"} == {}


def _mutant(d: Draft) -> dict | None:
    """The canonical solution with every result changed (int +1, str +'x', list +[None])."""
    tests = json.loads(d.tests)
    first = next(iter(tests.get("cases", [])), None)
    if first is None:
        return None
    value = ast.literal_eval(first["expected"])
    if type(value) not in (int, str, list):
        return None
    entry = d.meta["entry_point"]
    wrap = (
        f"\n\n_orig_{entry} = {entry}\n"
        f"def {entry}(*a, **k):\n    r = _orig_{entry}(*a, **k)\n"
        "    return r + 1 if type(r) is int else r + 'x' if type(r) is str else r + [None]\n"
    )
    code = d.meta["solutions"][0]["code"] + wrap
    return {
        "tests": d.tests,
        "response": code,
        "config": RAW,
        "prompt_prefix": d.meta["prompt_prefix"],
    }


def test_humaneval_mutants_are_rejected(shared_data):
    drafts = _drafts(shared_data, "humaneval", "humaneval_openai.jsonl")
    items = [m for m in map(_mutant, drafts) if m is not None][:40]
    assert len(items) >= 20
    verdicts = verify_code_batch(items, concurrency=2)
    assert all(v.status == "incorrect" and v.reward == 0.0 for v in verdicts)
    codes = {v.detail["first_failure"]["code"] for v in verdicts}
    assert codes <= {"WA", "RE"} and "WA" in codes


def test_mbpp_sample(shared_data):
    drafts = [d for d in _drafts(shared_data, "mbpp", "mbpp_full_deepseekcoder.jsonl")]
    sample = [d for d in drafts if d.split == "test"][:25]
    got = _judge(_items(sample))
    assert list(got.values()) == ["correct"] * 25


@pytest.mark.slow
def test_mbpp_all_974_references(shared_data):
    drafts = _drafts(shared_data, "mbpp", "mbpp_full_deepseekcoder.jsonl")
    got = _judge(_items(drafts))
    assert len(got) == 974
    assert {k: v for k, v in got.items() if v != "correct"} == {}


def test_leetcodedataset_sample(shared_data):
    drafts = _drafts(shared_data, "leetcodedataset", "leetcodedataset_v0.3.1_test.jsonl")[:6]
    got = _judge(_items(drafts))
    assert list(got.values()) == ["correct"] * 6


@pytest.mark.slow
def test_leetcodedataset_all_references(shared_data):
    drafts = _drafts(shared_data, "leetcodedataset", "leetcodedataset_v0.3.1_test.jsonl")
    got = _judge(_items(drafts, CodeConfig(extract="raw", test_cpu_s=6.0)))
    assert len(got) == 228
    assert {k: v for k, v in got.items() if v != "correct"} == {}


def test_codeforces_sample_in_three_languages(shared_data):
    drafts = _drafts(
        shared_data, "codeforces", "codescope_code_optimization_cf_stdio_2solutions.jsonl"
    )
    config = CodeConfig(extract="raw", test_cpu_s=5.0)
    picked: list[dict] = []
    for lang in ("python", "cpp", "c"):
        with_lang = [d for d in drafts if any(s["lang"] == lang for s in d.meta["solutions"])]
        smallest = min(with_lang, key=lambda d: len(d.tests))
        picked += [it for it in _items([smallest], config, (lang,))][:1]
    got = _judge(picked)
    assert len(got) == 3 and set(got.values()) == {"correct"}


@pytest.mark.slow
def test_codeforces_every_accepted_solution(shared_data):
    drafts = _drafts(
        shared_data, "codeforces", "codescope_code_optimization_cf_stdio_2solutions.jsonl"
    )
    unsupported = sum(s["lang"] == "csharp" for d in drafts for s in d.meta["solutions"])
    assert unsupported == 60  # Mono C#: no C# in the sandbox; skipped explicitly
    got = _judge(_items(drafts, CodeConfig(extract="raw", test_cpu_s=5.0), ("python", "cpp", "c")))
    assert len(got) == 182
    assert {k: v for k, v in got.items() if v != "correct"} == {}
