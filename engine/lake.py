"""The lake: a folder of append-only Parquet tables, hive-partitioned by run_id (DESIGN.md).

::

    lake/<table>/run_id=<id>/part-<utc time>-<uuid>.parquet     one file per append (or batch)
    lake/<table>/run_id=<id>/.tmp-part-...parquet.partial         a write in flight, or a killed one
    lake/.rlvr/locks/<name>.lock                                  locks (filelock) and run liveness

Writes are atomic: the file is written under a ``.tmp-`` name ending in ``.partial`` in its
partition folder, fsynced, renamed to its ``part-`` name, and the folder is fsynced. A reader never
sees half a file and a killed writer leaves only a temp file, which matches no ``*.parquet`` glob
(polars, DuckDB and pyarrow read the folder as it is, issue 10) and :meth:`Lake.check` reports.
Long jobs call :meth:`Lake.append_batches`, so a crash loses at most the batches in flight.

Files store ``run_id`` as ``dictionary<int32, string>``, the type pyarrow gives a hive partition
key, so ``pq.read_table(lake/table)`` merges the column with the path's (older lakes stored plain
strings; the engine reads both and ``rlvr lake compact`` rewrites them).

Prompts and rollouts are never duplicated: :meth:`Lake.append` drops rows whose id is already
there, checked and written under the table's lock, so two processes cannot both add one.

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

import json
import os
import socket
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
import filelock
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from engine import ids, lake_runs, sql
from engine.errors import LakeError, SchemaError, UserError
from engine.lake_files import (
    ROW_GROUP_ROWS,
    TEMP_PREFIX,
    atomic_file,
    file_problem,
    file_schema,
    final_path,
    merge,
    superseded,
    to_rewrite,
    write_options,
)
from engine.schema import SCHEMAS, Data, conform, id_columns, to_polars

__all__ = [
    "DEDUPED_ON_WRITE",
    "LOCKS",
    "SMALL_FILE_BYTES",
    "CheckReport",
    "CompactReport",
    "FinalStatus",
    "Lake",
    "Problem",
]

LOCKS = ".rlvr/locks"
DEDUPED_ON_WRITE = ("prompts", "rollouts")  # ids that are content hashes: written once, ever
SMALL_FILE_BYTES = 128 * 1024 * 1024  # compact merges files below this size
# A run's status once it ends (runs.status is "running" before: engine.schema.ENUMS).
FinalStatus = Literal["done", "failed", "interrupted"]
# Ids on disk of the prompts/rollouts table last appended to, per lake: (scope, files read, ids).
_ID_CACHE: dict[tuple[Path, str], tuple[str | None, set[Path], set[Any]]] = {}


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
    rows_dropped: int = 0  # superseded rows removed (older rows of an id)


@dataclass(frozen=True)
class Lake:
    """A lake rooted at a folder; cheap to create, holds no open files, safe to share."""

    root: Path

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Lake:
        """Open the lake at ``path``, else ``$RLVR_LAKE``, else ``./lake``; create it if asked.

        Readers pass ``create=False`` so that a mistyped path is an error, not an empty lake.
        """
        raw = str(path if path is not None else os.environ.get("RLVR_LAKE") or "lake")
        if raw.startswith("s3:/"):  # an object-store lake (issue 14); Path() folds s3:// to s3:/
            from engine.lake_s3 import S3Lake

            return S3Lake.open_url("s3://" + raw.removeprefix("s3:/").lstrip("/"), create=create)
        root = Path(raw)
        try:
            exists = root.is_dir()
            if exists:
                os.listdir(root)  # unreadable (no x/r permission) is an error, not "no lake"
        except OSError as exc:
            raise LakeError(
                f"cannot read the lake folder ({exc.strerror}) — check its permissions or pass "
                "another --lake",
                path=str(root),
            ) from exc
        if not create and not exists:
            raise UserError(
                f"no lake at {str(root)!r} — check --lake (or RLVR_LAKE); commands that write, "
                "such as `rlvr prompts import`, create one"
            )
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LakeError(
                f"cannot create the lake folder ({exc.strerror}) — pass a writable --lake PATH",
                path=str(root),
            ) from exc
        return cls(root)

    # -- locks -------------------------------------------------------------------------------

    def lock(self, name: str) -> filelock.FileLock:
        """An inter-process lock on ``name`` (a table, a job), held with ``with lake.lock(...)``.

        It is an ``flock`` on ``.rlvr/locks/<name>.lock``, so it dies with its process.
        """
        return filelock.FileLock(self._lock_path(name), thread_local=False)

    def _lock_path(self, name: str) -> Path:
        folder = self.root / LOCKS
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LakeError(
                f"cannot create the lock folder ({exc.strerror}) — the lake must be writable "
                "for this command; pass a writable --lake PATH",
                path=str(folder),
            ) from exc
        return folder / f"{name}.lock"

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
        if arrow is None:
            return None
        if table not in DEDUPED_ON_WRITE:
            return self._write(table, arrow, run_id)
        with self.lock(table), self._dedupe(table, run_id) as new_rows:
            arrow = new_rows(arrow)  # the ids checked are the ids present when the file lands
            return self._write(table, arrow, run_id) if arrow.num_rows else None

    def append_batches(
        self, table: str, batches: Iterable[Data], *, run_id: str, threads: int = 2
    ) -> list[Path]:
        """Append each batch as its own file, ``threads`` files being written at a time.

        Compression dominates the cost of a write and pyarrow releases the GIL while it
        compresses, so two writers nearly double the rate on two cores. Each file is still
        atomic: a crash loses at most the batches in flight, each one whole. Batches are
        validated in order before they are handed over, so on a SchemaError every batch before
        the bad one is written and none after it. Prompts and rollouts are deduplicated as in
        :meth:`append`, the table's lock held for the whole call.
        """
        if table not in DEDUPED_ON_WRITE:
            return self._append_batches(table, batches, run_id, threads, lambda arrow: arrow)
        with self.lock(table), self._dedupe(table, run_id) as new_rows:
            return self._append_batches(table, batches, run_id, threads, new_rows)

    def _append_batches(self, table, batches, run_id, threads, new_rows) -> list[Path]:
        paths: list[Path] = []
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lake-write") as pool:
            in_flight: deque[Future[Path]] = deque()
            for batch in batches:
                arrow = self._conform(table, batch, run_id)
                arrow = None if arrow is None else new_rows(arrow)
                if arrow is None or not arrow.num_rows:
                    continue
                if len(in_flight) >= threads:  # bounded: at most `threads` batches in memory
                    paths.append(in_flight.popleft().result())
                in_flight.append(pool.submit(self._write, table, arrow, run_id))
            paths.extend(future.result() for future in in_flight)
        return paths

    @contextmanager
    def _dedupe(self, table: str, run_id: str) -> Iterator[Any]:
        """Yield ``new_rows(arrow)``: the rows whose id is neither on disk nor given before.

        Call under the table's lock. Rollout ids hash their run id, so only the run's partition
        can hold one; prompt ids hash dataset and problem, so every partition is checked. The ids
        on disk are cached per table and read incrementally (only files not seen before), so a
        long job's thousands of appends stay linear; on an error the cache is dropped.
        """
        (column,) = id_columns(table)
        present = self._present_ids(table, run_id if table == "rollouts" else None)

        def new_rows(arrow: pa.Table) -> pa.Table:
            keep = []
            for index, value in enumerate(arrow[column].to_pylist()):
                if value not in present:
                    present.add(value)
                    keep.append(index)
            return arrow if len(keep) == arrow.num_rows else arrow.take(pa.array(keep, pa.int64()))

        try:
            yield new_rows
        except BaseException:
            _ID_CACHE.pop((self.root, table), None)
            raise

    def _present_ids(self, table: str, scope: str | None) -> set[Any]:
        pattern = f"run_id={scope or '*'}/*.parquet"
        listed = {p for p in self.table_path(table).glob(pattern) if p.name[0] not in "._"}
        cached = _ID_CACHE.get((self.root, table))
        if cached is None or cached[0] != scope or not cached[1] <= listed:
            cached = (scope, set(), set())
            _ID_CACHE[(self.root, table)] = cached
        _, seen, present = cached
        new = [path for path in sorted(listed - seen) if file_problem(table, path) is None]
        if new:
            (column,) = id_columns(table)
            present.update(pl.scan_parquet(new).select(column).collect()[column].to_list())
            seen.update(new)
        return present

    def _conform(self, table: str, data: Data, run_id: str) -> pa.Table | None:
        _check_run_id(run_id)
        self.table_path(table)  # an unknown table is an error even with no rows
        return conform(table, data, run_id=run_id) if len(data) else None

    def _write(self, table: str, arrow: pa.Table, run_id: str) -> Path:
        folder = self.table_path(table) / f"run_id={run_id}"
        arrow = arrow.cast(file_schema(table))
        try:
            with atomic_file(folder) as temp:
                pq.write_table(arrow, temp, row_group_size=ROW_GROUP_ROWS, **write_options(table))
        except OSError as exc:
            raise LakeError(
                f"cannot write ({exc.strerror or exc}) — the lake must be writable: check the "
                "folder's permissions and free space, or pass another --lake",
                path=str(folder),
            ) from exc
        return final_path(temp)

    # -- reading -----------------------------------------------------------------------------

    def files(self, table: str, run_id: str | None = None) -> list[Path]:
        """The table's readable data files: footer intact, columns fitting the schema."""
        return [path for path, reason in self._inspect(table, run_id) if reason is None]

    def scan(self, table: str) -> pl.LazyFrame:
        """The table as a polars LazyFrame, one row per id (the latest ``created_at``)."""
        schema = pl.Schema(to_polars(SCHEMAS[table].empty_table()).schema)
        files = self.files(table)
        if not files:
            return pl.LazyFrame(schema=schema)
        frame = pl.scan_parquet(
            files,
            schema=schema,
            missing_columns="insert",
            cast_options=pl.ScanCastOptions(categorical_to_string="allow"),  # run_id
        )
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
        """Record a run as ``running`` and return its id (a new one unless given).

        The row's params get ``process: {pid, host}``, and this process holds the run's liveness
        lock until :meth:`finish_run`; a run left ``running`` by a process that died without
        saying so (SIGKILL, power loss) is then told apart by :meth:`stale_runs`.
        """
        run_id = run_id or ids.new_run_id(kind)
        _check_run_id(run_id)
        self._hold_run(run_id)
        process = {"pid": os.getpid(), "host": socket.gethostname()}
        row = {
            "run_id": run_id,
            "kind": kind,
            "model": model,
            "backend": backend,
            "params": {**(params or {}), "process": process},
            "status": "running",
            "started_at": datetime.now(UTC),
            "rlvr_version": _rlvr_version(),
            "seed": seed,
        }
        try:
            self.append("runs", [row], run_id=run_id)
        except BaseException:
            self._release_run(run_id)
            raise
        return run_id

    def finish_run(self, run_id: str, status: FinalStatus = "done") -> None:
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
        self._release_run(run_id)

    def stale_runs(self) -> set[str]:
        """Runs still ``running`` whose process is gone: its liveness lock is free, or its pid
        is dead on this host. Reads only (opens lock files read-only), so it works on any lake."""
        frame = self.scan("runs").filter(pl.col("status") == "running").collect()
        stale = set()
        for run_id, params in frame.select("run_id", "params").iter_rows():
            process = _json_object(params).get("process")
            lock = self.root / LOCKS / f"run-{run_id}.lock"
            if isinstance(process, dict) and not lake_runs.alive(lock, process):
                stale.add(run_id)
        return stale

    def _hold_run(self, run_id: str) -> None:
        lake_runs.hold(self._lock_path(f"run-{run_id}"), run_id)

    def _release_run(self, run_id: str) -> None:
        lake_runs.release(self.root / LOCKS / f"run-{run_id}.lock")

    @contextmanager
    def run(self, kind: str, **fields: Any) -> Iterator[str]:
        """``with lake.run("generate", model=m) as run_id:`` records running, then done/failed."""
        run_id = self.write_run(kind, **fields)
        try:
            yield run_id
        except KeyboardInterrupt:  # also engine.interrupt.Interrupted (SIGINT, SIGTERM)
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
                why = "leftover temp file: a writer was killed (or is still writing)"
                problems.append(Problem(kind="temp", path=temp, reason=why))
            for path, reason in self._inspect(table):
                if reason is None:
                    files_ok += 1
                else:
                    kind: Literal["schema", "corrupt"] = (
                        "schema" if reason.startswith("schema:") else "corrupt"
                    )
                    problems.append(Problem(kind=kind, path=path, reason=reason))
        return CheckReport(files_ok=files_ok, problems=tuple(problems))

    def compact(self, table: str, *, small_bytes: int = SMALL_FILE_BYTES) -> CompactReport:
        """Rewrite ``table`` so each id has exactly its latest row, and merge small files.

        A partition is rewritten into one file when it holds superseded rows (a run's
        ``running`` row once it finished, a verdict re-judged by a later verify run, duplicates
        left by a crash), more than one small file, or files of an older lake (run_id stored as
        plain text). The new file is renamed into place before the old ones are removed; a
        reader listing files in between sees some rows twice, with equal ids, which the views'
        one-row-per-id rule makes harmless, and a crash there is folded by the next compact.
        Rows stream one row group at a time. Connections opened before a compact still list the
        removed files: reconnect. The table's lock keeps other compacts and appends out.
        """
        with self.lock(table):
            files = self.files(table)
            drop = superseded(table, files)
            partitions: dict[Path, list[Path]] = {}
            for path in files:
                partitions.setdefault(path.parent, []).append(path)
            rows = before = dropped = 0
            rewritten = []
            for folder, paths in partitions.items():
                chosen = to_rewrite(paths, drop, small_bytes)
                if chosen:
                    rows += merge(table, folder, chosen, drop)
                    before += len(chosen)
                    dropped += sum(len(drop.get(path, ())) for path in chosen)
                    rewritten.append(folder)
        return CompactReport(
            table=table,
            partitions_compacted=len(rewritten),
            files_before=before,
            files_after=len(rewritten),
            rows=rows,
            rows_dropped=dropped,
        )

    def _inspect(self, table: str, run_id: str | None = None) -> list[tuple[Path, str | None]]:
        """Each data file of the table with why it is unreadable, or None when it is fine."""
        if run_id is not None:
            _check_run_id(run_id)
        pattern = f"run_id={run_id or '*'}/*.parquet"
        paths = sorted(self.table_path(table).glob(pattern))
        return [(path, file_problem(table, path)) for path in paths if path.name[0] not in "._"]


def _check_run_id(run_id: str) -> None:
    if not isinstance(run_id, str) or not ids.RUN_ID_PATTERN.fullmatch(run_id):
        raise SchemaError(
            f"run_id {run_id!r} must be letters, digits, '.', '_' or '-' (it names a folder)",
            field="run_id",
        )


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _rlvr_version() -> str:
    try:
        return version("rlvr")
    except PackageNotFoundError:
        return "unknown"
