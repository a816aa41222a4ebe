"""One Parquet file of the lake: its name while written, its stored schema, its atomic write,
the check of a file found on disk, and compact's rewrite of a partition (engine.lake uses these).

A file is written as ``.tmp-part-<utc time>-<uuid>.parquet.partial`` in its partition folder,
fsynced, renamed to ``part-….parquet`` and the folder fsynced: no ``*.parquet`` glob ever matches a
file in flight or one a killed writer left (issue 10), and :meth:`engine.lake.Lake.check` lists those.
Files store ``run_id`` as ``dictionary<int32, string>``, the type pyarrow gives a hive partition key,
so ``pq.read_table(lake/<table>)`` merges the column with the folder names.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from engine.errors import LakeError
from engine.schema import SCHEMAS, TEXT_COLUMNS, conform, id_columns

__all__ = [
    "ROW_GROUP_ROWS",
    "RUN_ID_FILE_TYPE",
    "TEMP_PREFIX",
    "TEMP_SUFFIX",
    "atomic_file",
    "file_problem",
    "file_schema",
    "final_path",
    "fsync_dir",
    "merge",
    "normal",
    "row_groups",
    "schema_problem",
    "superseded",
    "to_rewrite",
    "write_options",
]

TEMP_PREFIX = ".tmp-"
TEMP_SUFFIX = ".partial"  # never matches *.parquet, so outside readers' globs skip it
# The type pyarrow infers for a hive partition key: storing run_id so keeps pq.read_table working.
RUN_ID_FILE_TYPE = pa.dictionary(pa.int32(), pa.string())
# ~128k rows per row group: big enough for fast scans, small enough that DuckDB splits work
# across cores and a writer holds one group in memory.
ROW_GROUP_ROWS = 128 * 1024


def file_problem(table: str, path: Path) -> str | None:
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
    return schema_problem(table, stored)


def schema_problem(table: str, stored: pa.Schema) -> str | None:
    """Why a file whose footer holds ``stored`` is not a file of ``table``, or None."""
    expected = SCHEMAS[table]
    for field in stored:
        if expected.get_field_index(field.name) < 0:
            return f"schema: unknown column {field.name!r}"
        want = expected.field(field.name).type
        if normal(field.type) != want:
            return f"schema: column {field.name!r} is {field.type}, expected {want}"
    for field in expected:
        if not field.nullable and field.name not in stored.names:
            return f"schema: required column {field.name!r} is missing"
    return None


def normal(type_: pa.DataType) -> pa.DataType:
    """Other writers store text as large_string or string_view, and we store run_id as a
    dictionary of strings; the lake reads them all as strings."""
    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    if pa.types.is_large_string(type_) or pa.types.is_string_view(type_):
        return pa.string()
    return type_


def write_options(table: str) -> dict[str, Any]:
    # Free text is neither dictionary-encoded (every value differs) nor given min/max statistics
    # (long strings, never filtered on by range); everything else gets both.
    coded = [name for name in SCHEMAS[table].names if name not in TEXT_COLUMNS]
    return {
        "compression": "zstd",
        "use_dictionary": coded,
        "write_statistics": coded,
    }


@contextmanager
def atomic_file(folder: Path) -> Iterator[Path]:
    """Yield a temp path in ``folder`` to write; on success fsync it and rename it into place."""
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        fsync_dir(folder.parent)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    temp = folder / f"{TEMP_PREFIX}part-{stamp}-{uuid.uuid4().hex}.parquet{TEMP_SUFFIX}"
    try:
        yield temp
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, final_path(temp))
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(folder)


def final_path(temp: Path) -> Path:
    """``.tmp-part-X.parquet.partial`` → ``part-X.parquet``."""
    return temp.with_name(temp.name.removeprefix(TEMP_PREFIX).removesuffix(TEMP_SUFFIX))


def file_schema(table: str) -> pa.Schema:
    """The table's schema as stored in a file: run_id as pyarrow's partition-key type."""
    schema = SCHEMAS[table]
    index = schema.get_field_index("run_id")
    return schema.set(index, schema.field(index).with_type(RUN_ID_FILE_TYPE))


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def superseded(table: str, files: list[Path]) -> dict[Path, set[int]]:
    """For each file, the row numbers that are not their id's latest row (DuckDB, streaming)."""
    if not files:
        return {}
    keys = ", ".join(id_columns(table))
    listed = ", ".join("'" + str(path).replace("'", "''") + "'" for path in files)
    query = (
        f"SELECT filename, file_row_number FROM read_parquet([{listed}], filename = true, "
        "file_row_number = true, union_by_name = true, hive_partitioning = false) "
        f"QUALIFY row_number() OVER (PARTITION BY {keys} "
        "ORDER BY created_at DESC, filename DESC, file_row_number DESC) > 1"
    )
    drop: dict[Path, set[int]] = {}
    with duckdb.connect(":memory:") as con:
        for filename, row in con.execute(query).fetchall():
            drop.setdefault(Path(filename), set()).add(row)
    return drop


def to_rewrite(paths: list[Path], drop: dict[Path, set[int]], small_bytes: int) -> list[Path]:
    """The files of one partition that compact rewrites into one (see :meth:`Lake.compact`)."""
    small = [path for path in paths if path.stat().st_size < small_bytes]
    chosen = set(small) if len(small) > 1 else set()
    for path in paths:
        if path in drop or not pa.types.is_dictionary(pq.read_schema(path).field("run_id").type):
            chosen.add(path)
    return sorted(chosen)


def merge(table: str, folder: Path, paths: list[Path], drop: dict[Path, set[int]]) -> int:
    """Stream ``paths`` (less the rows in ``drop``) into one new file in ``folder``, then remove
    them; returns the rows written."""
    total = sum(pq.ParquetFile(path).metadata.num_rows for path in paths)
    expected = total - sum(len(drop.get(path, ())) for path in paths)
    schema = file_schema(table)
    with atomic_file(folder) as temp:
        with pq.ParquetWriter(temp, schema, **write_options(table)) as writer:
            pending: list[pa.Table] = []
            for batch in row_groups(table, paths, drop):
                pending.append(batch.cast(schema))
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
    fsync_dir(folder)
    return expected


def row_groups(table: str, paths: list[Path], drop: dict[Path, set[int]]) -> Iterator[pa.Table]:
    for path in paths:
        parquet = pq.ParquetFile(path)
        dropped, offset = drop.get(path, set()), 0
        for index in range(parquet.num_row_groups):
            # conform() brings files written before a nullable column was added up to date.
            group = conform(table, parquet.read_row_group(index))
            if dropped:
                keep = [i not in dropped for i in range(offset, offset + group.num_rows)]
                group = group.filter(pa.array(keep))
            offset += parquet.metadata.row_group(index).num_rows
            yield group
