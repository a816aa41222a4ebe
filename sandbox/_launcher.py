"""A launcher: a small root helper that lives in a run slot's cgroups and forks the jails there.

Why (cgroup v1, this project's CI VM): a process joins a v1 cgroup by a write to
``cgroup.procs``, a migration that waits on an RCU grace period: 1-30 ms of stall per run,
measured (``benchmarks/sandbox_bench.py``), several times the rest of the sandbox's overhead. A
forked child is *born* in its parent's cgroups, so a launcher that sits in the slot's groups
starts every run's bwrap already inside them: no migration and no window in which the jail runs
outside its limits. It also replaces a fork of the (large) caller with a fork of a small
``python -I -S`` process. cgroup v2 has the kernel feature for this (``CLONE_INTO_CGROUP``);
v1 has only this.

Protocol, over a ``SOCK_SEQPACKET`` socketpair (one message per datagram, marshal-encoded):

- request: ``{"argv", "targets", "uid", "rlimits", "cwd"}`` with the run's fds attached
  (SCM_RIGHTS); the child gets fd ``i`` of the message at number ``targets[i]``, nothing else;
- reply ``{"pid"}`` once the child exec'd, or ``{"error"}`` if it could not (nothing ran);
- reply ``{"status", "cpu", "maxrss"}`` when the child is reaped (wait4).

The launcher trusts only its creator: it runs what the socket asks. It never runs untrusted
code itself; the jail (bwrap) it starts does, as a pool uid, under rlimits set here.

OOM (issue 9, class 4): its children raise their ``oom_score_adj`` to 1000 before they drop
root, and the launcher lowers its own to -1000 where it holds CAP_SYS_RESOURCE (then the
children's 1000 is also their floor: the program cannot lower it), so the slot's OOM killer
picks a task of the run, never the launcher. Without the capability the launcher stays at 0 and
the program may lower its own score to 0: bwrap's monitor, out of its reach at 1000, is then
the first victim and the launcher can be the next (`Slot.reap`: the run was killed, the slot
is replaced). It dies with its creator
(``PR_SET_PDEATHSIG``). This file runs as a script, so it imports only stdlib.
"""

from __future__ import annotations

import fcntl
import marshal
import os
import resource
import signal
import socket
import sys

__all__ = ["MAX_FDS", "main", "serve"]

MAX_FDS = 8
_HIGH_FD = 200  # received fds are parked here before being placed at their targets


def _child(req: dict, fds: list[int], err_w: int) -> None:
    """In the forked child: place fds, new session, limits, drop to the pool uid, exec."""
    try:
        targets = req["targets"]
        err_w = fcntl.fcntl(err_w, fcntl.F_DUPFD_CLOEXEC, _HIGH_FD + MAX_FDS)  # above them all
        for i, fd in enumerate(fds):
            os.dup2(fd, _HIGH_FD + i)
        for i, target in enumerate(targets):
            os.dup2(_HIGH_FD + i, target, inheritable=True)
        low = 3  # close everything else up to the parked copies, these included
        for fd in sorted({t for t in (*targets, err_w) if t >= 3}):
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, _HIGH_FD + len(fds))
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        os.setsid()
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")  # raising needs no privilege; as root with CAP_SYS_RESOURCE, a floor
        uid = req["uid"]
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
        for res, soft, hard in req["rlimits"]:
            resource.setrlimit(res, (soft, hard))
        if uid is not None:
            os.setresuid(uid, uid, uid)
        os.chdir(req["cwd"])
        os.execve(req["argv"][0], req["argv"], {})
    except BaseException as exc:  # everything goes back to the creator
        os.write(err_w, f"{type(exc).__name__}: {exc}".encode()[:2000])
    os._exit(127)


def serve(sock: socket.socket) -> None:
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, MAX_FDS)
        except (ConnectionError, OSError):
            return
        if not msg:
            return
        req = marshal.loads(msg)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            _child(req, fds, err_w)
        os.close(err_w)
        for fd in fds:
            os.close(fd)
        err = b""
        while chunk := os.read(err_r, 4096):
            err += chunk
        os.close(err_r)
        if err:
            os.waitpid(pid, 0)
            sock.send(marshal.dumps({"error": err.decode("utf-8", "replace")}))
            continue
        sock.send(marshal.dumps({"pid": pid}))
        _, status, usage = os.wait4(pid, 0)
        reply = {"status": status, "cpu": usage.ru_utime + usage.ru_stime}
        reply["maxrss"] = usage.ru_maxrss
        _reap_orphans()
        sock.send(marshal.dumps(reply))


def _reap_orphans() -> None:
    """Wait for every child left: bwrap's monitor can exit before the jail's pid 1 is reaped,
    and that orphan comes to us (a subreaper), not to the host's init, which would leave its
    zombie holding a ``pids`` charge of the slot for seconds."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def main() -> None:
    import ctypes

    parent = os.getppid()
    libc = ctypes.CDLL(None)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of a run come to us
    if os.getppid() != parent:  # the creator died before the line above
        return
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("-1000")  # never the OOM victim; EACCES without CAP_SYS_RESOURCE
    except OSError:
        pass
    sock = socket.socket(fileno=int(sys.argv[1]))
    sock.send(marshal.dumps({"ready": os.getpid()}))
    serve(sock)


if __name__ == "__main__":
    main()
