"""The default backend: bubblewrap (Debian's ``bwrap``), namespaces + cgroups + rlimits.

Each run is a fresh jail: new user, pid, net, ipc, uts, cgroup and mount namespaces; a read-only
view of the runtime (/usr and the /lib, /bin links), a fresh ``/proc`` showing only the jail's
processes (B8), a minimal ``/dev``, size-capped tmpfs ``/tmp`` and ``/dev/shm`` (A9, A16), the run's
work dir at ``/work``; no /root, /home, project or caller files (B3); an empty environment plus an
allowlist (B4); ``--new-session`` (no tty, B13), ``--die-with-parent``, nested user namespaces
disabled. Outside, bwrap runs as a dedicated pool uid (never root: RLIMIT_NPROC binds, B6/B7).

Start-up (why: cgroup limits must be in force before untrusted code runs):

- cgroup v1, root (this project's CI VM): the run takes a slot (`sandbox._slots`), whose launcher
  lives in the slot's groups and forks bwrap there as the pool uid with rlimits set: the jail is
  born inside its limits, no migration. ``child-pid`` from ``--json-status-fd`` gives the jail's
  pid 1 (killed through a pidfd). `Job.warm` jobs get their next jail started ahead
  (`sandbox._warm`).
- otherwise (cgroup v2, ``RLVR_SANDBOX_NO_SLOTS=1``): spawn bwrap with ``--block-fd`` (it sets up
  the jail, then waits), read ``child-pid``, put that pid 1 into a new group by ``cgroup.procs``
  (everything it forks inherits it), then write one byte to the block fd.

bwrap writes ``{"exit-code": N}`` on the status fd only once the program was exec'd, so a failed
mount or exec is a ``sandbox_error`` and can never be faked by a program printing ``bwrap: ...``.
Teardown: when the program's main process exits, bwrap's pid-1 exits and the kernel kills every
process left in the pid namespace (A17); on a limit we SIGKILL that pid-1 through a pidfd and sweep
the cgroup.

OOM (issue 9, class 4; `sandbox.backends.base`): the jail's processes run at ``oom_score_adj``
1000, bwrap's monitor is lowered to -1000 where we hold CAP_SYS_RESOURCE, and an OOM kill in the
run's group after the jail started is ``memory_limit`` even when the victim was the monitor or
a slot's launcher (memory charged but mapped by no process: memfd, tmpfs, pipe buffers).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import time
from functools import cache
from pathlib import Path

from sandbox import _cgroups as cgroups
from sandbox import _seccomp as seccomp
from sandbox import _slots as slots
from sandbox import _warm as warm
from sandbox._background import Background
from sandbox._supervise import supervise
from sandbox._workdir import base_dir
from sandbox.backends.base import (
    JAIL_UID,
    OOM_SCORE_JOB,
    UIDS,
    ExecSpec,
    as_user,
    classify,
    own_process_count,
    protect_from_oom,
    rlimit_setter,
    rlimits,
    set_oom_score,
)
from sandbox.job import RunResult

__all__ = ["BwrapBackend"]

_RUNTIME_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC: tuple[str, ...] = (
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
)
_ETC += ("/etc/localtime",)
_SETUP_TIMEOUT_S = 10.0


@cache
def _static_etc() -> Path:
    """Tiny passwd/group files so ``getpwuid(65534)`` works inside (Python's getpass, id)."""
    etc = base_dir() / "etc"
    etc.mkdir(mode=0o755, exist_ok=True)
    for name, text in (
        ("passwd", "root:x:0:0::/:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/tmp:/bin/sh\n"),
        ("group", "root:x:0:\nnogroup:x:65534:\n"),
    ):
        path = etc / name
        if not path.exists():
            tmp = path.with_suffix(f".{os.getpid()}")
            tmp.write_text(text)
            tmp.chmod(0o644)
            tmp.replace(path)
    return etc


@cache
def _seccomp_file() -> Path | None:
    """The compiled filter, written once per process (bwrap reads it from an fd per run)."""
    blob = seccomp.program()
    if blob is None:
        return None
    path = base_dir() / f"seccomp-{hashlib.sha256(blob).hexdigest()[:16]}.bpf"
    if not path.exists():  # content-addressed: shared by every process, written atomically
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(blob)
        tmp.replace(path)
    return path


@cache
def _runtime_args() -> tuple[str, ...]:
    args: list[str] = ["--ro-bind", "/usr", "/usr"]
    for path in _RUNTIME_LINKS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in _ETC:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    etc = _static_etc()
    args += ["--ro-bind", str(etc / "passwd"), "/etc/passwd"]
    args += ["--ro-bind", str(etc / "group"), "/etc/group"]
    return tuple(args)


class BwrapBackend:
    name = "bwrap"
    private_workdir = True  # accepts ExecSpec.workdir None: a tmpfs made inside the jail

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary or shutil.which("bwrap") or "bwrap"
        self._pending = warm.Pending(discard=lambda jail: jail.discard())
        self._drop_at_exit = False

    def unavailable(self) -> str | None:
        return _probe(self.binary)

    def drop_warm(self) -> None:
        _STARTER.drain()  # a start in flight would otherwise add a jail after the clear
        self._pending.clear()

    def enforcement(self) -> dict[str, str]:
        layout = cgroups.probe()
        kind = f"cgroup-v{layout.version}" if layout else "rlimit"
        return {
            "memory": kind,
            "pids": kind,
            "cpu": f"{kind}+rlimit" if layout and "cpu" in layout.bases else "rlimit+rusage",
            "workdir": "tmpfs" if os.geteuid() == 0 else "rlimit-fsize",
            "isolation": "namespaces(user,pid,net,ipc,uts,mount,cgroup)",
            "syscalls": "seccomp deny-list"
            if seccomp.program()
            else "none (no filter for this arch)",
        }

    def argv(
        self, spec: ExecSpec, *, status_fd: int, block_fd: int | None, seccomp_fd: int | None = None
    ) -> list[str]:
        lim = spec.limits
        tmp_bytes = str(lim.workdir_mb << 20)
        args = [self.binary, "--unshare-all", "--unshare-user", "--disable-userns"]
        args += ["--uid", str(JAIL_UID), "--gid", str(JAIL_UID), "--hostname", "sandbox"]
        args += _runtime_args()
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--size", tmp_bytes, "--tmpfs", "/dev/shm", "--size", tmp_bytes, "--tmpfs", "/tmp"]
        if spec.workdir is None:
            args += ["--size", tmp_bytes, "--tmpfs", "/work"]
        else:
            args += ["--bind", str(spec.workdir.path), "/work"]
        for host, name in spec.binds:
            args += ["--ro-bind", host, f"/work/{name}"]
        args += ["--remount-ro", "/", "--chdir", "/work", "--clearenv"]
        for key, value in spec.env.items():
            args += ["--setenv", key, value]
        args += ["--die-with-parent", "--new-session"]
        if seccomp_fd is not None:
            args += ["--seccomp", str(seccomp_fd)]
        args += ["--json-status-fd", str(status_fd)]
        if block_fd is not None:
            args += ["--block-fd", str(block_fd)]
        return [*args, "--", *spec.argv]

    def execute(self, spec: ExecSpec) -> RunResult:
        layout = cgroups.probe()
        if layout is not None and layout.version == 1 and spec.uid is not None and _use_slots():
            return self._execute_in_slot(spec, layout)
        group = None
        if layout is not None:
            procs = spec.limits.processes + 1  # + bwrap's pid 1 (its monitor stays outside)
            group = cgroups.JobCgroup.create(
                layout, memory_bytes=spec.limits.memory_mb << 20, pids=procs
            )
        try:
            return self._execute(spec, group)
        finally:
            if group is not None:
                cgroups.retire(group)

    def _execute(self, spec: ExecSpec, group: cgroups.JobCgroup | None) -> RunResult:
        status_r, status_w = os.pipe()
        block_r, block_w = os.pipe()
        filt = _seccomp_file()
        seccomp_fd = os.open(filt, os.O_RDONLY | os.O_CLOEXEC) if filt is not None else None
        fds = (status_w, block_r) if seccomp_fd is None else (status_w, block_r, seccomp_fd)
        uid = spec.uid
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                self.argv(spec, status_fd=status_w, block_fd=block_r, seccomp_fd=seccomp_fd),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=fds,
                env={},
                cwd="/",
                start_new_session=True,
                preexec_fn=rlimit_setter(
                    rlimits(
                        spec.limits,
                        memory_by_cgroup=group is not None,
                        extra_procs=2 + (own_process_count() if spec.uid is None else 0),
                    )
                ),
                **as_user(uid),
            )
        except OSError as exc:
            for fd in (status_r, block_w, *fds):
                os.close(fd)
            return RunResult(status="sandbox_error", message=f"cannot start bwrap: {exc}")
        for fd in fds:
            os.close(fd)

        def escalate() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            if group is not None:
                group.kill()

        return self._watch(
            proc, spec, status_r, group, join=True, block_w=block_w, started=started,
            escalate=escalate,
        )  # fmt: skip

    def _execute_in_slot(self, spec: ExecSpec, layout: cgroups.Layout) -> RunResult:
        """The cgroup v1 path: the jail is forked inside a run slot's groups (`sandbox._slots`)."""
        key = warm.shape_key(spec)
        jail = self._pending.take(key) if key is not None else None
        try:
            if jail is not None:
                result = self._finish(spec, jail)
                if result is not None:
                    return result  # else the warm jail failed its set-up: a normal start
            try:
                jail = self._launch(spec, layout, uid=spec.uid)
            except OSError as exc:
                return RunResult(status="sandbox_error", message=f"run slot failed: {exc}")
            result = self._finish(spec, jail, cold=True)
            assert result is not None
            return result
        finally:
            if key is not None:
                self._prestart(spec, key, layout)

    def _launch(self, spec: ExecSpec, layout: cgroups.Layout, *, uid, backstop_cpu_s=None):
        """A slot, its limits, and the jail spawned in it (stdin not written yet)."""
        slot = slots.acquire(layout)
        try:
            # + bwrap's monitor and the jail's pid 1 (the slot adds its launcher)
            slot.prepare(memory_bytes=spec.limits.memory_mb << 20, pids=spec.limits.processes + 2)
            launch_limits = spec.limits
            if backstop_cpu_s is not None:
                launch_limits = dataclasses.replace(spec.limits, cpu_s=backstop_cpu_s)
            return _Jail(slot, *self._spawn(spec, slot, launch_limits, uid), uid=uid)
        except BaseException:
            slots.release(slot, reusable=slot.finish())
            raise

    def _spawn(self, spec: ExecSpec, slot: slots.Slot, limits, uid):
        filt = _seccomp_file()
        ours: list[int] = []  # our ends: stdin, stdout, stderr, status
        theirs: list[int] = []  # the child's, in target order 0, 1, 2, 3 (status), 4 (seccomp)
        try:
            for child_end_first in (False, True, True, True):
                r, w = os.pipe()
                ours.append(w if not child_end_first else r)
                theirs.append(r if not child_end_first else w)
            if filt is not None:
                theirs.append(os.open(filt, os.O_RDONLY))
            seccomp_fd = 4 if filt is not None else None
            argv = self.argv(spec, status_fd=3, block_fd=None, seccomp_fd=seccomp_fd)
            pairs = rlimits(limits, memory_by_cgroup=True, extra_procs=2)
            pid = slot.spawn(argv, theirs, list(range(len(theirs))), uid=uid, rlimits=pairs)
        except OSError:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        stdin_w, stdout_r, stderr_r, status_r = ours
        return _Launched(pid, stdin_w, stdout_r, stderr_r), status_r

    def _finish(self, spec: ExecSpec, jail: _Jail, *, cold: bool = False) -> RunResult | None:
        """Write stdin, supervise, collect; None when a warm jail had failed its set-up."""
        slot, reusable = jail.slot, False
        try:
            if not cold and (
                not _read_first_json(jail.status_r, jail.status, time.monotonic() + 1)
                or select.select([slot.sock], [], [], 0)[0]  # it already exited: not this run's
            ):
                jail.discard()
                return None
            result = self._watch(
                jail.proc, spec, jail.status_r, slot.group, join=False, block_w=None,
                started=time.monotonic(), escalate=slot.kill_run, exit_fd=slot.sock.fileno(),
                reap=slot.reap, status=jail.status,
            )  # fmt: skip
            reusable = True
            return result
        except OSError as exc:
            return RunResult(status="sandbox_error", message=f"run slot failed: {exc}")
        finally:
            if not jail.discarded:
                slots.release(slot, reusable=reusable and slot.finish())
                if jail.uid is not None and jail.uid != spec.uid:
                    UIDS.release(jail.uid)

    def _prestart(self, spec: ExecSpec, key: str, layout: cgroups.Layout) -> None:
        """Start the next jail of this shape in the background (`sandbox._warm`)."""

        try:  # here, not in the background: the job's own files go when the job ends
            ahead = dataclasses.replace(spec, binds=warm.stage_binds(spec, key))
        except OSError:
            return
        if not self._drop_at_exit:  # after the slots' own: runs before they are closed
            atexit.register(self.drop_warm)
            self._drop_at_exit = True

        def start() -> None:
            uid = UIDS.acquire()
            try:
                jail = self._launch(ahead, layout, uid=uid, backstop_cpu_s=warm.BACKSTOP_CPU_S)
            except OSError:
                UIDS.release(uid)
                return
            self._pending.put(key, jail)

        _STARTER.put(start)

    def _watch(
        self, proc, spec, status_r, group, *, join, block_w, started, escalate, status=None,
        **extra,
    ):  # fmt: skip
        """Steps 2-3 of the protocol, then supervise the run; the result once it is over."""
        status = bytearray() if status is None else status
        child, pidfd = self._start(proc, status_r, status, group if join else None, spec, block_w)

        def kill() -> None:
            """SIGKILL the jail's pid 1: the kernel kills the whole pid namespace, and bwrap's
            monitor reaps it and exits. Killing the monitor first would orphan pid 1 (to the
            host's init, outside a slot), whose zombie keeps counting against the pool uid."""
            if pidfd is None:
                escalate()
                return
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)

        if child is None:
            kill()
        seen = supervise(
            proc,
            stdin=spec.stdin if child is not None else b"",
            limits=spec.limits,
            started=started,
            kill=kill,
            escalate=escalate,
            cpu_probe=group.cpu_s if group is not None and "cpu" in group.dirs else None,
            extra_read={status_r: status},
            **extra,
        )
        os.close(status_r)
        if pidfd is not None:
            os.close(pidfd)
        return self._result(spec, seen, status, group, child is None)

    def _start(self, proc, status_r, status, group, spec, block_w):
        """Steps 2-3 of the protocol; returns (child pid, pidfd) or (None, None) on failure."""
        try:
            doc = _read_first_json(status_r, status, time.monotonic() + _SETUP_TIMEOUT_S)
            child = int(doc["child-pid"]) if doc else None
            if child is None:
                return None, None
            pidfd = os.pidfd_open(child)
            protect_from_oom(proc.pid)  # bwrap's monitor; its pid 1 (``child``) already forked
            if group is not None:
                group.add(child)
            if block_w is not None:  # pid 1 waits to fork the program: it inherits the score
                set_oom_score(child, OOM_SCORE_JOB)
                os.write(block_w, b"x")
            return child, pidfd
        except (OSError, ValueError, KeyError):
            return None, None
        finally:
            if block_w is not None:
                os.close(block_w)

    def _result(self, spec, seen, status: bytearray, group, setup_failed: bool) -> RunResult:
        exit_code = None
        for line in bytes(status).decode("utf-8", "replace").splitlines():
            if '"exit-code"' in line:
                exit_code = json.loads(line)["exit-code"]
        oom = group.oom_killed() if group is not None else False
        if exit_code is not None and exit_code > 128 and seen.killed is None:
            # bwrap reports a signal death as 128 + signo; restore it as a signal.
            seen = dataclasses.replace(seen, wait_status=exit_code - 128)
        elif seen.killed is not None or (oom and exit_code is None and not setup_failed):
            # (or: the jail ran and the OOM killer took bwrap's monitor or the slot's launcher
            # instead of the program, which filled memory it does not map: still its MLE)
            seen = dataclasses.replace(seen, wait_status=signal.SIGKILL)
        failed = None
        if setup_failed or (exit_code is None and seen.killed is None and not oom):
            failed = "bwrap could not set up the jail"
        cpu = group.cpu_s() if group is not None else None
        peak = group.memory_peak_bytes() if group is not None else None
        files = (
            spec.workdir.collect(spec.collect, cap_bytes=spec.limits.output_bytes)
            if spec.workdir is not None
            else {}
        )
        return classify(
            seen,
            limits=spec.limits,
            cpu_s=cpu if cpu is not None else seen.rusage_cpu_s,
            memory_mb=(peak / 2**20) if peak is not None else seen.rusage_maxrss_mb,
            oom_killed=oom,
            setup_failed=failed,
            files=files,
        )


class _Jail:
    """A spawned jail in its slot: the run's pipes and the status fd of bwrap."""

    def __init__(self, slot: slots.Slot, proc: _Launched, status_r: int, *, uid) -> None:
        self.slot, self.proc, self.status_r, self.uid = slot, proc, status_r, uid
        self.status = bytearray()
        self.discarded = False

    def discard(self) -> None:
        """Kill it unused (a warm jail nobody took) and free its slot and uid."""
        if self.discarded:
            return
        self.discarded = True
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            f.close()
        os.close(self.status_r)
        self.slot.kill_run()
        with contextlib.suppress(OSError):
            self.slot.reap()  # the launcher's report of it, so the next run's is not mixed up
        slots.release(self.slot, reusable=self.slot.finish())
        if self.uid is not None:
            UIDS.release(self.uid)


_STARTER = Background("rlvr-warm")  # warm starts: best effort, in order


class _Launched:
    """What `supervise` needs of a process a slot's launcher started (it is not our child)."""

    def __init__(self, pid: int, stdin: int, stdout: int, stderr: int) -> None:
        self.pid = pid
        self.stdin = os.fdopen(stdin, "wb", buffering=0)
        self.stdout = os.fdopen(stdout, "rb", buffering=0)
        self.stderr = os.fdopen(stderr, "rb", buffering=0)
        self.returncode: int | None = None


def _use_slots() -> bool:
    """Run slots unless ``RLVR_SANDBOX_NO_SLOTS=1`` (then each jail joins its groups by a write
    to ``cgroup.procs``, the older path, kept for comparison and for cgroup v2)."""
    return os.environ.get("RLVR_SANDBOX_NO_SLOTS") != "1"


def _read_first_json(fd: int, buf: bytearray, deadline: float) -> dict | None:
    """Read from bwrap's status fd until its first JSON document is complete (or EOF)."""
    while True:
        text = bytes(buf).decode("utf-8", "replace")
        if "}" in text:
            try:
                return json.loads(text[: text.index("}") + 1])
            except ValueError:
                return None
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        buf += chunk


@cache
def _probe(binary: str) -> str | None:
    """None when bwrap can build a jail here, else the reason and the fix."""
    if shutil.which(binary) is None:
        return "bwrap not found: install bubblewrap (apt-get install bubblewrap)"
    cmd = [binary, "--unshare-all", "--unshare-user", *_runtime_args(), "--", "/bin/true"]
    kwargs = as_user(65534 if os.geteuid() == 0 else None)
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=20, env={}, cwd="/", **kwargs)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip()
        return f"bwrap cannot create namespaces here ({err}); enable unprivileged user namespaces"
    return None
