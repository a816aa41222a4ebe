"""Watch one jailed process: feed stdin, read stdout/stderr with a cap, enforce CPU and wall time.

Everything happens on the calling thread with one selector (no helper threads, so many runs can
proceed from many threads at once). Output is read *while* the program runs (SandboxFusion#62 reads
after exit and truncates or stalls); the moment a stream passes its cap the tree is killed
(hostile-cases A11/A12). CPU time is polled from the cgroup (summed over every thread and process,
A4) every `POLL_S`; the wall clock is a backstop for sleeping programs (A3). stdin is closed after
the input is written, so ``input()`` sees EOF instead of blocking.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from sandbox.job import Limits

POLL_S = 0.02
# After a kill: bwrap's monitor exits by itself once the jail's pid 1 is dead (a big tree can take
# a while to tear down on a loaded machine). Escalating early (killing the monitor) would orphan
# that pid 1 to the host's init, whose zombie keeps counting against the pool uid's RLIMIT_NPROC.
ESCALATE_S = 5.0
DRAIN_AFTER_KILL_S = 8.0
_CHUNK = 1 << 16
_EXIT = object()  # selector tag of the pidfd


@dataclass(frozen=True, kw_only=True)
class Supervised:
    """What the supervisor saw; the backend turns it into a RunResult."""

    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    killed: str | None  # None, "cpu", "wall" or "output"
    wall_s: float
    wait_status: int
    rusage_cpu_s: float
    rusage_maxrss_mb: float
    cpu_s: float | None  # last reading of the CPU probe


def supervise(
    proc: subprocess.Popen[bytes],
    *,
    stdin: bytes,
    limits: Limits,
    started: float,
    kill: Callable[[], None],
    cpu_probe: Callable[[], float | None] | None = None,
    extra_read: dict[int, bytearray] | None = None,
    on_exit: Callable[[], None] | None = None,
    escalate: Callable[[], None] | None = None,
    exit_fd: int | None = None,
    reap: Callable[[], tuple[int, float, float]] | None = None,
) -> Supervised:
    """Run the select loop until the streams close and ``proc`` exits, then reap it with wait4.

    ``extra_read`` maps additional fds (e.g. bwrap's status fd) to buffers filled until EOF;
    ``on_exit`` runs when ``proc`` exits (the process backend kills leftover daemons there, which
    would otherwise hold the pipes open). ``escalate`` runs once if, `ESCALATE_S` after ``kill``,
    the process has not exited yet (a harder kill). For a process that is not our child (a run
    slot's launcher started it), ``exit_fd`` becomes readable when it exited and ``reap``
    returns its (wait status, rusage CPU s, max RSS MB); otherwise a pidfd and wait4.
    """
    assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
    sel = selectors.DefaultSelector()
    out, err = bytearray(), bytearray()
    caps = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    truncated = {id(out): False, id(err): False}
    for fd, buf in {**caps, **(extra_read or {})}.items():
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, buf)
    pidfd = os.pidfd_open(proc.pid) if exit_fd is None else None
    sel.register(pidfd if exit_fd is None else exit_fd, selectors.EVENT_READ, _EXIT)
    view = memoryview(stdin)
    if view:
        os.set_blocking(proc.stdin.fileno(), False)
        sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE, None)
    else:
        proc.stdin.close()
    deadline = started + limits.effective_wall_s
    killed: str | None = None
    kill_at = 0.0
    cpu: float | None = None
    exited = escalated = False
    next_probe = 0.0

    def do_kill(reason: str) -> None:
        nonlocal killed, kill_at
        if killed is None:
            killed, kill_at = reason, time.monotonic()
            kill()

    try:
        while sel.get_map():
            now = time.monotonic()
            if killed is None:
                if now >= deadline:
                    do_kill("wall")
                elif cpu_probe is not None and now >= next_probe:
                    next_probe = now + POLL_S  # not on every chunk of output: a read is a syscall
                    cpu = cpu_probe()
                    if cpu is not None and cpu > limits.cpu_s:
                        do_kill("cpu")
            elif now - kill_at > DRAIN_AFTER_KILL_S:
                break
            elif not exited and not escalated and escalate and now - kill_at > ESCALATE_S:
                escalated = True
                escalate()
            timeout = POLL_S if cpu_probe is not None else max(0.0, min(deadline - now, 0.25))
            for key, _ in sel.select(timeout if killed is None else 0.05):
                fd = key.fd
                if key.data is _EXIT:
                    exited = True
                    sel.unregister(fd)
                    if on_exit is not None:
                        on_exit()
                    continue
                if key.data is None:  # stdin is writable
                    try:
                        n = os.write(fd, view[:_CHUNK])
                        view = view[n:]
                    except (BrokenPipeError, BlockingIOError) as exc:
                        if isinstance(exc, BlockingIOError):
                            continue
                        view = view[:0]
                    if not view:
                        sel.unregister(fd)
                        proc.stdin.close()
                    continue
                try:
                    chunk = os.read(fd, _CHUNK)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(fd)
                    continue
                buf = key.data
                if fd in caps:
                    room = limits.output_bytes - len(buf)
                    if len(chunk) > room:
                        buf += chunk[: max(room, 0)]
                        truncated[id(buf)] = True
                        do_kill("output")
                        continue
                buf += chunk
    finally:
        sel.close()
        if pidfd is not None:
            os.close(pidfd)
        for f in (proc.stdin, proc.stdout, proc.stderr):
            if not f.closed:
                f.close()
    if not exited and escalate is not None and not escalated:
        escalate()
    if reap is not None:
        status, rusage_cpu, maxrss_mb = reap()
    else:
        _, status, usage = os.wait4(proc.pid, 0)
        rusage_cpu, maxrss_mb = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    return Supervised(
        stdout=bytes(out),
        stderr=bytes(err),
        stdout_truncated=truncated[id(out)],
        stderr_truncated=truncated[id(err)],
        killed=killed,
        wall_s=wall,
        wait_status=status,
        rusage_cpu_s=rusage_cpu,
        rusage_maxrss_mb=maxrss_mb,
        cpu_s=cpu,
    )
