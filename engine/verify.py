"""`rlvr verify`: judge the rollouts in a lake with the registered verifiers and write their verdicts.

Each rollout is judged against its prompt by the verifiers of its task (``math`` for math prompts,
``code`` for code prompts) plus any extra ones asked for (``format``, ``language``). The job is
resumable: a (rollout, verifier) pair that already has a verdict is skipped, so re-running after a
crash judges only what is missing. Verdicts are written in batches, so a crash loses at most the
batch in flight; SIGINT or SIGTERM stops after the batch in flight (engine.interrupt), keeps what
finished and marks the run ``interrupted``. One job judges a lake at a time: a second one waits
for the lake's ``verify`` lock, then finds the work done, so nothing is judged twice. One item's failure never stops the batch (STYLE.md §10): an exception inside a
verifier becomes an ``error`` verdict with reward None, a fault of ours and never a wrong answer.

>>> DEFAULT_VERIFIERS["math"]
('math',)
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import filelock
import polars as pl
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

from engine.errors import UserError
from engine.interrupt import StopFlag, stop_on_signals
from engine.lake import Lake
from engine.progress import Progress  # rich at a terminal, periodic lines otherwise
from verifiers import registry
from verifiers.verdict import Verdict

__all__ = ["DEFAULT_VERIFIERS", "VerifyConfig", "VerifySummary", "judge", "verify_rollouts"]

DEFAULT_VERIFIERS: dict[str, tuple[str, ...]] = {
    "math": ("math",),
    "code": ("code",),
    "countdown": ("countdown",),
    "general": (),
}
_PROMPT_COLUMNS = ["prompt_id", "dataset", "task", "problem", "answer", "tests", "meta"]


@dataclass(frozen=True, kw_only=True)
class VerifyConfig:
    """What to judge and how.

    verifiers: task -> verifier names run on every rollout of that task.
    extra: verifier names run on every rollout whatever its task (e.g. ``("format",)``).
    options: verifier name -> keyword options passed to its scorer.
    workers: threads judging at once (verifiers bound their own time in processes or the sandbox).
    batch_rows: verdicts per written file.
    """

    verifiers: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_VERIFIERS)
    )
    extra: tuple[str, ...] = ()
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    workers: int = max(2, os.cpu_count() or 2)
    batch_rows: int = 256

    def __post_init__(self) -> None:
        known = set(registry.names())
        for name in [n for names in self.verifiers.values() for n in names] + list(self.extra):
            if name not in known:
                raise UserError(
                    f"unknown verifier {name!r} — known verifiers: {', '.join(sorted(known))}"
                )
        if self.workers < 1 or self.batch_rows < 1:
            raise UserError(
                f"workers={self.workers}, batch_rows={self.batch_rows}: both must be ≥ 1"
            )

    def for_task(self, task: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.verifiers.get(task, ()), *self.extra)))


@dataclass(frozen=True, kw_only=True)
class VerifySummary:
    run_id: str
    judged: int
    skipped: int
    by_status: dict[tuple[str, str], int]  # (verifier, status) -> count
    seconds: float


def _work(lake: Lake, runs: Sequence[str] | None, config: VerifyConfig) -> tuple[list[tuple], int]:
    """(verifier, rollout row, prompt row) triples still to judge, and how many were skipped."""
    rollouts = lake.scan("rollouts").select("rollout_id", "run_id", "prompt_id", "completion")
    if runs:
        rollouts = rollouts.filter(pl.col("run_id").is_in(list(runs)))
    joined = rollouts.join(lake.scan("prompts").select(_PROMPT_COLUMNS), on="prompt_id", how="left")
    done = lake.existing_ids("verdicts")
    work, skipped = [], 0
    for row in joined.collect().iter_rows(named=True):
        prompt = {k: row[k] for k in _PROMPT_COLUMNS}
        if row["task"] is None:
            raise UserError(
                f"rollout {row['rollout_id']}: its prompt {row['prompt_id']} is not in the lake — import the prompts first"
            )
        for name in config.for_task(row["task"]):
            if (row["rollout_id"], name) in done:
                skipped += 1
            else:
                work.append((name, row, prompt))
    return work, skipped


def _judge(item: tuple, config: VerifyConfig) -> dict[str, Any]:
    name, row, prompt = item
    start = time.perf_counter()
    try:
        verdict = registry.score(name, prompt, row["completion"], **config.options.get(name, {}))
    except Exception as exc:  # a verifier bug is our fault: record it, never score it as wrong
        verdict = Verdict(
            status="error",
            reward=None,
            detail={"error": f"{type(exc).__name__}: {exc}"},
            elapsed_ms=(time.perf_counter() - start) * 1000,
            verifier=name,
        )
    return {
        "rollout_id": row["rollout_id"],
        "verifier": name,
        "verifier_version": verdict.verifier_version or None,
        "status": verdict.status,
        "reward": verdict.reward,
        "extracted": verdict.extracted,
        "detail": json.dumps(verdict.detail, ensure_ascii=False, default=str),
        "elapsed_ms": verdict.elapsed_ms,
        "created_at": datetime.now(UTC),
    }


def judge(
    name: str, rollout: Mapping[str, Any], prompt: Mapping[str, Any], config: VerifyConfig
) -> dict[str, Any]:
    """One verdict row: ``rollout`` (``rollout_id``, ``completion``) judged by verifier ``name``.

    Never raises for a verifier's fault: that is an ``error`` verdict with reward None.
    """
    return _judge((name, rollout, prompt), config)


def _judge_batch(
    pool: ThreadPoolExecutor, batch: list, config: VerifyConfig, stop: StopFlag
) -> list[dict[str, Any]]:
    """Judge one batch; on a stop signal, drop what has not started and keep what finished.

    Verdicts of ``error`` or ``timeout`` that end after the signal are dropped too: Ctrl-C in a
    terminal also reaches the verifiers' worker processes, so those are likely our own fault
    (they are judged again on resume).
    """
    futures: dict[Future, int] = {
        pool.submit(_judge, item, config): i for i, item in enumerate(batch)
    }
    pending = set(futures)
    while pending and not stop:
        _, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
    if stop:
        for future in pending:
            future.cancel()
        wait(pending)
    finished = sorted(
        (f for f in futures if f.done() and not f.cancelled()), key=futures.__getitem__
    )
    rows = [future.result() for future in finished]
    if stop:
        rows = [row for row in rows if row["status"] not in ("error", "timeout")]
    return rows


@contextmanager
def _job_lock(lake: Lake, stop: StopFlag) -> Iterator[None]:
    """Hold the lake's ``verify`` lock; wait (interruptibly) while another job holds it."""
    lock = lake.lock("verify")
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        print("another `rlvr verify` is judging this lake — waiting for it to end", file=sys.stderr)
        while True:
            stop.check()
            try:
                lock.acquire(timeout=0.5)
                break
            except filelock.Timeout:
                continue
    try:
        yield
    finally:
        lock.release()


def _batches(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def verify_rollouts(
    lake: Lake,
    *,
    runs: Sequence[str] | None = None,
    config: VerifyConfig | None = None,
    progress: bool = False,
) -> VerifySummary:
    """Judge every rollout (of `runs`, or all) that lacks a verdict; record a ``verify`` run."""
    config = config or VerifyConfig()
    for run in runs or ():
        if not lake.files("rollouts", run):
            raise UserError(f"no rollouts of run {run!r} in the lake — list runs with `rlvr runs`")
    with stop_on_signals() as stop, _job_lock(lake, stop):
        return _verify(lake, runs, config, stop, progress)


def _verify(
    lake: Lake, runs: Sequence[str] | None, config: VerifyConfig, stop: StopFlag, progress: bool
) -> VerifySummary:
    work, skipped = _work(lake, runs, config)
    params = {
        "runs": list(runs or []),
        "verifiers": dict(config.verifiers),
        "extra": list(config.extra),
    }
    counts: Counter[tuple[str, str]] = Counter()
    start = time.perf_counter()
    columns = [
        TextColumn("judging"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    ]
    with (
        lake.run("verify", params=params) as run_id,
        Progress(*columns, disable=not progress) as bar,
        ThreadPoolExecutor(config.workers, thread_name_prefix="verify") as pool,
    ):
        task = bar.add_task("judge", total=len(work), rate="")
        for batch in _batches(work, config.batch_rows):
            stop.check()
            rows = _judge_batch(pool, batch, config, stop)
            lake.append("verdicts", rows, run_id=run_id)
            counts.update((r["verifier"], r["status"]) for r in rows)
            done = sum(counts.values())
            bar.update(
                task,
                advance=len(rows),
                rate=f"{done / (time.perf_counter() - start):.1f} verdicts/s",
            )
        stop.check()
    return VerifySummary(
        run_id=run_id,
        judged=sum(counts.values()),
        skipped=skipped,
        by_status=dict(counts),
        seconds=time.perf_counter() - start,
    )
