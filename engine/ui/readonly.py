"""The viewer's SQL box: one SELECT over the lake's views, read-only, paginated, time-limited.

Whoever can reach the page can type SQL, so the box gets three locks (issue 15: "the SQL box
cannot write to the lake or read files outside it"):

1. Only one statement, and only a query (``SELECT``, ``WITH``, ``FROM``, ``VALUES``, ``DESCRIBE``,
   ``SHOW``, ``SUMMARIZE``: DuckDB's parser types them all SELECT). ``COPY``, ``ATTACH``,
   ``CREATE``, ``INSTALL``/``LOAD``, ``SET``, ``PRAGMA``, ``EXPORT`` ... are refused before they run.
2. Its own in-memory DuckDB database holds the views of ``rlvr sql`` (:func:`engine.sql.
   setup_statements`), then sets ``allowed_paths`` to the lake's data files, turns
   ``enable_external_access`` off and locks the configuration: a query reads those files and
   nothing else (``read_csv('/etc/passwd')``, ``glob``, URLs fail), and cannot turn it back on.
3. A timer thread calls ``interrupt()`` on the query's cursor after ``timeout_s``; a memory limit
   bounds what one query may hold.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import duckdb

from engine import sql
from engine.errors import UserError
from engine.lake import Lake
from engine.schema import SCHEMAS

__all__ = ["MAX_CELL_CHARS", "QueryResult", "ReadOnlySQL"]

MAX_CELL_CHARS = 500


@dataclass(frozen=True, kw_only=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    page: int
    more: bool
    elapsed_ms: float


class ReadOnlySQL:
    """User SQL over ``lake`` (see the module docstring); build a new one when the lake changes."""

    def __init__(self, lake: Lake, *, timeout_s: float = 10.0, memory_limit: str = "2GB") -> None:
        self.timeout_s = timeout_s
        self._db = duckdb.connect(":memory:")
        for statement in sql.setup_statements(lake):
            self._db.execute(statement)
        files = [str(path) for table in SCHEMAS for path in lake.files(table)]
        self._db.execute("SET allowed_paths = ?", [files])
        for setting in (
            "SET enable_progress_bar = false",
            f"SET memory_limit = '{memory_limit}'",
            "SET autoinstall_known_extensions = false",
            "SET autoload_known_extensions = false",
            "SET enable_external_access = false",
            "SET lock_configuration = true",
        ):
            self._db.execute(setting)

    def query(self, text: str, *, page: int = 1, page_rows: int = 100) -> QueryResult:
        """Rows ``page_rows`` at a time of the one query ``text``; UserError says what is wrong."""
        query = self.check(text)
        page = max(1, page)
        cur = self._db.cursor()
        timer = threading.Timer(self.timeout_s, cur.interrupt)
        started = time.perf_counter()
        timer.start()
        try:
            relation = cur.sql(query)
            if relation is None:
                raise UserError("the statement returned no rows — write a SELECT")
            window = relation.limit(page_rows + 1, (page - 1) * page_rows)
            columns = list(window.columns)
            rows = window.fetchall()
        except duckdb.InterruptException:
            raise UserError(
                f"query cancelled after {self.timeout_s:g} s — add a LIMIT or a narrower WHERE, "
                "or run it with `rlvr sql`, which has no time limit"
            ) from None
        except duckdb.Error as exc:
            raise UserError(
                f"{_first_line(exc)} — fix the query (only SELECTs over the lake's views)"
            ) from None
        finally:
            timer.cancel()
            cur.close()
        elapsed = (time.perf_counter() - started) * 1000
        shown = [tuple(_cell(value) for value in row) for row in rows[:page_rows]]
        return QueryResult(
            columns=columns, rows=shown, page=page, more=len(rows) > page_rows, elapsed_ms=elapsed
        )

    def check(self, text: str) -> str:
        """The one query in ``text``, or UserError when it is not exactly one read-only query."""
        try:
            statements = self._db.extract_statements(text)
        except duckdb.Error as exc:
            raise UserError(f"{_first_line(exc)} — fix the query's syntax") from None
        if not statements:
            raise UserError("no query given — type a SELECT, e.g. SELECT * FROM runs")
        if len(statements) > 1:
            raise UserError("one statement at a time — remove the others (or use `rlvr sql`)")
        statement = statements[0]
        if statement.type != duckdb.StatementType.SELECT:
            kind = statement.type.name
            raise UserError(
                f"{kind} statements are refused: the SQL box is read-only — "
                "write a SELECT (to write files, use `rlvr sql -o FILE` in a shell)"
            )
        return statement.query.strip().rstrip(";")

    def close(self) -> None:
        self._db.close()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        return value[:MAX_CELL_CHARS] + "…"
    return value


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
