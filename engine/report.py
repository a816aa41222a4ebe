"""`rlvr report`: one self-contained HTML page per run, or two runs side by side (issue 12).

The numbers come from :func:`engine.metrics.run_metrics` (the same definitions as ``rlvr eval``
and the ``run_metrics`` view); the plots are matplotlib figures (Agg backend, no display)
embedded as base64 PNG, so the page is one file that opens anywhere without a network. Every
text that comes from the lake (model names, datasets, completions) is HTML-escaped: a completion
is model output and may hold ``<script>``.

>>> write_report(Lake.open("lake"), ["RUN"], Path("out/report"))  # doctest: +SKIP
PosixPath('out/report/index.html')
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from engine.errors import UserError
from engine.lake import Lake
from engine.report_html import page
from engine.schema import to_polars

__all__ = [
    "COLORS",
    "RunData",
    "check_args",
    "collect",
    "plot_funnel",
    "plot_lengths",
    "plot_maj_vs_pass1",
    "plot_pass_at_k",
    "plot_rates",
    "plot_steps",
    "render",
    "write_report",
]

COLORS = ("#1f77b4", "#d62728")  # run 1 (before), run 2 (after)


@dataclass
class RunData:
    """What the page shows of one run."""

    run_id: str
    info: dict[str, Any]
    metrics: pl.DataFrame  # run_metrics' long frame
    lengths: pl.DataFrame  # correct, length (tokens, or characters when no token counts)
    length_unit: str
    steps: pl.DataFrame  # step, accuracy, mean_length (empty unless a training run)
    funnels: list[dict[str, Any]] = field(default_factory=list)  # lineage of derived datasets
    samples: list[dict[str, Any]] = field(default_factory=list)


def write_report(
    lake: Lake, runs: Sequence[str], out: Path, *, on_step: Callable[[str], None] | None = None
) -> Path:
    """Write ``out/index.html`` for one or two runs; ``out`` must not exist (nothing half-written:
    the page is built in a temporary folder that is renamed into place at the end)."""
    out = Path(out)
    check_args(lake, runs, out)
    step = on_step or (lambda _: None)
    data = []
    for run in runs:
        step(f"metrics of {run}")
        data.append(collect(lake, run))
    step("plots")
    page = render(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; a report is for reading
        (tmp / "index.html").write_text(page, encoding="utf-8")
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / "index.html"


def check_args(lake: Lake, runs: Sequence[str], out: Path) -> None:
    """The user mistakes, found before any work: run count, unknown runs, an existing ``out``."""
    if not 1 <= len(runs) <= 2:
        raise UserError(f"{len(runs)} runs given — pass one --run, or two to compare")
    if Path(out).exists():
        raise UserError(f"{out} exists — pick a new -o folder or remove it")
    found = {row[0] for row in lake.connect().execute(
        "SELECT DISTINCT run_id FROM rollouts WHERE run_id IN (SELECT unnest(?))", [list(runs)]
    ).fetchall()}  # fmt: skip
    for run in runs:
        if run not in found:
            raise UserError(f"no rollouts for run {run!r} — list the runs with `rlvr runs`")


def collect(lake: Lake, run: str) -> RunData:
    """Metrics, lengths, training steps, derived datasets and example rollouts of ``run``."""
    from engine.curate import datasets_from
    from engine.metrics import run_metrics

    metrics = run_metrics(lake, run)  # raises UserError for a run without rollouts
    con = lake.connect()
    info = con.execute(
        "SELECT kind, model, backend, status, params FROM runs WHERE run_id = ?", [run]
    ).fetchall()
    keys = ("kind", "model", "backend", "status", "params")
    lengths, unit = _lengths(con, run)
    steps = _frame(con, _STEPS_SQL, run)
    samples = _frame(con, _SAMPLES_SQL, run).to_dicts()
    return RunData(
        run_id=run, info=dict(zip(keys, info[0], strict=True)) if info else {}, metrics=metrics,
        lengths=lengths, length_unit=unit, steps=steps, funnels=datasets_from(lake, run),
        samples=samples,
    )  # fmt: skip


_LENGTHS_SQL = """
    SELECT f.correct, {expr} AS length FROM rollout_facts AS f
    JOIN rollouts AS r USING (rollout_id) WHERE f.run_id = ? AND f.judged"""
# Training runs log their completions with the optimizer step (DESIGN.md § Training).
_STEPS_SQL = """
    SELECT r.step, avg(f.correct::INT) FILTER (WHERE f.judged) AS accuracy,
           avg(f.tokens) AS mean_length, count(*) AS rollouts
    FROM rollout_facts AS f JOIN rollouts AS r USING (rollout_id)
    WHERE f.run_id = ? AND r.step IS NOT NULL GROUP BY r.step ORDER BY r.step"""
# One correct and one incorrect example: the shortest of each, for a look at the text.
_SAMPLES_SQL = """
    SELECT * FROM (
        SELECT p.dataset, f.status, f.extracted, r.completion,
               row_number() OVER (PARTITION BY f.correct ORDER BY length(r.completion),
                                  r.rollout_id) AS i
        FROM rollout_facts AS f JOIN rollouts AS r USING (rollout_id)
        JOIN prompts AS p ON p.prompt_id = f.prompt_id WHERE f.run_id = ? AND f.judged)
    WHERE i = 1 ORDER BY status"""


def _frame(con, sql: str, run: str) -> pl.DataFrame:
    return to_polars(con.sql(sql, params=[run]).to_arrow_table())


def _lengths(con, run: str) -> tuple[pl.DataFrame, str]:
    frame = _frame(con, _LENGTHS_SQL.format(expr="f.tokens"), run)
    if frame.height and frame["length"].null_count() < frame.height:
        return frame.drop_nulls("length"), "tokens"
    # Recorded outputs often carry no token counts: characters, labelled as such.
    return _frame(con, _LENGTHS_SQL.format(expr="length(r.completion)"), run), "characters"


# -- plots ------------------------------------------------------------------------------------
def _figure():
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=90)
    return plt, fig, ax


def _png(plt, fig) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _series(frame: pl.DataFrame, family: str) -> dict[str, tuple[list[int], list[float]]]:
    """Per group, (k, value) of ``pass@k`` or ``maj@k``."""
    rows = frame.filter(pl.col("metric").str.starts_with(family + "@")).sort("group", "k")
    out: dict[str, tuple[list[int], list[float]]] = {}
    for row in rows.iter_rows(named=True):
        ks, values = out.setdefault(row["group"], ([], []))
        ks.append(row["k"])
        values.append(row["value"])
    return out


def plot_pass_at_k(data: Sequence[RunData]) -> str:
    plt, fig, ax = _figure()
    for color, run in zip(COLORS, data, strict=False):
        for group, (ks, values) in _series(run.metrics, "pass").items():
            ax.plot(ks, values, marker="o", color=color, label=f"{_short(run.run_id)} · {group}")
    _k_axis(ax, "pass@k (unbiased)")
    ax.set_title("pass@k as k grows")
    return _png(plt, fig)


def plot_maj_vs_pass1(data: Sequence[RunData]) -> str:
    plt, fig, ax = _figure()
    for color, run in zip(COLORS, data, strict=False):
        pass1 = {g: v[1][0] for g, v in _series(run.metrics, "pass").items()}
        for group, (ks, values) in _series(run.metrics, "maj").items():
            ax.plot(
                ks, values, marker="s", color=color, label=f"{_short(run.run_id)} · {group} maj@k"
            )
            ax.axhline(pass1.get(group, 0.0), color=color, linestyle="--", linewidth=1)
    _k_axis(ax, "maj@k (dashed: pass@1)")
    ax.set_title("majority vote against pass@1")
    return _png(plt, fig)


def _k_axis(ax, ylabel: str) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k")
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def plot_lengths(run: RunData) -> str:
    plt, fig, ax = _figure()
    frame = run.lengths
    values = frame["length"].to_list()
    bins = 30 if values else 1
    for correct, color, label in ((True, "#2ca02c", "correct"), (False, "#d62728", "incorrect")):
        part = frame.filter(pl.col("correct") == correct)["length"].to_list()
        if part:
            ax.hist(part, bins=bins, range=(min(values), max(values) + 1), alpha=0.6,
                    color=color, label=f"{label} ({len(part)})")  # fmt: skip
    ax.set_xlabel(f"completion length ({run.length_unit})")
    ax.set_ylabel("rollouts")
    ax.set_title(f"lengths by correctness · {_short(run.run_id)}")
    if values:
        ax.legend(fontsize=8)
    return _png(plt, fig)


def plot_rates(data: Sequence[RunData]) -> str:
    plt, fig, ax = _figure()
    names = ("truncation_rate", "no_answer_rate")
    frames = [run.metrics.filter(pl.col("metric").is_in(names)) for run in data]
    keys = sorted({(r["group"], r["metric"]) for f in frames for r in f.iter_rows(named=True)})
    width = 0.8 / len(data)
    top = 0.05
    for i, (color, run, frame) in enumerate(zip(COLORS, data, frames, strict=False)):
        cells = {(r["group"], r["metric"]): r for r in frame.iter_rows(named=True)}
        values = [(cells.get(key) or {}).get("value") or 0.0 for key in keys]
        errors = [(cells.get(key) or {}).get("se") or 0.0 for key in keys]
        ax.bar([x + i * width for x in range(len(keys))], values, width=width, color=color,
               yerr=errors, label=_short(run.run_id))  # fmt: skip
        top = max([top, *(v + e for v, e in zip(values, errors, strict=True))])
    labels = [f"{group}\n{metric.replace('_rate', '')}" for group, metric in keys]
    ax.set_xticks([x + width * (len(data) - 1) / 2 for x in range(len(keys))], labels, fontsize=7)
    ax.set_ylim(0, min(1.0, top * 1.15))
    ax.set_ylabel("share (± SE)")
    ax.set_title("truncation and no-answer rates")
    ax.legend(fontsize=8)
    return _png(plt, fig)


def plot_steps(run: RunData) -> str:
    plt, fig, ax = _figure()
    steps = run.steps["step"].to_list()
    ax.plot(steps, run.steps["accuracy"].to_list(), marker="o", color=COLORS[0])
    ax.set_xlabel("training step")
    ax.set_ylabel("accuracy", color=COLORS[0])
    ax.set_ylim(-0.02, 1.02)
    twin = ax.twinx()
    twin.plot(steps, run.steps["mean_length"].to_list(), marker="s", color=COLORS[1])
    twin.set_ylabel("mean length (tokens)", color=COLORS[1])
    ax.set_title(f"accuracy and length over steps · {_short(run.run_id)}")
    return _png(plt, fig)


def plot_funnel(lineage: dict[str, Any]) -> str:
    plt, fig, ax = _figure()
    funnel = lineage.get("funnel", [])
    names = [row["step"] for row in funnel][::-1]
    ax.barh(names, [row["kept"] for row in funnel][::-1], color="#2ca02c", label="kept")
    ax.barh(names, [row["dropped"] for row in funnel][::-1],
            left=[row["kept"] for row in funnel][::-1], color="#bbbbbb", label="dropped")  # fmt: skip
    ax.set_xlabel("rows")
    ax.set_title(f"selection funnel · dataset {lineage.get('name', '?')}")
    ax.legend(fontsize=8)
    return _png(plt, fig)


def _short(run_id: str) -> str:
    return run_id if len(run_id) <= 32 else run_id[:14] + "…" + run_id[-14:]


# -- page -------------------------------------------------------------------------------------
def render(data: Sequence[RunData]) -> str:
    """The HTML page of one or two runs (a str; every lake text escaped)."""
    images = {
        "pass@k": plot_pass_at_k(data),
        "maj@k vs pass@1": plot_maj_vs_pass1(data),
        "truncation and no-answer": plot_rates(data),
    }
    for run in data:
        images[f"lengths · {run.run_id}"] = plot_lengths(run)
        if run.steps.height:
            images[f"training steps · {run.run_id}"] = plot_steps(run)
        for lineage in run.funnels:
            images[f"funnel · {lineage.get('name')}"] = plot_funnel(lineage)
    return page(data, images)
