"""Progress of long jobs: rich's bar at a terminal, periodic plain lines anywhere else (issue 10).

A job run under ``nohup``, in CI or with ``2> log`` used to print nothing until it ended, because
rich draws its live bar only on a terminal. :func:`Progress` keeps rich's API (``add_task``,
``update``, ``advance``, ``start``/``stop``, a context manager) and, when the console is not a
terminal, returns a :class:`LineProgress` that writes one line to stderr every ``interval_s``
seconds (``RLVR_PROGRESS_S``, default 10) and a last one when it stops::

    judge: 300/1000 (30%) 51.0 verdicts/s · 12 s

The line is the task's description, its count and the text of the bar's ``TextColumn``s.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, TextIO

import rich.progress
from rich.console import Console
from rich.progress import TaskID

__all__ = ["DEFAULT_INTERVAL_S", "LineProgress", "Progress", "rich_plain"]

DEFAULT_INTERVAL_S = 10.0


def Progress(
    *columns: Any,
    console: Console | None = None,
    disable: bool = False,
    interval_s: float | None = None,
    **kwargs: Any,
) -> rich.progress.Progress | LineProgress:
    """rich's ``Progress`` on a terminal (or when disabled); a :class:`LineProgress` otherwise."""
    console = console or Console(stderr=True)
    if disable or console.is_terminal:
        return rich.progress.Progress(*columns, console=console, disable=disable, **kwargs)
    if interval_s is None:
        interval_s = float(os.environ.get("RLVR_PROGRESS_S", DEFAULT_INTERVAL_S))
    return LineProgress(columns, interval_s=interval_s)


class LineProgress:
    """rich's Progress API, printing a status line every ``interval_s`` seconds to ``file``."""

    def __init__(
        self,
        columns: tuple[Any, ...] = (),
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        file: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.formats = [  # the columns that show a value; static labels repeat the description
            c.text_format
            for c in columns
            if isinstance(c, rich.progress.TextColumn) and "{task." in c.text_format
        ]
        self.interval_s, self.file, self.clock = interval_s, file, clock
        self.tasks: dict[TaskID, SimpleNamespace] = {}
        self.started = self.last = clock()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.started = self.last = self.clock()

    def stop(self) -> None:
        for task in self.tasks.values():
            if not task.finished_line:
                self._print(task)
                task.finished_line = True

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> TaskID:
        task_id = TaskID(len(self.tasks))  # rich's id type, so code holding either bar type-checks
        self.tasks[task_id] = SimpleNamespace(
            description=description, total=total, completed=0, fields=fields, finished_line=False
        )
        return task_id

    def update(
        self,
        task_id: TaskID,
        *,
        total: float | None = None,
        completed: float | None = None,
        advance: float | None = None,
        description: str | None = None,
        **fields: Any,
    ) -> None:
        task = self.tasks[task_id]
        if total is not None:
            task.total = total
        if completed is not None:
            task.completed = completed
        if advance is not None:
            task.completed += advance
        if description is not None:
            task.description = description
        task.fields.update(fields)
        now = self.clock()
        if now - self.last >= self.interval_s:
            self.last = now
            self._print(task)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def line(self, task: SimpleNamespace) -> str:
        """The status line of ``task``: description, count (and share), the columns' text."""
        count = f"{task.completed:,.0f}"
        if task.total:
            count += f"/{task.total:,.0f} ({100 * task.completed / task.total:.0f}%)"
        parts = [f"{task.description}: {count}"]
        for text_format in self.formats:
            try:
                text = text_format.format(task=task)
            except (AttributeError, KeyError, IndexError, ValueError):
                continue  # a column about a field this task does not have
            if text.strip():
                parts.append(rich_plain(text))
        parts.append(f"· {self.clock() - self.started:.0f} s")
        return " ".join(parts)

    def _print(self, task: SimpleNamespace) -> None:
        print(self.line(task), file=self.file or sys.stderr, flush=True)


def rich_plain(text: str) -> str:
    """``text`` without rich markup (``[bold]``…)."""
    from rich.text import Text

    return Text.from_markup(text).plain
