"""Run slots (cgroup v1): a long-lived group per concurrent run, with a launcher living in it.

A slot serves one run at a time. Before a run, `Slot.prepare` sets the run's limits and zeroes
its counters (peak memory, CPU, OOM kills) with plain writes, cheap and free of the RCU stall of
a ``cgroup.procs`` migration; the run's jail is forked *inside* the groups by the slot's
launcher (`sandbox._launcher`), so it is limited from its first instruction. After the run,
`Slot.finish` kills whatever is left and checks the group is down to the launcher again; a slot
that cannot be brought back (a task that will not die, a launcher that died) is discarded,
never reused.

What a shared group changes, and how it is kept exact per run:

- memory: the launcher's few pages and any page cache the group still holds are the
  ``baseline``; the limit is the run's limit on top of it, and peak memory is measured from it.
  A group whose residue passes `RESIDUE_MAX_BYTES` is emptied (``memory.force_empty``) first.
- pids: the launcher counts one; ``pids.max`` gets one more.
- OOM kills: the counter is cumulative; a run compares against its start value. The jail's tasks
  run at ``oom_score_adj 1000`` and the launcher at -1000 where it may (else 0; see
  `sandbox._launcher`), so the kernel's choice is one of the run's tasks. Should the launcher die
  of the slot's OOM killer all the same, `Slot.reap` reports the run as killed (its
  ``memory_limit`` is then read from the counter) and the slot is discarded, never reused.
"""

from __future__ import annotations

import atexit
import marshal
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from sandbox import _cgroups as cgroups
from sandbox import _launcher as launcher
from sandbox._background import Background
from sandbox.errors import LaunchError

__all__ = ["RESIDUE_MAX_BYTES", "Slot", "acquire", "close_all", "release"]

RESIDUE_MAX_BYTES = 16 << 20
_LAUNCHER = str(Path(launcher.__file__).resolve())
_FINISH_TIMEOUT_S = 2.0


class Slot:
    def __init__(self, layout: cgroups.Layout) -> None:
        self.group = cgroups.JobCgroup.create(layout, memory_bytes=256 << 20, pids=16)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", _LAUNCHER, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env={},
                cwd="/",
            )
        except OSError:
            ours.close()
            self.group.remove()
            raise
        finally:
            theirs.close()
        self.sock = ours
        try:
            self.group.add(self.proc.pid)  # it forks nothing before our first request
            hello = self._recv()
            if hello.get("ready") != self.proc.pid:
                raise LaunchError(f"launcher said {hello!r}")
        except OSError:
            self.close()
            raise

    # -- one run -------------------------------------------------------------------------------
    def prepare(self, *, memory_bytes: int, pids: int) -> None:
        """Limits and zeroed counters for the next run (the group holds only the launcher)."""
        g, mem = self.group, self.group.dirs["memory"]
        base = g.usage_bytes()
        if base > RESIDUE_MAX_BYTES:
            cgroups._write(mem / "memory.force_empty", "0")
            base = g.usage_bytes()
        g.set_limits(memory_bytes + base, pids + 1)  # + the launcher, its pages and residue
        cgroups._write(mem / "memory.max_usage_in_bytes", "0")  # resets to current usage
        if "cpu" in g.dirs:
            cgroups._write(g.dirs["cpu"] / "cpuacct.usage", "0")
        g.baseline_bytes = base
        g.oom_baseline = g.oom_kills()

    def spawn(self, argv: list[str], fds: list[int], targets: list[int], *, uid: int | None,
              rlimits: list[tuple], cwd: str = "/") -> int:  # fmt: skip
        """Start ``argv`` in the slot; the pid once it exec'd. LaunchError if nothing ran."""
        req = {
            "argv": argv,
            "targets": targets,
            "uid": uid,
            "rlimits": [(res, soft, hard) for res, (soft, hard) in rlimits],
            "cwd": cwd,
        }
        try:
            socket.send_fds(self.sock, [marshal.dumps(req)], fds)
        except OSError as exc:
            raise LaunchError(f"launcher unreachable: {exc}") from None
        reply = self._recv()
        if "error" in reply:
            raise LaunchError(f"cannot start {argv[0]}: {reply['error']}")
        return int(reply["pid"])

    def reap(self) -> tuple[int, float, float]:
        """(wait status, rusage CPU s, max RSS MB) of the last spawned process, once it exited.

        A launcher killed by the slot's OOM killer took the run down with it (the jail dies
        with its parent): the run's status is SIGKILL, not a fault of the slot (issue 9).
        """
        try:
            reply = self._recv()
        except LaunchError:
            if not self.group.oom_killed():
                raise
            return signal.SIGKILL, 0.0, 0.0
        return int(reply["status"]), float(reply["cpu"]), reply["maxrss"] / 1024

    def kill_run(self) -> None:
        """SIGKILL every task of the group but the launcher."""
        self.group.kill(keep=self.proc.pid)

    def finish(self) -> bool:
        """Kill what the run left; True when only the launcher is left (the slot is reusable)."""
        deadline = time.monotonic() + _FINISH_TIMEOUT_S
        while True:
            others = [pid for pid in self.group.procs() if pid != self.proc.pid]
            if not others and (self.group.pids_current() or 0) <= 1:
                return self.proc.poll() is None
            self.kill_run()
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)

    # -- plumbing ------------------------------------------------------------------------------

    def _recv(self) -> dict:
        try:
            msg = self.sock.recv(1 << 16)
        except OSError as exc:
            raise LaunchError(f"launcher unreachable: {exc}") from None
        if not msg:
            raise LaunchError(f"the launcher exited (status {self.proc.poll()})")
        return marshal.loads(msg)

    def close(self) -> None:
        self.sock.close()  # the launcher exits on EOF
        try:
            self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        cgroups.retire(self.group)


_free: list[Slot] = []
_lock = threading.Lock()
_MAKER = Background("rlvr-slot-maker")
_at_exit = False


def acquire(layout: cgroups.Layout) -> Slot:
    """A free slot, or a new one (one per concurrent run; they are kept for the next runs).

    New slots are made on one long-lived thread: a launcher's ``PR_SET_PDEATHSIG`` fires when
    the *thread* that forked it ends, and callers' worker threads come and go.
    """
    global _at_exit
    with _lock:
        if _free:
            return _free.pop()
        if not _at_exit:  # after cgroups' own: runs before it, so the groups it retires go
            atexit.register(close_all)
            _at_exit = True
    done, box = threading.Event(), list[Slot | OSError]()

    def make() -> None:
        try:
            box.append(Slot(layout))
        except OSError as exc:
            box.append(exc)
        finally:
            done.set()

    _MAKER.put(make)
    done.wait()
    if isinstance(box[0], OSError):
        raise box[0]
    return box[0]


def release(slot: Slot, *, reusable: bool) -> None:
    if reusable:
        with _lock:
            _free.append(slot)
    else:
        slot.close()


def close_all() -> None:
    with _lock:
        slots = list(_free)
        _free.clear()
    for slot in slots:
        slot.close()
