"""CSV input as spreadsheets write it (issue 10): encodings (BOM, UTF-16, cp1252) and delimiters
detected, ``--encoding``/``--delimiter`` overrides, ``-`` for standard input."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from engine.ingest.readers import CsvOptions, read_records
from engine.lake import Lake

ROOT = Path(__file__).resolve().parents[2]
ROWS = [{"problem": "Combien font 2 € + 3 € ? « réponse »", "answer": "5"},
        {"problem": "Naïve café: 1; 2, 3", "answer": "6"}]  # fmt: skip


def write_csv(path: Path, rows: list[dict], *, delimiter: str, encoding: str) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [
        ("utf-8", ","),  # the plain case
        ("utf-8-sig", ";"),  # Excel's "CSV UTF-8" in a European locale: BOM and semicolons
        ("utf-16", "\t"),  # Excel's "Unicode text": UTF-16 with BOM, tab-separated
        ("cp1252", ";"),  # Excel's legacy "CSV" on Windows: no BOM, not UTF-8
        ("utf-8", "|"),  # pipes
    ],
)
def test_encoding_and_delimiter_are_detected(tmp_path: Path, encoding: str, delimiter: str) -> None:
    path = write_csv(tmp_path / "p.csv", ROWS, delimiter=delimiter, encoding=encoding)
    assert [r.data for r in read_records(path)] == ROWS


def test_overrides_win_over_detection(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", ROWS, delimiter=";", encoding="cp1252")
    options = CsvOptions(encoding="latin-1", delimiter="semicolon")
    records = read_records(path, csv_options=options)
    assert records[1].data == ROWS[1]  # latin-1 and cp1252 agree outside 0x80-0x9f
    assert "€" not in records[0].data["problem"]  # ...and differ there: the override was used
    with pytest.raises(InputError, match=r"p.csv:2: malformed CSV"):  # control: "," was used
        read_records(path, csv_options=CsvOptions(delimiter=","))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(encoding="no-such-codec"), "unknown — e.g. utf-8"),
        (dict(delimiter=";;"), "one character"),
    ],
)
def test_bad_overrides_say_the_fix(options: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        CsvOptions(**options)


def test_a_wrong_encoding_names_the_line(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", ROWS, delimiter=",", encoding="cp1252")
    with pytest.raises(
        InputError, match=r"p.csv:2: not utf-8 text .* — pass the file's --encoding"
    ):
        read_records(path, csv_options=CsvOptions(encoding="utf-8"))


CELL = st.text(
    st.characters(codec="cp1252", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=20
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.fixed_dictionaries({"problem": CELL, "answer": CELL}), min_size=3, max_size=8),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
)
def test_any_spreadsheet_csv_round_trips(tmp_path: Path, rows, delimiter, encoding) -> None:
    path = write_csv(tmp_path / "p.csv", rows, delimiter=delimiter, encoding=encoding)
    options = CsvOptions(encoding=encoding, delimiter=delimiter)
    assert [r.data for r in read_records(path, csv_options=options)] == rows  # told: always right
    if encoding != "cp1252":  # BOM or UTF-8: detection must find it too
        detected = read_records(path, csv_options=CsvOptions(delimiter=delimiter))
        assert [r.data for r in detected] == rows


def test_dash_reads_standard_input(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "p.csv", ROWS, delimiter=";", encoding="cp1252").read_bytes()
    lake = tmp_path / "lake"
    command = [sys.executable, "-m", "engine.cli", "prompts", "import", "-", "--format", "csv",
               "--dataset", "fr", "--task", "math", "--lake", str(lake)]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, input=data, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    problems = Lake.open(lake, create=False).scan("prompts").collect()["problem"].to_list()
    assert sorted(problems) == sorted(row["problem"] for row in ROWS)
