"""Generation on GPU clusters and endpoints with ``ray.data.llm`` (issue 14).

``--backend vllm``: ``vLLMEngineProcessorConfig`` (vLLM engines on GPU nodes, ``--ray-actors``
replicas, tensor parallelism through ``engine_kwargs``). ``--backend openai``:
``HttpRequestProcessorConfig`` against an OpenAI-compatible ``/v1/chat/completions`` or
``/v1/completions`` endpoint. Each (prompt, sample) is one row carrying its own seed
(:func:`engine.generate.base.sample_seed`, as the local backends use), so the rollout ids and
seeds are the local engine's. ``ray.data.llm`` imports vLLM lazily, inside its engine stage.
Written to Ray 2.60's documented API; this machine has no GPU, so only the row plumbing
(:func:`sample_rows`, :func:`rollout_from_text`) is tested here.
"""

from __future__ import annotations

import json
from typing import Any

from engine.generate.base import Sample, sample_seed
from engine.generate.templates import join_reasoning, split_think

__all__ = ["llm_stage", "rollout_from_text", "sample_rows"]


def sample_rows(item: dict[str, Any], sampling: Any) -> list[dict[str, Any]]:
    """One row per missing (prompt, sample) of a planned batch, with that sample's seed."""
    rows = []
    for prompt in json.loads(item["batch"]):
        for index in range(sampling.n):
            if index in prompt["done"]:
                continue
            rows.append({"run_id": item["run_id"], "prompt_id": prompt["key"],
                         "sample_idx": index, "text": prompt["text"],
                         "messages": json.dumps(prompt["messages"]),
                         "seed": sample_seed(sampling.seed, prompt["key"], index)})  # fmt: skip
    return rows


def rollout_from_text(row: dict[str, Any], text: str, sampling: Any, model: str, **counts: Any):
    """A rollouts row from one generated text, as the local engine writes it."""
    from engine import ids

    sample = Sample(text=text, prompt_tokens=counts.get("prompt_tokens"),
                    completion_tokens=counts.get("completion_tokens"),
                    finish_reason=counts.get("finish_reason") or "stop",
                    latency_ms=float(counts.get("latency_ms") or 0.0), seed=row["seed"],
                    reasoning=counts.get("reasoning"))  # fmt: skip
    reasoning: str | None  # a server's separate reasoning, or the text before </think>
    if sample.reasoning is not None:
        completion, reasoning, answer = (
            join_reasoning(sample.reasoning, text),
            sample.reasoning,
            text,
        )
    else:
        completion = text
        reasoning, answer = split_think(text)
    return {
        "rollout_id": ids.rollout_id(row["run_id"], row["prompt_id"], row["sample_idx"]),
        "prompt_id": row["prompt_id"], "sample_idx": row["sample_idx"], "model": model,
        "completion": completion, "reasoning": reasoning, "answer_text": answer,
        "prompt_tokens": sample.prompt_tokens, "completion_tokens": sample.completion_tokens,
        "finish_reason": sample.finish_reason, "temperature": sampling.temperature,
        "top_p": sampling.top_p, "seed": sample.seed, "latency_ms": sample.latency_ms,
        "source": "generate",
    }  # fmt: skip


def _sampling_params(row: dict[str, Any], sampling: Any) -> dict[str, Any]:
    return {"temperature": sampling.temperature, "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens, "seed": row["seed"]}  # fmt: skip


def llm_stage(dataset: Any, config: Any, options: Any) -> Any:
    """``dataset`` of planned batches → rollout rows, through a ``ray.data.llm`` processor."""
    from ray.data.llm import build_processor

    sampling, model = config.sampling, config.model
    rows = dataset.flat_map(lambda item: sample_rows(item, sampling))
    if config.backend == "vllm":
        processor = build_processor(_vllm_config(config, options),
                                    preprocess=lambda row: _vllm_request(row, sampling),
                                    postprocess=lambda row: _vllm_rollout(row, sampling, model))  # fmt: skip
    elif config.backend == "openai":
        processor = build_processor(_http_config(config, options),
                                    preprocess=lambda row: _http_request(row, sampling, model),
                                    postprocess=lambda row: _http_rollout(row, sampling, model))  # fmt: skip
    else:
        raise ValueError(f"no ray.data.llm stage for backend {config.backend!r}")
    return processor(rows)


def _vllm_config(config: Any, options: Any) -> Any:
    from ray.data.llm import vLLMEngineProcessorConfig

    engine_kwargs = {"max_model_len": config.backend_options.get(
            "max_model_len", config.sampling.max_tokens + 8192  # room for the prompt
        ),
                     **config.backend_options.get("engine_kwargs", {})}  # fmt: skip
    return vLLMEngineProcessorConfig(model_source=config.model, engine_kwargs=engine_kwargs,
                                     concurrency=options.actors, batch_size=64)  # fmt: skip


def _vllm_request(row: dict[str, Any], sampling: Any) -> dict[str, Any]:
    request = {**row, "sampling_params": _sampling_params(row, sampling)}
    if row["text"] is not None:
        request["prompt"] = row["text"]
    else:
        request["messages"] = json.loads(row["messages"])
    return request


def _vllm_rollout(row: dict[str, Any], sampling: Any, model: str) -> dict[str, Any]:
    finish = "length" if row.get("num_generated_tokens", 0) >= sampling.max_tokens else "stop"
    return rollout_from_text(row, row["generated_text"], sampling, model,
                             prompt_tokens=row.get("num_input_tokens"),
                             completion_tokens=row.get("num_generated_tokens"),
                             finish_reason=finish)  # fmt: skip


def _http_config(config: Any, options: Any) -> Any:
    import os

    from ray.data.llm import HttpRequestProcessorConfig

    base = config.backend_options["base_url"].rstrip("/")
    chat = config.template == "chat"
    key = os.environ.get("OPENAI_API_KEY")
    return HttpRequestProcessorConfig(
        url=f"{base}/chat/completions" if chat else f"{base}/completions",
        headers={"Authorization": f"Bearer {key}"} if key else {},
        concurrency=options.actors,
    )


def _http_request(row: dict[str, Any], sampling: Any, model: str | None) -> dict[str, Any]:
    payload = {"model": model, **_sampling_params(row, sampling)}
    if row["text"] is not None:
        payload["prompt"] = row["text"]
    else:
        payload["messages"] = json.loads(row["messages"])
    return {**row, "payload": payload}


def _http_rollout(row: dict[str, Any], sampling: Any, model: str | None) -> dict[str, Any]:
    response = row["http_response"]
    choice = response["choices"][0]
    message = choice.get("message") or {}
    text = message.get("content") if message else choice.get("text")
    usage = response.get("usage") or {}
    finish = "length" if choice.get("finish_reason") == "length" else "stop"
    return rollout_from_text(row, text or "", sampling, response.get("model") or model or "",
                             prompt_tokens=usage.get("prompt_tokens"),
                             completion_tokens=usage.get("completion_tokens"),
                             finish_reason=finish, reasoning=message.get("reasoning_content"))  # fmt: skip
