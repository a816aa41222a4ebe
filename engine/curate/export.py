"""`rlvr export`: a lake dataset as Parquet for TRL, verl or ShareGPT readers, with a dataset card.

Formats (one row per selected rollout, or per prompt for the prompt formats):

- ``sft-messages``: ``messages`` = [user, assistant], the conversational form TRL's SFTTrainer
  trains on (``assistant_only_loss`` with a template that marks ``{% generation %}``). The
  reasoning stays in the assistant turn: inline ``<think>…</think>`` before the answer, or with
  ``reasoning="field"`` in ``reasoning_content`` (the key Qwen3/R1 chat templates render).
- ``prompt-completion``: conversational ``prompt`` / ``completion`` lists (TRL trains on the
  completion only by default).
- ``sharegpt``: ``conversations`` = [{from: human, value}, {from: gpt, value}] (SkyThought).
- ``grpo``: a prompt set: ``prompt`` (chat list) plus ``answer``, ``tests``, ``task``,
  ``dataset``, ``prompt_id``, ``meta`` — TRL's GRPOTrainer passes every extra column to the reward
  functions as keyword arguments.
- ``verl``: verl's RL layout (examples/data_preprocess/gsm8k.py): ``data_source``, ``prompt``
  (chat list), ``ability``, ``reward_model: {style: rule, ground_truth}``, ``extra_info``.

The folder is written under a temp name beside ``out`` and renamed into place: an existing
``out`` is an error, and a failed export leaves nothing behind.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from engine.curate.select import dataset_path, read_lineage
from engine.errors import UserError
from engine.lake import Lake

__all__ = ["FORMATS", "Reasoning", "card", "export_dataset", "rows_for"]

Reasoning = Literal["inline", "field"]
FORMATS = ("sft-messages", "prompt-completion", "sharegpt", "grpo", "verl")
_PROMPT_FORMATS = ("grpo", "verl")
_MSG = pa.struct([("role", pa.string()), ("content", pa.string())])
_MSG_R = pa.struct([("role", pa.string()), ("content", pa.string()),
                    ("reasoning_content", pa.string())])  # fmt: skip


def export_dataset(
    lake: Lake, name: str, out: Path, *, fmt: str, reasoning: Reasoning = "inline",
    license: str = "other",
) -> Path:  # fmt: skip
    """Write ``out/data/train.parquet`` and ``out/README.md``; returns the parquet path."""
    if fmt not in FORMATS:
        raise UserError(f"unknown format {fmt!r} — formats are {', '.join(FORMATS)}")
    if reasoning not in ("inline", "field"):
        raise UserError(f"--reasoning {reasoning!r} — use inline or field")
    out = Path(out)
    if out.exists():
        raise UserError(f"{out} exists — pick a new -o folder (nothing was written)")
    lineage = read_lineage(lake, name)
    table = pq.read_table(dataset_path(lake, name) / "data.parquet")
    if lineage["unit"] == "prompts" and fmt not in _PROMPT_FORMATS:
        raise UserError(f"dataset {name!r} is a prompt set — export it as grpo or verl, not {fmt}")
    rows = rows_for(table.to_pylist(), fmt, reasoning)
    temp = out.with_name(f".tmp-{out.name}-{uuid.uuid4().hex}")
    try:
        (temp / "data").mkdir(parents=True)
        pq.write_table(_to_arrow(rows, fmt, reasoning), temp / "data" / "train.parquet")
        (temp / "README.md").write_text(card(lineage, fmt, reasoning, len(rows), license))
        temp.rename(out)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return out / "data" / "train.parquet"


def rows_for(records: list[dict[str, Any]], fmt: str, reasoning: Reasoning) -> list[dict]:
    if fmt in _PROMPT_FORMATS:
        seen, unique = set(), []
        for record in records:  # a rollout set exported as prompts: each prompt once
            if record["prompt_id"] not in seen:
                seen.add(record["prompt_id"])
                unique.append(record)
        return [_grpo(r) if fmt == "grpo" else _verl(r, i) for i, r in enumerate(unique)]
    return [_sft(r, fmt, reasoning) for r in records]


def _assistant(record: dict[str, Any], reasoning: Reasoning) -> dict[str, Any]:
    think, answer = record.get("reasoning"), record.get("answer_text")
    if think is None or answer is None:  # no think block was read: the completion as written
        think, answer = None, record["completion"]
    if reasoning == "field":
        return {"role": "assistant", "content": answer.strip(), "reasoning_content": think}
    content = f"<think>\n{think.strip()}\n</think>\n\n{answer.strip()}" if think else answer
    return {"role": "assistant", "content": content}


def _sft(record: dict[str, Any], fmt: str, reasoning: Reasoning) -> dict[str, Any]:
    user = {"role": "user", "content": record["problem"]}
    assistant = _assistant(record, reasoning)
    if reasoning == "field":
        user["reasoning_content"] = None
    if fmt == "sft-messages":
        return {"messages": [user, assistant]}
    if fmt == "prompt-completion":
        return {"prompt": [user], "completion": [assistant]}
    return {"conversations": [{"from": "human", "value": user["content"]},
                              {"from": "gpt", "value": _assistant(record, "inline")["content"]}]}  # fmt: skip


def _grpo(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "prompt": [{"role": "user", "content": record["problem"]}],
        "answer": record.get("answer"),
        "tests": record.get("tests"),
        "task": record.get("task"),
        "dataset": record.get("dataset"),
        "prompt_id": record["prompt_id"],
        "meta": record.get("meta"),
    }


def _verl(record: dict[str, Any], index: int) -> dict[str, Any]:
    truth = record.get("tests") if record.get("task") == "code" else record.get("answer")
    return {
        "data_source": record.get("dataset"),
        "prompt": [{"role": "user", "content": record["problem"]}],
        "ability": record.get("task"),
        "reward_model": {"style": "rule", "ground_truth": truth},
        "extra_info": {
            "index": index,
            "split": record.get("split"),
            "prompt_id": record["prompt_id"],
            "question": record["problem"],
        },
    }


def _to_arrow(rows: list[dict], fmt: str, reasoning: Reasoning) -> pa.Table:
    msg = _MSG_R if reasoning == "field" else _MSG
    schemas = {
        "sft-messages": pa.schema([("messages", pa.list_(msg))]),
        "prompt-completion": pa.schema([("prompt", pa.list_(msg)), ("completion", pa.list_(msg))]),
        "sharegpt": pa.schema(
            [
                (
                    "conversations",
                    pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())])),
                )
            ]
        ),
        "grpo": pa.schema(
            [
                ("prompt", pa.list_(_MSG)),
                *[
                    (c, pa.string())
                    for c in ("answer", "tests", "task", "dataset", "prompt_id", "meta")
                ],
            ]
        ),
        "verl": pa.schema(
            [
                ("data_source", pa.string()),
                ("prompt", pa.list_(_MSG)),
                ("ability", pa.string()),
                (
                    "reward_model",
                    pa.struct([("style", pa.string()), ("ground_truth", pa.string())]),
                ),
                (
                    "extra_info",
                    pa.struct(
                        [
                            ("index", pa.int64()),
                            ("split", pa.string()),
                            ("prompt_id", pa.string()),
                            ("question", pa.string()),
                        ]
                    ),
                ),
            ]
        ),
    }
    return pa.Table.from_pylist(rows, schema=schemas[fmt])


def _size_category(rows: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):  # fmt: skip
        if rows < limit:
            return label
    return "10M<n<100M"


def card(lineage: dict[str, Any], fmt: str, reasoning: str, rows: int, license: str) -> str:
    """A Hub dataset card: YAML header (license, task categories, size, config), then lineage."""
    category = "reinforcement-learning" if fmt in _PROMPT_FORMATS else "text-generation"
    funnel = "\n".join(f"| {f['step']} | {f['kept']} | {f['dropped']} |" for f in lineage["funnel"])
    sources = "\n".join(
        f"- `{r['run_id']}` ({r['kind']}, model `{r['model']}`)" for r in lineage["source_runs"]
    )
    sampling = "\n".join(
        f"- `{s['model']}`: temperature {s['temperature']}, top_p {s['top_p']}"
        for s in lineage["sampling"]
    )
    return f"""---
license: {license}
task_categories:
- {category}
size_categories:
- {_size_category(rows)}
tags:
- rlvr
- reasoning
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train.parquet
---

# {lineage["name"]}

{lineage["recipe"].get("description") or "A dataset selected by rlvr."}
Format `{fmt}` (reasoning {reasoning}), {rows} rows, made by `rlvr select` (run
`{lineage["select_run_id"]}`, rlvr {lineage["rlvr_version"]}) with the recipe
`{lineage["recipe"]["name"]}`.

```python
from datasets import load_dataset
ds = load_dataset("parquet", data_files="data/train.parquet", split="train")
```

## Source runs

{sources}

Models: {", ".join(f"`{m}`" for m in lineage["models"]) or "unknown"}

## Sampling

{sampling or "- unknown"}

## Selection funnel

| step | kept | dropped |
|---|---|---|
{funnel}

## Recipe

```yaml
{lineage["recipe"]["text"].rstrip()}
```

Lineage: `{json.dumps({"ids_sha256": lineage["ids_sha256"]})}`
"""
