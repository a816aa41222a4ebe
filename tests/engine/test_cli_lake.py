"""`rlvr sql`, `rlvr runs`, `rlvr stats`, `rlvr lake check|compact` through the Typer app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from engine import cli_lake
from engine.errors import UserError
from engine.lake import Lake

RUN = "20261129T031500-generate-ab12cd"


@pytest.fixture
def app() -> typer.Typer:
    # Only this module's commands, so the tests do not depend on the other command modules.
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    cli_lake.register(app)
    return app


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lake = Lake.open(tmp_path / "lake")
    prompts = [
        {
            "prompt_id": f"p{i}",
            "dataset": "gsm8k" if i < 2 else "aime",
            "task": "math",
            "problem": f"q{i}",
        }
        for i in range(3)
    ]
    lake.append("prompts", prompts, run_id="ingest-run")
    rollouts = [
        {"rollout_id": f"r{i}", "prompt_id": f"p{i % 3}", "sample_idx": i // 3, "completion": "4"}
        | {"source": "generate"}
        for i in range(6)
    ]
    with lake.run("generate", run_id=RUN, model="tiny"):
        lake.append("rollouts", rollouts, run_id=RUN)
    verdicts = [{"rollout_id": f"r{i}", "verifier": "math", "status": "correct"} for i in range(6)]
    lake.append("verdicts", verdicts, run_id=RUN)
    return lake


def invoke(app: typer.Typer, lake: Lake, *args: str, stdin: str | None = None):
    return CliRunner().invoke(app, [*args, "--lake", str(lake.root)], input=stdin)


def user_error(result) -> str:
    assert isinstance(result.exception, UserError), result.output
    return str(result.exception)


def all_commands(app: typer.Typer) -> list[list[str]]:
    commands = [[c.name] for c in app.registered_commands]
    for group in app.registered_groups:
        commands += [[group.name, c.name] for c in group.typer_instance.registered_commands]
    return commands


def test_every_command_has_help_with_an_example(app: typer.Typer) -> None:
    commands = all_commands(app)
    assert sorted(map(tuple, commands)) == [
        ("lake", "check"),
        ("lake", "compact"),
        ("runs",),
        ("sql",),
        ("stats",),
    ]
    for command in commands:
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Example:" in result.output and "rlvr " in result.output, command
        assert "--lake" in result.output, command


def test_sql_prints_a_table(app, lake) -> None:
    result = invoke(
        app, lake, "sql", "SELECT dataset, count(*) AS n FROM prompts GROUP BY 1 ORDER BY 1"
    )
    assert result.exit_code == 0, result.output
    assert "dataset" in result.output and "aime" in result.output and "gsm8k" in result.output


@pytest.mark.parametrize(
    ("fmt", "parse"),
    [
        ("csv", lambda text: pl.read_csv(text.encode())),  # header + rows
        (
            "json",
            lambda text: pl.DataFrame([json.loads(line) for line in text.splitlines()]),
        ),  # JSON lines
    ],
)
def test_sql_writes_csv_and_json_to_stdout(app, lake, fmt, parse) -> None:
    query = "SELECT prompt_id, n, c, pass_at_k(n, c, 2) AS p2 FROM prompt_scores ORDER BY 1"
    result = invoke(app, lake, "sql", query, "--format", fmt)
    assert result.exit_code == 0, result.output
    frame = parse(result.stdout)
    assert frame["prompt_id"].to_list() == ["p0", "p1", "p2"]
    assert frame["p2"].to_list() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet", "table"])
def test_sql_writes_every_format_to_a_file(app, lake, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"out.{fmt}"
    result = invoke(app, lake, "sql", "SELECT * FROM rollouts", "--format", fmt, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 6 rows" in result.stderr
    if fmt == "parquet":
        assert pl.read_parquet(out).height == 6
    else:
        assert "r5" in out.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sql", "SELEC 1"], "SQL: Parser Error"),  # a syntax error
        (["sql", "SELECT nope FROM prompts"], "SQL: Binder Error"),  # an unknown column
        (["sql", "SELECT 1", "--format", "parquet"], "needs a file"),  # parquet to a terminal
        (["lake", "compact", "rolouts"], "unknown table"),  # a typo in the table name
    ],
)
def test_user_mistakes_are_one_line_user_errors(app, lake, args, message) -> None:
    text = user_error(invoke(app, lake, *args))
    assert message in text and "\n" not in text


def test_shell_reads_statements_from_stdin(app, lake) -> None:
    script = "SELECT count(*) AS n\nFROM rollouts;\n.tables\n.schema runs\nSELECT 'last' AS no_semicolon\n"
    result = invoke(app, lake, "sql", stdin=script)
    assert result.exit_code == 0, result.output
    for expected in ("6", "prompt_scores", "finished_at", "no_semicolon"):
        assert expected in result.output


@pytest.mark.parametrize(
    "script",
    [
        "SELECT 1;\nSELECT x;\nSELECT 3;\n",  # a failing statement stops piped input
        ".frobnicate\n",  # an unknown dot command
    ],
)
def test_shell_fails_loudly_on_piped_errors(app, lake, script: str) -> None:
    result = invoke(app, lake, "sql", stdin=script)
    user_error(result)
    assert "│ 3 " not in result.output


def test_shell_quit_stops_reading(app, lake) -> None:
    result = invoke(app, lake, "sql", stdin="SELECT 'before' AS a;\n.quit\nSELECT 'after' AS b;\n")
    assert "before" in result.output and "after" not in result.output


def test_runs_lists_runs_with_status_and_counts(app, lake) -> None:
    result = invoke(app, lake, "runs")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if RUN in line)
    assert "generate" in line and "done" in line and "tiny" in line
    assert " 6 │" in line  # rollouts and verdicts of the run, right-aligned (issue 10)


def test_stats_counts_rows_per_table_and_dataset(app, lake) -> None:
    result = invoke(app, lake, "stats")
    assert result.exit_code == 0, result.output
    rows = {
        tuple(cell.strip() for cell in line.split("│")[1:4]) for line in result.output.splitlines()
    }
    assert ("prompts", "gsm8k", "2") in rows and ("rollouts", "aime", "2") in rows
    assert ("verdicts", "gsm8k", "4") in rows and ("runs", "NULL", "1") in rows


def test_lake_check_exits_1_and_names_problems(app, lake) -> None:
    assert invoke(app, lake, "lake", "check").exit_code == 0
    partition = lake.root / "rollouts" / f"run_id={RUN}"
    (partition / ".tmp-part-killed.parquet").write_bytes(b"PAR1")
    (partition / "part-truncated.parquet").write_bytes(b"PAR1 half")
    result = invoke(app, lake, "lake", "check")
    assert result.exit_code == 1
    assert "temp\t" in result.stdout and ".tmp-part-killed.parquet" in result.stdout
    assert "corrupt\t" in result.stdout and "part-truncated.parquet" in result.stdout


def test_lake_compact_merges_and_keeps_rows(app, lake) -> None:
    lake.append(
        "rollouts",
        [
            {
                "rollout_id": "extra",
                "prompt_id": "p0",
                "sample_idx": 9,
                "completion": "x",
                "source": "generate",
            }
        ],
        run_id=RUN,
    )
    result = invoke(app, lake, "lake", "compact", "rollouts")
    assert result.exit_code == 0, result.output
    assert "rollouts: 2 files → 1" in result.output and "7 rows" in result.output
    assert lake.connect().execute("SELECT count(*) FROM rollouts").fetchone() == (7,)
    assert "runs:" in invoke(app, lake, "lake", "compact").output  # no table: every table


@pytest.mark.parametrize("command", [["sql", "SELECT 1"], ["runs"], ["stats"], ["lake", "check"]])
def test_a_mistyped_lake_path_is_an_error_not_an_empty_lake(app, tmp_path: Path, command) -> None:
    missing = tmp_path / "no-such-lake"
    result = CliRunner().invoke(app, [*command, "--lake", str(missing)])
    assert f"no lake at '{missing}' — " in user_error(result)
    assert not missing.exists()


def test_lake_option_reads_rlvr_lake(app, lake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLVR_LAKE", str(lake.root))
    result = CliRunner().invoke(app, ["sql", "SELECT count(*) AS n FROM prompts", "-f", "csv"])
    assert result.stdout == "n\n3\n"


def test_the_rlvr_console_script_reports_sql_errors_with_exit_2(lake) -> None:
    code = "from engine.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "sql", "SELEC 1", "--lake", str(lake.root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: SQL: Parser Error")
