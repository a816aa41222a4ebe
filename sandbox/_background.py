"""One daemon thread that runs queued work in order: for what no result waits on.

Used for removing finished job directories and cgroups (the kernel can keep them busy for a few
ms) and for starting warm jails ahead. Failures are logged, never raised: each user has its own
fallback (the next process's sweep; a cold start).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

__all__ = ["Background"]

log = logging.getLogger("sandbox")


class Background:
    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, fn: Callable[[], object]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._thread.start()
        self._queue.put(fn)

    def drain(self, timeout_s: float = 30.0) -> None:
        """Wait until everything queued so far has run."""
        if self._thread is None:
            return
        done = threading.Event()
        self.put(done.set)
        done.wait(timeout_s)

    def _serve(self) -> None:
        while True:
            fn = self._queue.get()
            try:
                fn()
            except Exception:  # best effort by design; see the module docstring
                log.debug("%s: background work failed", self.name, exc_info=True)
