"""The worker process of the bounded pool: read a request, judge it, answer; forever.

Started by `verifiers.math.bound` as ``python -m verifiers.math._worker`` (a plain subprocess, so it
can be started from daemonic multiprocessing workers, threads and forked children alike). Messages
are length-prefixed pickles on stdin/stdout. sympy is imported *before* the ready byte is written,
so the parent never charges import time to a check's time bound.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import struct
import sys
import time
from typing import Any

__all__ = ["main"]

_HEADER = struct.Struct("<I")
_MEMORY_BYTES = 4 << 30  # a runaway sympy expansion dies with MemoryError, not the machine


_WARM_OPTIONS = {
    "percent": "strip",
    "bare_lists": "ordered",
    "interval_inequality": True,
    "form_sensitive": True,
    "decimal_sig_digits": 6,
    "degrees_to_radians": True,
    "max_answer_chars": 2000,
}


def _read(stream: Any, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _handle(op: str, args: tuple) -> Any:
    if op == "judge":
        from verifiers.math.symbolic import judge_symbolic

        return judge_symbolic(*args)
    if op == "sleep":  # used by the tests of the time bound
        time.sleep(args[0])
        return args[0]
    if op == "pid":
        return os.getpid()
    raise ValueError(f"unknown op {op!r}")


def main() -> None:
    # the memory limit is a safety net; the wall-clock kill still bounds the check without it
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (_MEMORY_BYTES, _MEMORY_BYTES))
    from verifiers.math.symbolic import judge_symbolic

    judge_symbolic("x+1", "1+x", {}, {}, _WARM_OPTIONS)  # warm: sympy and the ANTLR parser load now

    out, inp = sys.stdout.buffer, sys.stdin.buffer
    out.write(b"R")
    out.flush()
    while True:
        header = _read(inp, _HEADER.size)
        if header is None:
            return
        body = _read(inp, _HEADER.unpack(header)[0])
        if body is None:
            return
        op, args = pickle.loads(body)
        try:
            reply = (True, _handle(op, args))
        except Exception as exc:  # reported to the parent as an `error` verdict, never swallowed
            reply = (False, f"{type(exc).__name__}: {exc}"[:500])
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_HEADER.pack(len(data)) + data)
        out.flush()


if __name__ == "__main__":
    main()
