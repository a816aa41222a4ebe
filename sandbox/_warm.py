"""Warm jails: the next run of a `Job.warm` job, started ahead on idle CPU (bwrap run slots).

A judge harness gets all its work on stdin, so its jail (namespaces, mounts, cgroup limits, the
interpreter's start-up) can be built before the work is known. After a warm run, the backend
starts one more jail of the same *shape* in the background; the next run with that shape takes it
and writes its stdin; everything else (wall clock, CPU check, output caps) starts then. A warm
jail is as fresh as any other: made for one run, used once, then torn down with its slot.

The shape (`shape_key`) is everything fixed at launch: argv, environment, bound files (by
content: the pending jail binds its own copies, since a job's files go when the job ends),
memory, processes, file size, open files and the work dir size. CPU and wall limits are not
part of it: the supervisor enforces the run's own from the cgroup; the launch-time RLIMIT_CPU
is only a backstop (`BACKSTOP_CPU_S`).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox._workdir import base_dir
from sandbox.backends.base import ExecSpec

__all__ = [
    "BACKSTOP_CPU_S",
    "MAX_AGE_S",
    "MAX_PENDING",
    "Pending",
    "remove_staged",
    "shape_key",
    "stage_binds",
]

BACKSTOP_CPU_S = 120.0
MAX_PENDING = 4  # across shapes; the oldest is discarded beyond it
MAX_AGE_S = 60.0


def shape_key(spec: ExecSpec) -> str | None:
    """The launch-time shape of ``spec``, or None when its jail cannot be started ahead."""
    if not spec.warm or spec.workdir is not None or spec.collect:
        return None
    h = hashlib.sha256()
    lim = spec.limits
    fixed = (lim.memory_mb, lim.processes, lim.file_size_bytes, lim.open_files, lim.workdir_mb)
    h.update(repr((spec.argv, sorted(spec.env.items()), fixed)).encode())
    for host, name in spec.binds:
        try:
            h.update(name.encode() + b"\0" + Path(host).read_bytes() + b"\0")
        except OSError:
            return None
    return h.hexdigest()[:32]


def stage_binds(spec: ExecSpec, key: str) -> list[tuple[str, str]]:
    """Copies of the bound files that outlive the job that staged them (one dir per shape;
    removed at exit, or by the next process's sweep if this one dies first)."""
    root = base_dir() / f"warm-{os.getpid()}-{key}"
    if not root.is_dir():
        _remove_at_exit()
        tmp = root.with_name(root.name + f".{threading.get_ident()}")
        tmp.mkdir(mode=0o755, parents=True, exist_ok=True)
        for host, name in spec.binds:
            dest = tmp / name
            dest.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            dest.write_bytes(Path(host).read_bytes())
            dest.chmod(0o644)
        try:
            tmp.rename(root)
        except OSError:  # another thread staged it first
            shutil.rmtree(tmp, ignore_errors=True)
    return [(str(root / name), name) for _, name in spec.binds]


@functools.cache
def _remove_at_exit() -> None:
    atexit.register(remove_staged, os.getpid())


def remove_staged(owner: int) -> None:
    """Remove the staged copies of process ``owner`` (``warm-<pid>-<shape>``)."""
    for path in base_dir().glob(f"warm-{owner}-*"):
        shutil.rmtree(path, ignore_errors=True)


class Pending:
    """Jails started ahead, by shape; each is taken once or discarded."""

    def __init__(self, discard: Callable[[Any], None]) -> None:
        self._discard = discard
        self._jails: list[tuple[str, float, Any]] = []
        self._lock = threading.Lock()

    def put(self, key: str, jail: Any) -> None:
        with self._lock:
            self._jails.append((key, time.monotonic(), jail))
            old = self._jails[:-MAX_PENDING] if len(self._jails) > MAX_PENDING else []
            del self._jails[: len(old)]
        for _, _, stale in old:
            self._discard(stale)

    def take(self, key: str) -> Any | None:
        now = time.monotonic()
        found, stale = None, []
        with self._lock:
            keep = []
            for item in self._jails:
                if now - item[1] > MAX_AGE_S:
                    stale.append(item[2])
                elif found is None and item[0] == key:
                    found = item[2]
                else:
                    keep.append(item)
            self._jails = keep
        for jail in stale:
            self._discard(jail)
        return found

    def clear(self) -> None:
        with self._lock:
            jails, self._jails = [j for _, _, j in self._jails], []
        for jail in jails:
            try:
                self._discard(jail)
            except Exception:  # at exit the slots may be gone already; their launchers too
                continue
