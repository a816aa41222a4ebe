"""Arrow schemas of the lake's tables, and the one function that makes data fit them.

Every table the engine writes is declared here (DESIGN.md, "The lake"), so a reader can see the
whole data model on one screen. Conventions:

- ids are strings (16 hex chars, :mod:`engine.ids`); ``run_id`` is both a column and the hive
  partition key (``<table>/run_id=<id>/part-*.parquet``), so a file copied out of the lake still
  says where it came from. ``prompts`` carries ``run_id`` too (the ingest run), which DESIGN.md's
  column list leaves out but the partition layout needs.
- ``created_at`` (timestamp[us, UTC]) is on every table; the writer fills it when absent. Tables
  are append-only, so an update is a new row with the same id and a later ``created_at``; readers
  keep the latest row per id (:data:`ID_COLUMN`). ``runs`` gets ``created_at`` for the same reason:
  finishing a run appends its final row.
- JSON columns (:data:`JSON_COLUMNS`) are strings holding JSON, so any engine reads them
  (``json_extract(meta, '$.level')`` in DuckDB). Dicts and lists given for them are serialized.
- Non-nullable fields are the ones a row means nothing without; everything else may be NULL
  (a NULL ``reward`` means "not judged", never 0).

>>> conform("runs", [{"run_id": "r1", "kind": "generate", "status": "running",
...                    "started_at": datetime(2026, 1, 1, tzinfo=UTC)}]).num_rows
1
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeAlias

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from engine.errors import SchemaError
from verifiers.verdict import STATUSES

__all__ = [
    "ENUMS",
    "ID_COLUMN",
    "JSON_COLUMNS",
    "SCHEMAS",
    "TEXT_COLUMNS",
    "TIMESTAMP",
    "Data",
    "conform",
    "id_columns",
    "to_polars",
]

TIMESTAMP = pa.timestamp("us", tz="UTC")


def _f(name: str, type_: pa.DataType, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable)


_str, _i32, _i64, _f64 = pa.string(), pa.int32(), pa.int64(), pa.float64()

SCHEMAS: dict[str, pa.Schema] = {
    "prompts": pa.schema(
        [
            _f("prompt_id", _str, False),  # ids.prompt_id(dataset, problem)
            _f("run_id", _str, False),  # the ingest run (partition key)
            _f("dataset", _str, False),
            _f("split", _str),
            _f("task", _str, False),  # ENUMS
            _f("problem", _str, False),
            _f("answer", _str),  # math gold answer
            _f("tests", _str),  # JSON: verifiers.code.schema schema
            _f("meta", _str),  # JSON
            _f("created_at", TIMESTAMP, False),
        ]
    ),
    "runs": pa.schema(
        [
            _f("run_id", _str, False),
            _f("kind", _str, False),  # generate | verify | select | export | train | ingest ...
            _f("model", _str),
            _f("backend", _str),
            _f("params", _str),  # JSON: sampling, verifier config, filters
            _f("status", _str, False),  # ENUMS
            _f("started_at", TIMESTAMP, False),
            _f("finished_at", TIMESTAMP),
            _f("rlvr_version", _str),
            _f("seed", _i64),
            _f("created_at", TIMESTAMP, False),
        ]
    ),
    "rollouts": pa.schema(
        [
            _f("rollout_id", _str, False),  # ids.rollout_id(run_id, prompt_id, sample_idx)
            _f("run_id", _str, False),
            _f("prompt_id", _str, False),
            _f("sample_idx", _i32, False),
            _f("model", _str),
            _f("completion", _str, False),
            _f("reasoning", _str),  # text inside <think>
            _f("answer_text", _str),  # text after </think>
            _f("prompt_tokens", _i32),
            _f("completion_tokens", _i32),
            _f("finish_reason", _str),  # stop | length | ...
            _f("temperature", _f64),
            _f("top_p", _f64),
            _f("seed", _i64),
            _f("latency_ms", _f64),
            _f("source", _str, False),  # ENUMS
            _f("step", _i64),  # training step when source = train
            _f("created_at", TIMESTAMP, False),
        ]
    ),
    "verdicts": pa.schema(
        [
            _f("rollout_id", _str, False),
            _f("verifier", _str, False),  # registry name: math, code, format, language ...
            _f("run_id", _str, False),  # the run that judged (partition key)
            _f("verifier_version", _str),
            _f("status", _str, False),  # ENUMS
            _f("reward", _f64),  # NULL when not verifiable, never silently 0
            _f("extracted", _str),  # the final answer the verifier read
            _f("detail", _str),  # JSON: per-test judge codes, reasons
            _f("elapsed_ms", _f64),
            _f("created_at", TIMESTAMP, False),
        ]
    ),
}

# One row per id in every view; verdicts are unique per (rollout, verifier): re-judging a rollout
# with the same verifier replaces the old verdict, another verifier adds one.
ID_COLUMN: dict[str, str | tuple[str, ...]] = {
    "prompts": "prompt_id",
    "runs": "run_id",
    "rollouts": "rollout_id",
    "verdicts": ("rollout_id", "verifier"),
}

JSON_COLUMNS: dict[str, frozenset[str]] = {
    "prompts": frozenset({"tests", "meta"}),
    "runs": frozenset({"params"}),
    "rollouts": frozenset(),
    "verdicts": frozenset({"detail"}),
}

# Free text and ids: high cardinality, so the writer skips dictionary encoding for them.
TEXT_COLUMNS: frozenset[str] = frozenset({
    "prompt_id", "rollout_id", "problem", "answer", "tests", "meta", "params", "completion",
    "reasoning", "answer_text", "extracted", "detail",
})  # fmt: skip

ENUMS: dict[tuple[str, str], frozenset[str]] = {
    ("prompts", "task"): frozenset({"math", "code", "general", "countdown"}),
    ("runs", "status"): frozenset({"running", "done", "failed", "interrupted"}),
    ("rollouts", "source"): frozenset({"generate", "train"}),
    ("verdicts", "status"): frozenset(STATUSES),  # one source: verifiers.verdict.Status
}


def id_columns(table: str) -> tuple[str, ...]:
    """The column(s) that identify a row of ``table``, always as a tuple."""
    key = ID_COLUMN[table]
    return (key,) if isinstance(key, str) else key


def to_polars(arrow: pa.Table) -> pl.DataFrame:
    """``pl.from_arrow`` for a table, typed as the DataFrame it returns (never a Series).

    >>> to_polars(pa.table({"a": [1, 2]})).height
    2
    """
    frame = pl.from_arrow(arrow)
    assert isinstance(frame, pl.DataFrame)  # polars returns a Series only for an Arrow array
    return frame


Data: TypeAlias = pa.Table | pl.DataFrame | Sequence[Mapping[str, Any]]


def conform(table: str, data: Data, *, run_id: str | None = None) -> pa.Table:
    """Return ``data`` as an Arrow table with exactly ``SCHEMAS[table]``, or raise SchemaError.

    Safe casts are applied (int64 → int32 when the values fit, naive timestamps read as UTC);
    ``created_at`` is filled with now where absent; ``run_id`` is filled from the argument and must
    match it. The error names the table, the field and the first bad row.
    """
    schema = _schema(table)
    arrow = _to_arrow(table, schema, data)
    arrow = _fill_defaults(table, arrow, run_id)
    unknown = [name for name in arrow.column_names if schema.get_field_index(name) < 0]
    if unknown:
        raise SchemaError(
            f"unknown column(s) {unknown}; columns are {schema.names}",
            table=table,
            field=unknown[0],
        )
    columns = [_conform_column(table, field, arrow) for field in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def _schema(table: str) -> pa.Schema:
    try:
        return SCHEMAS[table]
    except KeyError:
        raise SchemaError(f"unknown table; tables are {sorted(SCHEMAS)}", table=table) from None


def _to_arrow(table: str, schema: pa.Schema, data: Data) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pl.DataFrame):
        return data.to_arrow()
    if isinstance(data, Mapping) or not isinstance(data, Sequence):
        raise SchemaError(
            f"expected an Arrow table, a polars DataFrame or a list of dicts, got {type(data).__name__}",
            table=table,
        )
    bad_row = next((i for i, row in enumerate(data) if not isinstance(row, Mapping)), None)
    if bad_row is not None:
        raise SchemaError(
            f"row {bad_row} is {type(data[bad_row]).__name__}, not a dict", table=table
        )
    names = list(dict.fromkeys(key for row in data for key in row))
    columns = {}
    for name in names:
        values = [row.get(name) for row in data]
        if name in JSON_COLUMNS[table]:
            values = [_json_text(table, name, i, value) for i, value in enumerate(values)]
        field = schema.field(name) if schema.get_field_index(name) >= 0 else None
        columns[name] = _pylist_to_array(table, name, field, values)
    return pa.table(columns) if columns else pa.table({"_": pa.nulls(len(data))}).drop(["_"])


def _json_text(table: str, name: str, row: int, value: Any) -> str | None:
    """JSON columns hold text; a dict or list given for one is serialized here."""
    if value is None or isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise SchemaError(
            f"row {row}: not JSON-serializable ({exc})", table=table, field=name
        ) from exc


def _pylist_to_array(table: str, name: str, field: pa.Field | None, values: list) -> pa.Array:
    """Infer the type, then let _cast() judge it: pa.array(type=int32) would truncate 1.5 to 1."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        first = next((type(v) for v in values if v is not None), None)
        row = next((i for i, v in enumerate(values) if v is not None and type(v) is not first), 0)
        # pa.array() raised, so some value is not None and ``first`` is its type
        assert first is not None
        expected = field.type if field else f"{first.__name__} like the rows before"
        raise SchemaError(
            f"row {row}: {values[row]!r} is {type(values[row]).__name__}, expected {expected}",
            table=table,
            field=name,
        ) from exc


def _fill_defaults(table: str, arrow: pa.Table, run_id: str | None) -> pa.Table:
    if run_id is not None:
        arrow = _fill_run_id(table, arrow, run_id)
    now = pa.scalar(datetime.now(UTC), TIMESTAMP)
    if "created_at" not in arrow.column_names:
        return arrow.append_column("created_at", pa.repeat(now, arrow.num_rows))
    if arrow["created_at"].null_count:
        column = _cast(table, SCHEMAS[table].field("created_at"), arrow["created_at"])
        index = arrow.column_names.index("created_at")
        return arrow.set_column(index, "created_at", pc.fill_null(column, now))
    return arrow


def _fill_run_id(table: str, arrow: pa.Table, run_id: str) -> pa.Table:
    """Rows without a run_id get the partition's; a row naming another run is an error."""
    if "run_id" not in arrow.column_names:
        return arrow.append_column("run_id", pa.repeat(pa.scalar(run_id), arrow.num_rows))
    column = _cast(table, SCHEMAS[table].field("run_id"), arrow["run_id"])
    mismatch = pc.fill_null(pc.not_equal(column, run_id), False)
    if pc.any(mismatch).as_py():
        row = pc.index(mismatch, True).as_py()
        raise SchemaError(
            f"row {row}: {column[row].as_py()!r} differs from the partition's run_id {run_id!r}",
            table=table,
            field="run_id",
        )
    index = arrow.column_names.index("run_id")
    return arrow.set_column(index, "run_id", pc.fill_null(column, run_id))


def _conform_column(table: str, field: pa.Field, arrow: pa.Table) -> pa.ChunkedArray:
    if field.name not in arrow.column_names:
        if not field.nullable:
            raise SchemaError("required column is missing", table=table, field=field.name)
        return pa.chunked_array([pa.nulls(arrow.num_rows, field.type)])
    column = _cast(table, field, arrow[field.name])
    if not field.nullable and column.null_count:
        row = pc.index(pc.is_null(column), True).as_py()
        raise SchemaError(f"row {row}: NULL in a required column", table=table, field=field.name)
    allowed = ENUMS.get((table, field.name))
    if allowed is not None:
        bad = pc.invert(pc.fill_null(pc.is_in(column, pa.array(sorted(allowed))), True))
        if pc.any(bad).as_py():
            row = pc.index(bad, True).as_py()
            raise SchemaError(
                f"row {row}: {column[row].as_py()!r} is not one of {sorted(allowed)}",
                table=table,
                field=field.name,
            )
    return column


def _cast(table: str, field: pa.Field, column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Cast within a type family only: a number is never silently turned into text, or back."""
    source = column.type
    if source == field.type:
        return column
    if pa.types.is_dictionary(source):  # polars Categorical, pandas category
        column, source = column.cast(source.value_type), source.value_type
    if not _compatible(source, field.type):
        row = next((i for i, v in enumerate(column.is_valid().to_pylist()) if v), 0)
        raise SchemaError(
            f"row {row}: {column[row].as_py()!r} is {source}, expected {field.type}",
            table=table,
            field=field.name,
        )
    if pa.types.is_timestamp(source) and source.tz is None:  # naive timestamps are read as UTC
        column = pc.assume_timezone(column, "UTC")
    try:  # timestamps may lose sub-microsecond digits; numbers must keep their value
        return column.cast(field.type, safe=not pa.types.is_timestamp(source))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        row = _first_uncastable(column, field.type)
        raise SchemaError(
            f"row {row}: {column[row].as_py()!r} does not fit {field.type}",
            table=table,
            field=field.name,
        ) from exc


def _compatible(source: pa.DataType, target: pa.DataType) -> bool:
    return _family(source) in (_family(target), "null")


def _family(type_: pa.DataType) -> str:
    """Ints and floats are one family (the safe cast refuses 1.5 → int); text is another."""
    if pa.types.is_integer(type_) or pa.types.is_floating(type_):
        return "number"
    if (
        pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_string_view(type_)
    ):
        return "string"
    if pa.types.is_timestamp(type_):
        return "timestamp"
    return "null" if pa.types.is_null(type_) else str(type_)


def _first_uncastable(column: pa.ChunkedArray, type_: pa.DataType) -> int:
    """The first row that fails the cast; only runs on the error path, so a plain loop will do."""
    for i, value in enumerate(column.to_pylist()):
        try:
            pa.array([value], type=column.type).cast(type_, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return i
    return 0
