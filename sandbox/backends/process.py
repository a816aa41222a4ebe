"""The fallback backend: rlimits, a dedicated uid and (where possible) ``unshare``. WEAKER.

For machines without bubblewrap. What it does: the program runs in its own session as a pool uid
(when we are root), with rlimits on CPU, data size, processes, file size and open files; if
util-linux ``unshare`` can create namespaces here it also gets private pid, net, ipc, uts and mount
namespaces (so the network and other processes are out of reach). What it does NOT do: hide the
host filesystem (world-readable files are readable), cap memory with a cgroup, or sum CPU over
threads. Every use logs a warning and ``enforcement["isolation"]`` says ``weak``.

Teardown: the session's process group, and every process left with the run's pool uid, are
killed when the main process exits (daemons that ``setsid`` leave the group but keep the uid).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
from functools import cache

from sandbox._supervise import supervise
from sandbox.backends.base import (
    ExecSpec,
    as_user,
    classify,
    own_process_count,
    rlimit_setter,
    rlimits,
)
from sandbox.job import RunResult

__all__ = ["ProcessBackend"]

log = logging.getLogger("sandbox")
_UNSHARE = ["--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--ipc", "--uts"]


@cache
def _unshare_prefix() -> tuple[str, ...]:
    """The ``unshare`` prefix that works here for a pool uid, or () when none does."""
    binary = shutil.which("unshare")
    if binary is None:
        return ()
    candidates = [(binary, "--user", "--map-current-user", *_UNSHARE)]
    kwargs = as_user(65534 if os.geteuid() == 0 else None)
    for prefix in candidates:
        try:
            done = subprocess.run(
                [*prefix, "--", "/bin/true"], capture_output=True, timeout=10, cwd="/", **kwargs
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return prefix
    return ()


def _kill_uid(uid: int | None) -> None:
    """SIGKILL every process whose real uid is ``uid`` (a pool uid owned by this run only)."""
    if uid is None:
        return
    for _ in range(3):
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid == uid:
                    os.kill(int(entry.name), signal.SIGKILL)
                    found = True
            except (OSError, ValueError):
                continue
        if not found:
            return
        time.sleep(0.005)


class ProcessBackend:
    name = "process"

    def unavailable(self) -> str | None:
        return None

    def enforcement(self) -> dict[str, str]:
        ns = "namespaces(pid,net,ipc,uts,mount)" if _unshare_prefix() else "none"
        return {
            "memory": "rlimit",
            "pids": "rlimit",
            "cpu": "rlimit",
            "workdir": "rlimit-fsize",
            "isolation": f"weak: {ns}; host filesystem visible",
        }

    private_workdir = False  # needs a host work dir in every ExecSpec

    def execute(self, spec: ExecSpec) -> RunResult:
        log.warning(
            "sandbox backend 'process' is WEAKER than bwrap: the host filesystem is visible and "
            "memory is capped by rlimits only; install bubblewrap for real isolation"
        )
        lim = spec.limits
        argv = [*_unshare_prefix(), "--", *spec.argv] if _unshare_prefix() else list(spec.argv)
        for host, name in spec.binds:  # no mount namespace of ours: symlink the sources in
            # single safe names (`sandbox.job`) into the run's fresh work dir, before it runs
            with contextlib.suppress(FileExistsError):
                os.symlink(host, spec.host_dir.path / name)
        uid = spec.uid
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(spec.env),
                cwd=spec.host_dir.path,
                start_new_session=True,
                preexec_fn=rlimit_setter(
                    rlimits(
                        lim,
                        memory_by_cgroup=False,
                        extra_procs=2 + (own_process_count() if spec.uid is None else 0),
                    )
                ),
                **as_user(uid),
            )
        except OSError as exc:
            return RunResult(status="sandbox_error", message=f"cannot start the program: {exc}")

        def kill() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            _kill_uid(uid)

        seen = supervise(
            proc, stdin=spec.stdin, limits=lim, started=started, kill=kill, on_exit=kill
        )
        _kill_uid(uid)
        files = spec.host_dir.collect(spec.collect, cap_bytes=lim.output_bytes)
        return classify(
            seen,
            limits=lim,
            cpu_s=seen.rusage_cpu_s,
            memory_mb=seen.rusage_maxrss_mb,
            oom_killed=False,
            setup_failed=None,
            files=files,
        )
