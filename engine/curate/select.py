"""`rlvr select`: rejection sampling and filtering of rollouts into a lake dataset (issue 12).

The candidates (one row per rollout of the source runs, or per prompt for an RL prompt set) stream
out of DuckDB in a fixed order — prompt, correct first, fewest tokens first, rollout id — and
every batch goes through the recipe's steps in turn. Each step counts what it kept and dropped
(the funnel); stateful steps (duplicates, at most m per prompt) see rows in that order, so the
shortest correct rollout is the one kept, and re-running gives the same rows in the same order.

A batch is handled in two stages so that the text work uses both cores of a small machine
(engine.curate.passes): ``compute`` (on ``THREADS`` batches at once) runs each row-local step on
the rows that passed the row-local steps before it and computes each stateful step's per-row
features (normalized-text hashes, MinHash signatures and band keys); ``decide`` then applies the
steps in order, the stateful ones remembering what they kept. Rows, order and funnel equal
applying each step's ``keep`` in turn (tests/engine/curate/test_select_equivalence.py). Rollouts
are sorted without their texts, which stream in the lake's order and are computed there
(``passes.select_rollouts``); prompt sets, one small row per prompt, come sorted whole. On a
synthetic lake of 1M rollouts of ~450 words (benchmarks/helpers/select_lake.py) the funnel's
``seconds`` say where the CPU time goes (benchmarks/helpers/select_time.py).

The dataset lands atomically in the lake::

    lake/datasets/<name>/data.parquet    the selected rows
    lake/datasets/<name>/lineage.json    source runs, models, sampling, recipe text and
                                         parameters, funnel, row count, rlvr version, select run
    lake/datasets/<name>/recipe.yaml     the recipe as written

It is written under ``lake/datasets/.tmp-<name>-<uuid>/`` and renamed into place, so a killed
selection leaves no half dataset; the run is recorded in ``runs`` with kind ``select``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from engine import ids
from engine.curate.passes import _computed, decide, select_rollouts
from engine.curate.recipe import Recipe
from engine.curate.steps import Context, Decontaminate, Step
from engine.errors import UserError
from engine.lake import Lake

__all__ = [
    "BATCH_ROWS",
    "DATASETS",
    "MEMORY_LIMIT",
    "THREADS",
    "FunnelRow",
    "Selection",
    "candidates_sql",
    "dataset_path",
    "datasets_from",
    "read_lineage",
    "rollout_queries",
    "select",
    "text_condition",
]

DATASETS = "datasets"
BATCH_ROWS = 8192
THREADS = 2  # batches computed at a time (engine.curate.select.compute)
MEMORY_LIMIT = "2GB"  # DuckDB's share; the batches in flight and the dedup state come on top
_NEEDS_VERDICTS = ("correct", "pass_rate")


@dataclass(frozen=True, kw_only=True)
class FunnelRow:
    step: str
    kept: int
    dropped: int
    seconds: float = 0.0  # CPU seconds spent in the step (its thread's, summed over batches)


@dataclass(frozen=True, kw_only=True)
class Selection:
    name: str
    path: Path
    rows: int
    input_rows: int
    funnel: tuple[FunnelRow, ...]
    run_id: str
    lineage: dict[str, Any]


def dataset_path(lake: Lake, name: str) -> Path:
    if not ids.RUN_ID_PATTERN.fullmatch(name or ""):
        raise UserError(f"dataset name {name!r} — use letters, digits, '.', '_' or '-'")
    return lake.root / DATASETS / name


def read_lineage(lake: Lake, name: str) -> dict[str, Any]:
    path = dataset_path(lake, name) / "lineage.json"
    if not path.is_file():
        raise UserError(f"no dataset {name!r} in the lake — make one with `rlvr select`")
    return json.loads(path.read_text(encoding="utf-8"))


def datasets_from(lake: Lake, run_id: str | None = None) -> list[dict[str, Any]]:
    """The lineage of every dataset in the lake (those selected from ``run_id`` when given),
    by name: what a report shows as the selection funnel of a run."""
    found = []
    for path in sorted((lake.root / DATASETS).glob("*/lineage.json")):
        lineage = json.loads(path.read_text(encoding="utf-8"))
        sources = [source["run_id"] for source in lineage.get("source_runs", [])]
        if run_id is None or run_id in sources:
            found.append(lineage)
    return found


def select(
    lake: Lake,
    runs: Sequence[str],
    recipe: Recipe,
    name: str,
    *,
    replace: bool = False,
    progress: bool = False,
) -> Selection:
    """Apply ``recipe`` to the rollouts of ``runs`` and write the dataset ``name``."""
    final = dataset_path(lake, name)
    if final.exists() and not replace:
        raise UserError(f"dataset {name!r} exists — pick another --name, or pass --replace")
    con = _connect(lake)
    _check_sources(con, list(runs), recipe)
    steps = recipe.fresh_steps()
    context = Context(benchmark_texts=_benchmarks(con, steps), unit=recipe.unit)
    for step in steps:
        step.prepare(context)
    params = {"dataset": name, "source_runs": list(runs), "recipe": recipe.name,
              "steps": recipe.step_params()}  # fmt: skip
    with lake.run("select", params=params) as run_id, lake.lock(f"dataset-{name}"):
        temp = lake.root / DATASETS / f".tmp-{name}-{uuid.uuid4().hex}"
        temp.mkdir(parents=True)
        try:
            counts, rows, digest = _stream(con, list(runs), recipe, steps, temp, progress)
            lineage = _lineage(con, list(runs), recipe, name, run_id, counts, rows, digest)
            lineage["benchmarks_found"] = sorted(context.benchmark_texts)
            (temp / "lineage.json").write_text(json.dumps(lineage, indent=2) + "\n")
            (temp / "recipe.yaml").write_text(recipe.text, encoding="utf-8")
            _move_into_place(temp, final)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
    funnel = tuple(FunnelRow(**row) for row in lineage["funnel"])
    return Selection(name=name, path=final, rows=rows, input_rows=lineage["input_rows"],
                     funnel=funnel, run_id=run_id, lineage=lineage)  # fmt: skip


def _connect(lake: Lake) -> duckdb.DuckDBPyConnection:
    """The lake's views, with the sort of the candidates held to ``MEMORY_LIMIT``: beyond it
    DuckDB spills to the lake's own scratch folder (never ``./.tmp`` in the user's cwd)."""
    con = lake.connect()
    scratch = lake.root / ".rlvr" / "duckdb-tmp"
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET temp_directory = '" + str(scratch).replace("'", "''") + "'")
    con.execute("SET preserve_insertion_order = true")
    return con


def _check_sources(con: duckdb.DuckDBPyConnection, runs: list[str], recipe: Recipe) -> None:
    if not runs:
        raise UserError("no run given — pass --run RUN[,RUN…] (list the runs with `rlvr runs`)")
    found = dict(
        con.execute(
            "SELECT run_id, count(*) FROM rollouts WHERE run_id IN (SELECT unnest(?)) GROUP BY 1",
            [runs],
        ).fetchall()
    )
    for run in runs:
        if run not in found:
            raise UserError(f"no rollouts for run {run!r} — list the runs with `rlvr runs`")
    if any(step.name in _NEEDS_VERDICTS for step in recipe.steps):
        judged = con.execute(
            f"SELECT run_id, count(*) FILTER (WHERE judged) FROM ({_narrow_base_sql(len(runs))}) "
            "GROUP BY 1",
            runs + runs,
        ).fetchall()
        for run, count in judged:
            if not count:
                raise UserError(
                    f"run {run!r} has no verdicts — judge it first: rlvr verify --run {run}"
                )


def _base_sql(n_runs: int) -> str:
    marks = ", ".join("?" for _ in range(n_runs))
    return rf"""
        SELECT r.rollout_id, r.run_id, r.prompt_id, r.sample_idx, r.model, p.dataset, p.task,
               p.split, p.problem, p.answer, p.tests, p.meta,
               r.completion, r.reasoning, r.answer_text, r.completion_tokens,
               coalesce(r.completion_tokens,
                        len(string_split_regex(trim(r.completion), '\s+'))) AS tokens,
               r.finish_reason, r.temperature, r.top_p,
               a.status, a.extracted, coalesce(a.reward IS NOT NULL, false) AS judged,
               coalesce(a.status = 'correct', false) AS correct, f.reward AS format_reward
        FROM rollouts AS r JOIN prompts AS p USING (prompt_id)
        LEFT JOIN verdicts AS a ON a.rollout_id = r.rollout_id AND a.verifier = p.task
        LEFT JOIN verdicts AS f ON f.rollout_id = r.rollout_id AND f.verifier = 'format'
        WHERE r.run_id IN ({marks})"""


def _narrow_base_sql(n_runs: int) -> str:
    """:func:`_base_sql` without the texts (parameters: the runs, twice): a rollout's word count
    stands in for its token count only where that is unknown, so only those completions are read."""
    marks = ", ".join("?" for _ in range(n_runs))
    return rf"""
        SELECT r.rollout_id, r.run_id, r.prompt_id, r.sample_idx, r.model, p.dataset, p.task,
               p.split, p.answer, r.completion_tokens,
               coalesce(r.completion_tokens, w.words) AS tokens,
               r.finish_reason, r.temperature, r.top_p,
               a.status, a.extracted, coalesce(a.reward IS NOT NULL, false) AS judged,
               coalesce(a.status = 'correct', false) AS correct, f.reward AS format_reward
        FROM rollouts AS r JOIN prompts AS p USING (prompt_id)
        LEFT JOIN (SELECT rollout_id, len(string_split_regex(trim(completion), '\s+')) AS words
                   FROM rollouts WHERE completion_tokens IS NULL AND run_id IN ({marks})) AS w
               ON w.rollout_id = r.rollout_id
        LEFT JOIN verdicts AS a ON a.rollout_id = r.rollout_id AND a.verifier = p.task
        LEFT JOIN verdicts AS f ON f.rollout_id = r.rollout_id AND f.verifier = 'format'
        WHERE r.run_id IN ({marks})"""


def rollout_queries(runs: list[str], text_if: str | None) -> dict[str, tuple[str, list[Any]]]:
    """What :func:`engine.curate.passes.select_rollouts` reads: the candidates of
    :func:`candidates_sql` in its order without their texts, plus ``_text`` (``text_if``),
    their prompts' texts, and every candidate's texts in the lake's order."""
    marks = ", ".join("?" for _ in runs)
    narrow = f"""WITH base AS ({_narrow_base_sql(len(runs))}), {_RATES}
        SELECT base.* EXCLUDE (judged), n, c, c / nullif(n, 0) AS pass_rate,
               coalesce({text_if or "true"}, false) AS _text
        FROM base JOIN rates USING (prompt_id)
        ORDER BY prompt_id, correct DESC, tokens ASC NULLS LAST, rollout_id"""
    prompts = f"""SELECT prompt_id, problem, tests, meta FROM prompts WHERE prompt_id IN
        (SELECT prompt_id FROM rollouts WHERE run_id IN ({marks}))"""
    texts = f"""SELECT rollout_id, completion, reasoning, answer_text FROM rollouts
        WHERE run_id IN ({marks})"""
    return {"narrow": (narrow, runs + runs), "prompts": (prompts, runs), "texts": (texts, runs)}


_RATES = """rates AS (SELECT prompt_id, count(*) FILTER (WHERE judged) AS n,
                     count(*) FILTER (WHERE correct) AS c FROM base GROUP BY prompt_id)"""


def candidates_sql(n_runs: int, unit: str, text_if: str | None = None) -> str:
    """The ordered candidate rows; pass rates are over the judged rollouts of all source runs.

    With ``text_if`` (rollouts), a row's long texts are NULL unless it holds: the sort and
    the batches then carry the text of the rows the leading steps let through, not all of it
    (a million rollouts of ~450 words are ~5 GB of text, most of it dropped by ``correct``)."""
    base = _base_sql(n_runs)
    rates = _RATES
    if unit == "prompts":
        return f"""WITH base AS ({base}), {rates}
            SELECT prompt_id, any_value(dataset) AS dataset, any_value(task) AS task,
                   any_value(split) AS split, any_value(problem) AS problem,
                   any_value(answer) AS answer, any_value(tests) AS tests,
                   any_value(meta) AS meta, any_value(n) AS n, any_value(c) AS c,
                   any_value(c) / nullif(any_value(n), 0) AS pass_rate
            FROM base JOIN rates USING (prompt_id) GROUP BY prompt_id ORDER BY prompt_id"""
    texts = ""
    if text_if:
        texts = (
            "REPLACE ("
            + ", ".join(
                f"CASE WHEN {text_if} THEN {column} END AS {column}" for column in _LONG_TEXTS
            )
            + ")"
        )
    return f"""WITH base AS ({base}), {rates}
        SELECT base.* EXCLUDE (judged) {texts}, n, c, c / nullif(n, 0) AS pass_rate
        FROM base JOIN rates USING (prompt_id)
        ORDER BY prompt_id, correct DESC, tokens ASC NULLS LAST, rollout_id"""


_LONG_TEXTS = ("completion", "reasoning", "answer_text")


def text_condition(steps: tuple[Step, ...]) -> str | None:
    """The leading steps' SQL supersets, joined: a row failing it is dropped by one of them
    whatever its text, so its text need not be read (``candidates_sql(text_if=...)``)."""
    leading = []
    for step in steps:
        condition = step.sql_superset()
        if condition is None:
            break
        leading.append(f"({condition})")
    return " AND ".join(leading) or None


def _batches(
    con: duckdb.DuckDBPyConnection, runs: list[str], unit: str, steps: tuple[Step, ...]
) -> Iterator[pa.RecordBatch]:
    text_if = text_condition(steps) if unit == "rollouts" else None
    relation = con.sql(candidates_sql(len(runs), unit, text_if), params=runs)
    _check_fields(steps, relation.columns)  # before any step sees a batch
    yield from relation.to_arrow_reader(BATCH_ROWS)


def _stream(
    con: duckdb.DuckDBPyConnection,
    runs: list[str],
    recipe: Recipe,
    steps: tuple[Step, ...],
    folder: Path,
    progress: bool,
) -> tuple[list[dict[str, Any]], int, str]:
    if recipe.unit == "rollouts":
        return _stream_rollouts(con, runs, steps, folder, progress, recipe.name)
    return _stream_sorted(con, runs, recipe, steps, folder, progress)


def _stream_sorted(
    con: duckdb.DuckDBPyConnection,
    runs: list[str],
    recipe: Recipe,
    steps: tuple[Step, ...],
    folder: Path,
    progress: bool,
) -> tuple[list[dict[str, Any]], int, str]:
    """The candidates, texts and all, in one sorted query, batch after batch: prompt sets
    (one row per prompt), and the reference the rollouts' path is tested against."""
    counts = [{"step": step.name, "kept": 0, "dropped": 0, "seconds": 0.0} for step in steps]
    total = rows = 0
    digest = hashlib.sha256()
    writer: pq.ParquetWriter | None = None
    key = "rollout_id" if recipe.unit == "rollouts" else "prompt_id"
    batches = _batches(con, runs, recipe.unit, steps)
    with _progress(progress, recipe.name) as advance:
        for batch, computed in _computed(steps, batches, THREADS):
            if writer is None:
                writer = pq.ParquetWriter(folder / "data.parquet", batch.schema, compression="zstd")
            total += batch.num_rows
            kept = batch.take(pa.array(decide(steps, computed, batch.num_rows, counts), pa.int64()))
            if kept.num_rows:
                writer.write_table(pa.Table.from_batches([kept]))
                for value in kept.column(key).to_pylist():
                    digest.update(value.encode() + b"\n")
                rows += kept.num_rows
            advance(batch.num_rows)
    if writer is None:  # no candidate rows at all: an empty file with the right columns
        schema = con.sql(candidates_sql(len(runs), recipe.unit), params=runs).limit(0)
        writer = pq.ParquetWriter(folder / "data.parquet", schema.to_arrow_table().schema)
    writer.close()
    counts.insert(0, {"step": "input", "kept": total, "dropped": 0, "seconds": 0.0})
    return counts, rows, digest.hexdigest()


def _stream_rollouts(
    con: duckdb.DuckDBPyConnection,
    runs: list[str],
    steps: tuple[Step, ...],
    folder: Path,
    progress: bool,
    label: str,
) -> tuple[list[dict[str, Any]], int, str]:
    """:func:`_stream` for rollouts, through :func:`engine.curate.passes.select_rollouts`
    (texts are never sorted)."""
    columns = con.sql(candidates_sql(len(runs), "rollouts"), params=runs).columns  # not run
    _check_fields(steps, columns)  # before any step sees a batch
    digest = hashlib.sha256()
    out: dict[str, Any] = {"rows": 0, "writer": None}

    def write(batch: pa.RecordBatch) -> None:
        if out["writer"] is None:
            out["writer"] = pq.ParquetWriter(
                folder / "data.parquet", batch.schema, compression="zstd"
            )
        out["writer"].write_batch(batch)
        for value in batch.column("rollout_id").to_pylist():
            digest.update(value.encode() + b"\n")
        out["rows"] += batch.num_rows

    queries = rollout_queries(runs, text_condition(steps))
    with _progress(progress, label) as advance:
        counts, total = select_rollouts(con, queries, steps, write, threads=THREADS,
                                 batch_rows=BATCH_ROWS, columns=columns, advance=advance,
                                 spill=folder / ".texts.arrow")  # fmt: skip
    out["writer"].close()
    counts.insert(0, {"step": "input", "kept": total, "dropped": 0, "seconds": 0.0})
    return counts, out["rows"], digest.hexdigest()


def _check_fields(steps: tuple[Step, ...], columns: list[str]) -> None:
    for step in steps:
        column = getattr(step, "field", None)
        if isinstance(column, str) and column != "both" and column not in columns:
            raise UserError(
                f"step {step.name!r}: field {column!r} is not a column here — "
                f"use one of {', '.join(c for c in columns if c in _TEXT_FIELDS)}"
            )


_TEXT_FIELDS = ("problem", "completion", "reasoning", "answer_text")


def _benchmarks(con: duckdb.DuckDBPyConnection, steps: tuple[Step, ...]) -> dict[str, list[str]]:
    names = sorted({b for s in steps if isinstance(s, Decontaminate) for b in s.benchmarks})
    if not names:
        return {}
    texts: dict[str, list[str]] = {}
    for dataset, problem in con.execute(
        "SELECT dataset, problem FROM prompts WHERE dataset IN (SELECT unnest(?)) "
        "ORDER BY dataset, prompt_id",
        [names],
    ).fetchall():
        texts.setdefault(dataset, []).append(problem)
    return texts


def _lineage(
    con: duckdb.DuckDBPyConnection,
    runs: list[str],
    recipe: Recipe,
    name: str,
    run_id: str,
    funnel: list[dict[str, Any]],
    rows: int,
    digest: str,
) -> dict[str, Any]:
    source = con.execute(
        "SELECT run_id, kind, model, backend, params FROM runs WHERE run_id IN (SELECT unnest(?)) "
        "ORDER BY run_id",
        [runs],
    ).fetchall()
    sampling = con.execute(
        "SELECT DISTINCT model, temperature, top_p FROM rollouts "
        "WHERE run_id IN (SELECT unnest(?)) ORDER BY ALL",
        [runs],
    ).fetchall()
    return {
        "name": name,
        "kind": "select",
        "unit": recipe.unit,
        "select_run_id": run_id,
        "source_runs": [
            {
                "run_id": r[0],
                "kind": r[1],
                "model": r[2],
                "backend": r[3],
                "params": _json(r[4]),
            }
            for r in source
        ],
        "models": sorted({m for m, _, _ in sampling if m}),
        "sampling": [{"model": m, "temperature": t, "top_p": p} for m, t, p in sampling],
        "recipe": {
            "name": recipe.name,
            "description": recipe.description,
            "steps": recipe.step_params(),
            "text": recipe.text,
        },
        "funnel": [{**f, "seconds": round(f["seconds"], 3)} for f in funnel],
        "input_rows": funnel[0]["kept"],
        "rows": rows,
        "ids_sha256": digest,  # sha256 of the selected ids, in order: equal ⇔ same selection
        "rlvr_version": _rlvr_version(),
        "created_at": datetime.now(UTC).isoformat(),
    }


def _rlvr_version() -> str:
    try:
        return version("rlvr")
    except PackageNotFoundError:
        return "unknown"


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def _move_into_place(temp: Path, final: Path) -> None:
    """Rename the finished dataset into place; an old one is moved aside first, then removed."""
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{uuid.uuid4().hex}")
        final.rename(old)
    temp.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class _progress:
    """A rich progress bar over candidate rows when asked, else nothing."""

    def __init__(self, enabled: bool, label: str) -> None:
        self.enabled, self.label, self.bar = enabled, label, None

    def __enter__(self):
        if not self.enabled:
            return lambda rows: None
        from engine.progress import Progress  # rich at a terminal, plain lines elsewhere

        self.bar = Progress(transient=True)
        self.bar.start()
        task = self.bar.add_task(f"select ({self.label})", total=None)
        return lambda rows: self.bar.advance(task, rows)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
