"""Schemas, conform() and ids: the data model's contract with every writer."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import ids, schema
from engine.errors import SchemaError
from engine.schema import ID_COLUMN, SCHEMAS, TIMESTAMP, conform

RUN = "20261129T031500-test-ab12cd"


def rollout(**overrides: object) -> dict:
    row = {"rollout_id": "r0", "prompt_id": "p0", "sample_idx": 0, "completion": "42"}
    row["source"] = "generate"
    return row | overrides


def test_tables_and_ids_cover_the_same_tables() -> None:
    assert set(SCHEMAS) == set(ID_COLUMN) == {"prompts", "runs", "rollouts", "verdicts"}
    assert ID_COLUMN["verdicts"] == ("rollout_id", "verifier")


@pytest.mark.parametrize("table", sorted(SCHEMAS))
def test_every_table_has_required_ids_run_id_and_utc_created_at(table: str) -> None:
    fields = SCHEMAS[table]
    for key in schema.id_columns(table):
        assert not fields.field(key).nullable, key
    # run_id names the hive partition, so every table carries it (prompts: the ingest run).
    assert not fields.field("run_id").nullable
    assert fields.field("created_at").type == TIMESTAMP == pa.timestamp("us", tz="UTC")


def test_design_columns_are_present() -> None:
    # The column lists of DESIGN.md, "The lake" (plus run_id/created_at noted in schema.py).
    design = {
        "prompts": "prompt_id dataset split task problem answer tests meta created_at",
        "runs": "run_id kind model backend params status started_at finished_at rlvr_version seed",
        "rollouts": "rollout_id run_id prompt_id sample_idx model completion reasoning answer_text "
        "prompt_tokens completion_tokens finish_reason temperature top_p seed latency_ms source "
        "step created_at",
        "verdicts": "rollout_id verifier verifier_version status reward extracted detail "
        "elapsed_ms created_at",
    }
    for table, columns in design.items():
        assert set(columns.split()) <= set(SCHEMAS[table].names), table


def test_conform_accepts_arrow_polars_and_dicts_alike() -> None:
    rows = [rollout(), rollout(rollout_id="r1", sample_idx=1)]
    from_dicts = conform("rollouts", rows, run_id=RUN)
    from_polars = conform("rollouts", pl.DataFrame(rows), run_id=RUN)
    from_arrow = conform("rollouts", pa.Table.from_pylist(rows), run_id=RUN)
    assert from_dicts.schema == from_polars.schema == from_arrow.schema == SCHEMAS["rollouts"]
    drop = ["created_at"]
    assert from_dicts.drop(drop).equals(from_polars.drop(drop))
    assert from_dicts.drop(drop).equals(from_arrow.drop(drop))
    assert from_dicts["run_id"].to_pylist() == [RUN, RUN]
    assert from_dicts["created_at"].null_count == 0


def test_conform_serializes_json_columns_and_reads_naive_times_as_utc() -> None:
    row = {"run_id": RUN, "kind": "generate", "status": "running", "params": {"k": 8}}
    row["started_at"] = datetime(2026, 1, 1, 12, 0)  # naive
    table = conform("runs", [row], run_id=RUN)
    assert table["params"].to_pylist() == ['{"k": 8}']
    assert table["started_at"][0].as_py() == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_conform_keeps_given_created_at_and_fills_nulls() -> None:
    when = datetime(2025, 5, 5, tzinfo=UTC)
    table = conform("rollouts", [rollout(created_at=when), rollout(created_at=None)], run_id=RUN)
    assert table["created_at"][0].as_py() == when
    assert table["created_at"][1].as_py() > when


BAD_ROWS = [
    # a required column is absent
    (
        [{"rollout_id": "r", "prompt_id": "p", "completion": "c", "source": "generate"}],
        "sample_idx",
        None,
    ),
    # NULL in a non-nullable column, second row
    ([rollout(), rollout(completion=None)], "completion", 1),
    # a float where an int is expected is never truncated
    ([rollout(), rollout(), rollout(sample_idx=1.5)], "sample_idx", 2),
    # text where a number is expected
    ([rollout(sample_idx="3")], "sample_idx", 0),
    # a number where text is expected
    ([rollout(), rollout(completion=7)], "completion", 1),
    # int32 overflow
    ([rollout(sample_idx=2**40)], "sample_idx", 0),
    # outside the vocabulary
    ([rollout(), rollout(source="sft")], "source", 1),
    # a typo is an unknown column, not a silently dropped one
    ([rollout(smaple_idx=1)], "smaple_idx", None),
    # the row says another run than the partition it is written to
    ([rollout(), rollout(run_id="other-run")], "run_id", 1),
]


@pytest.mark.parametrize(("rows", "field", "row"), BAD_ROWS)
def test_conform_errors_name_table_field_and_row(rows: list, field: str, row: int | None) -> None:
    with pytest.raises(SchemaError) as caught:
        conform("rollouts", rows, run_id=RUN)
    assert (caught.value.table, caught.value.field) == ("rollouts", field)
    assert str(caught.value).startswith(f"rollouts.{field}: ")
    if row is not None:
        assert f"row {row}:" in str(caught.value)


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        # a whole column of the wrong type in a polars frame
        (pl.DataFrame([rollout(sample_idx="0")]), "sample_idx"),
        # a boolean is not a number
        (pl.DataFrame([rollout(prompt_tokens=True)]), "prompt_tokens"),
    ],
)
def test_conform_rejects_wrong_column_types_in_frames(frame: pl.DataFrame, field: str) -> None:
    with pytest.raises(SchemaError, match=rf"rollouts\.{field}: row 0: "):
        conform("rollouts", frame, run_id=RUN)


def test_conform_widens_ints_to_floats_and_reads_categoricals() -> None:
    frame = pl.DataFrame([rollout(temperature=1)]).with_columns(
        pl.col("source").cast(pl.Categorical)
    )
    table = conform("rollouts", frame, run_id=RUN)
    assert table["temperature"].to_pylist() == [1.0]
    assert table["source"].to_pylist() == ["generate"]


def test_unknown_table_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="unknown table"):
        conform("rolouts", [rollout()], run_id=RUN)


# -- ids ---------------------------------------------------------------------------------------


def test_prompt_id_is_stable_16_hex_and_ignores_surrounding_whitespace() -> None:
    first = ids.prompt_id("gsm8k", "What is 2 + 2?")
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    assert first == ids.prompt_id("gsm8k", "  What is 2 + 2?\n")
    assert first != ids.prompt_id("math500", "What is 2 + 2?")


@given(st.text(max_size=20), st.text(max_size=20), st.text(max_size=20))
def test_ids_do_not_collide_when_parts_shift(a: str, b: str, c: str) -> None:
    # ("ab", "c") and ("a", "bc") are different prompts; the separator keeps them apart.
    if (a.strip(), b.strip()) != (a, b) or "\x1f" in a + b + c:
        return
    assert ids.prompt_id(a + b, c) == ids.prompt_id(a + b, c)
    if b:
        assert ids.prompt_id(a, b + c) != ids.prompt_id(a + b, c)


def test_rollout_id_depends_on_run_prompt_and_sample() -> None:
    base = ids.rollout_id(RUN, "p", 0)
    assert base == ids.rollout_id(RUN, "p", 0)
    assert len({base, ids.rollout_id(RUN, "p", 1), ids.rollout_id("other", "p", 0)}) == 3


def test_new_run_id_sorts_by_time_and_is_unique() -> None:
    early = ids.new_run_id("generate", now=datetime(2026, 1, 1, tzinfo=UTC))
    late = ids.new_run_id("generate", now=datetime(2026, 1, 2, tzinfo=UTC))
    assert re.fullmatch(r"20260101T000000-generate-[0-9a-f]{6}", early)
    assert early < late
    assert ids.new_run_id("verify") != ids.new_run_id("verify")
    assert ids.RUN_ID_PATTERN.fullmatch(ids.new_run_id("ingest"))


@pytest.mark.parametrize("kind", ["", "Generate", "gen/../x", "a b"])
def test_new_run_id_rejects_kinds_unsafe_in_paths(kind: str) -> None:
    with pytest.raises(ValueError, match="run kind"):
        ids.new_run_id(kind)


@pytest.mark.parametrize(
    ("table", "rows", "field", "message"),
    [
        # a JSON column given a value json cannot write
        (
            "prompts",
            [{"meta": {"when": datetime(2026, 1, 1)}}],
            "meta",
            "row 0: not JSON-serializable",
        ),
        # rows must be dicts
        ("prompts", [("p", "d")], None, "row 0 is tuple, not a dict"),
    ],
)
def test_conform_names_bad_python_rows(
    table: str, rows: list, field: str | None, message: str
) -> None:
    with pytest.raises(SchemaError, match=message) as caught:
        conform(table, rows, run_id=RUN)
    assert caught.value.field == field


def test_conform_writes_unicode_json_readably() -> None:
    row = {
        "prompt_id": "p",
        "dataset": "d",
        "task": "math",
        "problem": "x",
        "meta": {"lang": "中文"},
    }
    assert conform("prompts", [row], run_id=RUN)["meta"].to_pylist() == ['{"lang": "中文"}']
