"""Verification while generating (``rlvr generate --verify``).

Finished batches of rollouts are handed to a thread pool as they are written, so judging overlaps
generation (R1 §5 names "asynchronous evaluations" as what slow verifiers need). Verdicts go to
the lake in the partition of a ``verify`` run whose params name the generate run
(``{"generate_run": ...}``), one file per batch. The verifiers bound their own time in worker
processes or the sandbox (DESIGN.md § Verdicts), so a thread here never hangs on a candidate;
a verifier's crash is an ``error`` verdict with reward None (engine.score.judge), never a 0.

>>> stream = VerifyStream(lake, generate_run="r1", prompts=rows)  # doctest: +SKIP
>>> stream.submit(rollout_rows); stream.close()  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Literal

from engine.lake import Lake
from engine.score import ScoreConfig, judge

__all__ = ["VerifyStream"]


class VerifyStream:
    """A verify run fed batch by batch; ``pass_rate`` is the running share of correct verdicts
    from each rollout's first verifier (``math`` for math, ``countdown`` for countdown, ...)."""

    def __init__(
        self,
        lake: Lake,
        *,
        generate_run: str,
        prompts: Mapping[str, Mapping[str, Any]],
        config: ScoreConfig | None = None,
    ) -> None:
        self.lake, self.prompts = lake, prompts
        self.config = config or ScoreConfig(workers=2)
        params = {
            "generate_run": generate_run,
            "verifiers": dict(self.config.verifiers),
            "extra": list(self.config.extra),
            "streamed": True,
        }
        self.run_id = lake.write_run("verify", params=params)
        self._pool = ThreadPoolExecutor(self.config.workers, thread_name_prefix="verify")
        self._futures: list[Future] = []
        self._lock = threading.Lock()
        self.judged = self.correct = self.primary = 0

    def submit(self, rollouts: Sequence[Mapping[str, Any]]) -> None:
        """Queue one batch of rollout rows (``rollout_id``, ``prompt_id``, ``completion``)."""
        if rollouts:
            self._futures.append(self._pool.submit(self._judge_batch, list(rollouts)))

    def _judge_batch(self, rollouts: list[Mapping[str, Any]]) -> int:
        rows, correct, primary = [], 0, 0
        for rollout in rollouts:
            prompt = self.prompts[rollout["prompt_id"]]
            for position, name in enumerate(self.config.for_task(prompt["task"])):
                row = judge(name, rollout, prompt, self.config)
                rows.append(row)
                if position == 0:
                    primary += 1
                    correct += row["status"] == "correct"
        self.lake.append("verdicts", rows, run_id=self.run_id)
        with self._lock:
            self.judged += len(rows)
            self.primary += primary
            self.correct += correct
        return len(rows)

    @property
    def pass_rate(self) -> float | None:
        with self._lock:
            return self.correct / self.primary if self.primary else None

    @property
    def pending(self) -> int:
        return sum(not f.done() for f in self._futures)

    def close(self, status: Literal["done", "failed", "interrupted"] = "done") -> None:
        """Wait for the queued batches (or, when interrupted, only those already started)."""
        if status == "interrupted":
            for future in self._futures:
                future.cancel()
        wait(self._futures)
        self._pool.shutdown(wait=True)
        errors = [f.exception() for f in self._futures if not f.cancelled() and f.exception()]
        self.lake.finish_run(self.run_id, "failed" if errors and status == "done" else status)
        if errors:
            raise errors[0]
