"""Run liveness: a process holds an ``flock`` on its run's lock file while the run runs, so a run
left ``running`` by a process that died without saying so (SIGKILL, power loss) can be told apart
(issue 10). The lock dies with the process; a forked child that inherited it is caught by the pid
check on the same host.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import Any

from engine.errors import UserError

__all__ = ["alive", "hold", "release"]

_HELD: dict[Path, int] = {}  # run lock file -> fd held by this process while the run runs


def hold(path: Path, run_id: str) -> None:
    """Take the run's lock for this process (again is a no-op); UserError if another holds it."""
    if path in _HELD:
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UserError(
            f"run {run_id!r} is being worked on by another process — wait for it to end, "
            "or start another run"
        ) from None
    _HELD[path] = fd


def release(path: Path) -> None:
    fd = _HELD.pop(path, None)
    if fd is not None:
        os.close(fd)  # closing the last descriptor releases the flock


def alive(path: Path, process: dict[str, Any]) -> bool:
    """Whether the run whose lock file is ``path`` and whose row says ``process`` (pid, host)
    still has a live process. Opens the lock read-only, so it works on a read-only lake."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        fd = None  # no lock file: judge by the pid alone
    if fd is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False  # nobody holds it: the process is gone
        except BlockingIOError:
            pass  # held: alive, unless its pid is gone (a forked child kept the lock)
        finally:
            os.close(fd)
    if process.get("host") != socket.gethostname() or not isinstance(process.get("pid"), int):
        return True  # another machine's run, with its lock held: believe it
    try:
        os.kill(process["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
