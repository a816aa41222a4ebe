"""Where a sandbox run's time goes (sandbox_bench, issue 9): stages, set-up syscalls, kernel locks.

Three views, from the cheapest to the most intrusive; nothing in ``sandbox/`` is edited:

- `StageTimer`: marks taken by wrappers around the sandbox's own functions on the bwrap run-slot
  path (``runner._run_one``, ``Slot.spawn``, bwrap's status-fd read, ``supervise``), plus the
  program's own ``CLOCK_MONOTONIC`` at ``main`` (the jail has no time namespace, so the clocks
  agree). Stages: ``prepare`` (run spec, uid, slot, cgroup limit writes, pipes, argv), ``launch``
  (the launcher forks, sets rlimits and the pool uid, execs bwrap), ``clone`` (bwrap starts and
  clones the jail's pid 1 into fresh user/pid/net/ipc/uts/cgroup/mount namespaces: it reports
  ``child-pid`` right after ``clone``), ``setup`` (uid map, ~20 mounts, pivot_root, seccomp, the
  fork of the program and its exec up to ``main``), ``teardown`` (program exit, pid namespace
  and mount teardown, bwrap's exit, the launcher's ``wait4`` and report), ``collect`` (cgroup
  counters, ``Slot.finish``, the result). Without a timestamp from the program, ``setup`` and
  ``teardown`` are one stage, ``setup_teardown``.
- `strace_profile`: the real run path with bwrap replaced by ``strace -f -T`` of bwrap, summed per
  set-up syscall (mounts by kind). ptrace slows every traced call, so read it for growth between
  load levels, not as absolute cost.
- `perf_locks`: ``perf lock record -a`` (lock:contention_begin/end tracepoints) over a window of
  runs, reported by ``perf lock contention`` per caller: which kernel locks the jails wait on.
  System-wide: it sees every jail on the machine, the background ones included.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

SETUP_SYSCALLS = ("clone", "clone3", "unshare", "mount", "umount2", "pivot_root", "execve")
STAGES = ("prepare", "launch", "clone", "setup", "teardown", "setup_teardown", "collect")


def percentile(xs: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    s = sorted(xs)
    return s[max(0, min(len(s) - 1, math.ceil(q * len(s)) - 1))]


class StageTimer:
    """Marks of the current run on the slot path (single-threaded caller; see module doc)."""

    def __init__(self) -> None:
        self.marks: dict[str, int] = {}
        self._undo: list[tuple[object, str, object]] = []

    def install(self) -> None:
        import sandbox._slots as slots
        import sandbox.backends.bwrap as bwrap
        import sandbox.runner as runner

        self._wrap(runner, "_run_one", before="start", after="done", reset=True)
        self._wrap(slots.Slot, "spawn", before="spawn", after="spawned")
        self._wrap(bwrap, "_read_first_json", after="child_pid")
        self._wrap(bwrap, "supervise", after="exited")

    def uninstall(self) -> None:
        while self._undo:
            owner, name, orig = self._undo.pop()
            setattr(owner, name, orig)

    def __enter__(self) -> StageTimer:
        self.install()
        return self

    def __exit__(self, *exc) -> None:
        self.uninstall()

    def _wrap(self, owner, name: str, *, before=None, after=None, reset=False) -> None:
        orig = getattr(owner, name)
        marks = self.marks

        def wrapper(*args, **kwargs):
            if reset:
                marks.clear()
            if before:
                marks.setdefault(before, time.monotonic_ns())
            try:
                return orig(*args, **kwargs)
            finally:
                if after:
                    marks.setdefault(after, time.monotonic_ns())

        setattr(owner, name, wrapper)
        self._undo.append((owner, name, orig))

    def stages(self, main_ns: int | None = None) -> dict[str, float] | None:
        """This run's stages in ms (None when a mark is missing: not the cold slot path)."""
        return stages_from_marks(self.marks, main_ns)


def stages_from_marks(m: dict[str, int], main_ns: int | None = None) -> dict[str, float] | None:
    need = ("start", "spawn", "spawned", "child_pid", "exited", "done")
    if any(k not in m for k in need):
        return None
    ms = lambda a, b: (b - a) / 1e6  # noqa: E731
    out = {
        "prepare": ms(m["start"], m["spawn"]),
        "launch": ms(m["spawn"], m["spawned"]),
        "clone": ms(m["spawned"], m["child_pid"]),
    }
    if main_ns is not None and m["child_pid"] <= main_ns <= m["exited"]:
        out["setup"] = ms(m["child_pid"], main_ns)
        out["teardown"] = ms(main_ns, m["exited"])
    else:
        out["setup_teardown"] = ms(m["child_pid"], m["exited"])
    out["collect"] = ms(m["exited"], m["done"])
    out["total"] = ms(m["start"], m["done"])
    return out


def summarize_stages(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """p50 and p99 per stage over the runs that have it."""
    keys = [k for k in (*STAGES, "total") if any(k in r for r in rows)]
    out = {}
    for k in keys:
        xs = [r[k] for r in rows if k in r]
        out[k] = {"p50_ms": round(percentile(xs, 0.5), 3), "p99_ms": round(percentile(xs, 0.99), 3)}
    return out


# -- strace ----------------------------------------------------------------------------------

_LINE = re.compile(r"^(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()(.*?)(?: <(\d+\.\d+)>)?$")


def _mount_kind(args: str) -> str:
    if "MS_REMOUNT" in args:
        return "mount:remount"
    if "MS_BIND" in args:
        return "mount:bind"
    if re.search(r"MS_(PRIVATE|SLAVE|SHARED)", args):
        return "mount:propagation"
    fields = [f.strip() for f in args.split(",")]
    fstype = fields[2].strip('"') if len(fields) > 2 else "?"
    return f"mount:{fstype}"


def parse_strace(text: str) -> dict[str, tuple[int, float]]:
    """``strace -f -T`` output -> {syscall (mounts by kind): (calls, seconds)}."""
    pending: dict[str, tuple[str, str]] = {}
    out: dict[str, tuple[int, float]] = {}
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        pid, resumed, name, args, secs = m.groups()
        if name and "<unfinished ...>" in args:
            pending[pid] = (name, args)
            continue
        if resumed:
            name, first = pending.pop(pid, (resumed, ""))
            args = first + args
        if secs is None:
            continue
        key = _mount_kind(args) if name == "mount" else name
        calls, total = out.get(key, (0, 0.0))
        out[key] = (calls + 1, total + float(secs))
    return out


def strace_profile(backend, run_once: Callable[[], None], n: int, work: Path) -> dict:
    """Run ``run_once`` ``n`` times with ``backend.binary`` swapped for ``strace -f -T bwrap``."""
    strace = shutil.which("strace")
    if strace is None:
        return {"skipped": "strace not installed (apt-get install strace)"}
    out_dir = work / f"strace-{os.getpid()}-{time.monotonic_ns()}"
    out_dir.mkdir(parents=True)
    out_dir.chmod(0o1777)  # the jail's pool uid writes the trace
    wrapper = out_dir / "bwrap-strace"
    trace = ",".join(SETUP_SYSCALLS)
    wrapper.write_text(
        f'#!/bin/sh\nexec {strace} -f -T -qq --seccomp-bpf -e trace={trace} -o "{out_dir}/t.$$" '
        f'{backend.binary} "$@"\n'
    )
    wrapper.chmod(0o755)
    real, backend.binary = backend.binary, str(wrapper)
    try:
        backend.unavailable()  # its probe runs once per binary: not a run, so not counted
        for path in out_dir.glob("t.*"):
            path.unlink()
        for _ in range(n):
            run_once()
    finally:
        backend.binary = real
    totals: dict[str, tuple[int, float]] = {}
    files = sorted(out_dir.glob("t.*"))
    for path in files:
        for key, (calls, secs) in parse_strace(path.read_text(errors="replace")).items():
            c0, s0 = totals.get(key, (0, 0.0))
            totals[key] = (c0 + calls, s0 + secs)
    shutil.rmtree(out_dir, ignore_errors=True)
    if not files:
        return {"skipped": "strace wrote no trace (ptrace not permitted here?)"}
    per_run = {
        k: {"calls": round(c / len(files), 1), "ms": round(s * 1000 / len(files), 3)}
        for k, (c, s) in sorted(totals.items(), key=lambda kv: -kv[1][1])
    }
    return {"runs": len(files), "per_run": per_run}


# -- perf lock -------------------------------------------------------------------------------

_UNITS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1000.0}
_PERF_ROW = re.compile(
    r"^\s*(\d+)\s+([\d.]+)\s*(ns|us|ms|s)\s+([\d.]+)\s*(ns|us|ms|s)\s+([\d.]+)\s*(ns|us|ms|s)\s+(.+)$"
)


def parse_perf_lock(text: str) -> list[dict]:
    """``perf lock contention`` rows -> [{contended, total_ms, max_ms, what}] as printed."""
    rows = []
    for line in text.splitlines():
        m = _PERF_ROW.match(line)
        if m:
            n, tot, tu, mx, mu, _avg, _au, what = m.groups()
            rows.append({
                "contended": int(n),
                "total_ms": round(float(tot) * _UNITS[tu], 3),
                "max_ms": round(float(mx) * _UNITS[mu], 3),
                "what": " ".join(what.split()),
            })  # fmt: skip
    return rows


def perf_locks(run_window: Callable[[], int], work: Path, top: int = 10) -> dict:
    """Kernel lock contention, system-wide, while ``run_window`` runs (it returns its run count)."""
    perf = shutil.which("perf")
    if perf is None or os.geteuid() != 0:
        return {"skipped": "needs perf (linux-perf) and root"}
    data = work / f"perf-lock-{os.getpid()}-{time.monotonic_ns()}.data"
    rec = subprocess.Popen(
        [perf, "lock", "record", "-a", "-o", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 5
        while not data.exists() and time.monotonic() < deadline and rec.poll() is None:
            time.sleep(0.05)
        time.sleep(0.3)  # the tracepoints are on once the file header is out
        started = time.monotonic()
        runs = run_window()
        window_s = time.monotonic() - started
    finally:
        with contextlib.suppress(ProcessLookupError):
            rec.send_signal(signal.SIGINT)
        _, err = rec.communicate(timeout=60)
    if not data.exists():
        return {"skipped": f"perf lock record failed: {err.decode(errors='replace')[-300:]}"}
    views = {}
    for name, flag in (("by_caller", ["-E", "200"]), ("by_thread", ["-t"])):
        done = subprocess.run(
            [perf, "lock", "contention", "-i", str(data), *flag],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # perf prints its table on stderr
            timeout=120,
        )
        views[name] = parse_perf_lock(done.stdout.decode(errors="replace"))
    data.unlink(missing_ok=True)
    callers = merge_rows(views["by_caller"], lambda what: what)
    total = sum(r["total_ms"] for r in callers)
    return {
        "window_s": round(window_s, 3),
        "our_runs": runs,
        "wait_ms": round(total, 3),
        "by_area": merge_rows(callers, area),
        "by_caller": callers[:top],
        "by_command": merge_rows(views["by_thread"], command)[:top],
    }


# Kernel callers of contended locks -> the part of a jail's life they belong to (a heuristic
# table: the caller symbols seen on this kernel, 6.x). First match wins.
AREAS = {
    "mount teardown (umount, RCU grace period)": "namespace_unlock sys_umount umount",
    "mount set-up": "alloc_super do_mount sys_mount path_mount attach_ copy_mnt_ns lock_mount "
    "graft_tree d_same_name do_new_mount",
    "net namespace teardown": "cleanup_net nf_conntrack_cleanup ops_undo ops_exit "
    "default_device_exit unregister_netdevice",
    "net namespace set-up": "setup_net ops_init copy_net_ns register_netdevice devinet_sysctl "
    "netlink rtnl",
    "namespaces (nsproxy, pid, user)": "nsproxy copy_namespaces pidns userns",
    "process create/exit (fork, exec, mm)": "copy_process exit_ do_exit release_task mm_ vma mmap",
    "cgroups": "cgroup css_",
    "files (mkdir, unlink: directory locks)": "mkdirat unlinkat rmdir do_unlink filename_create",
    "kernel work queues (deferred teardown)": "process_one_work worker_thread",
}


def area(caller: str) -> str:
    sym = caller.split()[-1] if caller else ""
    for name, keys in AREAS.items():
        if any(k in sym for k in keys.split()):
            return name
    return "other"


def command(what: str) -> str:
    """``perf lock contention -t``'s "<pid> <comm>" -> a command name to sum over."""
    comm = what.split(" ", 1)[-1]
    if comm.startswith(":"):
        return "(task gone when perf resolved it)"  # short-lived: mostly jail processes
    if comm.startswith("kworker"):
        return "kworker (kernel work queues: namespace teardown, cgroup release)"
    return comm


def merge_rows(rows: list[dict], key: Callable[[str], str]) -> list[dict]:
    """Rows summed per ``key(what)``, largest total wait first."""
    acc: dict[str, dict] = {}
    for r in rows:
        k = key(r["what"])
        a = acc.setdefault(k, {"what": k, "contended": 0, "total_ms": 0.0, "max_ms": 0.0})
        a["contended"] += r["contended"]
        a["total_ms"] = round(a["total_ms"] + r["total_ms"], 3)
        a["max_ms"] = max(a["max_ms"], r["max_ms"])
    return sorted(acc.values(), key=lambda a: -a["total_ms"])
