"""Per-run control groups: memory, pids and CPU accounting enforced by the kernel.

Why cgroups and not only rlimits: RLIMIT_AS breaks legitimate programs (thread stacks, numpy;
hostile-cases A8), RLIMIT_CPU is per process (A4: 64 threads burn 64 CPU-seconds per second) and
RLIMIT_NPROC needs a dedicated uid. A cgroup sums memory, tasks and CPU over the whole process tree.

Two layouts are supported, whichever this machine lets us write:

- v2 (unified): one directory with ``memory.max``, ``memory.peak``, ``pids.max``, ``cpu.stat`` and
  ``cgroup.kill``; needs the memory and pids controllers delegated to a writable parent.
- v1 (legacy/hybrid, e.g. this project's CI VM): one directory per controller under
  ``/sys/fs/cgroup/{memory,pids,cpuacct}``; ``memory.limit_in_bytes``, ``memory.max_usage_in_bytes``,
  ``memory.oom_control`` (``oom_kill``), ``pids.max``, ``cpuacct.usage``.

`probe()` finds the layout once per process; `JobCgroup` is one group. On v1 a group is a long-lived
run slot (`sandbox._slots`: the jail is forked inside it, no per-run migration); on v2 (and with
``RLVR_SANDBOX_NO_SLOTS=1``) each run gets a new group and its jail joins it by ``cgroup.procs``. Everything here fails
closed: when a write fails the caller falls back to rlimits and reports ``enforcement = rlimit``.
"""

from __future__ import annotations

import atexit
import errno
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sandbox._background import Background
from sandbox._workdir import pid_alive

__all__ = ["ROOT", "JobCgroup", "Layout", "probe", "retire"]

ROOT = Path("/sys/fs/cgroup")
_GROUP = "rlvr-sandbox"


@dataclass(frozen=True, kw_only=True)
class Layout:
    """Where job cgroups are created: ``version`` 2 with one base, or 1 with a base per controller."""

    version: int
    bases: dict[str, Path]  # controller ("memory", "pids", "cpu") -> parent dir of job groups
    detail: str


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _write_unless_unsupported(path: Path, value: str) -> bool:
    """False when the kernel refuses the file itself (v1 swap accounting off)."""
    try:
        _write(path, value)
        return True
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
            raise
        return False


def _read(path: Path) -> str:
    with open(path) as f:
        return f.read()


def _probe_v2() -> Layout | None:
    if not (ROOT / "cgroup.controllers").exists():
        return None
    own = ""
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        if line.startswith("0::"):
            own = line[3:].strip().lstrip("/")
    # Prefer a top-level group (root in a container); else a sibling of our own group.
    candidates = [ROOT]
    if own:
        candidates.append((ROOT / own).parent)
    for parent in candidates:
        try:
            if not {"memory", "pids"} <= set(_read(parent / "cgroup.controllers").split()):
                continue
            _write(parent / "cgroup.subtree_control", "+memory +pids")
            base = parent / _GROUP
            base.mkdir(exist_ok=True)
            _write(base / "cgroup.subtree_control", "+memory +pids")
            with_cpu = "cpu" in _read(base / "cgroup.controllers").split()
            if with_cpu:
                _write(base / "cgroup.subtree_control", "+cpu")
            bases = {"memory": base, "pids": base, "cpu": base}
            return Layout(version=2, bases=bases, detail=f"cgroup v2 at {base}")
        except OSError:
            continue
    return None


def _probe_v1() -> Layout | None:
    """v1: memory and pids (required) and cpuacct (CPU summed over the tree; off with
    ``RLVR_SANDBOX_NO_CPU_CGROUP=1``, which saves one ``cgroup.procs`` migration per run)."""
    bases: dict[str, Path] = {}
    wanted: list[tuple[str, tuple[str, ...]]] = [("memory", ("memory",)), ("pids", ("pids",))]
    if os.environ.get("RLVR_SANDBOX_NO_CPU_CGROUP") != "1":
        wanted.append(("cpu", ("cpuacct", "cpu,cpuacct", "cpuacct,cpu")))
    for controller, names in wanted:
        for name in names:
            mount = ROOT / name
            if (mount / "cgroup.procs").exists():
                try:
                    base = mount / _GROUP
                    base.mkdir(exist_ok=True)
                    bases[controller] = base
                    break
                except OSError:
                    continue
    if "memory" not in bases or "pids" not in bases:
        return None
    return Layout(version=1, bases=bases, detail="cgroup v1 (" + ", ".join(sorted(bases)) + ")")


_probe_lock = threading.Lock()
_layout: Layout | bool | None = False


def probe() -> Layout | None:
    """The writable cgroup layout of this machine, or None (probed once, then cached)."""
    global _layout
    with _probe_lock:
        if _layout is False:
            layout = None
            if os.environ.get("RLVR_SANDBOX_NO_CGROUP") != "1":
                try:
                    layout = _probe_v2() or _probe_v1()
                    if layout is not None:
                        JobCgroup.create(layout, memory_bytes=64 << 20, pids=8).remove()
                        _sweep_stale(layout)
                        atexit.register(_drain)
                except OSError:
                    layout = None
            _layout = layout
        return _layout if isinstance(_layout, Layout) else None


class JobCgroup:
    """One run's cgroup(s): limits, membership, accounting, kill and removal."""

    def __init__(self, layout: Layout, dirs: dict[str, Path]) -> None:
        self.layout = layout
        self.dirs = dirs
        self.baseline_bytes = 0  # charged before this run started (a slot's launcher, residue)
        self.oom_baseline = 0  # OOM kills before this run started (a long-lived slot's)

    @classmethod
    def create(cls, layout: Layout, *, memory_bytes: int, pids: int) -> JobCgroup:
        name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"  # owner pid: see sweep_stale
        dirs: dict[str, Path] = {}
        for controller, base in layout.bases.items():
            d = base / name
            if d not in dirs.values():
                d.mkdir()
            dirs[controller] = d
        group = cls(layout, dirs)
        try:
            group.set_limits(memory_bytes, pids)
        except OSError:
            group.remove()
            raise
        return group

    def set_limits(self, memory_bytes: int, pids: int) -> None:
        """Memory (swap included) and task limits; a long-lived group may raise or lower them."""
        mem, pid = self.dirs["memory"], self.dirs["pids"]
        if self.layout.version == 2:
            _write(mem / "memory.max", str(memory_bytes))
            if (mem / "memory.swap.max").exists():
                _write(mem / "memory.swap.max", "0")
            _write(pid / "pids.max", str(pids))
            return
        memsw = mem / "memory.memsw.limit_in_bytes"
        swap_capped = memsw.exists() and _write_unless_unsupported(memsw, "-1")
        # v1 wants memsw >= limit at every step: opened above, limit set, then closed on it
        _write(mem / "memory.limit_in_bytes", str(memory_bytes))
        if swap_capped:
            _write(memsw, str(memory_bytes))
        _write(pid / "pids.max", str(pids))

    def usage_bytes(self) -> int:
        name = "memory.current" if self.layout.version == 2 else "memory.usage_in_bytes"
        return int(_read(self.dirs["memory"] / name))

    def pids_current(self) -> int | None:
        try:
            return int(_read(self.dirs["pids"] / "pids.current"))
        except (OSError, ValueError):
            return None

    def add(self, pid: int) -> None:
        for d in {*self.dirs.values()}:
            _write(d / "cgroup.procs", str(pid))

    def procs(self) -> list[int]:
        out: set[int] = set()
        for d in {*self.dirs.values()}:
            try:
                out.update(int(x) for x in _read(d / "cgroup.procs").split())
            except OSError:
                continue
        return sorted(out)

    def cpu_s(self) -> float | None:
        d = self.dirs.get("cpu")
        if d is None:
            return None
        try:
            if self.layout.version == 2:
                for line in _read(d / "cpu.stat").splitlines():
                    if line.startswith("usage_usec"):
                        return int(line.split()[1]) / 1e6
                return None
            return int(_read(d / "cpuacct.usage")) / 1e9
        except (OSError, ValueError):
            return None

    def memory_peak_bytes(self) -> int | None:
        name = "memory.peak" if self.layout.version == 2 else "memory.max_usage_in_bytes"
        try:
            return max(0, int(_read(self.dirs["memory"] / name)) - self.baseline_bytes)
        except (OSError, ValueError):
            return None

    def oom_kills(self) -> int:
        """The group's OOM-kill counter (cumulative over the group's life)."""
        name = "memory.events" if self.layout.version == 2 else "memory.oom_control"
        try:
            for line in _read(self.dirs["memory"] / name).splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            return 0
        return 0

    def oom_killed(self) -> bool:
        """An OOM kill since this run started (``oom_baseline``: a slot's earlier runs)."""
        return self.oom_kills() > self.oom_baseline

    def kill(self, keep: int | None = None) -> None:
        """SIGKILL every task but ``keep`` (a slot's launcher); v2 without one atomically via
        cgroup.kill, else by a sweep."""
        if (
            keep is None
            and self.layout.version == 2
            and (self.dirs["pids"] / "cgroup.kill").exists()
        ):
            try:
                _write(self.dirs["pids"] / "cgroup.kill", "1")
                return
            except OSError:
                pass  # fall through to the sweep
        for pid in self.procs():
            if pid == keep:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue

    def remove(self, timeout_s: float = 2.0) -> bool:
        """Kill what is left and remove the directories; False if tasks refused to go."""
        deadline = time.monotonic() + timeout_s
        while self.procs():
            self.kill()
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        ok = True
        for d in {*self.dirs.values()}:
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY:
                        ok = False
                        break
                    time.sleep(0.005)
        return ok


_REAPER = Background("rlvr-cgroup-reaper")


def _sweep_stale(layout: Layout) -> None:
    """Remove job groups left by processes that died before cleaning up (named ``<pid>-...``)."""
    for base in {*layout.bases.values()}:
        for d in base.iterdir():
            owner = d.name.split("-", 1)[0]
            if d.is_dir() and owner.isdigit() and not pid_alive(int(owner)):
                JobCgroup(layout, {"memory": d, "pids": d}).remove(timeout_s=0.5)


def _drain() -> None:
    """At exit: let the background reaper finish what it has."""
    _REAPER.drain(timeout_s=5)


def retire(group: JobCgroup) -> None:
    """Remove ``group`` in a background thread: an emptied v1 group can stay busy for a few ms,
    and waiting for it would add that to every run (its tasks are already dead)."""
    _REAPER.put(group.remove)
