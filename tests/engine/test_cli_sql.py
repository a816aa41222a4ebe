"""`rlvr sql` as DuckDB users expect it (issue 10): piped scripts, -o by extension, streamed
COPY output, and the interactive shell driven in a pseudo-terminal."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

import polars as pl
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from engine import cli_lake, cli_sql
from engine.errors import UserError
from engine.lake import Lake


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    cli_lake.register(app)
    return app


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lake = Lake.open(tmp_path / "lake")
    prompts = [
        {"prompt_id": f"p{i}", "dataset": "d", "task": "math", "problem": f"q{i}"} for i in range(3)
    ]
    with lake.run("ingest") as run_id:
        lake.append("prompts", prompts, run_id=run_id)
    return lake


def invoke(app, lake: Lake, *args: str, stdin: str | None = None):
    return CliRunner().invoke(app, [*args, "--lake", str(lake.root)], input=stdin)


def test_a_piped_script_prints_every_statements_result(app, lake) -> None:
    script = (
        "SELECT 'first' AS a;\nCREATE VIEW two AS SELECT 2 AS b;\nSELECT b * 21 AS c FROM two;\n"
    )
    result = invoke(app, lake, "sql", "--format", "csv", stdin=script)
    assert result.exit_code == 0, result.output
    assert result.stdout == "a\nfirst\nc\n42\n"  # DDL prints nothing, as in DuckDB's shell


def test_dash_reads_the_query_from_stdin(app, lake) -> None:
    result = invoke(app, lake, "sql", "-", "-f", "json", stdin="SELECT count(*) AS n FROM prompts")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"n": 3}


def test_a_semicolon_inside_a_string_does_not_split_the_statement(app, lake) -> None:
    result = invoke(app, lake, "sql", "-f", "csv", stdin="SELECT 'a;b' AS s;")
    assert result.stdout == "s\na;b\n"


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("out.csv", pl.read_csv),
        ("out.jsonl", pl.read_ndjson),
        ("out.json", pl.read_ndjson),  # JSON lines too, as --format json prints
        ("out.parquet", pl.read_parquet),
    ],
)
def test_o_infers_the_format_from_the_extension(app, lake, tmp_path, name, read) -> None:
    out = tmp_path / name
    result = invoke(app, lake, "sql", "SELECT prompt_id FROM prompts ORDER BY 1", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert read(out)["prompt_id"].to_list() == ["p0", "p1", "p2"]
    assert "wrote 3 rows" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["lake", name])  # no temp left


def test_o_gets_the_last_result_and_stdout_the_earlier_ones(app, lake, tmp_path) -> None:
    out = tmp_path / "last.csv"
    script = "SELECT 'shown' AS x;\nSELECT 'saved' AS y;\n"
    result = invoke(app, lake, "sql", "-o", str(out), stdin=script)
    assert "shown" in result.stdout and "saved" not in result.stdout
    assert out.read_text() == "y\nsaved\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["SELECT 1", "-o", "{tmp}/out.xlsx"], "cannot tell the format"),  # unknown extension
        (["SELECT 1", "-o", "{tmp}/missing/out.csv"], "does not exist"),  # no such folder
        (["SELECT [1, 2] AS l", "-f", "csv"], "CSV has no nested values"),  # nested to CSV
        (["SELECT [1, 2] AS l", "-o", "{tmp}/nested.csv"], "CSV has no nested values"),
        (["SELECT 1", "-f", "parquet"], "needs a file"),  # parquet to a terminal
        (["CREATE VIEW v AS SELECT 1", "-o", "{tmp}/v.csv"], "no statement returns rows"),
    ],
)
def test_output_mistakes_are_one_line_errors(app, lake, tmp_path, args, message) -> None:
    args = [a.format(tmp=tmp_path) for a in args]
    result = invoke(app, lake, "sql", *args)
    assert isinstance(result.exception, UserError), result.output
    assert message in str(result.exception) and "\n" not in str(result.exception)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake"]  # nothing written


def test_a_query_failing_midway_leaves_no_output_file(app, lake, tmp_path) -> None:
    out = tmp_path / "boom.csv"
    out.write_text("old\n")
    query = "SELECT CASE WHEN i < 100000 THEN i ELSE error('boom') END AS i FROM range(200000) t(i)"
    result = invoke(app, lake, "sql", query, "-o", str(out))
    assert isinstance(result.exception, UserError)
    assert out.read_text() == "old\n"  # the old file stays whole; no half-written one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boom.csv", "lake"]


def test_stdout_streams_in_batches_with_one_header(app, lake) -> None:
    n = cli_sql.BATCH_ROWS * 2 + 5
    result = invoke(app, lake, "sql", f"SELECT range AS i FROM range({n})", "-f", "csv")
    lines = result.stdout.splitlines()
    assert lines[0] == "i" and len(lines) == n + 1 and lines.count("i") == 1


@pytest.mark.parametrize("command", [["runs"], ["stats"], ["lake", "check"]])
def test_listing_commands_take_format(app, lake, command) -> None:
    for fmt, parse in (
        ("csv", lambda text: pl.read_csv(text.encode())),
        ("json", lambda text: pl.DataFrame([json.loads(x) for x in text.splitlines()])),
    ):
        result = invoke(app, lake, *command, "--format", fmt)
        assert result.exit_code == 0, result.output
        if command == ["lake", "check"]:
            assert result.stdout == ""  # a clean lake: no problem rows
            continue
        frame = parse(result.stdout)
        if command == ["runs"]:
            assert frame["kind"].to_list() == ["ingest"] and frame["prompts"].to_list() == [3]
        else:
            assert frame.filter(pl.col("table") == "prompts")["rows"].to_list() == [3]


def test_table_output_right_aligns_numbers(app, lake) -> None:
    result = invoke(app, lake, "sql", "SELECT 'x' AS name, 7 AS n UNION ALL SELECT 'longer', 12345")
    row = next(line for line in result.stdout.splitlines() if "│ x" in line)
    assert row.rstrip().endswith("     7 │")  # pushed to the right edge of its column


# -- the interactive shell, in a pseudo-terminal -------------------------------------------------

# Terminal queries a line editor may send, with a plain terminal's answers.
REPLIES = {b"\x1b[6n": b"\x1b[24;80R"}


class Terminal:
    """A process on a pseudo-terminal, driven by keystrokes."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,  # then make the pty its controlling terminal: ^C is SIGINT
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.seen = bytearray()
        self.answered: dict[bytes, int] = {}
        self.mark = 0
        self.home = Path()

    def _pump(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            self.seen += os.read(self.master, 65536)
        except OSError:  # the process ended
            return False
        for query, reply in REPLIES.items():
            count = self.seen.count(query)
            for _ in range(count - self.answered.get(query, 0)):
                os.write(self.master, reply)
            self.answered[query] = count
        return True

    def expect(self, text: str, timeout: float = 30) -> str:
        """Output since the last expect, up to and including ``text``, then the next prompt."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen[self.mark :]:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} in {bytes(self.seen[self.mark :])[-1500:]!r}")
            self._pump(0.2)
        end = self.seen.index(text.encode(), self.mark) + len(text)
        out = bytes(self.seen[self.mark : end]).decode(errors="replace")
        self.mark = end
        self.settle()
        return out

    def settle(self) -> None:
        """Wait until the output stops (the editor has drawn its prompt and got its answers)."""
        while self._pump(0.5):
            pass

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)


@pytest.fixture
def shell(lake, tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), TERM="xterm")  # history goes to tmp_path
    argv = [sys.executable, "-c", "from engine.cli import main; main()", "sql"]
    term = Terminal([*argv, "--lake", str(lake.root)], env)
    term.home = tmp_path
    term.expect("rlvr D ")
    yield term
    if term.proc.poll() is None:
        term.proc.kill()
    term.proc.wait(timeout=10)
    os.close(term.master)


def test_shell_has_the_lake_views_dot_commands_and_history(shell) -> None:
    shell.type(b".tables\r")
    out = shell.expect("verdicts")
    assert "prompts" in out and "rollouts" in out and "prompt_scores" in out
    shell.mark = len(shell.seen)
    shell.type(b"\r")  # Enter on an empty line: nothing happens but a new prompt
    shell.settle()
    assert bytes(shell.seen[shell.mark :]).strip() == b"rlvr D"
    shell.type(b".schema prompts\r")
    shell.expect("problem")
    shell.type(b"SELECT count(*) * 1000 + 7 AS n FROM prompts;\r")
    shell.expect("3007")
    shell.type(b"\x1b[A\r")  # arrow up: the last statement again, from the history
    shell.expect("3007")
    shell.type(b".mode csv\r")
    shell.type(b"SELECT 6 * 7 AS answer;\r")
    shell.expect("answer\r\n42")
    shell.type(b".timer on\r")
    shell.type(b"SELECT 1;\r")
    shell.expect("Run Time (s)")
    shell.type(b".help\r")
    shell.expect(".schema")
    shell.type(b".quit\r")
    assert shell.proc.wait(timeout=10) == 0
    assert b"Traceback" not in shell.seen
    assert "FROM prompts;" in (shell.home / ".rlvr_sql_history").read_text()


def test_ctrl_c_cancels_the_query_and_keeps_the_shell(shell) -> None:
    shell.type(b"SELECT sum(i) FROM range(100000000000) t(i);\r")
    time.sleep(1.5)  # the query is running
    shell.type(b"\x03")
    shell.expect("Interrupted")
    shell.type(b"SELECT 'still' || 'here' AS s;\r")
    shell.expect("stillhere")
    assert shell.proc.poll() is None
    shell.type(b".quit\r")
    assert shell.proc.wait(timeout=10) == 0
    assert b"Traceback" not in shell.seen


def test_rlvr_has_version_and_short_help() -> None:
    for args, expected in ((["--version"], "rlvr "), (["-h"], "Usage: rlvr")):
        done = subprocess.run(
            [sys.executable, "-c", "from engine.cli import main; main()", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0 and done.stdout.lstrip().startswith(expected), done.stderr


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=20),
                min_size=1, max_size=5))  # fmt: skip
def test_a_script_prints_each_statements_value_in_order(texts: list[str]) -> None:
    # Any text (no NUL; no lone surrogate, which no UTF-8 input holds), as SQL string literals one statement per line: ';', '.quit', quotes and
    # newlines inside a literal never split a statement or become a dot command.
    import contextlib
    import io

    import duckdb

    script = "\n".join("SELECT '" + t.replace("'", "''") + "' AS v;" for t in texts)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli_sql.run_script(duckdb.connect(), script, cli_sql.OutputFormat.json, None)
    assert [json.loads(line)["v"] for line in out.getvalue().split("\n")[:-1]] == texts


def test_a_table_shows_the_first_rows_and_says_so(app, lake) -> None:
    result = invoke(app, lake, "sql", "SELECT range AS i FROM range(100000000)")  # not all read
    assert "│ 99 │" in result.stdout and "│ 100 │" not in result.stdout
    assert result.stdout.rstrip().endswith(
        "first 100 rows shown — use -o FILE or --format csv for all"
    )
