"""The same generate → verify → lake pipeline as a Ray Data job (issue 14, DESIGN.md § Scale-out).

``rlvr generate --engine ray`` and ``rlvr verify --engine ray`` call :func:`generate_ray` and
:func:`verify_ray`. What is planned, recorded and written is the local engine's own code
(``engine.generate.run``, ``engine.verify``): the driver reads the work from the lake (so a re-run
after a killed job plans only what is missing), Ray Data runs the expensive middle, and the driver
writes each result batch as it streams back through :meth:`engine.lake.Lake.append` — the lake's
atomic ``.partial`` → rename protocol (or one conditional PUT on S3), its dedupe on write and its
content-hash ids. A killed job therefore loses at most the batches in flight, as locally.

Stages:

- generation, ``map_batches`` over batches of whole prompts:
  ``transformers``: an actor pool (``--ray-actors``), each actor holding the model; every batch is
  the local engine's batch (same prompts, same ``batch_size``), so with a fixed seed the rollouts
  are bit-identical to ``--engine local`` on the same device (transformers_backend's promise).
  ``vllm``: ``ray.data.llm``'s vLLM processor on GPU nodes, one row per (prompt, sample) with the
  sample's seed in its ``sampling_params``. ``openai``: ``ray.data.llm``'s HTTP processor against
  an OpenAI-compatible endpoint. ``ray.data.llm`` imports vLLM only when its vLLM stage runs.
- verification, ``map_batches`` in its own actor pool: ``--ray-actors`` actors, each judging its
  batch with ``threads`` at once (the sandbox's concurrency per node), through
  :func:`engine.verify.judge` — so a verdict is the local engine's verdict. The work is striped
  by verifier (:func:`_striped`), so every batch carries the same mix of slow and fast items, and
  one Ray block is one batch is one verdict file of at most ``batch_rows`` rows.

Ray starts locally (``ray.init(num_cpus=…)``, about 10 s and 1.5 GB) unless ``address`` names a
running cluster (``ray://host:10001`` or ``auto``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from engine import ids
from engine.errors import UserError
from engine.lake import FinalStatus, Lake
from engine.verify import VerifyConfig, VerifySummary

__all__ = ["RayOptions", "generate_ray", "ray_session", "verify_ray"]


@dataclass(frozen=True, kw_only=True)
class RayOptions:
    """address: a running cluster (None: start a local Ray with ``num_cpus``). actors: size of
    each actor pool. threads: verifications at once per verify actor."""

    address: str | None = None
    num_cpus: int | None = None
    actors: int = 1
    threads: int = 2

    def __post_init__(self) -> None:
        if self.actors < 1 or self.threads < 1:
            raise UserError(f"--ray-actors {self.actors}, threads {self.threads}: both must be ≥ 1")


@contextmanager
def ray_session(options: RayOptions) -> Iterator[Any]:
    """Connect to ``options.address`` or start a local Ray; shut down only what we started."""
    try:
        import ray
    except ImportError as exc:
        raise UserError(
            "--engine ray needs Ray Data — pip install 'rlvr[ray]' (or drop --engine ray)"
        ) from exc
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if options.address:
            kwargs["address"] = options.address
        else:
            kwargs["num_cpus"] = options.num_cpus
        try:
            ray.init(**kwargs)
        except ConnectionError as exc:
            raise UserError(
                f"cannot reach the Ray cluster at {options.address!r} ({exc}) — check "
                "--ray-address (ray://HEAD:10001 or auto), or drop it to start a local Ray"
            ) from exc
        started = True
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        yield ray
    finally:
        if started:
            ray.shutdown()


# -- verification ------------------------------------------------------------------------------


class _Verifier:
    """A verify actor: judges a batch of work rows ``threads`` at a time with engine.verify.judge."""

    def __init__(self, config: VerifyConfig, threads: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.config = config
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="ray-verify")

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        from engine.verify import judge

        def one(row: Mapping[str, Any]) -> dict[str, Any]:
            prompt = json.loads(row["prompt"])
            verdict = judge(row["verifier"], row, prompt, self.config)
            return {**verdict, "created_at": verdict["created_at"].isoformat()}

        rows = list(self.pool.map(one, batch.to_pylist()))
        return pa.Table.from_pylist(rows)


def verify_ray(
    lake: Lake,
    *,
    runs: Sequence[str] | None = None,
    config: VerifyConfig | None = None,
    options: RayOptions | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> VerifySummary:
    """:func:`engine.verify.verify_rollouts` with the judging done by a Ray actor pool.

    ``on_batch(rows)`` is called after each verdict file is written (progress, benchmarks).
    """
    from engine.interrupt import stop_on_signals
    from engine.verify import _job_lock, _work

    config, options = config or VerifyConfig(), options or RayOptions()
    for run in runs or ():
        if not lake.files("rollouts", run):
            raise UserError(f"no rollouts of run {run!r} in the lake — list runs with `rlvr runs`")
    with stop_on_signals() as stop, _job_lock(lake, stop), ray_session(options) as ray:
        work, skipped = _work(lake, runs, config)
        items = _striped(work)
        params = {"runs": list(runs or []), "verifiers": dict(config.verifiers),
                  "extra": list(config.extra), "engine": "ray"}  # fmt: skip
        counts: Counter[tuple[str, str]] = Counter()
        start = time.perf_counter()
        with lake.run("verify", params=params) as run_id:
            if items:
                # one block = one batch = one file; a small job still gives every actor a block
                blocks = max(-(-len(items) // config.batch_rows), min(len(items), options.actors))
                dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
                    _Verifier,
                    fn_constructor_kwargs={"config": config, "threads": options.threads},
                    batch_size=None,
                    batch_format="pyarrow",
                    compute=ray.data.ActorPoolStrategy(size=options.actors),
                )
                for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
                    stop.check()
                    rows = [_verdict_row(row) for row in batch.to_pylist()]
                    lake.append("verdicts", rows, run_id=run_id)
                    counts.update((r["verifier"], r["status"]) for r in rows)
                    if on_batch is not None:
                        on_batch(len(rows))
    return VerifySummary(run_id=run_id, judged=sum(counts.values()), skipped=skipped,
                        by_status=dict(counts), seconds=time.perf_counter() - start)  # fmt: skip


def _striped(work: Sequence[tuple]) -> list[dict[str, Any]]:
    """The work items with each verifier's share spread evenly over the sequence.

    A batch is judged on one actor, so a run of slow batches (sandboxed code next to math at
    thousands per second) would leave the last actor judging alone while the others idle. Striped,
    every batch carries the same mix and the tail is at most one batch of average cost. Each
    prompt is serialised once, not once per rollout.
    """
    groups: dict[str, list[tuple]] = {}
    for entry in work:  # (verifier, rollout row, prompt)
        groups.setdefault(entry[0], []).append(entry)
    prompts: dict[Any, str] = {}
    keyed = []
    for rank, group in enumerate(groups.values()):
        for index, (name, row, prompt) in enumerate(group):
            text = prompts.get(row["prompt_id"])
            if text is None:
                text = prompts[row["prompt_id"]] = json.dumps(prompt, default=str)
            item = {"verifier": name, "rollout_id": row["rollout_id"],
                    "completion": row["completion"], "prompt": text}  # fmt: skip
            keyed.append(((index + 0.5) / len(group), rank, item))
    keyed.sort(key=lambda key: key[:2])
    return [item for *_, item in keyed]


def _verdict_row(row: dict[str, Any]) -> dict[str, Any]:
    from datetime import datetime

    return {**row, "created_at": datetime.fromisoformat(row["created_at"])}


# -- generation --------------------------------------------------------------------------------


class _Generator:
    """A generate actor (transformers backend): one local-engine batch of prompts per row."""

    def __init__(self, model: str, backend_options: Mapping[str, Any], sampling: Any) -> None:
        from engine.generate import get_backend

        self.backend = get_backend("transformers", model=model, **backend_options)
        self.sampling = sampling

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        from engine.generate.base import Prompt
        from engine.generate.run import _rollout_row

        out = []
        for item in batch.to_pylist():
            prompts = json.loads(item["batch"])
            requests = [Prompt(key=p["key"], text=p["text"],
                               messages=tuple(p["messages"]) if p["messages"] else None)
                        for p in prompts]  # fmt: skip
            groups = self.backend.generate(requests, self.sampling)
            model = self.backend.model
            for prompt, samples in zip(prompts, groups, strict=True):
                done = set(prompt["done"])
                for index, sample in enumerate(samples):
                    if index in done or sample.finish_reason == "error":
                        continue
                    out.append(_rollout_row(item["run_id"], prompt["key"], index, sample,
                                            model, self.sampling))  # fmt: skip
        return (
            pa.Table.from_pylist(out)
            if out
            else pa.table({"rollout_id": pa.array([], pa.string())})
        )


def generate_ray(lake: Lake, config: Any, *, options: RayOptions | None = None) -> Any:
    """:func:`engine.generate.run.generate` with the sampling done by Ray Data.

    Plans like the local engine (prompts, resume check, batches of whole prompts), records the
    ``generate`` run, then streams rollout files back into the lake as batches finish.
    """
    from engine.generate.run import (
        GenerateSummary,
        _batch_prompts,
        _check_resume,
        _load_prompts,
        _request,
    )

    if config.verify:
        raise UserError("--verify is local-only — with --engine ray run `rlvr verify --engine ray`")
    options = options or RayOptions()
    prompts = _load_prompts(lake, config)
    run_id = config.run_id or ids.new_run_id("generate")
    done = _check_resume(lake, run_id, config)
    n = config.sampling.n
    todo = [p for p in prompts if any((p["prompt_id"], j) not in done for j in range(n))]
    backend_stub = SimpleNamespace(name=config.backend,
                                   batch_size=config.backend_options.get("batch_size", 64),
                                   concurrency=config.backend_options.get("concurrency", 32))  # fmt: skip
    size = config.batch_prompts or _batch_prompts(backend_stub, config)
    params = {**config.params(), "engine": "ray"}
    model = config.model or config.backend_options.get("base_url")
    lake.write_run("generate", run_id=run_id, model=model, backend=config.backend,
                   params=params, seed=config.sampling.seed)  # fmt: skip
    start, written = time.perf_counter(), 0
    status: FinalStatus = "failed"
    try:
        with ray_session(options) as ray:
            batches = [
                {"run_id": run_id, "batch": json.dumps([
                    {**_prompt_json(_request(p, config)),
                     "done": [j for j in range(n) if (p["prompt_id"], j) in done]}
                    for p in todo[i : i + size]])}
                for i in range(0, len(todo), size)
            ]  # fmt: skip
            for table in _generated(ray, batches, config, options):
                rows = table.to_pylist()
                lake.append("rollouts", rows, run_id=run_id)
                written += len(rows)
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        lake.finish_run(run_id, status)
    return GenerateSummary(run_id=run_id, status=status, prompts=len(prompts), written=written,
                           skipped=len(done), failed=0, tokens=0,
                           seconds=time.perf_counter() - start)  # fmt: skip


def _prompt_json(prompt: Any) -> dict[str, Any]:
    messages = [dict(m) for m in prompt.messages] if prompt.messages else None
    return {"key": prompt.key, "text": prompt.text, "messages": messages}


def _generated(ray: Any, batches: list[dict], config: Any, options: RayOptions) -> Iterator[Any]:
    """Tables of rollout rows (without run_id) as Ray Data produces them."""
    if not batches:
        return
    dataset = ray.data.from_items(batches)
    if config.backend == "transformers":
        dataset = dataset.map_batches(
            _Generator,
            fn_constructor_kwargs={"model": config.model, "sampling": config.sampling,
                                   "backend_options": dict(config.backend_options)},
            batch_size=1, batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=options.actors),
        )  # fmt: skip
    else:
        from engine.ray_llm import llm_stage

        dataset = llm_stage(dataset, config, options)
    for table in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
        if table.num_rows:
            yield table
