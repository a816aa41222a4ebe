"""What every backend shares: the execution spec, rlimits, uid allocation and verdict rules.

A backend turns an `ExecSpec` (argv inside the jail, a host work dir, read-only binds, limits,
stdin) into a `RunResult`. The status rules live here, once, so the backends agree:

1. the sandbox failed to set up or exec            -> ``sandbox_error``
2. a stream passed ``output_bytes``                -> ``output_limit``
3. CPU over ``cpu_s`` (watchdog, SIGXCPU) or wall   -> ``time_limit``
4. the memory cgroup OOM-killed a task, or the
   program died of a failed allocation             -> ``memory_limit``
5. non-zero exit or killed by a signal             -> ``runtime_error``
6. otherwise                                       -> ``ok``
"""

from __future__ import annotations

import collections
import functools
import math
import os
import resource
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sandbox._supervise import Supervised
from sandbox._workdir import WorkDir
from sandbox.job import Limits, RunResult

__all__ = [
    "JAIL_UID",
    "OOM_SCORE_JOB",
    "OOM_SCORE_PROTECTED",
    "UIDS",
    "Backend",
    "ExecSpec",
    "UidPool",
    "as_user",
    "can_lower_oom_score",
    "classify",
    "own_process_count",
    "protect_from_oom",
    "rlimit_setter",
    "rlimits",
    "set_oom_score",
]

# The uid a program sees inside the jail (``nobody``); outside it runs as a pool uid (below).
JAIL_UID = 65534
_MEMORY_ERRORS = (b"MemoryError", b"std::bad_alloc", b"Cannot allocate memory", b"out of memory")


@dataclass(frozen=True, kw_only=True)
class ExecSpec:
    """One execution: ``argv`` runs in ``workdir`` (``/work`` inside) with ``binds`` read-only.

    ``workdir`` None asks for a private tmpfs created inside the jail (no host directory to mount,
    fill and remove: the fast path for runs that neither put files in nor collect any).
    """

    argv: list[str]
    workdir: WorkDir | None
    binds: list[tuple[str, str]] = field(default_factory=list)  # (host path, name in /work)
    env: Mapping[str, str] = field(default_factory=dict)
    stdin: bytes = b""
    limits: Limits = field(default_factory=Limits)
    collect: tuple[str, ...] = ()
    uid: int | None = None
    warm: bool = False  # Job.warm: this run's jail may be started ahead (bwrap run slots)

    @property
    def host_dir(self) -> WorkDir:
        """``workdir`` for a backend with ``private_workdir = False`` (its callers always give one)."""
        assert self.workdir is not None, "this backend needs a host work dir in every ExecSpec"
        return self.workdir


class Backend(Protocol):
    name: str

    def unavailable(self) -> str | None:
        """None when the backend works here, else why not (and what to install)."""

    def enforcement(self) -> dict[str, str]:
        """How each limit is enforced, e.g. ``{"memory": "cgroup", "pids": "cgroup"}``."""

    def execute(self, spec: ExecSpec) -> RunResult: ...


class UidPool:
    """Outside uids for concurrent runs: a dedicated uid per run makes RLIMIT_NPROC bind per run.

    Root in the init namespace is exempt from RLIMIT_NPROC, so the jailed tree must never be uid 0
    outside. Each process of the caller takes its own block of 128 (pytest -n workers don't collide).
    """

    def __init__(self, base: int = 2_000_000, size: int = 128) -> None:
        self._first = base + (os.getpid() % 8192) * size
        # FIFO: a uid just released goes to the back, so its last run's dying processes are long
        # gone (they count against RLIMIT_NPROC) before it is handed out again.
        self._free = collections.deque(range(self._first, self._first + size))
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)

    def acquire(self) -> int | None:
        if os.geteuid() != 0:
            return None  # unprivileged: the jail runs as the caller's own uid
        with self._ready:
            while not self._free:
                self._ready.wait()
            return self._free.popleft()

    def release(self, uid: int | None) -> None:
        if uid is None:
            return
        with self._ready:
            self._free.append(uid)
            self._ready.notify()


UIDS = UidPool()


def as_user(uid: int | None) -> dict[str, Any]:
    """Popen keywords that run the child as ``uid`` (group ``uid``, no supplementary groups);
    {} for None (keep ours)."""
    return {} if uid is None else {"user": uid, "group": uid, "extra_groups": []}


def own_process_count() -> int:
    """Processes (threads included) of our uid: RLIMIT_NPROC counts them all in the init
    namespace, so an unprivileged caller's cap must start from this count."""
    uid, n = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    n += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return n


def rlimits(limits: Limits, *, memory_by_cgroup: bool, extra_procs: int = 0) -> list[tuple]:
    """(resource, (soft, hard)) pairs applied to the jail's first process before it runs code.

    ``extra_procs`` is added to ``limits.processes`` for RLIMIT_NPROC: the sandbox's own
    processes, plus (unprivileged callers) every process the user already has.
    """
    cpu = math.ceil(limits.cpu_s) + 1  # backstop; the watchdog or the result check is exact
    out = [
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_FSIZE, (limits.file_size_bytes, limits.file_size_bytes)),
        (resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files)),
        (resource.RLIMIT_NPROC, (limits.processes + extra_procs,) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_STACK, (limits.memory_mb << 20,) * 2),
    ]
    if not memory_by_cgroup:
        # RLIMIT_DATA (heap and private mappings), not RLIMIT_AS, which breaks thread stacks (A8).
        out.append((resource.RLIMIT_DATA, (limits.memory_mb << 20,) * 2))
    return out


# OOM victims (issue 9, class 4): memory the program fills without mapping it (memfd, tmpfs,
# pipe buffers) is charged to the run's group but to no process's RSS, so on a tie of
# ``oom_score_adj`` the kernel's choice can fall on a small sandbox process instead of the program.
# The jail's tasks get `OOM_SCORE_JOB` (raising needs no privilege); lowering any process below
# its inherited floor needs CAP_SYS_RESOURCE, which containers often drop (this project's CI VM
# does), so `protect_from_oom` lowers ours only where it can. An OOM kill in the run's group is
# ``memory_limit`` whoever the victim was (`classify`, bwrap's ``_result``, `Slot.reap`).
OOM_SCORE_JOB = 1000
OOM_SCORE_PROTECTED = -1000


@functools.cache
def can_lower_oom_score() -> bool:
    """True when this process holds CAP_SYS_RESOURCE (needed to set an oom_score_adj below 0)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> 24 & 1)  # CAP_SYS_RESOURCE = 24
    except (OSError, ValueError):
        pass
    return False


def set_oom_score(pid: int | str, value: int) -> bool:
    """Write ``value`` to ``/proc/<pid>/oom_score_adj`` ("self" for ours); False if refused."""
    try:
        with open(f"/proc/{pid}/oom_score_adj", "w") as f:
            f.write(str(value))
        return True
    except OSError:
        return False


def protect_from_oom(pid: int) -> bool:
    """Make ``pid`` (bwrap's monitor) no OOM victim, where this process may (see above).

    Without the capability a slot's monitor keeps the jail's `OOM_SCORE_JOB`: out of the
    program's reach, it is the first victim when the program lowered its own score (to 0, no
    further), ahead of the slot's launcher (0). The launcher can then be a second victim while
    the jail is torn down; `Slot.reap` reports that run as killed and the slot is replaced.
    """
    return can_lower_oom_score() and set_oom_score(pid, OOM_SCORE_PROTECTED)


def rlimit_setter(pairs: list[tuple]):
    """A ``preexec_fn`` applying ``pairs`` in the child after the uid switch, before exec.

    Why not ``prlimit(pid)`` from outside: changing another uid's limits needs CAP_SYS_RESOURCE,
    which containers often drop (this project's CI VM does); lowering one's own needs nothing.
    Why not a ``prlimit`` binary prefix: one more exec costs ~1 ms per run. The function only calls
    setrlimit (no allocation-heavy work), so forking from a threaded caller stays safe in practice.
    """
    clamped = []
    for res, (soft, hard) in pairs:
        _, cur_hard = resource.getrlimit(res)
        if cur_hard != resource.RLIM_INFINITY:
            hard = min(hard, cur_hard)
            soft = min(soft, hard)
        clamped.append((res, (soft, hard)))

    def apply() -> None:
        for res, value in clamped:
            resource.setrlimit(res, value)

    return apply


def classify(
    seen: Supervised,
    *,
    limits: Limits,
    cpu_s: float,
    memory_mb: float,
    oom_killed: bool,
    setup_failed: str | None,
    files: Mapping[str, bytes] | None = None,
) -> RunResult:
    """Apply the status rules of this module's docstring to what the supervisor saw."""
    status_code = seen.wait_status
    exit_code = os.WEXITSTATUS(status_code) if os.WIFEXITED(status_code) else None
    sig = os.WTERMSIG(status_code) if os.WIFSIGNALED(status_code) else None
    common: dict[str, Any] = dict(
        exit_code=exit_code,
        signal=sig,
        cpu_s=round(cpu_s, 4),
        wall_s=round(seen.wall_s, 4),
        memory_mb=round(memory_mb, 2),
        stdout=seen.stdout,
        stderr=seen.stderr,
        stdout_truncated=seen.stdout_truncated,
        stderr_truncated=seen.stderr_truncated,
        files=dict(files or {}),
    )
    if setup_failed is not None and seen.killed is None:
        msg = seen.stderr.decode("utf-8", "replace").strip() or setup_failed
        return RunResult(status="sandbox_error", message=msg[:2000], **common)
    if seen.killed == "output":
        which = "stdout" if seen.stdout_truncated else "stderr"
        msg = f"{which} passed {limits.output_bytes} bytes: killed"
        return RunResult(status="output_limit", message=msg, **common)
    if seen.killed in ("cpu", "wall") or cpu_s > limits.cpu_s or sig == signal.SIGXCPU:
        if seen.killed == "wall":
            msg = f"wall time passed {limits.effective_wall_s:g} s"
        else:
            msg = f"CPU time passed {limits.cpu_s:g} s"
        return RunResult(status="time_limit", message=msg, **common)
    failed = exit_code != 0
    if oom_killed or (failed and any(m in seen.stderr[-4096:] for m in _MEMORY_ERRORS)):
        msg = f"memory passed {limits.memory_mb} MB"
        return RunResult(status="memory_limit", message=msg, **common)
    if failed:
        why = f"killed by signal {sig}" if sig is not None else f"exit code {exit_code}"
        return RunResult(status="runtime_error", message=why, **common)
    return RunResult(status="ok", **common)
