"""`rlvr prompts import|list|show` end to end: lake contents, idempotence, and bad input that
exits 2 with one line naming file, line and field while writing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer

import engine.cli as cli
from engine import cli_prompts
from engine.lake import Lake


@pytest.fixture
def rlvr(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run `rlvr ...` through engine.cli.main with only the prompts commands registered."""

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(
            cli, "app", typer.Typer(pretty_exceptions_enable=False, no_args_is_help=True)
        )
        monkeypatch.setattr(cli, "_register_commands", lambda: cli_prompts.register(cli.app))
        with pytest.raises(SystemExit) as info:
            cli.main(list(args))
        out = capsys.readouterr()
        return int(info.value.code or 0), out.out, out.err

    return run


GSM8K = [
    {"question": "Ducks lay 16 eggs. How many?", "answer": "16 - 3 = 13\n#### 13", "idx": 0},
    {"question": "Price of 1,000 pens at $2?", "answer": "1000 * 2 = 2000\n#### 2,000", "idx": 1},
]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _lake_files(lake: Path) -> list[Path]:
    return [p for p in lake.rglob("*") if p.is_file()]


def test_import_preset_auto_then_list_and_show(tmp_path: Path, rlvr) -> None:
    lake = tmp_path / "lake"
    src = _jsonl(tmp_path / "gsm8k_test.jsonl", GSM8K)
    code, out, err = rlvr("prompts", "import", str(src), "--preset", "auto", "--lake", str(lake))
    assert code == 0, err
    assert "imported 2 prompts (2 math) from 2 records into dataset 'gsm8k'" in out
    prompts = Lake.open(lake).scan("prompts").collect()
    assert sorted(prompts["answer"].to_list()) == ["13", "2000"]
    runs = Lake.open(lake).scan("runs").collect()
    assert runs.select("kind", "status").rows() == [("ingest", "done")]
    assert json.loads(runs["params"][0])["records"] == 2

    code, out, _ = rlvr("prompts", "list", "--lake", str(lake), "--dataset", "gsm8k")
    assert code == 0 and "2 prompts" in out and "2000" in out
    pid = prompts.filter(pl.col("answer") == "2000")["prompt_id"][0]
    code, out, _ = rlvr("prompts", "show", pid[:8], "--lake", str(lake))
    assert code == 0 and pid in out and "1,000 pens" in out and '"idx": 1' in out


def test_reimport_is_idempotent(tmp_path: Path, rlvr) -> None:
    lake = tmp_path / "lake"
    src = _jsonl(tmp_path / "gsm8k_test.jsonl", GSM8K)
    rlvr("prompts", "import", str(src), "--preset", "gsm8k", "--lake", str(lake))
    ids_before = set(Lake.open(lake).scan("prompts").collect()["prompt_id"])
    code, out, _ = rlvr("prompts", "import", str(src), "--preset", "gsm8k", "--lake", str(lake))
    assert code == 0 and "2 prompts were already in the lake" in out
    assert set(Lake.open(lake).scan("prompts").collect()["prompt_id"]) == ids_before
    count = Lake.open(lake).connect().execute("SELECT count(*) FROM prompts").fetchone()[0]
    assert count == 2  # the view keeps one row per id


@pytest.mark.parametrize(
    ("name", "content", "args", "where"),
    [
        # a malformed JSON line
        (
            "a.jsonl",
            '{"question": "q", "solution": "1"}\n{"question": "q2", "solution": 2\n',
            ["--map", "problem=question,answer=solution"],
            "a.jsonl:2: malformed JSON",
        ),
        # no problem after mapping
        (
            "a.jsonl",
            '{"question": "q", "solution": "1"}\n{"q": "q2", "solution": "2"}\n',
            ["--map", "problem=question,answer=solution"],
            "a.jsonl:2, field 'question': missing required field",
        ),
        # a wrong type
        (
            "a.jsonl",
            '{"problem": "p", "answer": "1"}\n\n{"problem": ["p2"], "answer": "2"}\n',
            [],
            "a.jsonl:3, field 'problem': expected a string, got list",
        ),
        # a wrong type in a JSON array file
        (
            "a.json",
            '[\n {"problem": "p", "answer": 1},\n {"problem": "p2", "answer": {"x": 1}}\n]',
            [],
            "a.json:3, field 'answer': expected a string or number, got dict",
        ),
        # a preset field of the wrong type
        (
            "gsm8k_test.jsonl",
            '{"question": "q", "answer": 5}\n',
            ["--preset", "auto"],
            "gsm8k_test.jsonl:1, field 'answer': expected a string, got int",
        ),
        # tests that do not follow the schema
        (
            "a.jsonl",
            '{"problem": "p", "tests": "{\\"kind\\": \\"stdio\\"}"}\n',
            [],
            "a.jsonl:1, field 'tests': tests.cases: no test cases",
        ),
        # CSV rows are numbered by file line, the header being line 1
        ("a.csv", "problem,task\nok,math\nbad,poetry\n", [], "a.csv:3, field 'task'"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, rlvr, name: str, content: str, args: list[str], where: str
) -> None:
    lake = tmp_path / "lake"
    src = tmp_path / name
    src.write_text(content)
    code, _out, err = rlvr(
        "prompts", "import", str(src), "--dataset", "d", "--lake", str(lake), *args
    )
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert where in err
    assert _lake_files(lake) == []  # no prompts, and no ingest run either


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--preset", "nope"],
            "--preset 'nope': unknown",
        ),  # an unknown preset lists the known ones
        (["--preset", "auto"], "no preset knows the file name"),  # auto on an unknown name
        (["--preset", "gsm8k", "--map", "problem=q"], "cannot be combined"),
        (["--map", "question"], "expected TARGET=SOURCE"),
        (["--map", "prompt=question"], "not a prompt field"),
        (["--task", "poetry"], "--task 'poetry'"),
        (["--format", "xml"], "unknown format 'xml'"),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, rlvr, args: list[str], message: str) -> None:
    src = _jsonl(tmp_path / "mine.jsonl", [{"problem": "p"}])
    code, _, err = rlvr(
        "prompts", "import", str(src), "--dataset", "d", "--lake", str(tmp_path / "lake"), *args
    )
    assert code == 2 and message in err and "Traceback" not in err


def test_dataset_required_without_preset(tmp_path: Path, rlvr) -> None:
    src = _jsonl(tmp_path / "mine.jsonl", [{"problem": "p"}])
    code, _, err = rlvr("prompts", "import", str(src), "--lake", str(tmp_path / "lake"))
    assert code == 2 and "--dataset NAME is required" in err


def test_generic_csv_and_parquet_with_map(tmp_path: Path, rlvr) -> None:
    lake = tmp_path / "lake"
    csv_file = tmp_path / "mine.csv"
    csv_file.write_text('id,question,solution\n7,"What is\n2+2?",4\n')
    code, _, err = rlvr(
        "prompts",
        "import",
        str(csv_file),
        "--dataset",
        "mine",
        "--lake",
        str(lake),
        "--map",
        "problem=question,answer=solution,id=id",
        "--split",
        "train",
    )
    assert code == 0, err
    pq.write_table(pa.table({"q": ["Say hi"], "kind": ["general"]}), tmp_path / "more.parquet")
    code, _, err = rlvr(
        "prompts",
        "import",
        str(tmp_path / "more.parquet"),
        "--dataset",
        "more",
        "--lake",
        str(lake),
        "--map",
        "problem=q,task=kind",
    )
    assert code == 0, err
    rows = {
        r["dataset"]: r for r in Lake.open(lake).scan("prompts").collect().iter_rows(named=True)
    }
    assert (rows["mine"]["problem"], rows["mine"]["answer"], rows["mine"]["split"]) == (
        "What is\n2+2?",
        "4",
        "train",
    )
    assert json.loads(rows["mine"]["meta"]) == {"source_id": "7"}
    assert (rows["more"]["task"], rows["more"]["answer"]) == ("general", None)


def test_nested_fields_by_dotted_path(tmp_path: Path, rlvr, shared_data: Path) -> None:
    src = shared_data / "math" / "prm800k_phase2_train_example.json"
    code, _out, err = rlvr(
        "prompts",
        "import",
        str(src),
        "--dataset",
        "prm800k",
        "--lake",
        str(tmp_path / "lake"),
        "--map",
        "problem=question.problem,answer=question.ground_truth_answer",
    )
    assert code == 0, err
    row = Lake.open(tmp_path / "lake").scan("prompts").collect().row(0, named=True)
    assert row["answer"] and row["problem"].startswith("A Senate committee")


def test_import_real_humaneval_and_show_tests(tmp_path: Path, rlvr, shared_data: Path) -> None:
    lake = tmp_path / "lake"
    code, out, err = rlvr(
        "prompts",
        "import",
        str(shared_data / "code" / "humaneval_openai.jsonl"),
        "--preset",
        "auto",
        "--lake",
        str(lake),
        "--quiet",
    )
    assert code == 0, err
    assert "imported 164 prompts (164 code)" in out
    pid = (
        Lake.open(lake)
        .scan("prompts")
        .filter(pl.col("problem").str.contains("def has_close_elements"))
    )
    code, out, _ = rlvr("prompts", "show", pid.collect()["prompt_id"][0], "--lake", str(lake))
    assert (
        code == 0 and '"entry_point": "has_close_elements"' in out and '"kind": "function"' in out
    )


def test_show_unknown_and_ambiguous(tmp_path: Path, rlvr) -> None:
    lake = tmp_path / "lake"
    rlvr(
        "prompts",
        "import",
        str(_jsonl(tmp_path / "gsm8k_test.jsonl", GSM8K)),
        "--preset",
        "auto",
        "--lake",
        str(lake),
    )
    code, _, err = rlvr("prompts", "show", "zzzz", "--lake", str(lake))
    assert code == 2 and "no prompt 'zzzz'" in err
    code, _, err = rlvr("prompts", "show", "", "--lake", str(lake))
    assert code == 2 and "2 prompts start with" in err


def test_presets_lists_every_preset(rlvr) -> None:
    code, out, _ = rlvr("prompts", "presets")
    assert code == 0
    assert all(name in out for name in ("gsm8k", "humaneval", "codeforces", "livecodebench"))


@pytest.mark.parametrize("command", ["import", "list", "show", "presets"])
def test_every_command_has_help_with_an_example(rlvr, command: str) -> None:
    code, out, _ = rlvr("prompts", command, "--help")
    assert code == 0 and "Example" in out and "rlvr prompts" in out
