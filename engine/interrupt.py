"""Stopping long jobs cleanly on SIGINT and SIGTERM (issue 10).

A job's batch loop runs inside :func:`stop_on_signals`; the handlers it installs in the main
thread only set a flag, so the batch in flight finishes and is written, and the loop's next
:meth:`StopFlag.check` raises :class:`Interrupted` (a ``KeyboardInterrupt``, so
``Lake.run`` and every ``except KeyboardInterrupt`` mark the run ``interrupted``). The CLI turns
it into one line and exit code 128 + the signal (130 for SIGINT, 143 for SIGTERM).

Why a flag and not the default ``KeyboardInterrupt``: Python runs handlers in the main thread
only, between bytecodes. A signal the kernel hands to a worker thread, or one that arrives while
the main thread waits on a pool, used to surface at a random point (or, for SIGTERM, not at all),
leaving half-judged batches and runs marked ``running`` forever. A second SIGINT while stopping
raises at once, for a user who does not want to wait for the batch.

>>> with stop_on_signals() as stop:
...     for batch in range(3):
...         stop.check()  # raises Interrupted after a signal, between batches
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "INTERRUPTED_MESSAGE",
    "SIGNALS",
    "Interrupted",
    "StopFlag",
    "exit_code",
    "stop_on_signals",
]

INTERRUPTED_MESSAGE = "interrupted — rerun the same command to resume"
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A job stopped by a signal; ``.signum`` says which."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(exc: BaseException) -> int:
    """128 + the signal number, the shell's convention: 130 for Ctrl-C, 143 for SIGTERM."""
    return 128 + getattr(exc, "signum", signal.SIGINT)


class StopFlag:
    """Set by the handlers; batch loops call :meth:`check` (or test ``bool(flag)``)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None

    def check(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)


_active: StopFlag | None = None


@contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    """Install flag-setting SIGINT/SIGTERM handlers for the block, then restore the old ones.

    Nested blocks share the outer flag. Outside the main thread (where Python cannot install
    handlers) the flag is never set, and the caller's process keeps its own handling.
    """
    global _active
    if _active is not None or threading.current_thread() is not threading.main_thread():
        yield _active or StopFlag()
        return
    flag = StopFlag()

    def handler(signum: int, frame: object) -> None:
        if flag.signum is not None and signum == signal.SIGINT:
            raise Interrupted(signum)  # a second Ctrl-C: stop now, without the batch in flight
        flag.signum = signum

    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    _active = flag
    try:
        yield flag
    finally:
        _active = None
        for signum, old in previous.items():
            signal.signal(signum, old)
