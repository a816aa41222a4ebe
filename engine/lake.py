"""The lake: a folder of append-only Parquet tables, hive-partitioned by run_id (DESIGN.md).

::

    lake/<table>/run_id=<id>/part-<utc time>-<uuid>.parquet     one file per append (or batch)
    lake/<table>/run_id=<id>/.tmp-part-...parquet                 a write in flight, or a killed one

Writes are atomic: the file is written under a ``.tmp-`` name in its partition folder, fsynced,
renamed to its ``part-`` name, and the folder is fsynced. A reader never sees half a file and a
killed writer leaves only a temp file, which readers skip and :meth:`Lake.check` reports. Long
jobs call :meth:`Lake.append_batches`, so a crash loses at most the batches in flight.

Readers (:meth:`Lake.scan`, :meth:`Lake.connect`) take an explicit list of files whose Parquet
footer reads and whose columns fit the schema (:meth:`Lake.files`), and keep one row per id, the
one with the latest ``created_at``: re-appending an id replaces the row, never counts it twice.

>>> import tempfile
>>> lake = Lake.open(tempfile.mkdtemp())
>>> with lake.run("ingest") as run_id:
...     path = lake.append("prompts", [{"prompt_id": "p1", "dataset": "demo", "task": "math",
...                                     "problem": "1+1?", "answer": "2"}], run_id=run_id)
>>> lake.scan("prompts").collect().height
1
>>> lake.connect().execute("SELECT dataset, count(*) FROM prompts GROUP BY 1").fetchall()
[('demo', 1)]
"""

from __future__ import annotations

import os
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from engine import ids, sql
from engine.errors import LakeError, SchemaError, UserError
from engine.schema import SCHEMAS, TEXT_COLUMNS, Data, conform, id_columns

__all__ = ["CheckReport", "CompactReport", "Lake", "Problem"]

TEMP_PREFIX = ".tmp-"
# ~128k rows per row group: big enough for fast scans, small enough that DuckDB splits work
# across cores and a writer holds one group in memory.
ROW_GROUP_ROWS = 128 * 1024
SMALL_FILE_BYTES = 128 * 1024 * 1024  # compact merges files below this size


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One thing :meth:`Lake.check` found: a leftover temp file, a corrupt file, a schema mismatch."""

    kind: Literal["temp", "corrupt", "schema"]
    path: Path
    reason: str


@dataclass(frozen=True, kw_only=True)
class CheckReport:
    files_ok: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, kw_only=True)
class CompactReport:
    table: str
    partitions_compacted: int
    files_before: int
    files_after: int
    rows: int


@dataclass(frozen=True)
class Lake:
    """A lake rooted at a folder; cheap to create, holds no open files, safe to share."""

    root: Path

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Lake:
        """Open the lake at ``path``, else ``$RLVR_LAKE``, else ``./lake``; create it if asked.

        Readers pass ``create=False`` so that a mistyped path is an error, not an empty lake.
        """
        root = Path(path if path is not None else os.environ.get("RLVR_LAKE") or "lake")
        if not create and not root.is_dir():
            raise UserError(f"{root}: no lake here — pass --lake PATH or set RLVR_LAKE")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LakeError(
                f"cannot create the lake folder ({exc.strerror})", path=str(root)
            ) from exc
        return cls(root)

    def table_path(self, table: str) -> Path:
        if table not in SCHEMAS:
            raise SchemaError(f"unknown table; tables are {sorted(SCHEMAS)}", table=table)
        return self.root / table

    # -- writing -----------------------------------------------------------------------------

    def append(self, table: str, data: Data, *, run_id: str) -> Path | None:
        """Validate ``data`` against the table's schema and write it as one new file.

        Returns the file's path, or None for empty data (nothing is written). On a SchemaError
        nothing is written at all.
        """
        arrow = self._conform(table, data, run_id)
        return None if arrow is None else self._write(table, arrow, run_id)

    def append_batches(
        self, table: str, batches: Iterable[Data], *, run_id: str, threads: int = 2
    ) -> list[Path]:
        """Append each batch as its own file, ``threads`` files being written at a time.

        Compression dominates the cost of a write and pyarrow releases the GIL while it
        compresses, so two writers nearly double the rate on two cores. Each file is still
        atomic: a crash loses at most the batches in flight, each one whole. Batches are
        validated in order before they are handed over, so on a SchemaError every batch before
        the bad one is written and none after it.
        """
        paths: list[Path] = []
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lake-write") as pool:
            in_flight: deque[Future[Path]] = deque()
            for batch in batches:
                arrow = self._conform(table, batch, run_id)
                if arrow is None:
                    continue
                if len(in_flight) >= threads:  # bounded: at most `threads` batches in memory
                    paths.append(in_flight.popleft().result())
                in_flight.append(pool.submit(self._write, table, arrow, run_id))
            paths.extend(future.result() for future in in_flight)
        return paths

    def _conform(self, table: str, data: Data, run_id: str) -> pa.Table | None:
        _check_run_id(run_id)
        self.table_path(table)  # an unknown table is an error even with no rows
        return conform(table, data, run_id=run_id) if len(data) else None

    def _write(self, table: str, arrow: pa.Table, run_id: str) -> Path:
        folder = self.table_path(table) / f"run_id={run_id}"
        with _atomic_file(folder) as temp:
            pq.write_table(arrow, temp, row_group_size=ROW_GROUP_ROWS, **_write_options(table))
        return folder / temp.name.removeprefix(TEMP_PREFIX)

    # -- reading -----------------------------------------------------------------------------

    def files(self, table: str, run_id: str | None = None) -> list[Path]:
        """The table's readable data files: footer intact, columns fitting the schema."""
        return [path for path, reason in self._inspect(table, run_id) if reason is None]

    def scan(self, table: str) -> pl.LazyFrame:
        """The table as a polars LazyFrame, one row per id (the latest ``created_at``)."""
        schema = pl.Schema(pl.from_arrow(SCHEMAS[table].empty_table()).schema)
        files = self.files(table)
        if not files:
            return pl.LazyFrame(schema=schema)
        frame = pl.scan_parquet(files, schema=schema, missing_columns="insert")
        return frame.sort("created_at").unique(subset=list(id_columns(table)), keep="last")

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one view per table and the macros (engine.sql)."""
        return sql.connect(self)

    def existing_ids(self, table: str, run_id: str | None = None) -> set[Any]:
        """Ids already in ``table`` (in one run's partition if given), to resume a job.

        Strings for single-column ids; ``(rollout_id, verifier)`` tuples for verdicts.
        """
        keys = list(id_columns(table))
        files = self.files(table, run_id)
        if not files:
            return set()
        frame = pl.scan_parquet(files).select(keys).unique().collect()
        return set(frame[keys[0]].to_list()) if len(keys) == 1 else set(frame.iter_rows())

    # -- runs --------------------------------------------------------------------------------

    def write_run(
        self,
        kind: str,
        *,
        run_id: str | None = None,
        model: str | None = None,
        backend: str | None = None,
        params: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> str:
        """Record a run as ``running`` and return its id (a new one unless given)."""
        run_id = run_id or ids.new_run_id(kind)
        row = {
            "run_id": run_id,
            "kind": kind,
            "model": model,
            "backend": backend,
            "params": params if params is not None else {},
            "status": "running",
            "started_at": datetime.now(UTC),
            "rlvr_version": _rlvr_version(),
            "seed": seed,
        }
        self.append("runs", [row], run_id=run_id)
        return run_id

    def finish_run(
        self, run_id: str, status: Literal["done", "failed", "interrupted"] = "done"
    ) -> None:
        """Mark a run finished: append its row again with the new status and ``finished_at``."""
        rows = self.scan("runs").filter(pl.col("run_id") == run_id).collect().to_dicts()
        if not rows:
            raise LakeError(f"no run {run_id!r} to finish", path=str(self.table_path("runs")))
        row = rows[0]
        now = datetime.now(UTC)
        # The finishing row must sort after the starting one even within one clock tick.
        row["created_at"] = max(now, row["created_at"] + timedelta(microseconds=1))
        row["finished_at"], row["status"] = now, status
        self.append("runs", [row], run_id=run_id)

    @contextmanager
    def run(self, kind: str, **fields: Any) -> Iterator[str]:
        """``with lake.run("generate", model=m) as run_id:`` records running, then done/failed."""
        run_id = self.write_run(kind, **fields)
        try:
            yield run_id
        except KeyboardInterrupt:
            self.finish_run(run_id, "interrupted")
            raise
        except BaseException:
            self.finish_run(run_id, "failed")
            raise
        self.finish_run(run_id, "done")

    # -- maintenance -------------------------------------------------------------------------

    def check(self) -> CheckReport:
        """Every leftover temp file and every unreadable or mismatched data file, by table."""
        problems: list[Problem] = []
        files_ok = 0
        for table in SCHEMAS:
            folder = self.table_path(table)
            for temp in sorted(folder.glob(f"run_id=*/{TEMP_PREFIX}*")):
                reason = "leftover temp file: a writer was killed (or is still writing)"
                problems.append(Problem(kind="temp", path=temp, reason=reason))
            for path, reason in self._inspect(table):
                if reason is None:
                    files_ok += 1
                else:
                    kind = "schema" if reason.startswith("schema:") else "corrupt"
                    problems.append(Problem(kind=kind, path=path, reason=reason))
        return CheckReport(files_ok=files_ok, problems=tuple(problems))

    def compact(self, table: str, *, small_bytes: int = SMALL_FILE_BYTES) -> CompactReport:
        """Merge each partition's small files into one, atomically.

        The merged file is renamed into place before the old files are removed. In between, a
        reader that lists files sees those rows twice, with equal ids and ``created_at``, and the
        views' one-row-per-id rule makes that harmless; a crash in between leaves the duplicate
        rows on disk (the next compact folds them into one file), still counted once. Rows are
        copied, not deduplicated, so memory stays at one row group whatever the partition's size.
        Connections opened before a compact still list the removed files: reconnect. Run one
        compact at a time per table.
        """
        partitions: dict[Path, list[Path]] = {}
        for path in self.files(table):
            if path.stat().st_size < small_bytes:
                partitions.setdefault(path.parent, []).append(path)
        merges = {folder: paths for folder, paths in partitions.items() if len(paths) > 1}
        rows = 0
        for folder, paths in merges.items():
            rows += _merge(table, folder, paths)
        before = sum(len(paths) for paths in merges.values())
        return CompactReport(
            table=table,
            partitions_compacted=len(merges),
            files_before=before,
            files_after=len(merges),
            rows=rows,
        )

    def _inspect(self, table: str, run_id: str | None = None) -> list[tuple[Path, str | None]]:
        """Each data file of the table with why it is unreadable, or None when it is fine."""
        if run_id is not None:
            _check_run_id(run_id)
        pattern = f"run_id={run_id or '*'}/*.parquet"
        paths = sorted(self.table_path(table).glob(pattern))
        return [(path, _file_problem(table, path)) for path in paths if path.name[0] not in "._"]


def _check_run_id(run_id: str) -> None:
    if not isinstance(run_id, str) or not ids.RUN_ID_PATTERN.fullmatch(run_id):
        raise SchemaError(
            f"run_id {run_id!r} must be letters, digits, '.', '_' or '-' (it names a folder)",
            field="run_id",
        )


def _file_problem(table: str, path: Path) -> str | None:
    """Why ``path`` is not a readable file of ``table``, or None. Reads only the footer."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            fh.seek(max(0, path.stat().st_size - 4))
            tail = fh.read(4)
        if head != b"PAR1" or tail != b"PAR1":
            return "not a Parquet file, or truncated (no PAR1 magic at both ends)"
        stored = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        return f"unreadable Parquet footer ({exc})"
    expected = SCHEMAS[table]
    for field in stored:
        if expected.get_field_index(field.name) < 0:
            return f"schema: unknown column {field.name!r}"
        want = expected.field(field.name).type
        if _normal(field.type) != want:
            return f"schema: column {field.name!r} is {field.type}, expected {want}"
    for field in expected:
        if not field.nullable and field.name not in stored.names:
            return f"schema: required column {field.name!r} is missing"
    return None


def _normal(type_: pa.DataType) -> pa.DataType:
    """Other writers store text as large_string or string_view; the lake reads them the same."""
    if pa.types.is_large_string(type_) or pa.types.is_string_view(type_):
        return pa.string()
    return type_


def _write_options(table: str) -> dict[str, Any]:
    # Free text is neither dictionary-encoded (every value differs) nor given min/max statistics
    # (long strings, never filtered on by range); everything else gets both.
    coded = [name for name in SCHEMAS[table].names if name not in TEXT_COLUMNS]
    return {
        "compression": "zstd",
        "use_dictionary": coded,
        "write_statistics": coded,
    }


@contextmanager
def _atomic_file(folder: Path) -> Iterator[Path]:
    """Yield a temp path in ``folder`` to write; on success fsync it and rename it into place."""
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        _fsync_dir(folder.parent)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    temp = folder / f"{TEMP_PREFIX}part-{stamp}-{uuid.uuid4().hex}.parquet"
    try:
        yield temp
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, folder / temp.name.removeprefix(TEMP_PREFIX))
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _merge(table: str, folder: Path, paths: list[Path]) -> int:
    """Stream ``paths`` into one new file in ``folder``, then remove them; returns the rows."""
    expected = sum(pq.ParquetFile(path).metadata.num_rows for path in paths)
    with _atomic_file(folder) as temp:
        with pq.ParquetWriter(temp, SCHEMAS[table], **_write_options(table)) as writer:
            pending: list[pa.Table] = []
            for batch in _row_groups(table, paths):
                pending.append(batch)
                if sum(t.num_rows for t in pending) >= ROW_GROUP_ROWS:
                    writer.write_table(pa.concat_tables(pending), ROW_GROUP_ROWS)
                    pending = []
            if pending:
                writer.write_table(pa.concat_tables(pending), ROW_GROUP_ROWS)
        written = pq.ParquetFile(temp).metadata.num_rows
        if written != expected:  # never delete data we did not copy
            raise LakeError(f"merged {written} rows, expected {expected}", path=str(folder))
    for path in paths:
        path.unlink()
    _fsync_dir(folder)
    return expected


def _row_groups(table: str, paths: list[Path]) -> Iterator[pa.Table]:
    for path in paths:
        parquet = pq.ParquetFile(path)
        for index in range(parquet.num_row_groups):
            # conform() brings files written before a nullable column was added up to date.
            yield conform(table, parquet.read_row_group(index))


def _rlvr_version() -> str:
    try:
        return version("rlvr")
    except PackageNotFoundError:
        return "unknown"
