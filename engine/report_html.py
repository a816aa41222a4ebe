"""The HTML of `rlvr report` (engine/report.py makes the numbers and the images).

Every value that comes from the lake goes through :func:`_e` (``html.escape``): run ids, model
names, datasets and completions are text, never markup.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from engine.report import RunData

__all__ = ["TABLE_METRICS", "page"]

# Metrics of the per-dataset table, in order; pass@k/maj@k also at the largest k of the group.
TABLE_METRICS = ("pass@1", "pass@K", "maj@K", "no_answer_rate", "truncation_rate",
                 "format_reward", "length_correct_mean", "length_incorrect_mean")  # fmt: skip

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; } td, th { padding: 3px 9px; border: 1px solid #ddd; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } th { background: #f4f4f4; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; } figure { margin: 0; }
figcaption { font-size: 12px; color: #555; } pre { white-space: pre-wrap; background: #f7f7f7;
  padding: .6em; max-height: 18em; overflow: auto; font-size: 12px; }
.up { color: #1a7f37; } .down { color: #c62828; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float | None, se: float | None = None) -> str:
    if value is None:
        return "–"
    text = f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
    return text + (f" ± {se:.3f}" if se is not None and abs(value) < 100 else "")


def _cells(metrics: pl.DataFrame) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    """(group, table metric) -> (value, se), with pass@K/maj@K at each group's largest k."""
    out = {}
    for group in metrics["group"].unique().sort().to_list():
        rows = metrics.filter(pl.col("group") == group)
        for row in rows.iter_rows(named=True):
            out[(group, row["metric"])] = (row["value"], row["se"])
        for family in ("pass", "maj"):
            fam = rows.filter(pl.col("metric").str.starts_with(family + "@")).sort("k")
            if fam.height:
                last = fam.row(-1, named=True)
                out[(group, f"{family}@K")] = (last["value"], last["se"])
                out[(group, f"{family}@K:k")] = (last["k"], None)
    return out


def _header(run: RunData) -> str:
    info = run.info
    params = info.get("params") or ""
    try:
        sampling = json.loads(params).get("sampling", "") if params else ""
    except (ValueError, AttributeError):
        sampling = ""
    rows = [("run", run.run_id), ("kind", info.get("kind")), ("model", info.get("model")),
            ("backend", info.get("backend")), ("status", info.get("status")),
            ("sampling", json.dumps(sampling) if sampling else "")]  # fmt: skip
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows if v)
    return f"<table>{body}</table>"


def _dataset_table(run: RunData) -> str:
    cells = _cells(run.metrics)
    groups = sorted({g for g, _ in cells})
    head = "".join(f"<th>{_e(m)}</th>" for m in ("dataset", *TABLE_METRICS))
    body = []
    for group in groups:
        tds = []
        for metric in TABLE_METRICS:
            value, se = cells.get((group, metric), (None, None))
            k = cells.get((group, metric + ":k"), (None,))[0]
            label = f" <small>(k={k})</small>" if k else ""
            tds.append(f'<td class="n">{_e(_num(value, se))}{label}</td>')
        body.append(f"<tr><td>{_e(group)}</td>{''.join(tds)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _compare_table(before: RunData, after: RunData) -> str:
    a, b = _cells(before.metrics), _cells(after.metrics)
    groups = sorted({g for g, _ in a} | {g for g, _ in b})
    head = (f"<tr><th>dataset</th><th>metric</th><th>before: {_e(before.run_id)}</th>"
            f"<th>after: {_e(after.run_id)}</th><th>Δ</th></tr>")  # fmt: skip
    body = []
    for group in groups:
        for metric in TABLE_METRICS:
            (va, sa), (vb, sb) = (
                a.get((group, metric), (None, None)),
                b.get((group, metric), (None, None)),
            )
            if va is None and vb is None:
                continue
            if va is None or vb is None:
                delta, cls = "–", ""
            else:
                delta = f"{vb - va:+.3f}"
                cls = " up" if vb > va else " down" if vb < va else ""
            body.append(f"<tr><td>{_e(group)}</td><td>{_e(metric)}</td>"
                        f'<td class="n">{_e(_num(va, sa))}</td><td class="n">{_e(_num(vb, sb))}</td>'
                        f'<td class="n{cls}">{_e(delta)}</td></tr>')  # fmt: skip
    return f"<table>{head}{''.join(body)}</table>"


def _funnels(run: RunData) -> str:
    parts = []
    for lineage in run.funnels:
        rows = "".join(f'<tr><td>{_e(r["step"])}</td><td class="n">{_e(r["kept"])}</td>'
                       f'<td class="n">{_e(r["dropped"])}</td></tr>'
                       for r in lineage.get("funnel", []))  # fmt: skip
        parts.append(f"<h3>dataset {_e(lineage.get('name'))}: {_e(lineage.get('rows'))} rows</h3>"
                     f"<table><tr><th>step</th><th>kept</th><th>dropped</th></tr>{rows}</table>")  # fmt: skip
    return "".join(parts)


def _samples(run: RunData, chars: int = 600) -> str:
    parts = []
    for s in run.samples:
        text = s["completion"] or ""
        more = f" … ({len(text) - chars} more characters)" if len(text) > chars else ""
        parts.append(f"<p>{_e(s['status'])} · {_e(s['dataset'])} · extracted "
                     f"<code>{_e(s['extracted'])}</code></p><pre>{_e(text[:chars])}{_e(more)}</pre>")  # fmt: skip
    return "".join(parts)


def _img(title: str, b64: str) -> str:
    return (f'<figure><img alt="{_e(title)}" src="data:image/png;base64,{b64}">'
            f"<figcaption>{_e(title)}</figcaption></figure>")  # fmt: skip


def page(data: Sequence[RunData], images: dict[str, str]) -> str:
    """The whole page: header, comparison (two runs), plots, per-run tables, funnels, samples."""
    title = "rlvr report · " + " vs ".join(run.run_id for run in data)
    out = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>",
           f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>"]  # fmt: skip
    if len(data) == 2:
        out.append("<h2>before / after</h2>" + _compare_table(*data))
    out.append("<h2>plots</h2><div class='plots'>")
    out += [_img(name, b64) for name, b64 in images.items()]
    out.append("</div>")
    for run in data:
        out.append(f"<h2>run {_e(run.run_id)}</h2>{_header(run)}")
        out.append("<h3>per dataset (value ± standard error)</h3>" + _dataset_table(run))
        if run.funnels:
            out.append("<h3>selection funnels of datasets made from this run</h3>" + _funnels(run))
        if run.samples:
            out.append("<h3>example rollouts (shortest correct and incorrect)</h3>" + _samples(run))
    out.append("<p><small>Definitions: engine/metrics_sql.py (the same numbers as "
               "<code>rlvr eval</code> and the <code>run_metrics</code> view).</small></p>")  # fmt: skip
    out.append("</body></html>")
    return "\n".join(out)
