"""A lake on S3-compatible object storage: ``--lake s3://bucket/prefix`` (issue 14).

The same tables, schemas, ids and views as a lake on disk (:mod:`engine.lake`); what differs is how
a file lands and how a lock is held:

- **Atomic appends.** A data file is serialised in memory and written with ONE ``PutObject``: an
  object is visible whole or not at all, so there is no ``.partial`` step to rename. Every part has
  a unique name (UTC time + uuid4), and the PUT is conditional (``If-None-Match: *``): where the
  server supports it (AWS S3 since 2024, MinIO, moto) a second writer of the same key gets
  ``412 Precondition Failed`` instead of overwriting — two writers never replace each other's part.
- **Locks are leases.** ``flock`` does not exist on S3; :class:`S3Lock` creates
  ``.rlvr/locks/<name>.lock`` with a conditional PUT (only one creator wins) holding its owner and
  expiry, and deletes it on release. A lease older than ``LEASE_S`` (its holder died) is broken by
  the next taker. Dedupe on write (prompts, rollouts) runs under the table's lease, as on disk.
- **Run liveness.** A running run holds the object ``.rlvr/locks/run-<id>.lock``; ``stale_runs``
  are running runs whose object is gone, or whose process is dead on this host.
- **Reads.** pyarrow's ``S3FileSystem`` (endpoint, keys and region from ``AWS_ENDPOINT_URL``,
  ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``/``AWS_DEFAULT_REGION``). DuckDB
  reads the same objects through that filesystem registered on the connection (fsspec's
  ``ArrowFSWrapper``), so ``httpfs`` — downloaded at run time by DuckDB — is never needed.

Any S3 works the same: AWS, MinIO, Ceph RGW, R2; the tests run against moto's server.

>>> S3Lake.parse("s3://team-bucket/rlvr/lake")
('team-bucket', 'rlvr/lake')
"""

from __future__ import annotations

import io
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import filelock
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from engine.errors import LakeError, UserError
from engine.lake import Lake
from engine.lake_files import ROW_GROUP_ROWS, file_schema, schema_problem, write_options
from engine.schema import SCHEMAS, conform, id_columns, to_polars

__all__ = ["LEASE_S", "S3Lake", "S3Lock"]

LEASE_S = 600.0  # a lock object older than this belongs to a dead holder and may be broken
# Ids of the prompts/rollouts parts read so far, per lake and table: (scope, parts read, ids).
_ID_CACHE: dict[tuple[str, str], tuple[str | None, set[str], set[Any]]] = {}


def _client() -> Any:
    import boto3  # the `ray` extra and the dev extra install it

    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)


def _filesystem() -> Any:
    from pyarrow import fs

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    options: dict[str, Any] = {
        "region": os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    }
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        options.update(endpoint_override=host, scheme=scheme)
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        options.update(access_key=os.environ["AWS_ACCESS_KEY_ID"],
                       secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"))  # fmt: skip
    return fs.S3FileSystem(**options)


class S3Lock:
    """A lease on ``key``: taken by a conditional PUT, released by DELETE (see module doc).

    Used like ``filelock.FileLock``: ``with lock:``, ``acquire(timeout=…)`` raising
    ``filelock.Timeout``, ``release()``.
    """

    def __init__(self, lake: S3Lake, key: str) -> None:
        self.lake, self.key, self.held = lake, key, False

    def acquire(self, timeout: float = -1, poll_interval: float = 0.05) -> S3Lock:
        deadline = None if timeout < 0 else time.monotonic() + timeout
        while not self._try():
            if deadline is not None and time.monotonic() >= deadline:
                raise filelock.Timeout(self.key)
            time.sleep(poll_interval)
        return self

    def _try(self) -> bool:
        body = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "expires": time.time() + LEASE_S}).encode()  # fmt: skip
        if self.lake.put_if_absent(self.key, body):
            self.held = True
            return True
        holder = self.lake.read_json(self.key)
        if holder is not None and holder.get("expires", 0) < time.time():
            self.lake.delete(self.key)  # a dead holder's lease: break it, then race for it again
        return False

    def release(self) -> None:
        if self.held:
            self.lake.delete(self.key)
            self.held = False

    def __enter__(self) -> S3Lock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass(frozen=True)
class S3Lake(Lake):
    """A lake under ``s3://bucket/prefix``; ``root`` is ``bucket/prefix`` (pyarrow's path form)."""

    url: str = ""
    _held: dict[str, S3Lock] = field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    def parse(url: str) -> tuple[str, str]:
        rest = url.removeprefix("s3://").strip("/")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise UserError(f"--lake {url!r}: name a bucket — e.g. s3://my-bucket/lake")
        return bucket, prefix

    @classmethod
    def open_url(cls, url: str, *, create: bool = True) -> S3Lake:
        bucket, prefix = cls.parse(url)
        lake = cls(
            Path(f"{bucket}/{prefix}".rstrip("/")), url=f"s3://{bucket}/{prefix}".rstrip("/")
        )
        try:
            lake.client.head_bucket(Bucket=bucket)
        except Exception as exc:  # botocore's ClientError/EndpointConnectionError: translate
            raise LakeError(
                f"cannot reach bucket {bucket!r} ({exc}) — check the bucket name and AWS_ENDPOINT_URL,"
                " AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_REGION",
                path=url,
            ) from exc
        if not create and not lake.keys(""):
            raise UserError(f"no lake at {url!r} — check --lake (or RLVR_LAKE); commands that "
                            "write, such as `rlvr prompts import`, create one")  # fmt: skip
        return lake

    # -- the object store --------------------------------------------------------------------

    @cached_property
    def client(self) -> Any:
        return _client()

    @cached_property
    def fs(self) -> Any:
        return _filesystem()

    @property
    def bucket(self) -> str:
        return self.parse(self.url)[0]

    def _key(self, relative: str) -> str:
        prefix = self.parse(self.url)[1]
        return f"{prefix}/{relative}" if prefix else relative

    def put_if_absent(self, relative: str, body: bytes) -> bool:
        """One PUT with ``If-None-Match: *``: False if the key exists (412), True once written."""
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(relative), Body=body,
                                   IfNoneMatch="*")  # fmt: skip
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return False
            raise LakeError(f"cannot write to S3 ({code}: {exc}) — check the credentials "
                            "and that the bucket is writable", path=self.url) from exc  # fmt: skip
        return True

    def read_json(self, relative: str) -> dict[str, Any] | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(relative))["Body"]
            return json.loads(body.read())
        except Exception:  # gone (released meanwhile) or unreadable: not a live holder
            return None

    def delete(self, relative: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(relative))

    def keys(self, relative: str) -> list[str]:
        """Keys under ``relative`` (relative to the lake), sorted."""
        out: list[str] = []
        prefix = self._key(relative)
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            out.extend(item["Key"] for item in page.get("Contents", ()))
        return sorted(out)

    # -- locks and runs ----------------------------------------------------------------------

    def lock(self, name: str) -> S3Lock:  # type: ignore[override]
        return S3Lock(self, f".rlvr/locks/{name}.lock")

    def _hold_run(self, run_id: str) -> None:
        lock = S3Lock(self, f".rlvr/locks/run-{run_id}.lock")
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            raise UserError(f"run {run_id!r} is being worked on by another process — wait for "
                            "it to end, or start another run") from None  # fmt: skip
        self._held[run_id] = lock

    def _release_run(self, run_id: str) -> None:
        lock = self._held.pop(run_id, None)
        if lock is not None:
            lock.release()

    def stale_runs(self) -> set[str]:
        frame = self.scan("runs").filter(pl.col("status") == "running").collect()
        stale = set()
        for run_id, params in frame.select("run_id", "params").iter_rows():
            holder = self.read_json(f".rlvr/locks/run-{run_id}.lock")
            process = (json.loads(params or "{}") or {}).get("process") or {}
            if holder is None or (process.get("host") == socket.gethostname()
                                  and not _pid_alive(process.get("pid"))):  # fmt: skip
                stale.add(run_id)
        return stale

    # -- writing and reading -----------------------------------------------------------------

    def _write(self, table: str, arrow: pa.Table, run_id: str) -> str:  # type: ignore[override]
        buffer = io.BytesIO()
        pq.write_table(arrow.cast(file_schema(table)), buffer, row_group_size=ROW_GROUP_ROWS,
                       **write_options(table))  # fmt: skip
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        relative = f"{table}/run_id={run_id}/part-{stamp}-{uuid.uuid4().hex}.parquet"
        if not self.put_if_absent(relative, buffer.getvalue()):
            raise LakeError("a part with this unique name already exists", path=relative)
        return f"s3://{self.bucket}/{self._key(relative)}"

    def _present_ids(self, table: str, scope: str | None) -> set[Any]:
        """Ids on S3, cached per table: only parts not seen before are read (as on disk), so a
        long job's appends stay linear. Called under the table's lease."""
        (column,) = id_columns(table)
        listed = {path for path, _ in self._listed(table, scope)}
        cached = _ID_CACHE.get((self.url, table))
        if cached is None or cached[0] != scope or not cached[1] <= listed:
            cached = _ID_CACHE[(self.url, table)] = (scope, set(), set())
        _, seen, present = cached
        new = [path for path in sorted(listed - seen) if self._problem(table, path) is None]
        if new:
            present.update(self._read(new, [column])[column].to_pylist())
            seen.update(new)
        return present

    @contextmanager
    def _dedupe(self, table: str, run_id: str) -> Iterator[Any]:
        # new_rows() marks ids present before their part is written: on any error, forget them.
        try:
            with super()._dedupe(table, run_id) as new_rows:
                yield new_rows
        except BaseException:
            _ID_CACHE.pop((self.url, table), None)
            raise

    def _read(self, files: list[str], columns: list[str] | None = None) -> pa.Table:
        paths = [f.removeprefix("s3://") for f in files]
        return pq.read_table(paths, filesystem=self.fs, columns=columns, partitioning=None)

    def files(self, table: str, run_id: str | None = None) -> list[str]:  # type: ignore[override]
        return [path for path, reason in self._inspect_parts(table, run_id) if reason is None]

    def _inspect_parts(self, table: str, run_id: str | None = None) -> list[tuple[str, str | None]]:
        """Lake._inspect for s3 paths (strings, not Paths): each part with its problem or None."""
        return [(path, self._problem(table, path)) for path, _ in self._listed(table, run_id)]

    def _listed(self, table: str, run_id: str | None) -> list[tuple[str, str]]:
        """(s3 path, key) of the table's data parts (in one run's partition if given)."""
        self.table_path(table)
        folder = f"{table}/run_id={run_id}/" if run_id else f"{table}/run_id="
        found = []
        for key in self.keys(folder):
            name = key.rsplit("/", 1)[-1]
            if name.endswith(".parquet") and name[0] not in "._":
                found.append((f"s3://{self.bucket}/{key}", key))
        return found

    def _problem(self, table: str, path: str) -> str | None:
        try:
            stored = pq.read_schema(path.removeprefix("s3://"), filesystem=self.fs)
        except (OSError, pa.ArrowException) as exc:
            return f"unreadable Parquet footer ({exc})"
        return schema_problem(table, stored)

    def scan(self, table: str) -> pl.LazyFrame:
        files = self.files(table)
        empty = SCHEMAS[table].empty_table()
        arrow = (
            pa.concat_tables([conform(table, self._read([f])) for f in files]) if files else empty
        )
        frame = to_polars(arrow.cast(SCHEMAS[table]))
        return frame.lazy().sort("created_at").unique(subset=list(id_columns(table)), keep="last")

    def existing_ids(self, table: str, run_id: str | None = None) -> set[Any]:
        keys = list(id_columns(table))
        files = self.files(table, run_id)
        if not files:
            return set()
        frame = to_polars(self._read(files, keys)).unique()
        return set(frame[keys[0]].to_list()) if len(keys) == 1 else set(frame.iter_rows())

    def register_filesystem(self, con: Any) -> None:
        """Let DuckDB read ``s3://`` paths through pyarrow's S3 filesystem (no httpfs needed)."""
        from fsspec.implementations.arrow import ArrowFSWrapper

        con.register_filesystem(ArrowFSWrapper(self.fs))

    # -- maintenance -------------------------------------------------------------------------

    def check(self):
        from engine.lake import CheckReport, Problem

        problems, files_ok = [], 0
        for table in SCHEMAS:
            for path, reason in self._inspect_parts(table):
                if reason is None:
                    files_ok += 1
                else:
                    kind = "schema" if reason.startswith("schema:") else "corrupt"
                    problems.append(Problem(kind=kind, path=path, reason=reason))
        return CheckReport(files_ok=files_ok, problems=tuple(problems))

    def compact(self, table: str, *, small_bytes: int = 0):
        """Each partition with more than one part, or superseded rows, becomes one part: its
        latest row per id, written by one conditional PUT before the old parts are deleted."""
        from engine.lake import CompactReport

        keys = list(id_columns(table))
        with self.lock(table):
            partitions: dict[str, list[str]] = {}
            for path in self.files(table):
                partitions.setdefault(path.rsplit("/", 1)[0], []).append(path)
            rows = before = dropped = compacted = 0
            for folder, paths in partitions.items():
                arrow = pa.concat_tables([conform(table, self._read([p])) for p in paths])
                latest = to_polars(arrow).sort("created_at").unique(subset=keys, keep="last")
                if len(paths) == 1 and latest.height == arrow.num_rows:
                    continue
                run_id = folder.rsplit("run_id=", 1)[1]
                self._write(table, latest.to_arrow().cast(SCHEMAS[table]), run_id)
                for path in paths:
                    self.client.delete_object(Bucket=self.bucket,
                                              Key=path.removeprefix(f"s3://{self.bucket}/"))  # fmt: skip
                rows += latest.height
                before += len(paths)
                dropped += arrow.num_rows - latest.height
                compacted += 1
        return CompactReport(table=table, partitions_compacted=compacted, files_before=before,
                             files_after=compacted, rows=rows, rows_dropped=dropped)  # fmt: skip


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
