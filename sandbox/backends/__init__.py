"""Backends by name: an explicit registry, no discovery (STYLE.md §1).

``bwrap`` is the default; ``process`` is the weaker fallback; ``docker`` needs the ``docker`` extra
and a daemon. ``RLVR_SANDBOX_BACKEND`` overrides the default.
"""

from __future__ import annotations

import os
import threading

from sandbox.backends.base import Backend
from sandbox.errors import JobError as _JobError  # raised here, exported by sandbox

__all__ = ["BACKENDS", "Backend", "default_backend", "get_backend", "started_backends"]

BACKENDS = ("bwrap", "process", "docker")
_instances: dict[str, Backend] = {}
_lock = threading.Lock()


def _make(name: str) -> Backend:
    if name == "bwrap":
        from sandbox.backends.bwrap import BwrapBackend

        return BwrapBackend()
    if name == "process":
        from sandbox.backends.process import ProcessBackend

        return ProcessBackend()
    from sandbox.backends.docker import DockerBackend

    return DockerBackend()


def default_backend() -> str:
    return os.environ.get("RLVR_SANDBOX_BACKEND") or "bwrap"


def get_backend(name: str | None = None) -> Backend:
    """The (shared, thread-safe) backend instance for ``name``; JobError for an unknown name."""
    name = name or default_backend()
    if name not in BACKENDS:
        raise _JobError(f"backend {name!r} is unknown: use one of {', '.join(BACKENDS)}")
    with _lock:
        if name not in _instances:
            _instances[name] = _make(name)
        return _instances[name]


def started_backends() -> list[Backend]:
    """The backend instances made so far in this process."""
    with _lock:
        return list(_instances.values())
