"""`rlvr verify --engine ray` on a mix of verifiers (issue 14): the work is striped so every batch
carries the same mix of slow (sandboxed code) and fast (math) items, one block is one batch is one
verdict file, and the verdicts are the local engine's."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.lake import Lake
from engine.ray_engine import RayOptions, _striped, verify_ray
from engine.verify import VerifyConfig, verify_rollouts
from tests.sandbox.conftest import needs_bwrap

pytestmark = pytest.mark.xdist_group("ray")


def _work(names: list[str]) -> list[tuple]:
    return [(name, {"rollout_id": f"r{i}", "prompt_id": f"p{i % 5}", "completion": f"c{i}"},
             {"prompt_id": f"p{i % 5}", "answer": str(i % 5)})
            for i, name in enumerate(names)]  # fmt: skip


@given(st.lists(st.sampled_from(["math", "code", "format", "language"]), max_size=400))
def test_striped_spreads_every_verifiers_share_evenly(names: list[str]) -> None:
    items = _striped(_work(names))
    assert sorted((i["verifier"], i["rollout_id"]) for i in items) == sorted(
        (name, f"r{i}") for i, name in enumerate(names)
    )  # a permutation: nothing lost, nothing judged twice
    for item in items:  # each item keeps its own completion and prompt
        index = int(item["rollout_id"][1:])
        assert item["completion"] == f"c{index}"
        assert json.loads(item["prompt"]) == {
            "prompt_id": f"p{index % 5}",
            "answer": str(index % 5),
        }
    totals, seen = Counter(names), Counter()
    for k, item in enumerate(items, 1):  # every prefix (so every batch) holds each share ± a few
        seen[item["verifier"]] += 1
        for name, total in totals.items():
            assert abs(seen[name] - k * total / len(names)) <= 1 + len(totals)


def test_striped_interleaves_a_run_of_slow_items() -> None:
    items = _striped(_work(["math"] * 30 + ["code"] * 10))
    assert [item["verifier"] for item in items[:8]].count("code") == 2  # not 0: code is spread
    assert [item["verifier"] for item in items[-8:]].count("code") == 2  # not 8: no slow tail


TESTS = json.dumps({"version": 1, "kind": "stdio", "checker": "tokens",
                    "cases": [{"stdin": "1 2\n", "expected": ["3\n"]}]})  # fmt: skip
RIGHT, WRONG = ("```python\nprint(sum(map(int, input().split())))\n```",
                "```python\nprint(max(map(int, input().split())))\n```")  # fmt: skip


def _mixed_lake(root) -> Lake:
    lake = Lake.open(root)
    prompts = [{"prompt_id": f"m{i}", "dataset": "m", "task": "math", "problem": f"{i}+1?",
                "answer": str(i + 1)} for i in range(5)]  # fmt: skip
    prompts.append({"prompt_id": "c0", "dataset": "c", "task": "code", "problem": "Sum.",
                    "tests": TESTS})  # fmt: skip
    lake.append("prompts", prompts, run_id="ingest-mixed")
    rows = [{"rollout_id": f"rm{i}", "prompt_id": f"m{i % 5}", "sample_idx": i, "source": "generate",
             "completion": f"<think>so</think> \\boxed{{{i % 5 + 1 + i % 2}}}"} for i in range(30)]  # fmt: skip
    rows += [{"rollout_id": f"rc{i}", "prompt_id": "c0", "sample_idx": i, "source": "generate",
              "completion": RIGHT if i % 2 == 0 else WRONG} for i in range(6)]  # fmt: skip
    lake.append("rollouts", rows, run_id="gen-mixed")
    return lake


def _verdicts(root) -> list[tuple]:
    con = Lake.open(root).connect()
    return con.execute("SELECT rollout_id, verifier, status, reward, extracted FROM verdicts "
                       "ORDER BY rollout_id, verifier").fetchall()  # fmt: skip


@needs_bwrap  # code verdicts come from the sandbox
def test_ray_verify_of_math_and_code_gives_the_local_verdicts_one_file_per_batch(
    ray_local, tmp_path
) -> None:
    _mixed_lake(tmp_path / "base")
    shutil.copytree(tmp_path / "base", tmp_path / "local")
    shutil.copytree(tmp_path / "base", tmp_path / "ray")
    config = VerifyConfig(extra=("format",), workers=2, batch_rows=8)
    verify_rollouts(Lake.open(tmp_path / "local"), config=config)
    sizes: list[int] = []
    summary = verify_ray(Lake.open(tmp_path / "ray"), config=config,
                         options=RayOptions(actors=2, threads=1), on_batch=sizes.append)  # fmt: skip
    local, distributed = _verdicts(tmp_path / "local"), _verdicts(tmp_path / "ray")
    assert distributed == local and len(local) == 72  # 36 rollouts x (task verifier + format)
    statuses = Counter((verifier, status) for _, verifier, status, *_ in local)
    assert statuses[("code", "correct")] == 3 and statuses[("code", "incorrect")] == 3
    assert statuses[("math", "correct")] == 15 and statuses[("math", "incorrect")] == 15
    assert summary.judged == 72 and len(sizes) == 9 and max(sizes) <= 8  # 72 / 8: one file a batch
    files = Lake.open(tmp_path / "ray").files("verdicts", summary.run_id)
    assert sorted(pq.read_metadata(f).num_rows for f in files) == sorted(sizes)
