"""`rlvr evaluate`: one benchmark, one model, one command (issue 12) — what lighteval and
NeMo-Skills offer, over the lake.

Steps, each through the library the other commands use: import the benchmark's prompts through
its ingest preset when the lake does not hold them yet (:func:`engine.ingest.core.import_prompts`);
sample k completions per prompt with the paper's evaluation settings (R1 §3: temperature 0.6,
top-p 0.95, k samples; :func:`engine.generate.run.generate`); judge them
(:func:`engine.verify.verify_rollouts`); compute pass@1 (mean of k) with its standard error, maj@k
and pass@k (:func:`engine.metrics.run_metrics`). Everything lands in the lake, so the numbers are
also ``SELECT * FROM run_metrics WHERE run_id = '…'``.

``backend="recorded"`` evaluates a run whose rollouts are already in the lake (the demo's replayed
Qwen2.5-Math and CodeGen outputs, or anything ``rlvr rollouts import`` brought in): no sampling,
the same verification and metrics.

>>> BENCHMARKS["math500"]
('math500', 'math/math500_test.jsonl')
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from engine.errors import UserError
from engine.lake import Lake

__all__ = [
    "BENCHMARKS",
    "DEFAULT_DATA",
    "PAPER_TEMPERATURE",
    "PAPER_TOP_P",
    "Benchmark",
    "EvalConfig",
    "EvalResult",
    "evaluate",
    "resolve_benchmark",
]

# benchmark name -> (ingest preset, file under the data folder); SOURCES.md says where each is from.
# fmt: off
BENCHMARKS: dict[str, tuple[str, str]] = {
    "math500":       ("math500",       "math/math500_test.jsonl"),
    "aime24":        ("aime24",        "math/aime24_test.jsonl"),
    "amc23":         ("amc23",         "math/amc23_test.jsonl"),
    "gsm8k":         ("gsm8k",         "math/gsm8k_test.jsonl"),
    "minerva":       ("minerva",       "math/minerva_math_test.jsonl"),
    "olympiadbench": ("olympiadbench", "math/olympiadbench_test.jsonl"),
    "humaneval":     ("humaneval",     "code/humaneval_openai.jsonl"),
    "mbpp":          ("mbpp",          "code/mbpp_full_deepseekcoder.jsonl"),
    "livecodebench": ("livecodebench", "code/sandboxfusion_code_eval_live_code_bench_v1.jsonl"),
}
# fmt: on
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PAPER_TEMPERATURE, PAPER_TOP_P = 0.6, 0.95  # R1 §3 "Evaluation Setup"


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    """One evaluation. ``benchmark`` is a name of :data:`BENCHMARKS` or a file path; ``file``
    overrides a named benchmark's file; ``run_id`` names the recorded run (backend recorded)."""

    benchmark: str
    model: str | None = None
    backend: str = "transformers"
    k: int = 64
    limit: int | None = None
    max_tokens: int = 32768
    temperature: float = PAPER_TEMPERATURE
    top_p: float = PAPER_TOP_P
    seed: int = 0
    template: str = "chat"
    file: Path | None = None
    data: Path | None = None
    run_id: str | None = None
    backend_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.k < 1:
            raise UserError(f"-k {self.k}: must be ≥ 1")
        if self.backend == "recorded" and not self.run_id:
            raise UserError(
                "--backend recorded needs --run RUN — the run whose rollouts are in the lake "
                "(`rlvr runs`; bring outputs in with `rlvr rollouts import`)"
            )
        if self.backend not in ("recorded", "openai") and not self.model:
            raise UserError(f"--backend {self.backend} needs --model — e.g. --model models/tiny")


@dataclass(frozen=True)
class Benchmark:
    preset: str | None
    path: Path
    dataset: str


@dataclass(frozen=True)
class EvalResult:
    run_id: str
    dataset: str
    imported: int  # prompts imported by this call (0 when the lake had them)
    metrics: pl.DataFrame  # run_metrics' long frame for the run


def resolve_benchmark(
    name: str, *, file: Path | None = None, data: Path | None = None
) -> Benchmark:
    """The preset, file and dataset of a benchmark name or file; a missing file is a UserError."""
    from engine.ingest.presets import PRESETS, preset_for_file

    data = data or Path(os.environ.get("RLVR_DATA", DEFAULT_DATA))
    if name in BENCHMARKS:
        preset, rel = BENCHMARKS[name]
        path = Path(file) if file else data / rel
        if not path.is_file():
            raise UserError(
                f"benchmark file {path} not found — pass --file PATH (the {name} file, "
                f"e.g. {Path(rel).name}) or --data DIR (the shared/data folder)"
            )
        return Benchmark(preset, path, PRESETS[preset].dataset)
    path = Path(file or name)
    if not path.is_file():
        known = ", ".join(BENCHMARKS)
        raise UserError(
            f"benchmark {name!r}: not a known name nor a file — use one of {known}, or a FILE"
        )
    found = preset_for_file(path.name)
    return Benchmark(found.name if found else None, path, found.dataset if found else path.stem)


def evaluate(
    lake: Lake,
    config: EvalConfig,
    *,
    on_step: Callable[[str], None] | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
) -> EvalResult:
    """Import (if needed), generate (unless recorded), verify and measure; see the module doc."""
    step = on_step or (lambda _: None)
    bench = resolve_benchmark(config.benchmark, file=config.file, data=config.data)
    if config.backend == "recorded":
        _check_run(lake, config.run_id)  # a mistyped run changes nothing in the lake
    imported = _import(lake, bench, step)
    if config.backend == "recorded":
        run_id = _recorded_run(lake, config.run_id, bench.dataset)
    else:
        run_id = _generate(lake, config, bench.dataset, on_progress, step)
    step(f"verifying the rollouts of {run_id}")
    from engine.verify import verify_rollouts

    verify_rollouts(lake, runs=[run_id], progress=True)
    step("metrics")
    from engine.metrics import run_metrics

    metrics = run_metrics(lake, run_id)
    return EvalResult(run_id=run_id, dataset=bench.dataset, imported=imported, metrics=metrics)


def _import(lake: Lake, bench: Benchmark, step: Callable[[str], None]) -> int:
    con = lake.connect()
    (present,) = con.execute(
        "SELECT count(*) FROM prompts WHERE dataset = ?", [bench.dataset]
    ).fetchall()[0]
    if present:
        return 0
    from engine.ingest.core import import_prompts

    step(f"importing {bench.path.name} as dataset {bench.dataset}")
    summary = import_prompts(bench.path, lake=lake, dataset=bench.dataset, preset=bench.preset)
    return summary.prompts


def _check_run(lake: Lake, run_id: str | None) -> None:
    found = (
        lake.connect()
        .execute("SELECT count(*) FROM rollouts WHERE run_id = ?", [run_id])
        .fetchall()[0][0]
    )
    if not found:
        raise UserError(f"no rollouts for run {run_id!r} — list the runs with `rlvr runs`")


def _recorded_run(lake: Lake, run_id: str | None, dataset: str) -> str:
    rows = (
        lake.connect()
        .execute(
            "SELECT p.dataset, count(*) FROM rollouts AS r JOIN prompts AS p USING (prompt_id) "
            "WHERE r.run_id = ? GROUP BY ALL",
            [run_id],
        )
        .fetchall()
    )
    if not rows:
        raise UserError(f"no rollouts for run {run_id!r} — list the runs with `rlvr runs`")
    datasets = {name for name, _ in rows}
    if dataset not in datasets:
        raise UserError(
            f"run {run_id!r} has rollouts of {', '.join(sorted(datasets))}, not of {dataset} — "
            "pass the benchmark those rollouts answer"
        )
    return run_id  # type: ignore[return-value]


def _generate(lake, config: EvalConfig, dataset: str, on_progress, step) -> str:
    from engine.generate import SamplingParams
    from engine.generate.run import GenerateConfig, generate

    sampling = SamplingParams(n=config.k, temperature=config.temperature, top_p=config.top_p,
                              max_tokens=config.max_tokens, seed=config.seed)  # fmt: skip
    gen = GenerateConfig(dataset=dataset, model=config.model, backend=config.backend,
                         sampling=sampling, template=config.template, limit=config.limit,
                         run_id=config.run_id, backend_options=config.backend_options)  # fmt: skip
    step(f"generating {config.k} samples per prompt with {config.model or config.backend}")
    summary = generate(lake, gen, on_progress=on_progress)
    if summary.status != "done" or summary.failed:
        raise UserError(
            f"generation of run {summary.run_id} ended {summary.status} with {summary.failed} "
            f"failed samples — re-run with --run {summary.run_id} to fill them"
        )
    return summary.run_id
