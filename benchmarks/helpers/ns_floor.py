"""The namespace floor: the cheapest per-job start of a fresh jail (sandbox_bench, issue 4).

A minimal fork server, run as ``python3 -I -S ns_floor.py <uid> <flags>`` by root: for each line
on stdin it forks, drops to ``uid``, unshares the namespaces in ``flags`` (no mounts, cgroups,
seccomp or limits), forks a pid-1 and the program ``python3 -c 'print(int(input())*2)'``, and
writes the program's output back. It runs only that trusted one-liner: it measures what the
kernel charges for fresh namespaces per job, the lower bound under any sandbox that gives every
job its own (bwrap, nsjail, ours).
"""

import ctypes
import os
import sys

NEWUSER = 0x10000000
libc = ctypes.CDLL(None, use_errno=True)
POOL, FLAGS = int(sys.argv[1]), int(sys.argv[2])
ARGV = [b"/usr/bin/python3", b"-c", b"print(int(input())*2)"]


def child(stdin_r: int, out_w: int) -> None:
    os.setgroups([])
    os.setresgid(POOL, POOL, POOL)
    os.setresuid(POOL, POOL, POOL)
    libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: our own /proc/self/*_map stay writable
    if libc.unshare(FLAGS) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    if FLAGS & NEWUSER:
        for name, text in (("setgroups", "deny"), ("uid_map", f"65534 {POOL} 1"),
                           ("gid_map", f"65534 {POOL} 1")):  # fmt: skip
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    init = os.fork()
    if init == 0:  # pid 1 of the new pid namespace
        prog = os.fork()
        if prog == 0:
            os.dup2(stdin_r, 0)
            os.dup2(out_w, 1)
            os.execve(ARGV[0], ARGV, {})
        os._exit(os.waitstatus_to_exitcode(os.waitpid(prog, 0)[1]) & 255)
    os._exit(os.waitstatus_to_exitcode(os.waitpid(init, 0)[1]) & 255)


def main() -> None:
    for line in sys.stdin.buffer:
        stdin_r, stdin_w = os.pipe()
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                child(stdin_r, out_w)
            except BaseException as exc:  # reported, then exit
                os.write(2, repr(exc).encode())
            os._exit(99)
        os.close(stdin_r)
        os.close(out_w)
        os.write(stdin_w, line)
        os.close(stdin_w)
        data = b""
        while chunk := os.read(out_r, 65536):
            data += chunk
        os.close(out_r)
        os.waitpid(pid, 0)
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
