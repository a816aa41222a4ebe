"""Readers: format detection, records with their 1-based lines, precise errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from engine.ingest.core import MAP_TARGETS, map_generic
from engine.ingest.readers import detect_format, read_records


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.jsonl", b'{"a": 1}\n', "jsonl"),  # extension wins
        ("a.ndjson", b'{"a": 1}\n', "jsonl"),  # the other JSONL spelling
        ("a.JSON", b"[]", "json"),  # extensions are case-insensitive
        ("a.csv", b"a,b\n", "csv"),
        ("a.pq", b"PAR1", "parquet"),
        ("noext", b'{"a": 1}\n{"a": 2}\n', "jsonl"),  # one object per line
        ("noext", b'{\n  "a": 1\n}\n', "json"),  # one object over several lines
        ("noext", b"\n [ {} ]", "json"),  # an array, after whitespace
        ("noext", b"PAR1....", "parquet"),  # Parquet magic bytes
    ],
)
def test_detect_format(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert detect_format(path) == expected


def test_detect_format_unknown_says_how_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("question\tanswer\n")
    with pytest.raises(InputError, match="--format"):
        detect_format(path)


def test_jsonl_lines_skip_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"q": "1"}\n\n   \n{"q": "ü"}\r\n')
    assert [(r.line, r.data) for r in read_records(path)] == [(1, {"q": "1"}), (4, {"q": "ü"})]


@pytest.mark.parametrize(
    ("name", "content", "line", "message"),
    [
        ("a.jsonl", '{"q": 1}\n{"q": 2,}\n', 2, "malformed JSON"),  # trailing comma on line 2
        (
            "a.jsonl",
            '{"q": 1}\n\n[1, 2]\n',
            3,
            "expected a JSON object",
        ),  # an array is not a record
        ("a.jsonl", '{"q": 1}\n[{"q": 1},\n', 2, "--format json"),  # a JSON file named .jsonl
        ("a.json", '[\n {"q": 1},\n {"q": 2,}\n]', 3, "malformed JSON"),  # bad element on line 3
        (
            "a.json",
            '[\n {"q": 1},\n 7\n]',
            3,
            "expected a JSON object",
        ),  # element of the wrong type
        ("a.json", '[\n {"q": 1}\n', 3, "unterminated array"),  # missing ']'
        ("a.json", '[\n {"q": 1}\n] x', 3, "extra data"),  # garbage after the array
        ("a.json", '{"q": 1}\n{"q": 2}\n', 1, "--format jsonl"),  # JSONL named .json
        ("a.csv", "q,a\n1,2\n3,4,5\n", 3, "fields, the header has 2"),  # a row with an extra field
    ],
)
def test_bad_input_names_file_and_line(
    tmp_path: Path, name: str, content: str, line: int, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        read_records(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}:")


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"q": "ok"}\n{"q": "\xff"}\n')
    with pytest.raises(InputError, match="not UTF-8") as info:
        read_records(path)
    assert info.value.line == 2


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_records(tmp_path / "missing.jsonl")
    (tmp_path / "a.jsonl").write_text("{}\n")
    with pytest.raises(InputError, match="unknown format 'xml'"):
        read_records(tmp_path / "a.jsonl", "xml")


def test_json_array_records_know_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[\n  {"q": "a\\nb"},\n\n  {"q": "c"}, {"q": "d"}\n]\n')
    assert [(r.line, r.data["q"]) for r in read_records(path)] == [(2, "a\nb"), (4, "c"), (4, "d")]


def test_json_single_object_and_empty_array(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text('\n{"q": 1}\n')
    (tmp_path / "none.json").write_text("[ ]")
    assert [(r.line, r.data) for r in read_records(tmp_path / "one.json")] == [(2, {"q": 1})]
    assert read_records(tmp_path / "none.json") == []


def test_csv_multiline_field_keeps_row_start_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('question,answer\n"two\nlines",1\nthird,2\n')
    assert [(r.line, r.data) for r in read_records(path)] == [
        (2, {"question": "two\nlines", "answer": "1"}),
        (4, {"question": "third", "answer": "2"}),
    ]


def test_parquet_rows_and_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"q": ["x", "y"], "n": [1, 2]}), path)
    assert [(r.line, r.data) for r in read_records(path)] == [
        (1, {"q": "x", "n": 1}),
        (2, {"q": "y", "n": 2}),
    ]
    bad = tmp_path / "b.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_records(bad)


# -- hypothesis: arbitrary field names and unicode survive; bad lines are found -------------------
_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
_records = st.lists(
    st.dictionaries(
        _text, st.one_of(_text, st.integers(), st.none(), st.booleans()), min_size=1, max_size=5
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(records=_records, blank_every=st.integers(min_value=2, max_value=5))
def test_jsonl_roundtrip_any_keys_and_unicode(
    tmp_path_factory: pytest.TempPathFactory, records: list[dict], blank_every: int
) -> None:
    path = tmp_path_factory.mktemp("h") / "x.jsonl"
    lines, expected_lines = [], []
    for i, rec in enumerate(records):
        if i % blank_every == 1:
            lines.append("")  # blank lines are skipped but still counted
        lines.append(json.dumps(rec, ensure_ascii=bool(i % 2)))
        expected_lines.append(len(lines))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = read_records(path)
    assert [r.data for r in got] == records
    assert [r.line for r in got] == expected_lines


@settings(max_examples=60, deadline=None)
@given(
    n_good=st.integers(min_value=0, max_value=20),
    junk=st.sampled_from(['{"a": ', "{'a': 1}", "nope", '{"a" 1}']),
)
def test_jsonl_bad_line_number(
    tmp_path_factory: pytest.TempPathFactory, n_good: int, junk: str
) -> None:
    path = tmp_path_factory.mktemp("h") / "x.jsonl"
    path.write_text("".join('{"a": 1}\n' for _ in range(n_good)) + junk + '\n{"a": 2}\n')
    with pytest.raises(InputError) as info:
        read_records(path)
    assert info.value.line == n_good + 1


@settings(max_examples=60, deadline=None)
@given(problem_key=_text, answer_key=_text, problem=_text, answer=_text)
def test_mapping_any_column_names(
    problem_key: str, answer_key: str, problem: str, answer: str
) -> None:
    # One column cannot be both; dots mean nested paths; the other targets read their own names.
    assume(problem_key != answer_key and "." not in problem_key + answer_key)
    assume({problem_key, answer_key}.isdisjoint({*MAP_TARGETS, "extra"}))
    assume(problem.strip() != "" and answer.strip() != "")  # empty problems are errors
    rec = {problem_key: problem, answer_key: answer, "extra": "kept"}
    draft = map_generic(rec, {"problem": problem_key, "answer": answer_key}, None)
    assert (draft.problem, draft.answer, draft.task) == (problem, answer, "math")
    assert draft.meta == {"extra": "kept"}
