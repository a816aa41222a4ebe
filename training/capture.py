"""Training rollouts into the lake: every completion GRPO samples, with its rewards and verdicts.

TRL's ``log_completions`` only covers logging steps, so we read each generation batch where the
trainer scores it: :class:`RolloutCapture` wraps ``GRPOTrainer._calculate_rewards`` (a private
method, hence the ``trl==1.16.*`` pin and ``tests/training/test_capture.py``), which sees the batch's
dataset rows (``prompt_id``), completions, completion ids and per-function rewards. Rows are built
on the training thread (cheap: a few lists) and written by one background thread, batched per
optimizer step, so the lake's Parquet compression never stalls training. ``on_train_end`` drains
the queue; a write error is re-raised there rather than lost.

Each completion is a ``rollouts`` row (``source = train``, ``step`` = the optimizer step it trains)
and one ``verdicts`` row per reward function. Our adapters (:mod:`verifiers.rewards`) hand over
their full verdicts; a foreign reward function's number is stored as its verdict's reward with a
status read from it (NaN → ``unverifiable``, ≥ 1 → ``correct``, else ``incorrect``).
"""

from __future__ import annotations

import math
import queue
import threading
from typing import Any

from transformers import TrainerCallback

from engine import ids
from engine.generate.templates import split_think
from engine.lake import Lake
from verifiers.rewards import completion_text

__all__ = ["RolloutCapture"]


class RolloutCapture(TrainerCallback):
    """Attach with ``capture.attach(trainer)`` after building the trainer (it is also a callback)."""

    def __init__(self, lake: Lake, run_id: str, *, model: str | None = None) -> None:
        self.lake, self.run_id, self.model = lake, run_id, model
        self.trainer: Any = None
        self._pending: list[tuple[list[dict], list[dict]]] = []
        self._queue: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write_loop, name="rlvr-capture", daemon=True)
        self._thread.start()
        self.rows_written = 0

    # -- capture (training thread) -----------------------------------------------------------

    def attach(self, trainer: Any) -> RolloutCapture:
        self.trainer = trainer
        original = trainer._calculate_rewards

        def calculate_rewards(inputs, prompts, completions, completion_ids_list):
            rewards = original(inputs, prompts, completions, completion_ids_list)
            if trainer.model.training:
                self._record(inputs, completions, completion_ids_list, rewards)
            return rewards

        trainer._calculate_rewards = calculate_rewards
        trainer.add_callback(self)
        return self

    def _record(self, inputs, completions, completion_ids_list, rewards) -> None:
        trainer, args = self.trainer, self.trainer.args
        step = trainer.state.global_step + 1  # the optimizer step these completions will train
        eos = _eos_ids(trainer)
        funcs = list(zip(trainer.reward_funcs, trainer.reward_func_names, strict=True))
        table = rewards.detach().float().cpu().tolist()
        verdicts_of = [list(getattr(f, "last_verdicts", []) or []) for f, _ in funcs]
        rollouts, verdicts = [], []
        for i, (row, completion) in enumerate(zip(inputs, completions, strict=True)):
            text = completion_text(completion)
            pid = row.get("prompt_id") or ids.prompt_id("train", str(row.get("prompt")))
            sample_idx = step * args.generation_batch_size + i
            rid = ids.rollout_id(self.run_id, pid, sample_idx)
            tokens = list(completion_ids_list[i])
            truncated = len(tokens) >= args.max_completion_length and not (
                tokens and tokens[-1] in eos
            )
            reasoning, answer = split_think(text)
            rollouts.append({
                "rollout_id": rid, "run_id": self.run_id, "prompt_id": pid,
                "sample_idx": sample_idx, "model": self.model, "completion": text,
                "reasoning": reasoning, "answer_text": answer, "completion_tokens": len(tokens),
                "finish_reason": "length" if truncated else "stop",
                "temperature": args.temperature, "top_p": args.top_p, "seed": args.seed,
                "source": "train", "step": step,
            })  # fmt: skip
            for k, (_, name) in enumerate(funcs):
                judged = verdicts_of[k][i] if i < len(verdicts_of[k]) else None
                verdicts.append(_verdict_row(rid, self.run_id, name, table[i][k], judged,
                                             has_adapter=bool(verdicts_of[k])))  # fmt: skip
        self._pending.append((rollouts, verdicts))

    def on_step_end(self, args, state, control, **kwargs):
        self._flush()

    def on_train_end(self, args, state, control, **kwargs):
        self.close()

    def _flush(self) -> None:
        if self._pending:
            self._queue.put(self._pending)
            self._pending = []

    def close(self) -> None:
        """Write what is pending, wait for the writer, re-raise its error if it had one."""
        self._flush()
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error

    # -- writing (background thread) ---------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            batches = [] if item is None else list(item)
            while item is not None and not self._queue.empty():  # coalesce what queued up
                item = self._queue.get()
                if item is not None:
                    batches += item
            rollouts = [r for b in batches for r in b[0]]
            verdicts = [v for b in batches for v in b[1]]
            try:
                if rollouts:
                    self.lake.append("rollouts", rollouts, run_id=self.run_id)
                    self.lake.append("verdicts", verdicts, run_id=self.run_id)
                    self.rows_written += len(rollouts)
            except BaseException as exc:  # kept for close(), which re-raises it
                self._error = exc
            if item is None:
                return


def _eos_ids(trainer: Any) -> set[int]:
    ids_: set[int] = set()
    for source in (getattr(trainer.model, "generation_config", None), trainer.processing_class):
        value = getattr(source, "eos_token_id", None)
        if isinstance(value, int):
            ids_.add(value)
        elif isinstance(value, (list, tuple)):
            ids_.update(v for v in value if isinstance(v, int))
    return ids_


def _verdict_row(rid: str, run_id: str, name: str, reward: float, judged: Any, *,
                 has_adapter: bool) -> dict[str, Any]:  # fmt: skip
    if judged is not None:
        return {"rollout_id": rid, "verifier": judged.verifier or name, "run_id": run_id,
                "verifier_version": judged.verifier_version, "status": judged.status,
                "reward": judged.reward, "extracted": judged.extracted,
                "detail": judged.detail, "elapsed_ms": judged.elapsed_ms}  # fmt: skip
    if has_adapter:  # our adapter, whose verifier failed on this sample: a fault of ours
        return {"rollout_id": rid, "verifier": name, "run_id": run_id, "status": "error",
                "reward": None, "detail": {"reason": "verifier fault"}}  # fmt: skip
    nan = reward is None or math.isnan(reward)
    status = "unverifiable" if nan else ("correct" if reward >= 1.0 else "incorrect")
    return {"rollout_id": rid, "verifier": name, "run_id": run_id, "status": status,
            "reward": None if nan else reward, "detail": {"from": "reward function"}}  # fmt: skip
