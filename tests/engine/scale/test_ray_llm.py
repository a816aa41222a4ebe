"""The row plumbing of the ray.data.llm stages (vLLM / HTTP; issue 14): one row per missing
(prompt, sample) with the local engine's seed, and rollout rows with the local engine's ids."""

from __future__ import annotations

import json

import pytest

from engine import ids
from engine.generate import SamplingParams, sample_seed
from engine.ray_llm import _http_request, _http_rollout, rollout_from_text, sample_rows


def _item() -> dict:
    prompts = [{"key": "p1", "text": None, "messages": [{"role": "user", "content": "1+1?"}],
                "done": [1]},
               {"key": "p2", "text": "2+2=", "messages": None, "done": []}]  # fmt: skip
    return {"run_id": "gen-x", "batch": json.dumps(prompts)}


def test_sample_rows_skip_done_samples_and_carry_the_local_seed() -> None:
    sampling = SamplingParams(n=3, seed=5)
    rows = sample_rows(_item(), sampling)
    assert [(r["prompt_id"], r["sample_idx"]) for r in rows] == [
        ("p1", 0), ("p1", 2), ("p2", 0), ("p2", 1), ("p2", 2)]  # fmt: skip
    assert all(r["seed"] == sample_seed(5, r["prompt_id"], r["sample_idx"]) for r in rows)


@pytest.mark.parametrize(
    ("text", "reasoning", "answer"),
    [
        ("<think>add</think> 4", "add", "4"),  # reasoning split at </think>, as locally
        ("just 4", None, "just 4"),  # no think block: all answer
    ],
)
def test_rollout_rows_have_the_local_engines_id_and_split(text, reasoning, answer) -> None:
    row = sample_rows(_item(), SamplingParams(n=1))[0]
    out = rollout_from_text(row, text, SamplingParams(n=1), "m")
    assert out["rollout_id"] == ids.rollout_id("gen-x", "p1", 0)
    assert (out["reasoning"], out["answer_text"].strip()) == (reasoning, answer)


def test_http_round_trip_uses_chat_messages_and_reads_usage() -> None:
    sampling = SamplingParams(n=1, max_tokens=9)
    row = sample_rows(_item(), sampling)[0]
    request = _http_request(row, sampling, "served")
    assert request["payload"]["messages"] == [{"role": "user", "content": "1+1?"}]
    assert request["payload"]["seed"] == row["seed"] and request["payload"]["max_tokens"] == 9
    response = {"model": "served", "usage": {"prompt_tokens": 5, "completion_tokens": 9},
                "choices": [{"message": {"content": "2"}, "finish_reason": "length"}]}  # fmt: skip
    out = _http_rollout({**row, "http_response": response}, sampling, "served")
    assert (out["completion"], out["finish_reason"], out["completion_tokens"]) == ("2", "length", 9)
