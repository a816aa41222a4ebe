"""Fixture lakes for the curation tests, written through the lake API (never by hand)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine import ids
from engine.lake import Lake

GEN = "20261130T100000-generate-fixture"
INGEST = "20261130T090000-ingest-fixture"
VERIFY = "20261130T110000-verify-fixture"


@dataclass(frozen=True)
class R:
    """One rollout of a fixture: its verdict status, extracted answer and the rest."""

    status: str = "correct"  # accuracy verdict; None = no verdict
    extracted: str | None = "1"
    tokens: int | None = 10
    finish: str = "stop"
    format_reward: float | None = 1.0
    reasoning: str = "We add the numbers and check the result."
    answer_text: str = "The answer is 1."
    completion: str | None = None  # default: <think>reasoning</think> answer_text


def prompt_row(key: str, *, dataset: str = "demo", task: str = "math", answer: str = "1",
               problem: str | None = None, tests: str | None = None) -> dict:  # fmt: skip
    problem = problem or f"Problem {key}: what is the value asked for in case {key}?"
    return {"prompt_id": ids.prompt_id(dataset, problem), "dataset": dataset, "task": task,
            "problem": problem, "answer": answer, "tests": tests, "split": "test"}  # fmt: skip


def write_run(
    lake: Lake,
    prompts: Sequence[dict],
    rollouts: dict[str, Sequence[R]],
    *,
    run_id: str = GEN,
    verify_run: str = VERIFY,
    model: str = "fixture-model",
) -> dict[str, str]:
    """Write prompts (ingest), rollouts of ``run_id`` and their verdicts; rollouts are keyed by
    the prompt's ``key`` (its position in ``prompts`` as a string, or the dict's ``key``)."""
    lake.append("prompts", [{k: v for k, v in p.items() if k != "key"} for p in prompts],
                run_id=INGEST)  # fmt: skip
    by_key = {p.get("key", str(i)): p for i, p in enumerate(prompts)}
    lake.write_run("generate", run_id=run_id, model=model,
                   params={"sampling": {"temperature": 0.6, "top_p": 0.95}})  # fmt: skip
    rows, verdicts = [], []
    for key, samples in rollouts.items():
        prompt = by_key[key]
        for idx, r in enumerate(samples):
            rid = ids.rollout_id(run_id, prompt["prompt_id"], idx)
            completion = r.completion or f"<think>{r.reasoning}</think> {r.answer_text}"
            rows.append({"rollout_id": rid, "prompt_id": prompt["prompt_id"], "sample_idx": idx,
                         "model": model, "completion": completion, "reasoning": r.reasoning,
                         "answer_text": r.answer_text, "completion_tokens": r.tokens,
                         "finish_reason": r.finish, "temperature": 0.6, "top_p": 0.95,
                         "source": "generate"})  # fmt: skip
            if r.status is not None:
                reward = {"correct": 1.0, "incorrect": 0.0}.get(r.status)
                verdicts.append({"rollout_id": rid, "verifier": prompt["task"], "status": r.status,
                                 "reward": reward, "extracted": r.extracted})  # fmt: skip
            if r.format_reward is not None:
                verdicts.append({"rollout_id": rid, "verifier": "format",
                                 "status": "correct" if r.format_reward == 1 else "incorrect",
                                 "reward": r.format_reward})  # fmt: skip
    lake.append("rollouts", rows, run_id=run_id)
    lake.finish_run(run_id)
    if verdicts:
        lake.append("verdicts", verdicts, run_id=verify_run)
    return {key: p["prompt_id"] for key, p in by_key.items()}


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.open(tmp_path / "lake")
