"""The interactive `rlvr sql` shell: DuckDB's shell conventions on the Python ``duckdb`` engine.

Why not DuckDB's own CLI binary (``duckdb-cli`` on PyPI)? It is a separate build whose version
trails the Python package (1.5.6 against 2.0.1 when this was written) and its binder rejected
views the lake defines for 2.0, so the shell runs on the very engine the views were written for.
It keeps what DuckDB users reach for: GNU readline line editing and a history file
(``~/.rlvr_sql_history``), statements ending in ``;`` over several lines, ``.help``, ``.tables``,
``.schema [T]``, ``.mode box|csv|json|line|markdown``, ``.timer on|off``, ``.quit``; Enter on an
empty line does nothing; Ctrl-C cancels the running query (``con.interrupt()``) and keeps the
shell, Ctrl-C at the prompt clears the line, Ctrl-D leaves.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb

__all__ = ["HELP", "HISTORY", "MODES", "Shell"]

HISTORY = Path("~/.rlvr_sql_history")
MODES = ("box", "csv", "json", "line", "markdown")
HELP = """\
.help                 this list
.tables               the lake's views and tables
.schema [TABLE]       columns of TABLE (or of every view)
.mode box|csv|json|line|markdown
.timer on|off         print each statement's wall time
.quit                 leave (or Ctrl-D)
SQL ends with ';' and may span lines; Ctrl-C cancels a running query."""


class Shell:
    """A read-eval-print loop over ``con``; ``run()`` returns the exit code."""

    def __init__(self, con: duckdb.DuckDBPyConnection, *, out: Any = None) -> None:
        self.con, self.out = con, out or sys.stdout
        self.mode, self.timer = "box", False

    def run(self) -> int:
        history = _start_readline()
        self.print('rlvr sql — DuckDB over the lake. Enter ".help" for usage hints.')
        pending: list[str] = []
        try:
            while (line := self._read("   ...> " if pending else "rlvr D ")) is not None:
                if line == "\x03":  # Ctrl-C at the prompt: drop what was typed
                    pending = []
                    continue
                if not pending and line.strip().startswith("."):
                    if not self.dot(line.strip()):
                        return 0
                    continue
                if line.strip() or pending:
                    pending.append(line)
                if pending and line.rstrip().endswith(";"):
                    self.execute("\n".join(pending))
                    pending = []
            self.print("")
            return 0
        finally:
            _save_readline(history)

    def _read(self, prompt: str) -> str | None:
        try:
            return input(prompt)
        except EOFError:
            return None
        except KeyboardInterrupt:
            self.print("^C")
            return "\x03"

    def print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def dot(self, command: str) -> bool:
        """Run a dot command; False for .quit/.exit."""
        name, _, argument = command.partition(" ")
        argument = argument.strip()
        if name in (".quit", ".exit"):
            return False
        if name == ".help":
            self.print(HELP)
        elif name == ".tables":
            self.execute("SELECT table_name AS name, table_type AS type FROM "
                         "information_schema.tables ORDER BY 1")  # fmt: skip
        elif name == ".schema":
            quoted = argument.replace("'", "''")
            where = f" WHERE table_name = '{quoted}'" if argument else ""
            self.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                f"{where} ORDER BY table_name, ordinal_position"
            )
        elif name == ".mode" and argument in MODES:
            self.mode = argument
        elif name == ".timer" and argument in ("on", "off"):
            self.timer = argument == "on"
        else:
            self.print(f"error: unknown or incomplete command {command!r} — see .help")
        return True

    def execute(self, sql: str) -> None:
        """Run ``sql`` on a worker thread so Ctrl-C here can interrupt it (no traceback)."""
        done: dict[str, Any] = {}
        started = time.perf_counter()
        worker = threading.Thread(target=self._work, args=(sql, done), daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                worker.join(0.1)
        except KeyboardInterrupt:
            self.con.interrupt()
            worker.join()
            self.print("Interrupted: the query was cancelled")
            return
        if "error" in done:
            self.print(f"Error: {done['error']}")
        elif done.get("text"):
            self.print(done["text"])
        if self.timer:
            self.print(f"Run Time (s): real {time.perf_counter() - started:.3f}")

    def _work(self, sql: str, done: dict[str, Any]) -> None:
        try:
            texts = []
            for statement in duckdb.extract_statements(sql):
                relation = self.con.sql(statement.query)
                if relation is not None and statement.type.name in ("SELECT", "EXPLAIN", "PRAGMA",
                                                                     "CALL", "EXECUTE"):  # fmt: skip
                    texts.append(self._render(relation))
            done["text"] = "\n".join(t for t in texts if t)
        except duckdb.InterruptException:
            done["error"] = "interrupted"
        except duckdb.Error as exc:
            done["error"] = str(exc).strip()

    def _render(self, relation: duckdb.DuckDBPyRelation) -> str:
        if self.mode == "box":
            return str(relation).rstrip()
        import polars as pl

        frame = relation.pl()
        if self.mode == "csv":
            return frame.write_csv().rstrip()
        if self.mode == "json":
            return frame.write_ndjson().rstrip()
        if self.mode == "line":
            width = max((len(c) for c in frame.columns), default=0)
            return "\n\n".join(
                "\n".join(f"{k:>{width}} = {v}" for k, v in row.items())
                for row in frame.iter_rows(named=True)
            )
        with pl.Config(tbl_formatting="MARKDOWN", tbl_hide_column_data_types=True,
                       tbl_hide_dataframe_shape=True, tbl_rows=-1):  # fmt: skip
            return str(frame)


def _start_readline() -> Path | None:
    """Line editing and history through GNU readline, where Python has it."""
    try:
        import readline
    except ImportError:  # no readline (some minimal builds): plain input() still works
        return None
    path = Path(os.path.expanduser(HISTORY))
    with contextlib.suppress(OSError):  # no history yet
        readline.read_history_file(path)
    readline.set_history_length(10_000)
    return path


def _save_readline(path: Path | None) -> None:
    if path is None:
        return
    import readline

    with contextlib.suppress(OSError):  # a read-only home: the session still worked
        readline.write_history_file(path)
