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

__all__ = ["DRAIN_AFTER_KILL_S", "ESCALATE_S", "POLL_S", "Supervised", "supervise"]

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
    watch = _Watch(
        proc,
        stdin=stdin,
        limits=limits,
        started=started,
        kill=kill,
        cpu_probe=cpu_probe,
        on_exit=on_exit,
        escalate=escalate,
    )
    pidfd = os.pidfd_open(proc.pid) if exit_fd is None else None
    try:
        watch.register(extra_read or {}, exit_fd if pidfd is None else pidfd)
        watch.loop()
    finally:
        watch.close()
        if pidfd is not None:
            os.close(pidfd)
    if not watch.exited and escalate is not None and not watch.escalated:
        escalate()
    if reap is not None:
        status, rusage_cpu, maxrss_mb = reap()
    else:
        _, status, usage = os.wait4(proc.pid, 0)
        rusage_cpu, maxrss_mb = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Supervised(
        stdout=bytes(watch.out),
        stderr=bytes(watch.err),
        stdout_truncated=watch.truncated[id(watch.out)],
        stderr_truncated=watch.truncated[id(watch.err)],
        killed=watch.killed,
        wall_s=time.monotonic() - started,
        wait_status=status,
        rusage_cpu_s=rusage_cpu,
        rusage_maxrss_mb=maxrss_mb,
        cpu_s=watch.cpu,
    )


class _Watch:
    """The select loop of `supervise`: one method per event (exit, stdin writable, output
    readable) and the limits (wall, CPU, kill escalation) checked in one place, `_check_limits`."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        *,
        stdin: bytes,
        limits: Limits,
        started: float,
        kill: Callable[[], None],
        cpu_probe: Callable[[], float | None] | None,
        on_exit: Callable[[], None] | None,
        escalate: Callable[[], None] | None,
    ) -> None:
        assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
        self.proc, self.limits, self._kill = proc, limits, kill
        self.cpu_probe, self.on_exit, self.escalate = cpu_probe, on_exit, escalate
        self.sel = selectors.DefaultSelector()
        self.out, self.err = bytearray(), bytearray()
        self.caps = {proc.stdout.fileno(): self.out, proc.stderr.fileno(): self.err}
        self.truncated = {id(self.out): False, id(self.err): False}
        self.view = memoryview(stdin)
        self.deadline = started + limits.effective_wall_s
        self.killed: str | None = None
        self.kill_at = 0.0
        self.cpu: float | None = None
        self.exited = self.escalated = False
        self.next_probe = 0.0

    def register(self, extra_read: dict[int, bytearray], exit_fd: int | None) -> None:
        """Output fds (ours and ``extra_read``), the exit fd, and stdin while it has bytes left."""
        assert exit_fd is not None and self.proc.stdin is not None
        for fd, buf in {**self.caps, **extra_read}.items():
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, buf)
        self.sel.register(exit_fd, selectors.EVENT_READ, _EXIT)
        if self.view:
            os.set_blocking(self.proc.stdin.fileno(), False)
            self.sel.register(self.proc.stdin.fileno(), selectors.EVENT_WRITE, None)
        else:
            self.proc.stdin.close()

    def loop(self) -> None:
        """Dispatch events until every fd is done, or the drain time after a kill runs out."""
        while self.sel.get_map():
            now = time.monotonic()
            if not self._check_limits(now):
                break
            timeout = (
                POLL_S if self.cpu_probe is not None else max(0.0, min(self.deadline - now, 0.25))
            )
            for key, _ in self.sel.select(timeout if self.killed is None else 0.05):
                if key.data is _EXIT:
                    self._on_exit(key.fd)
                elif key.data is None:
                    self._on_stdin(key.fd)
                else:
                    self._on_output(key.fd, key.data)

    def _check_limits(self, now: float) -> bool:
        """Kill on wall or CPU time; after a kill, escalate once and give up draining in time.
        False when the loop should stop."""
        if self.killed is None:
            if now >= self.deadline:
                self._do_kill("wall")
            elif self.cpu_probe is not None and now >= self.next_probe:
                self.next_probe = now + POLL_S  # not on every chunk of output: a read is a syscall
                self.cpu = self.cpu_probe()
                if self.cpu is not None and self.cpu > self.limits.cpu_s:
                    self._do_kill("cpu")
        elif now - self.kill_at > DRAIN_AFTER_KILL_S:
            return False
        elif (
            not self.exited
            and not self.escalated
            and self.escalate
            and now - self.kill_at > ESCALATE_S
        ):
            self.escalated = True
            self.escalate()
        return True

    def _do_kill(self, reason: str) -> None:
        if self.killed is None:
            self.killed, self.kill_at = reason, time.monotonic()
            self._kill()

    def _on_exit(self, fd: int) -> None:
        self.exited = True
        self.sel.unregister(fd)
        if self.on_exit is not None:
            self.on_exit()

    def _on_stdin(self, fd: int) -> None:
        """stdin is writable: write the next chunk; close it once written or the reader is gone."""
        assert self.proc.stdin is not None
        try:
            n = os.write(fd, self.view[:_CHUNK])
            self.view = self.view[n:]
        except BlockingIOError:
            return
        except BrokenPipeError:
            self.view = self.view[:0]
        if not self.view:
            self.sel.unregister(fd)
            self.proc.stdin.close()

    def _on_output(self, fd: int, buf: bytearray) -> None:
        """Append a chunk; a captured stream past ``output_bytes`` keeps its cap and is killed."""
        try:
            chunk = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        if not chunk:
            self.sel.unregister(fd)
            return
        if fd in self.caps:
            room = self.limits.output_bytes - len(buf)
            if len(chunk) > room:
                buf += chunk[: max(room, 0)]
                self.truncated[id(buf)] = True
                self._do_kill("output")
                return
        buf += chunk

    def close(self) -> None:
        self.sel.close()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None and not f.closed:
                f.close()
