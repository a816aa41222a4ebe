"""`rlvr train grpo|sft`: a recipe, a model and a dataset through TRL, recorded in the lake.

Top to bottom: read the recipe (:mod:`training.recipe`), pick the device's fields (CPU: no bf16, no
activation checkpointing; CUDA: vLLM colocate), build the dataset (a lake prompt set, an exported
folder, or the recipe's synthetic prompts), record a ``train`` run, build TRL's trainer with our
verifiers as rewards and the rollout capture (:mod:`training.capture`), resume from the last
checkpoint in ``output_dir`` if there is one, train, save, and record the checkpoints.
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.errors import UserError
from engine.generate.templates import R1_ZERO_TEMPLATE
from engine.lake import Lake
from engine.tasks import synth_prompts, synthesize
from training.recipe import Recipe, RecipeError, load_recipe, resolved_config

__all__ = ["TrainResult", "build_dataset", "resolve_reward_funcs", "train"]


@dataclass(frozen=True, kw_only=True)
class TrainResult:
    run_id: str
    output_dir: str
    checkpoints: list[str] = field(default_factory=list)
    resumed_from: str | None = None
    global_step: int = 0
    rollouts: int = 0


def resolve_reward_funcs(paths: tuple[str, ...] | list[str]) -> list[Callable]:
    """Dotted import paths → callables, the way ``trl grpo`` resolves ``reward_funcs``
    (``trl/scripts/grpo.py``: ``rsplit(".", 1)``, ``import_module``, ``getattr``)."""
    funcs = []
    for path in paths:
        module_path, _, name = path.rpartition(".")
        try:
            funcs.append(getattr(importlib.import_module(module_path), name))
        except (ImportError, AttributeError, ValueError) as exc:
            raise RecipeError(
                f"reward function {path!r} cannot be imported ({exc}) — use a dotted path such "
                "as verifiers.rewards.math_reward"
            ) from None
    return funcs


# -- datasets ----------------------------------------------------------------------------------


def _prompt(problem: str, template: str) -> Any:
    if template == "r1-zero":
        return R1_ZERO_TEMPLATE.replace("{prompt}", problem)
    return [{"role": "user", "content": problem}]


def _lake_prompts(lake: Lake, name: str) -> list[dict[str, Any]]:
    import polars as pl

    frame = lake.scan("prompts").filter(pl.col("dataset") == name).collect()
    if frame.is_empty():
        raise UserError(
            f"no prompts of dataset {name!r} in the lake — `rlvr prompts list` shows the datasets"
        )
    train = frame.filter(pl.col("split") == "train")
    rows = (train if not train.is_empty() else frame).unique("prompt_id").sort("prompt_id")
    return rows.to_dicts()


def _folder_rows(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    if not files:
        raise UserError(f"{path} holds no Parquet file — pass a folder written by `rlvr export`")
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def build_dataset(recipe: Recipe, lake: Lake, dataset: str | None) -> tuple[Any, dict[str, Any]]:
    """The training ``datasets.Dataset`` and a description of where it came from."""
    from datasets import Dataset

    from training.traces import sft_rows

    name = dataset or recipe.dataset
    if recipe.trainer == "sft" and recipe.traces and not name:
        s = recipe.synth
        problems = synthesize(s.get("task", "arithmetic"), n=int(s.get("n", 256)),
                              seed=int(s.get("seed", 0)), difficulty=s.get("difficulty", "easy"),
                              allow_fewer=True)  # fmt: skip
        return Dataset.from_list(sft_rows(problems)), {"traces": dict(s)}
    if name and Path(name).exists():
        rows = _folder_rows(Path(name))
        source = {"folder": str(name)}
    elif name:
        rows, source = _lake_prompts(lake, name), {"lake_dataset": name}
    elif recipe.synth:
        s = recipe.synth
        task = s.get("task", "arithmetic")
        synth_name = f"synth-{task}-train"
        synth_prompts(lake, task, n=int(s.get("n", 256)), dataset=synth_name,
                      seed=int(s.get("seed", 0)), difficulty=s.get("difficulty", "easy"))  # fmt: skip
        rows, source = _lake_prompts(lake, synth_name), {"lake_dataset": synth_name, "synth": s}
    else:
        raise UserError(f"recipe {recipe.name} names no dataset — pass --dataset NAME or PATH")
    if recipe.trainer == "sft":
        return Dataset.from_list(rows), source
    out = []
    for r in rows:
        problem = r.get("problem")
        prompt = r.get("prompt") if problem is None else _prompt(problem, recipe.template)
        out.append({"prompt": prompt, "prompt_id": r.get("prompt_id"), "answer": r.get("answer"),
                    "tests": r.get("tests"), "meta": r.get("meta"), "task": r.get("task")})  # fmt: skip
    return Dataset.from_list(out), source


# -- the run -----------------------------------------------------------------------------------


def _last_checkpoint(output_dir: str) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None


def _build_trainer(recipe: Recipe, model: str, config: dict[str, Any], data: Any) -> Any:
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer, SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    try:
        args = (GRPOConfig if recipe.trainer == "grpo" else SFTConfig)(**config)
    except (ValueError, TypeError) as exc:
        raise RecipeError(f"recipe {recipe.name}: {exc}".splitlines()[0]) from exc
    if recipe.trainer == "sft":
        return SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    funcs = resolve_reward_funcs(recipe.reward_funcs)
    if not funcs:
        raise RecipeError(f"recipe {recipe.name} has no reward_funcs — list dotted paths")
    return GRPOTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=data,
                       processing_class=tokenizer)  # fmt: skip


def train(
    kind: str, recipe_name: str, *, model: str | None = None, dataset: str | None = None,
    overrides: list[str] | tuple[str, ...] = (), lake: Lake | str | None = None,
    output_dir: str | None = None, resume: bool = True,
) -> TrainResult:  # fmt: skip
    """Train with ``recipe_name`` (``kind`` must match its trainer); see the module docstring."""
    recipe = load_recipe(recipe_name, overrides)
    if recipe.trainer != kind:
        raise UserError(f"recipe {recipe.name} is a {recipe.trainer} recipe — run "
                        f"`rlvr train {recipe.trainer} --recipe {recipe_name}`")  # fmt: skip
    model = model or recipe.model
    if not model:
        raise UserError(f"recipe {recipe.name} names no model — pass --model PATH")
    if not Path(model).exists() and model.startswith((".", "/", "models/", "runs/")):
        raise UserError(
            f"no model at {model!r} — build it first (e.g. `rlvr model tiny`) or pass --model"
        )
    # TRL 1.16 calls transformers' deprecated is_gradient_checkpointing every step; nothing to fix.
    warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
    cuda = torch.cuda.is_available()
    out = output_dir or recipe.config.get("output_dir") or f"runs/{recipe.name}"
    config = resolved_config(recipe, cuda=cuda, output_dir=out)
    if not cuda:
        # A sub-million-parameter model does too little work per op to pay for thread
        # synchronisation: one intra-op thread runs ~15x faster than two on 2 shared cores
        # (measured for issue 11: tiny GRPO 5 steps/s at 1 thread, 0.3 at 2).
        torch.set_num_threads(1)
    lake = lake if isinstance(lake, Lake) else Lake.open(lake)  # after the recipe checks out
    data, source = build_dataset(recipe, lake, dataset)
    resumed = _last_checkpoint(out) if resume else None
    params = {"recipe": recipe.to_dict(), "config": config, "dataset": source,
              "device": "cuda" if cuda else "cpu", "resumed_from": resumed, "argv": sys.argv[1:]}  # fmt: skip
    run_id = lake.write_run("train", model=str(model), backend="trl",
                            params=json.loads(json.dumps(params, default=str)),
                            seed=config.get("seed"))  # fmt: skip
    capture = None
    try:
        trainer = _build_trainer(recipe, str(model), config, data)
        if kind == "grpo":
            from training.capture import RolloutCapture

            capture = RolloutCapture(lake, run_id, model=str(model)).attach(trainer)
        trainer.train(resume_from_checkpoint=resumed)
        trainer.save_model(out)
        if capture is not None:
            capture.close()
    except BaseException as exc:
        if capture is not None:
            capture.close()
        lake.finish_run(run_id, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
        raise
    checkpoints = sorted(str(p) for p in Path(out).glob("checkpoint-*"))
    lake.finish_run(run_id, "done")
    _record_outputs(lake, run_id, {"checkpoints": checkpoints, "output_dir": out,
                                   "global_step": trainer.state.global_step})  # fmt: skip
    return TrainResult(run_id=run_id, output_dir=out, checkpoints=checkpoints,
                       resumed_from=resumed, global_step=trainer.state.global_step,
                       rollouts=capture.rows_written if capture else 0)  # fmt: skip


def _record_outputs(lake: Lake, run_id: str, extra: dict[str, Any]) -> None:
    """Append the run's final row again with the output paths in ``params`` (latest row wins)."""
    from datetime import timedelta

    import polars as pl

    rows = lake.scan("runs").filter(pl.col("run_id") == run_id).collect().sort("created_at")
    row = rows.to_dicts()[-1]
    params = json.loads(row["params"] or "{}")
    row["params"] = {**params, **extra}
    row["created_at"] = row["created_at"] + timedelta(microseconds=1)
    lake.append("runs", [row], run_id=run_id)
