"""`rlvr generate` as a library call: sample k completions per prompt into the lake.

The job (DESIGN.md § Generation; issue #11):

1. read the dataset's prompts from the lake (ordered by prompt id; ``limit`` takes the first N);
2. build the backend and check every prompt fits its context — all before anything is written,
   so bad input leaves the lake untouched;
3. record a ``generate`` run (model, backend, seed, params), or reopen it: the same run id with
   the same settings fills only the missing ``(prompt_id, sample_idx)``;
4. generate in batches of whole prompts; each batch is one atomic rollouts file, so a crash or
   SIGKILL loses at most the batch in flight; Ctrl-C or SIGTERM (engine.interrupt) lets the batch
   in flight finish and be written, then marks the run ``interrupted`` (a second Ctrl-C stops
   at once);
5. with ``verify``, hand each written batch to :class:`~engine.generate.verify_stream.VerifyStream`.

>>> summary = generate(Lake.open("lake"), GenerateConfig(dataset="countdown", model="models/tiny"))  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from engine import ids
from engine.errors import UserError
from engine.generate import Backend, Prompt, Sample, SamplingParams, get_backend
from engine.generate.templates import TEMPLATES, build_prompt, join_reasoning, split_think
from engine.generate.verify_stream import VerifyStream, start_pool
from engine.interrupt import stop_on_signals
from engine.lake import FinalStatus, Lake
from engine.verify import VerifyConfig

__all__ = ["GenerateConfig", "GenerateSummary", "Progress", "generate"]

_PROMPT_COLUMNS = ["prompt_id", "dataset", "split", "task", "problem", "answer", "tests", "meta"]
# Settings that define a run's samples: resuming with other values would mix two experiments.
_IDENTITY = ("dataset", "split", "template", "system", "n", "temperature", "top_p", "max_tokens",
             "seed")  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class GenerateConfig:
    """What to generate. ``batch_prompts`` defaults per backend (see :func:`_batch_prompts`)."""

    dataset: str
    model: str | None
    backend: str = "transformers"
    sampling: SamplingParams = field(default_factory=SamplingParams)
    template: str = "chat"
    system: str | None = None
    split: str | None = None
    limit: int | None = None
    verify: bool = False
    run_id: str | None = None
    batch_prompts: int | None = None
    backend_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.template not in TEMPLATES:
            raise UserError(f"--template {self.template!r}: templates are {', '.join(TEMPLATES)}")
        if self.system is not None and self.template != "chat":
            raise UserError(
                "--system applies to the chat template — drop it or use --template chat"
            )
        if self.limit is not None and self.limit < 1:
            raise UserError(f"--limit {self.limit}: must be ≥ 1")
        if self.run_id is not None and not ids.RUN_ID_PATTERN.fullmatch(self.run_id):
            raise UserError(
                f"--run-id {self.run_id!r}: use letters, digits, '.', '_' or '-' (it names a folder)"
            )

    def params(self) -> dict[str, Any]:
        """The run's recorded params (JSON)."""
        return {
            "dataset": self.dataset,
            "split": self.split,
            "limit": self.limit,
            "template": self.template,
            "system": self.system,
            **asdict(self.sampling),
            "verify": self.verify,
            **{k: v for k, v in self.backend_options.items() if k in ("base_url", "concurrency")},
        }


@dataclass(frozen=True, kw_only=True)
class GenerateSummary:
    run_id: str
    status: str
    prompts: int
    written: int  # rollouts written by this call
    skipped: int  # (prompt, sample) pairs that were already there
    failed: int  # samples the backend could not produce (not written; a re-run fills them)
    tokens: int
    seconds: float
    verify_run_id: str | None = None
    pass_rate: float | None = None
    warnings: tuple[str, ...] = ()


Progress = Callable[[dict[str, Any]], None]


def generate(
    lake: Lake,
    config: GenerateConfig,
    *,
    backend: Backend | None = None,
    on_progress: Progress | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> GenerateSummary:
    """Run (or resume) a generation job; see the module docstring for the steps."""
    prompts = _load_prompts(lake, config)
    run_id = config.run_id or ids.new_run_id("generate")
    done = _check_resume(lake, run_id, config)
    todo = [p for p in prompts if any((p["prompt_id"], j) not in done
                                      for j in range(config.sampling.n))]  # fmt: skip
    pool = _start_verifiers(prompts) if config.verify else None  # they warm up as the model loads
    try:
        backend = backend or get_backend(config.backend, model=config.model,
                                         **config.backend_options)  # fmt: skip
        warnings = tuple(backend.template_warnings()) if config.template == "chat" else ()
        for warning in warnings:
            (on_warning or (lambda _: None))(warning)
        requests = {p["prompt_id"]: _request(p, config) for p in todo}
        backend.check_prompts(list(requests.values()), config.sampling)
        params = {**config.params(), "template_warnings": list(warnings)}
        lake.write_run("generate", run_id=run_id, model=backend.model, backend=backend.name,
                       params=params, seed=config.sampling.seed)  # fmt: skip
    except BaseException:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    job = _Job(lake, config, backend, run_id, done, on_progress)
    job.total = len(todo)
    job.stream = _stream(lake, run_id, prompts, done, pool) if pool is not None else None
    status = job.loop(todo, requests)
    stream = job.stream
    return GenerateSummary(
        run_id=run_id, status=status, prompts=len(prompts), written=job.written,
        skipped=len(done), failed=job.failed, tokens=backend.tokens_generated - job.tokens_at_start,
        seconds=time.perf_counter() - job.start, warnings=warnings,
        verify_run_id=stream.run_id if stream else None,
        pass_rate=stream.pass_rate if stream else None,
    )  # fmt: skip


class _Job:
    """The batch loop's state: counts, the progress callback, the verify stream."""

    def __init__(self, lake, config, backend, run_id, done, on_progress) -> None:
        self.lake, self.config, self.backend, self.run_id = lake, config, backend, run_id
        self.done, self.on_progress = done, on_progress
        self.stream: VerifyStream | None = None
        self.written = self.failed = self.prompts_done = self.total = 0
        self.start = time.perf_counter()
        self.tokens_at_start = backend.tokens_generated

    def loop(self, todo: list[dict], requests: Mapping[str, Prompt]) -> FinalStatus:
        """Generate every batch; mark the run (and its verify run) done, failed or interrupted."""
        status: FinalStatus = "failed"
        size = self.config.batch_prompts or _batch_prompts(self.backend, self.config)
        try:
            with stop_on_signals() as stop:
                for batch in _chunks(todo, size):
                    stop.check()  # after SIGINT/SIGTERM: the batch before was written, stop here
                    self.run_batch(batch, requests)
            status = "done" if self.failed == 0 else "failed"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            try:
                if self.stream is not None:
                    self.stream.close(status)
            finally:
                self.lake.finish_run(self.run_id, status)
        return status

    def run_batch(self, batch: list[dict], requests: Mapping[str, Prompt]) -> None:
        groups = self.backend.generate(
            [requests[p["prompt_id"]] for p in batch], self.config.sampling
        )
        rows = []
        model, sampling = self.backend.model, self.config.sampling
        for prompt, samples in zip(batch, groups, strict=True):
            for index, sample in enumerate(samples):
                if (prompt["prompt_id"], index) in self.done:
                    continue  # resumed: keep what is there
                if sample.finish_reason == "error":
                    self.failed += 1
                    continue
                rows.append(
                    _rollout_row(self.run_id, prompt["prompt_id"], index, sample, model, sampling)
                )
        self.lake.append("rollouts", rows, run_id=self.run_id)
        if self.stream is not None:
            self.stream.submit(rows)
        self.written += len(rows)
        self.prompts_done += len(batch)
        if self.on_progress is not None:
            self.on_progress(self.snapshot(len(batch), len(rows)))

    def snapshot(self, prompts: int, samples: int) -> dict[str, Any]:
        seconds = time.perf_counter() - self.start
        tokens = self.backend.tokens_generated - self.tokens_at_start
        return {
            "total": self.total,
            "prompts": prompts,
            "samples": samples,
            "written": self.written,
            "failed": self.failed,
            "tokens_per_s": tokens / seconds if seconds > 0 else 0.0,
            "pass_rate": self.stream.pass_rate if self.stream else None,
        }


def _rollout_row(
    run_id: str, prompt_id: str, index: int, sample: Sample, model: str, sampling: SamplingParams
) -> dict:
    reasoning: str | None
    if sample.reasoning is not None:  # the server split the reasoning off (reasoning_content)
        completion = join_reasoning(sample.reasoning, sample.text)
        reasoning, answer = sample.reasoning, sample.text
    else:
        completion = sample.text
        reasoning, answer = split_think(sample.text)
    return {
        "rollout_id": ids.rollout_id(run_id, prompt_id, index),
        "prompt_id": prompt_id,
        "sample_idx": index,
        "model": model,
        "completion": completion,
        "reasoning": reasoning,
        "answer_text": answer,
        "prompt_tokens": sample.prompt_tokens,
        "completion_tokens": sample.completion_tokens,
        "finish_reason": sample.finish_reason,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "seed": sample.seed,
        "latency_ms": sample.latency_ms,
        "source": "generate",
    }


def _load_prompts(lake: Lake, config: GenerateConfig) -> list[dict[str, Any]]:
    frame = lake.scan("prompts").select(_PROMPT_COLUMNS)
    chosen = frame.filter(pl.col("dataset") == config.dataset)
    if config.split is not None:
        chosen = chosen.filter(pl.col("split") == config.split)
    rows = chosen.sort("prompt_id").collect()
    if rows.is_empty():
        known = sorted(frame.select("dataset").unique().collect()["dataset"].to_list())
        what = f"dataset {config.dataset!r}" + (
            f" (split {config.split!r})" if config.split else ""
        )
        hint = f"datasets in the lake: {', '.join(known)}" if known else "the lake has no prompts"
        raise UserError(f"{what} has no prompts in the lake — {hint} "
                        "(add some with `rlvr prompts import` or `rlvr prompts synth`)")  # fmt: skip
    if config.limit is not None:
        rows = rows.head(config.limit)
    return rows.to_dicts()


def _check_resume(lake: Lake, run_id: str, config: GenerateConfig) -> set[tuple[str, int]]:
    """The (prompt_id, sample_idx) already written by ``run_id``; refuse a run made otherwise."""
    runs = lake.scan("runs").filter(pl.col("run_id") == run_id).collect().to_dicts()
    if not runs:
        return set()
    import json

    run = runs[0]
    recorded = json.loads(run["params"] or "{}")
    wanted = config.params()
    differs = [k for k in _IDENTITY if recorded.get(k) != wanted.get(k)]
    if run["kind"] != "generate" or differs or (config.model and run["model"] != config.model):
        what = f"kind {run['kind']}" if run["kind"] != "generate" else (
            f"other settings ({', '.join(differs) or 'model'})")  # fmt: skip
        raise UserError(f"run {run_id} exists with {what} — resume with the same settings, "
                        "or drop --run-id to start a new run")  # fmt: skip
    files = lake.files("rollouts", run_id)
    if not files:
        return set()
    frame = pl.scan_parquet(files).select("prompt_id", "sample_idx").unique().collect()
    return set(frame.iter_rows())


def _start_verifiers(prompts: Sequence[Mapping[str, Any]]):
    tasks = {p["task"] for p in prompts}
    return start_pool(sorted({name for task in tasks for name in VerifyConfig().for_task(task)}))


def _stream(lake, run_id, prompts, done, pool) -> VerifyStream:
    """A verify stream, first fed with this run's rollouts that have no verdict yet (resume)."""
    by_id = {p["prompt_id"]: p for p in prompts}
    stream = VerifyStream(lake, generate_run=run_id, prompts=by_id, pool=pool)
    if done:
        rollouts = pl.scan_parquet(lake.files("rollouts", run_id)).select(
            "rollout_id", "prompt_id", "completion").unique("rollout_id").collect()  # fmt: skip
        judged = {rid for rid, _ in lake.existing_ids("verdicts")}
        stream.submit([r for r in rollouts.to_dicts()
                       if r["rollout_id"] not in judged and r["prompt_id"] in by_id])  # fmt: skip
    return stream


def _request(prompt: Mapping[str, Any], config: GenerateConfig) -> Prompt:
    return build_prompt(
        prompt["prompt_id"], prompt["problem"], config.template, system=config.system
    )


def _batch_prompts(backend: Backend, config: GenerateConfig) -> int:
    """Prompts per batch (= per rollouts file): enough to keep the backend busy, few enough
    that a crash loses little. transformers: one generate call of ~batch_size sequences."""
    n = config.sampling.n
    if backend.name == "transformers":
        return max(1, getattr(backend, "batch_size", 64) // n)
    if backend.name == "openai":
        return 4 * getattr(backend, "concurrency", 32)
    return 256


def _chunks(items: Sequence, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
