"""The time bound: a pool of warm worker processes that are killed and replaced when a check overruns.

Why not ``signal.alarm`` (Math-Verify): it only works in the main thread, raises a BaseException
that ``except Exception`` misses, and cannot interrupt C code (math-verification.md §3). Here each
symbolic check runs in a separate process; the caller waits on a pipe with a deadline (``select``),
and on expiry the worker gets SIGKILL, a fresh one is started in the background, and the caller gets
``("timeout", None)``. The same code works from threads, asyncio (through a thread), forked children
and daemonic ``multiprocessing`` workers, because workers are plain subprocesses, not
``multiprocessing.Process`` children.

::

    caller ──request──▶ worker (python -m verifiers.math._worker, sympy imported, warm)
           ◀─reply────  or, after timeout_s: SIGKILL + replacement

One pool per process, started lazily on the first call that needs sympy; a forked child gets its
own (the pool remembers its pid and never touches a parent's workers). Waiting for a free worker
and a worker's start-up are not charged to the check's bound; they have their own limit
(`startup_timeout_s`) and end in an ``error`` result, never a hang.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["WorkerPool", "get_pool"]

_HEADER = struct.Struct("<I")
_ROOT = str(Path(__file__).resolve().parents[2])


class _Worker:
    """One subprocess and its pipes."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "verifiers.math._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both PIPE above
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.ready = False
        self.fd = self.stdout.fileno()

    def _read_exact(self, n: int, deadline: float) -> bytes | None:
        """n bytes from the worker, or None when the deadline passes or the worker dies."""
        data = b""
        while len(data) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            readable, _, _ = select.select([self.fd], [], [], left)
            if not readable:
                return None
            chunk = os.read(self.fd, n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def wait_ready(self, timeout_s: float) -> bool:
        if not self.ready:
            self.ready = self._read_exact(1, time.monotonic() + timeout_s) == b"R"
        return self.ready

    def call(self, op: str, args: tuple, timeout_s: float) -> tuple[str, Any]:
        body = pickle.dumps((op, args), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.stdin.write(_HEADER.pack(len(body)) + body)
            self.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            return "dead", f"worker pipe closed: {exc}"
        deadline = time.monotonic() + timeout_s
        header = self._read_exact(_HEADER.size, deadline)
        if header is None:
            return ("timeout", None) if self.proc.poll() is None else ("dead", "worker exited")
        data = self._read_exact(_HEADER.unpack(header)[0], deadline + 5.0)
        if data is None:
            return "dead", "worker reply cut short"
        ok, value = pickle.loads(data)
        return ("ok", value) if ok else ("error", value)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            self.proc.wait(timeout=5)
        for stream in (self.stdin, self.stdout):
            with contextlib.suppress(OSError):
                stream.close()


class WorkerPool:
    """At most `size` warm workers shared by all threads of this process."""

    def __init__(self, size: int = 1) -> None:
        self.pid = os.getpid()
        self.size = max(1, size)
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._cond = threading.Condition()
        self._busy = 0

    def resize(self, size: int) -> None:
        with self._cond:
            self.size = max(self.size, size)
            self._cond.notify_all()

    def _checkout(self, wait_s: float) -> _Worker | None:
        deadline = time.monotonic() + wait_s
        with self._cond:
            while not self._idle and self._busy >= self.size:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            self._busy += 1
            if self._idle:
                return self._idle.pop()
        try:
            worker = _Worker()
        except OSError:
            self._release(None)
            raise
        with self._cond:
            self._all.append(worker)
        return worker

    def _release(self, worker: _Worker | None) -> None:
        with self._cond:
            self._busy -= 1
            if worker is not None:
                self._idle.append(worker)
            self._cond.notify()

    def _replace(self, worker: _Worker) -> None:
        """Kill an overrun or dead worker and start its successor now, so it is warm when needed."""
        worker.kill()
        fresh: _Worker | None = None
        with contextlib.suppress(OSError):
            fresh = _Worker()
        with self._cond:
            if worker in self._all:
                self._all.remove(worker)
            if fresh is not None:
                self._all.append(fresh)
        self._release(fresh)

    def call(self, op: str, args: tuple, *, timeout_s: float, startup_timeout_s: float = 60.0):
        """Run `op` in a worker: ("ok", value) | ("timeout", None) | ("error", message)."""
        try:
            worker = self._checkout(startup_timeout_s)
        except OSError as exc:
            return "error", f"cannot start a worker: {exc}"
        if worker is None:
            return "error", f"no worker free within {startup_timeout_s}s"
        if not worker.wait_ready(startup_timeout_s):
            self._replace(worker)
            return "error", f"worker did not start within {startup_timeout_s}s"
        status, value = worker.call(op, args, timeout_s)
        if status in ("timeout", "dead"):
            self._replace(worker)
            return ("timeout", None) if status == "timeout" else ("error", value)
        self._release(worker)
        return status, value

    def close(self) -> None:
        if os.getpid() != self.pid:
            return  # a forked child never kills its parent's workers
        with self._cond:
            workers, self._all, self._idle = list(self._all), [], []
        for worker in workers:
            worker.kill()


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def get_pool(size: int = 1) -> WorkerPool:
    """This process's pool (a fresh one after fork), grown to at least `size` workers."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL.pid != os.getpid():
            _POOL = WorkerPool(size)
        elif size > _POOL.size:
            _POOL.resize(size)
        return _POOL


_INHERITED: list[WorkerPool] = []  # a parent's pool seen from a forked child: kept, never used


def _forget_after_fork() -> None:
    """In a forked child: drop the parent's pool (closing our copies of its pipes, so the parent's
    workers still see EOF when the parent exits) and start afresh on the next call."""
    global _POOL, _POOL_LOCK
    if _POOL is not None:
        for worker in _POOL._all:
            for stream in (worker.stdin, worker.stdout):
                with contextlib.suppress(OSError, ValueError):
                    stream.close()
        _INHERITED.append(_POOL)
    _POOL, _POOL_LOCK = None, threading.Lock()


def _close_at_exit() -> None:
    if _POOL is not None:
        _POOL.close()


os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(_close_at_exit)
