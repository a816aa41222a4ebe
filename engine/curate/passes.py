"""How `rlvr select` runs a recipe's steps over batches (engine.curate.select drives it).

:func:`compute` does everything about one batch that does not depend on other batches (each
row-local step's mask, each stateful step's features: the costly text work), so batches can be
computed on threads; :func:`decide` then applies the steps in the selection's order, the
stateful ones remembering what they kept. The two equal applying each step's ``keep`` in turn
(tests/engine/curate/test_select_equivalence.py).

For rollouts, the texts never go through a sort (:func:`select_rollouts`): the candidate rows
without their texts are sorted in DuckDB (a few hundred bytes a row), the texts then stream in
the lake's file order and :func:`compute` runs on them there, each row's results filed under its
place in the sorted order; :func:`decide` runs in that order over the filed results. The texts
of the rows every row-local step passes (only those can be kept) are saved to an Arrow file in
the dataset's temporary folder as they stream by, and those of the kept rows are read back from
it and written in order: the lake's texts are read once. Sorting the texts (~5.7 KB a rollout of
~450 words) made DuckDB spill gigabytes at 1M rollouts.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc

from engine.curate.steps import Shared, Step

__all__ = [
    "PROMPT_TEXTS",
    "TEXTS",
    "TEXT_BATCH_ROWS",
    "Computed",
    "compute",
    "decide",
    "select_rollouts",
]

# What one step computed over a batch: the batch positions it saw, and its keep mask there
# (row-local steps) or its features there (stateful steps).
Computed = list[tuple[np.ndarray, Any, float]]

TEXTS = ("completion", "reasoning", "answer_text")  # per rollout, long
PROMPT_TEXTS = ("problem", "tests", "meta")  # per prompt: fetched once, not once per rollout
TEXT_BATCH_ROWS = 8192  # rows of texts computed at a time


def compute(steps: tuple[Step, ...], batch: pa.RecordBatch) -> Computed:
    """Everything about ``batch`` that does not depend on other batches: each row-local step's
    mask over the rows that passed the row-local steps before it, and each stateful step's
    features over the same rows (a superset of those its ``decide`` will see). The costly text
    work is all here, so batches can be computed in parallel; :func:`decide` then applies the
    steps in order. The two together equal applying each step's ``keep`` in turn."""
    frame = pl.from_arrow(pa.Table.from_batches([batch]))
    assert isinstance(frame, pl.DataFrame)
    shared = Shared(np.arange(batch.num_rows))
    out: Computed = []
    for step in steps:
        start = time.thread_time()
        if frame.height == 0:
            out.append((shared.rows, None, 0.0))
        elif step.stateful:
            out.append((shared.rows, step.features(frame, shared), time.thread_time() - start))
        else:
            mask = step.keep(frame, shared).to_numpy()
            out.append((shared.rows, mask, time.thread_time() - start))
            frame = frame.filter(mask)
            shared.rows = shared.rows[mask]
    return out


def decide(
    steps: tuple[Step, ...], computed: Computed, n_rows: int, counts: list[dict]
) -> np.ndarray:
    """Apply the steps in order to a batch of ``n_rows`` from what :func:`compute` found,
    counting each step's kept and dropped rows; the positions of the rows kept."""
    alive = np.arange(n_rows)
    for step, (seen, payload, cpu_s), count in zip(steps, computed, counts, strict=True):
        if len(alive) == 0:
            break
        start = time.thread_time()
        at = np.searchsorted(seen, alive)  # the stateful steps before only dropped rows
        mask = step.decide(step.take(payload, at)) if step.stateful else payload[at]
        count["seconds"] += cpu_s + time.thread_time() - start
        kept = int(mask.sum())
        count["kept"] += kept
        count["dropped"] += len(alive) - kept
        alive = alive[mask]
    return alive


def _computed(
    steps: tuple[Step, ...],
    batches: Iterator[Any],
    threads: int,
    work: Callable[[Any], tuple[Any, Computed]] | None = None,
) -> Iterator[tuple[Any, Computed]]:
    """``(batch, compute(steps, batch))`` in order, ``threads`` batches computed at a time
    (polars and numpy release the GIL, so two threads use both cores of a small machine).
    ``work`` replaces that pair's making when given (item -> ``(result, computed)``)."""

    def pair(batch: Any) -> tuple[Any, Computed]:
        return batch, compute(steps, batch)

    make = work or pair
    if threads <= 1:
        for batch in batches:
            yield make(batch)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="select") as pool:
        in_flight: deque[Future[tuple[Any, Computed]]] = deque()
        for batch in batches:
            if len(in_flight) > threads:  # bounded: a few batches in memory at a time
                yield in_flight.popleft().result()
            in_flight.append(pool.submit(make, batch))
        while in_flight:
            yield in_flight.popleft().result()


# -- rollouts: sort without the texts, compute in file order, decide in the sorted order --------


class _Positions:
    """Each candidate's place in the sorted order, looked up by rollout id (64-bit hashes in a
    sorted array; a hash that matches a different id falls back to a dict)."""

    def __init__(self, ids: pl.Series) -> None:
        hashes = ids.hash(seed=0).to_numpy()
        self._order = np.argsort(hashes, kind="stable")
        self._sorted = hashes[self._order]
        self._ids = ids
        self._exact: dict[str, int] | None = None

    def of(self, ids: pl.Series) -> np.ndarray:
        """Places of ``ids`` (-1 for an id that is not a candidate)."""
        if not len(self._sorted):
            return np.full(len(ids), -1, dtype=np.int64)
        hashes = ids.hash(seed=0).to_numpy()
        at = np.minimum(np.searchsorted(self._sorted, hashes), len(self._sorted) - 1)
        found = self._sorted[at] == hashes
        places = np.where(found, self._order[at], -1)
        rows = np.flatnonzero(found)
        same = (self._ids.gather(places[rows]) == ids.gather(rows)).to_numpy()
        if not same.all():  # a 64-bit collision: look those ids up exactly
            if self._exact is None:
                self._exact = {key: i for i, key in enumerate(self._ids.to_list())}
            for row in rows[~same].tolist():
                places[row] = self._exact.get(ids[row], -1)
        return places


class _Filed:
    """What :func:`compute` found for every candidate, by its place in the sorted order:
    row-local steps' masks as one array per step, stateful steps' features in the order they
    were computed with each place's slot in them."""

    def __init__(self, steps: tuple[Step, ...], n: int) -> None:
        self.steps = steps
        self.masks = [None if s.stateful else np.zeros(n, dtype=bool) for s in steps]
        self.slots = [np.full(n, -1, dtype=np.int64) if s.stateful else None for s in steps]
        self._parts: list[list[Any]] = [[] for _ in steps]
        self._filled = [0] * len(steps)
        self.features: list[Any] = [None] * len(steps)
        self.seconds = [0.0] * len(steps)

    def add(self, places: np.ndarray, computed: Computed) -> None:
        for i, (seen, payload, cpu_s) in enumerate(computed):
            self.seconds[i] += cpu_s
            if payload is None or not len(seen):
                continue
            slots, masks = self.slots[i], self.masks[i]
            if slots is not None:
                slots[places[seen]] = self._filled[i] + np.arange(len(seen))
                self._parts[i].append(payload)
                self._filled[i] += len(seen)
            elif masks is not None:
                masks[places[seen]] = payload

    def close(self) -> None:
        for i, parts in enumerate(self._parts):
            if parts and isinstance(parts[0], tuple):
                self.features[i] = tuple(np.concatenate(p) for p in zip(*parts, strict=True))
            elif parts:
                self.features[i] = np.concatenate(parts)
            self._parts[i] = []

    def decide(self, n: int, counts: list[dict], batch_rows: int) -> np.ndarray:
        """:func:`decide` over every candidate in the sorted order; the places kept."""
        kept = []
        for start in range(0, n, batch_rows):
            alive = np.arange(start, min(n, start + batch_rows))
            for i, (step, count) in enumerate(zip(self.steps, counts, strict=True)):
                if len(alive) == 0:
                    break
                began = time.thread_time()
                slots, masks = self.slots[i], self.masks[i]
                if slots is not None:
                    at = slots[alive]
                    assert (at >= 0).all(), "a row reached a stateful step it was not computed for"
                    mask = step.decide(step.take(self.features[i], at))
                else:
                    assert masks is not None
                    mask = masks[alive]
                count["seconds"] += time.thread_time() - began
                count["kept"] += int(mask.sum())
                count["dropped"] += len(alive) - int(mask.sum())
                alive = alive[mask]
            kept.append(alive)
        for count, seconds in zip(counts, self.seconds, strict=True):
            count["seconds"] += seconds
        return np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)


class _Candidates:
    """The sorted candidates without their texts (``narrow``), their prompts' texts, and how
    to give a batch of texts (in file order) the candidates' other columns."""

    def __init__(self, narrow: pa.Table, prompts: pa.Table, columns: list[str]) -> None:
        self.narrow = narrow.combine_chunks()
        self.columns = columns
        ids = pl.from_arrow(self.narrow.column("rollout_id"))
        assert isinstance(ids, pl.Series)
        self.positions = _Positions(ids)
        self.prompts = prompts.combine_chunks()
        wanted = pl.DataFrame({"prompt_id": self.narrow.column("prompt_id")})
        known = pl.DataFrame({"prompt_id": self.prompts.column("prompt_id")}).with_row_index("p")
        index = wanted.join(known, on="prompt_id", how="left", maintain_order="left")["p"]
        if index.null_count():
            raise RuntimeError("a candidate's prompt is missing from the prompts fetched")
        self.prompt_of = index.to_numpy().astype(np.int64)
        self.text_needed = self.narrow.column("_text").to_numpy(zero_copy_only=False)

    @property
    def rows(self) -> int:
        return self.narrow.num_rows

    def places(self, texts: pa.RecordBatch) -> np.ndarray:
        ids = pl.from_arrow(texts.column("rollout_id"))
        assert isinstance(ids, pl.Series)
        return self.positions.of(ids)

    def assemble(self, places: np.ndarray, texts: pa.Table | pa.RecordBatch) -> pa.RecordBatch:
        """Candidate rows at ``places`` with ``texts`` (same rows, same order), as the sorted
        candidate query would give them (a text is NULL where no leading step lets it by)."""
        take = pa.array(places, pa.int64())
        narrow = self.narrow.take(take)
        prompts = self.prompts.take(pa.array(self.prompt_of[places], pa.int64()))
        needed = pa.array(self.text_needed[places])
        arrays = []
        for name in self.columns:
            if name in TEXTS:
                column = texts.column(name)
                arrays.append(pc.if_else(needed, column, pa.nulls(len(places), column.type)))
            elif name in PROMPT_TEXTS:
                arrays.append(prompts.column(name))
            else:
                arrays.append(narrow.column(name))
        arrays = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in arrays]
        return pa.RecordBatch.from_arrays(arrays, names=self.columns)


def select_rollouts(
    con: duckdb.DuckDBPyConnection,
    queries: dict[str, tuple[str, list[Any]]],
    steps: tuple[Step, ...],
    write: Callable[[pa.RecordBatch], None],
    *,
    threads: int,
    batch_rows: int,
    columns: list[str],
    advance: Callable[[int], None],
    spill: Path,
) -> tuple[list[dict[str, Any]], int]:
    """Run ``steps`` over the candidate rollouts and ``write`` the kept rows in order, batch
    by batch; the funnel counts and the number of candidates. ``queries`` (SQL, parameters): ``narrow`` the sorted candidates
    without texts (and ``_text``: may a row's texts be needed), ``prompts`` their prompts'
    ``PROMPT_TEXTS`` by prompt id, ``texts`` every candidate's ``TEXTS`` by rollout id. The texts
    of the rows that pass every row-local step (a superset of the kept rows) are saved to the
    Arrow file ``spill`` as they stream by, so the kept rows' texts are read once, not twice."""
    counts = [{"step": step.name, "kept": 0, "dropped": 0, "seconds": 0.0} for step in steps]
    narrow = con.sql(queries["narrow"][0], params=queries["narrow"][1]).to_arrow_table()
    prompts = con.sql(queries["prompts"][0], params=queries["prompts"][1]).to_arrow_table()
    candidates = _Candidates(narrow, prompts, columns)
    filed = _Filed(steps, candidates.rows)
    seen = 0
    types = con.sql(queries["texts"][0], params=queries["texts"][1]).limit(0).to_arrow_table()
    with pa.OSFile(str(spill), "wb") as sink:
        saved = _Spill(sink, steps, types.select(list(TEXTS)).schema)

        def work(item: tuple[pa.RecordBatch, np.ndarray]):  # on the pool's threads
            texts, places = item
            computed = compute(steps, candidates.assemble(places, texts))
            return (places, *saved.survivors(texts, places, computed)), computed

        for (places, kept_texts, kept_places), computed in _computed(
            steps, _texts(con, queries, candidates), threads, work
        ):
            filed.add(places, computed)
            saved.write(kept_texts, kept_places)
            seen += len(places)
            advance(len(places))
        saved.close()
    if seen != candidates.rows:
        raise RuntimeError(f"{seen} of {candidates.rows} candidate rollouts had texts streamed")
    filed.close()
    kept = filed.decide(candidates.rows, counts, batch_rows)
    del filed
    try:
        _write_kept(saved.read(spill, kept, candidates.rows), candidates, kept, write, batch_rows)
    finally:
        spill.unlink(missing_ok=True)
    return counts, candidates.rows


def _texts(con, queries, candidates: _Candidates):
    """Batches of texts with each row's place (rows that are no candidate left out)."""
    text, params = queries["texts"]
    for batch in con.sql(text, params=params).to_arrow_reader(TEXT_BATCH_ROWS):
        places = candidates.places(batch)
        wanted = places >= 0
        if not wanted.all():
            batch = batch.filter(pa.array(wanted))
            places = places[wanted]
        if len(places):
            yield batch, places


def _write_kept(found, candidates: _Candidates, kept: np.ndarray, write, batch_rows):
    """The kept rows in order, from ``found``: their texts as ``(table, places)`` pieces in any
    order (an empty first table gives the types when none is kept), then taken in order."""
    parts, places = [], []
    for table, at in found:
        parts.append(table)
        places.append(at)
    found_at = np.concatenate(places)
    order = np.argsort(found_at, kind="stable")
    if not np.array_equal(found_at[order], kept):
        raise RuntimeError("the texts of the kept rollouts were not all found")
    starts = np.cumsum([0] + [part.num_rows for part in parts])
    for start in range(0, max(len(kept), 1), batch_rows):  # one empty batch when none kept
        texts = _take(parts, starts, order[start : start + batch_rows])
        write(candidates.assemble(kept[start : start + batch_rows], texts))


class _Spill:
    """The texts of the rows that pass every row-local step (only those can be kept), with
    their places, written to an Arrow IPC file while the texts stream by for :func:`compute`;
    :meth:`read` gives back those of the kept rows."""

    def __init__(self, sink: pa.NativeFile, steps: tuple[Step, ...], schema: pa.Schema) -> None:
        self.sink, self.schema = sink, schema
        self.writer = pa.ipc.new_file(sink, schema)
        self.local = [i for i, step in enumerate(steps) if not step.stateful]
        self.places: list[np.ndarray] = []

    def survivors(
        self, texts: pa.RecordBatch, places: np.ndarray, computed: Computed
    ) -> tuple[pa.RecordBatch, np.ndarray]:
        """The texts and places of the rows of a batch that every row-local step passes."""
        rows = np.arange(texts.num_rows)
        for i in self.local:  # each row-local step saw the survivors of those before it
            seen, mask, _ = computed[i]
            rows = seen[mask] if mask is not None else seen[:0]
        kept = texts.select(list(TEXTS)).take(pa.array(rows, pa.int64()))
        return kept.cast(self.schema), places[rows]

    def write(self, texts: pa.RecordBatch, places: np.ndarray) -> None:
        self.writer.write_batch(texts)
        self.places.append(places)

    def close(self) -> None:
        self.writer.close()

    def read(self, path: Path, kept: np.ndarray, n: int) -> Iterator[tuple[pa.Table, np.ndarray]]:
        keep = np.zeros(n, dtype=bool)
        keep[kept] = True
        yield self.schema.empty_table(), np.zeros(0, dtype=np.int64)
        with pa.OSFile(str(path), "rb") as source:
            reader = pa.ipc.open_file(source)
            for i, places in enumerate(self.places):
                wanted = keep[places]
                if wanted.any():
                    batch = reader.get_batch(i).filter(pa.array(wanted))
                    yield pa.Table.from_batches([batch]), places[wanted]


def _take(parts: list[pa.Table], starts: np.ndarray, rows: np.ndarray) -> pa.Table:
    """Rows ``rows`` (indices into the parts end to end) of ``parts``, in that order, without
    ever joining the parts into one table (which would copy every kept text once more)."""
    part = np.searchsorted(starts, rows, side="right") - 1
    by_part = np.argsort(part, kind="stable")
    pieces = [parts[0].slice(0, 0)]
    for p in np.unique(part).tolist():
        local = rows[by_part][part[by_part] == p] - starts[p]
        pieces.append(parts[p].take(pa.array(local, pa.int64())))
    taken = pa.concat_tables(pieces).combine_chunks()
    return taken.take(pa.array(np.argsort(by_part, kind="stable"), pa.int64()))
