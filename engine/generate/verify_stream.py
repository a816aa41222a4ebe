"""Verification while generating (``rlvr generate --verify``).

Finished batches of rollouts are handed to a verifier pool as they are written, so judging
overlaps generation (R1 §5 names "asynchronous evaluations" as what slow verifiers need). The
pool is one or more worker *processes*: the generation loop (transformers' ``generate``) runs
Python between kernels and the verifiers' parsing is Python too, so threads would take turns on
the GIL and slow generation down; a process judges on the other core. Workers start (spawned,
without torch) while the model loads, and warm the math verifier's sympy workers.

Each worker judges a batch and writes its verdicts to the lake itself, one file per batch, in
the partition of a ``verify`` run whose params name the generate run
(``{"generate_run": ...}``). The verifiers bound their own time in worker processes or the
sandbox (DESIGN.md § Verdicts), so a worker never hangs on a candidate; a verifier's crash is
an ``error`` verdict with reward None (engine.verify.judge), never a 0. Workers ignore SIGINT:
Ctrl-C reaches the whole process group, and it is the generate loop that decides to stop.

>>> pool = start_pool(["math"])  # doctest: +SKIP
>>> stream = VerifyStream(lake, generate_run="r1", prompts=rows, pool=pool)  # doctest: +SKIP
>>> stream.submit(rollout_rows); stream.close()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from typing import Any

from engine.lake import FinalStatus, Lake
from engine.verify import VerifyConfig, judge

__all__ = ["VerifyStream", "start_pool"]

# A check that needs sympy: the math verifier's worker pool starts on the first such call.
_MATH_PROBE = ({"answer": "(x+1)^2", "task": "math"}, "\\boxed{x^2+2x+1}")


def start_pool(verifiers: Sequence[str], *, workers: int = 1) -> ProcessPoolExecutor:
    """Spawn the verifier processes now (they warm up in the background) and return the pool."""
    context = multiprocessing.get_context("spawn")  # no fork of a process holding a model
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                               initargs=(tuple(verifiers),))  # fmt: skip
    for _ in range(workers):
        pool.submit(int)  # a no-op that makes the pool start its processes
    return pool


def _init_worker(verifiers: tuple[str, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if "math" in verifiers:
        with contextlib.suppress(Exception):  # a warm-up failure shows up in the real verdicts
            rollout = {"rollout_id": "warm-up", "completion": _MATH_PROBE[1]}
            judge("math", rollout, _MATH_PROBE[0], VerifyConfig(workers=1))


def _judge_and_write(
    lake: Lake,
    run_id: str,
    rollouts: list[dict[str, Any]],
    prompts: dict[str, dict[str, Any]],
    config: VerifyConfig,
) -> tuple[int, int, int]:
    """In a worker: judge a batch, append its verdicts; (verdicts, primary, correct)."""
    rows, primary, correct = [], 0, 0
    for rollout in rollouts:
        prompt = prompts[rollout["prompt_id"]]
        for position, name in enumerate(config.for_task(prompt["task"])):
            row = judge(name, rollout, prompt, config)
            rows.append(row)
            if position == 0:  # the task's own verifier (math, countdown, code) sets pass rate
                primary += 1
                correct += row["status"] == "correct"
    lake.append("verdicts", rows, run_id=run_id)
    return len(rows), primary, correct


class VerifyStream:
    """A verify run fed batch by batch; ``pass_rate`` is the running share of correct verdicts
    from each rollout's first verifier (``math`` for math, ``countdown`` for countdown, ...)."""

    def __init__(
        self,
        lake: Lake,
        *,
        generate_run: str,
        prompts: Mapping[str, Mapping[str, Any]],
        pool: ProcessPoolExecutor,
        config: VerifyConfig | None = None,
    ) -> None:
        self.lake, self.prompts, self._pool = lake, prompts, pool
        self.config = config or VerifyConfig(workers=1)
        params = {
            "generate_run": generate_run,
            "verifiers": dict(self.config.verifiers),
            "extra": list(self.config.extra),
            "streamed": True,
        }
        self.run_id = lake.write_run("verify", params=params)
        self._futures: list[Future] = []
        self._lock = threading.Lock()
        self.judged = self.correct = self.primary = 0

    def submit(self, rollouts: Sequence[Mapping[str, Any]]) -> None:
        """Queue one batch of rollout rows (``rollout_id``, ``prompt_id``, ``completion``)."""
        if not rollouts:
            return
        batch = [{k: r[k] for k in ("rollout_id", "prompt_id", "completion")} for r in rollouts]
        prompts = {r["prompt_id"]: dict(self.prompts[r["prompt_id"]]) for r in batch}
        future = self._pool.submit(_judge_and_write, self.lake, self.run_id, batch,
                                   prompts, self.config)  # fmt: skip
        future.add_done_callback(self._count)
        self._futures.append(future)

    def _count(self, future: Future) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        judged, primary, correct = future.result()
        with self._lock:
            self.judged += judged
            self.primary += primary
            self.correct += correct

    @property
    def pass_rate(self) -> float | None:
        with self._lock:
            return self.correct / self.primary if self.primary else None

    def close(self, status: FinalStatus = "done") -> None:
        """Wait for the queued batches (when interrupted, only those already started), stop the
        pool and mark the verify run. A worker's failure fails the run and is raised here."""
        if status == "interrupted":
            for future in self._futures:
                future.cancel()
        wait(self._futures)
        self._pool.shutdown(wait=True)
        errors = [
            e for f in self._futures if not f.cancelled() and (e := f.exception()) is not None
        ]
        self.lake.finish_run(self.run_id, "failed" if errors and status == "done" else status)
        if errors:
            raise errors[0]
