"""Kernel-level attacks on the jail (issue 9, classes 4 and 5), each with its control.

Class 5 (seccomp): cross-process primitives and kernel surface the jail does not need fail with
EPERM, the program goes on, and the run is never a sandbox fault. The filter's logic is also
checked on its own, by a small classic-BPF interpreter, for any syscall number and argument.

Class 4 (OOM victim): memory charged to the run's group without being mapped by the program
(memfd pages, tmpfs files, pipe buffers, SysV segments, fds in flight) used to make the OOM
killer take bwrap's monitor, and the run became ``sandbox_error`` (reward None): a wrong program
could choose "no reward". Every such run must be ``memory_limit``, in Python and C, cold, warm
and without run slots; the same program under its limit still succeeds.
"""

from __future__ import annotations

import errno
import os
import signal
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import Job, Limits, Run, drop_warm, run
from sandbox import _cgroups as cgroups
from sandbox import _seccomp as seccomp
from sandbox import _slots as slots
from sandbox.backends import get_backend
from sandbox.backends.base import can_lower_oom_score
from tests.sandbox.conftest import (
    FAST,
    host_untouched,  # noqa: F401 - a fixture used by name
    needs_bwrap,
    needs_root,
    run_code,
)

MEM = Limits(cpu_s=3, wall_s=8, memory_mb=128, output_bytes=1 << 20, workdir_mb=16)
# Small memory, large tmpfs mounts: /tmp and /dev/shm (64 MB each) can hold more than the limit.
TIGHT = Limits(cpu_s=3, wall_s=8, memory_mb=48, output_bytes=1 << 20, workdir_mb=64)

# -- the filter's logic, without a kernel ----------------------------------------------------

_ARCH = 0xC000003E
_ALLOW, _KILL, _EPERM = 0x7FFF0000, 0x80000000, 0x00050000 | errno.EPERM


def _eval(prog: bytes, *, nr: int, arch: int = _ARCH, args: tuple[int, ...] = (0,) * 6) -> int:
    """Run a classic BPF seccomp program on one ``struct seccomp_data`` (what the kernel does)."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *args, *(0,) * (6 - len(args)))
    insns = [struct.unpack_from("=HBBI", prog, i) for i in range(0, len(prog), 8)]
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:  # ld [k]
            acc = struct.unpack_from("<I", data, k)[0]
        elif code == 0x06:  # ret k
            return k
        elif code in (0x15, 0x35):  # jeq / jge k
            hit = acc == k if code == 0x15 else acc >= k
            pc += jt if hit else jf
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
        pc += 1


needs_x86_filter = pytest.mark.skipif(seccomp.program() is None, reason="no filter for this arch")
_DENIED = set(seccomp.DENIED_X86_64.values())
_FAMILIES = set(seccomp.ALLOWED_SOCKET_FAMILIES.values())
_words = st.integers(0, 2**32 - 1)


@needs_x86_filter
@given(nr=st.integers(0, 0x3FFFFFFF), high=_words)
def test_filter_denies_exactly_its_table(nr: int, high: int) -> None:
    if nr in (41, 53):  # socket, socketpair: decided by their arguments (below)
        return
    want = _EPERM if nr in _DENIED else _ALLOW
    assert _eval(seccomp.program(), nr=nr, args=(high << 32, 0, 0, 0, 0, 0)) == want


@needs_x86_filter
@settings(max_examples=300)
@given(nr=st.sampled_from([41, 53]), family=st.integers(0, 64) | _words, high=_words,
       proto=st.integers(0, 32) | _words)  # fmt: skip
def test_filter_allows_only_listed_socket_families(nr, family, high, proto) -> None:
    """The kernel reads the domain (and protocol) as an int: only the low word decides."""
    got = _eval(seccomp.program(), nr=nr, args=((high << 32) | family, 1, (high << 32) | proto))
    ok = family in _FAMILIES and (family != 16 or proto in seccomp.ALLOWED_NETLINK.values())
    assert got == (_ALLOW if ok else _EPERM)


@needs_x86_filter
@given(arch=_words.filter(lambda a: a != _ARCH), nr=st.integers(0, 500))
def test_filter_kills_any_other_abi(arch: int, nr: int) -> None:
    assert _eval(seccomp.program(), nr=nr, arch=arch) == _KILL


@needs_x86_filter
def test_filter_denies_x32_calls() -> None:
    assert _eval(seccomp.program(), nr=0x40000000 + 39) == _EPERM  # x32 getpid


# -- class 5 in the jail ------------------------------------------------------------------------

_LIBC = "import ctypes, os, socket\nlibc = ctypes.CDLL(None, use_errno=True)\n"
_SIBLING = (  # a child with its own copy of `buf`, rewritten, then waiting
    "buf = ctypes.create_string_buffer(b'parent', 16)\n(r, up), (down, w) = os.pipe(), os.pipe()\n"
    "pid = os.fork()\nif pid == 0:\n    buf.value = b'sibling-secret'\n    os.write(up, b'x')\n"
    "    os.read(down, 1)\n    os._exit(0)\nos.read(r, 1)\n"
)
_IOVEC = (
    "class Iov(ctypes.Structure):\n    _fields_ = [('b', ctypes.c_void_p), ('n', ctypes.c_size_t)]\n"
    "mine = ctypes.create_string_buffer(16)\nloc = Iov(ctypes.addressof(mine), 16)\n"
    "rem = Iov(ctypes.addressof(buf), 16)\n"
)


def _errno_of(call: str) -> str:
    return f"ctypes.set_errno(0)\nprint({call}, ctypes.get_errno(), flush=True)\n"


def _socket_errno(*args: int) -> str:
    return f"try:\n    socket.socket{args!r}.close(); print('created')\nexcept OSError as e: print(e.errno)\n"


# (id, program, what stdout must be): every one must also end "ok", never "sandbox_error"
SECCOMP_CASES = [
    # AF_VSOCK talks to the hypervisor and other VMs; the net namespace does not cover it
    ("vsock-socket", _LIBC + _socket_errno(40, 1), "1\n"),
    (
        "vsock-socketpair",
        _LIBC + _errno_of("libc.socketpair(40, 1, 0, (ctypes.c_int * 2)())"),
        "-1 1\n",
    ),
    # another process's fds: pidfd_getfd on a sibling (pidfd_open itself stays allowed)
    (
        "pidfd-getfd",
        _LIBC
        + _SIBLING
        + "pfd = os.pidfd_open(pid)\nprint(pfd >= 0)\n"
        + _errno_of("libc.syscall(438, pfd, 0, 0)")
        + "os.write(w, b'x')\nos.wait()\n",
        "True\n-1 1\n",
    ),
    # another process's memory: process_vm_readv / writev on a sibling
    (
        "process-vm-readv",
        _LIBC
        + _SIBLING
        + _IOVEC
        + _errno_of("libc.process_vm_readv(pid, ctypes.byref(loc), 1, ctypes.byref(rem), 1, 0)")
        + "print(mine.value)\nos.write(w, b'x')\nos.wait()\n",
        "-1 1\nb''\n",
    ),
    (
        "process-vm-writev",
        _LIBC
        + _SIBLING
        + _IOVEC
        + _errno_of("libc.process_vm_writev(pid, ctypes.byref(loc), 1, ctypes.byref(rem), 1, 0)")
        + "os.write(w, b'x')\nos.wait()\n",
        "-1 1\n",
    ),
    # own: kcmp compares kernel objects of two processes (an ordering oracle on kernel pointers)
    (
        "kcmp",
        _LIBC
        + _SIBLING
        + _errno_of("libc.syscall(312, os.getpid(), pid, 0, 1, 1)")
        + "os.write(w, b'x')\nos.wait()\n",
        "-1 1\n",
    ),
    # own: netlink families beyond routing (uevents from the host's devices, audit)
    ("netlink-uevent", _LIBC + _socket_errno(16, 3, 15), "1\n"),
    ("netlink-audit", _LIBC + _socket_errno(16, 3, 9), "1\n"),
    # own: the kernel crypto API socket
    ("af-alg", _LIBC + _socket_errno(38, 5, 0), "1\n"),
    # own: the new mount API's attribute call, and secret memory
    ("mount-setattr", _LIBC + _errno_of("libc.syscall(442, -100, b'/tmp', 0, 0, 0)"), "-1 1\n"),
    ("memfd-secret", _LIBC + _errno_of("libc.syscall(447, 0)"), "-1 1\n"),
    # controls: what programs do need still works
    (
        "control-sockets",
        _LIBC
        + "".join(_socket_errno(*a) for a in ((1, 1), (2, 1), (10, 2), (16, 3, 0)))
        + "a, b = socket.socketpair(); a.send(b'hi'); print(b.recv(2))\n"
        + "print(socket.if_nameindex())\n"
        + "print(socket.getaddrinfo('127.0.0.1', 80, flags=socket.AI_ADDRCONFIG)[0][4])\n",
        "created\ncreated\ncreated\ncreated\nb'hi'\n[(1, 'lo')]\n('127.0.0.1', 80)\n",
    ),
    (
        "control-processes",
        _LIBC
        + "fd = os.memfd_create('x'); os.write(fd, b'ok'); print(os.pread(fd, 2, 0))\n"
        + "pid = os.fork()\nif pid == 0: os._exit(7)\npfd = os.pidfd_open(pid)\n"
        + "print(os.waitpid(pid, 0)[1] >> 8)\n",
        "b'ok'\n7\n",
    ),
]


@needs_bwrap
@pytest.mark.usefixtures("host_untouched")
@pytest.mark.parametrize(("program", "shows"), [c[1:] for c in SECCOMP_CASES],
                         ids=[c[0] for c in SECCOMP_CASES])  # fmt: skip
def test_denied_calls_fail_with_eperm(program: str, shows: str) -> None:
    result = run_code(program, limits=FAST.replace(cpu_s=2, wall_s=4))
    assert (result.status, result.stdout.decode()) == ("ok", shows), result.stderr[-400:]


_C_SYSCALLS = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
static char secret[16] = "parent";
int main(void) {
  int p[2]; if (pipe(p)) return 2;
  pid_t pid = fork();
  if (pid == 0) { secret[0] = 'S'; pause(); return 0; }
  char got[16] = {0};
  struct iovec loc = {got, sizeof got}, rem = {secret, sizeof secret};
  errno = 0; long r1 = socket(40, SOCK_STREAM, 0); int e1 = errno;
  errno = 0; long r2 = process_vm_readv(pid, &loc, 1, &rem, 1, 0); int e2 = errno;
  int pfd = (int) syscall(SYS_pidfd_open, pid, 0);
  errno = 0; long r3 = syscall(438, pfd, 0, 0); int e3 = errno;
  printf("%ld %d %ld %d %d %ld %d [%s]\n", r1, e1, r2, e2, pfd >= 0, r3, e3, got);
  kill(pid, SIGKILL);
  return 0;
}
"""


@needs_bwrap
def test_denied_calls_in_c() -> None:
    result = run_code(_C_SYSCALLS, language="c", limits=FAST.replace(cpu_s=2, wall_s=4))
    assert (result.status, result.stdout) == ("ok", b"-1 1 -1 1 1 -1 1 []\n"), result


# -- class 4: memory the program does not map -----------------------------------------------

# Each fills ``n`` MB (read from stdin) in a way no process's RSS shows, then says so.
PY_FILLERS = {
    "memfd": "fds = []\nfor i in range(n):\n    if i % 8 == 0: fds.append(os.memfd_create('x'))\n"
    "    os.write(fds[-1], MB)\n",
    "tmpfs": "for i in range(n):\n    d = ('/tmp', '/dev/shm')[i // 8 % 2]\n"
    "    with open(f'{d}/f{i // 8}', 'ab') as f: f.write(MB)\n",
    "pipes": "import fcntl\nps = []\nfor i in range(n):\n    r, w = os.pipe(); ps.append((r, w))\n"
    "    fcntl.fcntl(w, 1031, 1 << 20)\n    os.write(w, MB)\n",  # F_SETPIPE_SZ: 1 MB per pipe
    # own: SysV segments live in the jail's IPC namespace, detached from every process
    "sysv": "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    "libc.shmat.restype = ctypes.c_void_p\nfor i in range(n // 4):\n"
    "    a = libc.shmat(libc.shmget(0, 4 << 20, 0o1600), None, 0)\n"
    "    ctypes.memset(a, 1, 4 << 20)\n    libc.shmdt(ctypes.c_void_p(a))\n",
    # own: memfds held by nothing but an SCM_RIGHTS message in flight on a socket
    "in-flight": "import socket\na, b = socket.socketpair()\nfor i in range(n // 4):\n"
    "    fd = os.memfd_create('x')\n    for _ in range(4): os.write(fd, MB)\n"
    "    socket.send_fds(a, [b'x'], [fd]); os.close(fd)\n",
    # own: first make the jail's own processes as cheap to kill as the sandbox's (0), so the
    # OOM killer's choice falls outside the program; then fill a memfd
    "lowered": "for p in ('self', '1'): open(f'/proc/{p}/oom_score_adj', 'w').write('0')\n"
    "fds = []\nfor i in range(n):\n    if i % 8 == 0: fds.append(os.memfd_create('x'))\n"
    "    os.write(fds[-1], MB)\n",
}
_PY_HEAD = "import os, sys\nn = int(sys.stdin.read())\nMB = b'a' * (1 << 20)\n"
_PY_TAIL = "print('filled', n)\n"
# (attack, limits, MB under the limit, MB over it)
PY_CASES = [
    ("memfd", MEM, 16, 400),
    ("tmpfs", TIGHT, 8, 120),
    ("pipes", TIGHT, 8, 120),
    ("sysv", MEM, 16, 400),
    ("in-flight", MEM, 16, 400),
    ("lowered", MEM, 16, 400),
]

_C_WRITE = (
    'if (i % 8 == 0) fd = memfd_create("x", 0);\n'
    "for (int j = 0; j < 16; j++) if (write(fd, chunk, sizeof chunk) != sizeof chunk) return 3;"
)
C_FILLERS = {  # a 64 KB buffer: the program's RSS stays below bwrap's own processes'
    "memfd-write": _C_WRITE,
    # own: pages touched through a shared mapping, then unmapped (the memfd keeps them)
    "memfd-munmap": 'fd = memfd_create("x", 0);\nif (ftruncate(fd, 1 << 20)) return 3;\n'
    "char *p = mmap(0, 1 << 20, PROT_WRITE, MAP_SHARED, fd, 0);\n"
    "if (p == MAP_FAILED) return 4;\nmemset(p, 1, 1 << 20); munmap(p, 1 << 20);",
    # own: as Python's "lowered", in C
    "lowered": 'if (i == 0) { lower("/proc/self/oom_score_adj"); lower("/proc/1/oom_score_adj"); }\n'
    + _C_WRITE,
}
_C_TEMPLATE = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
static char chunk[1 << 16];
static void lower(const char *path) {
  int fd = open(path, O_WRONLY);
  if (fd < 0 || write(fd, "0", 1) != 1) _exit(5);
  close(fd);
}
int main(void) {
  int n = 0, fd = -1;
  if (scanf("%d", &n) != 1) return 2;
  memset(chunk, 'a', sizeof chunk);
  for (int i = 0; i < n; i++) {
    BODY
  }
  printf("filled %d\n", n);
  return 0;
}
"""


def _python(attack: str) -> str:
    return _PY_HEAD + PY_FILLERS[attack] + _PY_TAIL


def _c(attack: str) -> str:
    return _C_TEMPLATE.replace("BODY", C_FILLERS[attack])


def _expect(result, status: str, n: int) -> None:
    assert result.status == status, (result.status, result.message, result.stderr[-300:])
    if status == "ok":
        assert result.stdout == f"filled {n}\n".encode()


@needs_bwrap
@pytest.mark.usefixtures("host_untouched")
@pytest.mark.parametrize(("attack", "limits", "under", "over"), PY_CASES,
                         ids=[c[0] for c in PY_CASES])  # fmt: skip
def test_unmapped_memory_is_mle_in_python(attack, limits, under, over) -> None:
    code = _python(attack)
    _expect(run_code(code, limits=limits, stdin=str(under)), "ok", under)
    _expect(run_code(code, limits=limits, stdin=str(over)), "memory_limit", over)


@needs_bwrap
@pytest.mark.usefixtures("host_untouched")
@pytest.mark.parametrize("attack", sorted(C_FILLERS))
def test_unmapped_memory_is_mle_in_c(attack: str) -> None:
    """The C program's RSS is as small as bwrap's own processes: the old tie-break."""
    job = Job(language="c", files={"main.c": _c(attack)}, limits=MEM,
              runs=(Run(stdin="16"), *[Run(stdin="400")] * 3))  # fmt: skip
    result = run(job)
    assert result.compile is None or result.compile.status == "ok", result.compile
    _expect(result.runs[0], "ok", 16)
    for over in result.runs[1:]:
        _expect(over, "memory_limit", 400)


@needs_bwrap
@pytest.mark.usefixtures("host_untouched")
def test_unmapped_memory_is_mle_without_run_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-run group path (cgroup v2, or ``RLVR_SANDBOX_NO_SLOTS=1``): same verdicts."""
    monkeypatch.setenv("RLVR_SANDBOX_NO_SLOTS", "1")
    for code, language in ((_python("memfd"), "python"), (_c("memfd-write"), "c")):
        _expect(run_code(code, language=language, limits=MEM, stdin="16"), "ok", 16)
        over = run_code(code, language=language, limits=MEM, stdin="400")
        _expect(over, "memory_limit", 400)


@pytest.fixture
def v1_slots(monkeypatch: pytest.MonkeyPatch) -> cgroups.Layout:
    layout = cgroups.probe()
    if os.geteuid() != 0 or layout is None or layout.version != 1:
        pytest.skip("run slots and warm jails serve cgroup v1 machines, as root")
    monkeypatch.delenv("RLVR_SANDBOX_NO_SLOTS", raising=False)
    drop_warm()
    slots.close_all()
    yield layout
    drop_warm()


def _warm_hits(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    backend, hits = get_backend("bwrap"), []
    take = backend._pending.take

    def counted(key):
        jail = take(key)
        hits.append(jail is not None)
        return jail

    monkeypatch.setattr(backend._pending, "take", counted)
    return hits


def _settle() -> None:
    """Until the next warm jail is started (best effort in the background)."""
    import time

    pending, deadline = get_backend("bwrap")._pending, time.monotonic() + 5
    while not pending._jails and time.monotonic() < deadline:
        time.sleep(0.01)


@needs_bwrap
@pytest.mark.usefixtures("host_untouched")
@pytest.mark.parametrize(("language", "main", "code"), [
    ("python", "main.py", _python("memfd")), ("c", "main.c", _c("memfd-write")),
    ("python", "main.py", _python("lowered")), ("c", "main.c", _c("lowered"))],
    ids=["python-memfd", "c-memfd", "python-lowered", "c-lowered"])  # fmt: skip
def test_unmapped_memory_is_mle_in_a_warm_jail(v1_slots, monkeypatch, language, main, code) -> None:
    """Warm jails are started ahead with the run's limits: the attack lands in one."""
    hits = _warm_hits(monkeypatch)
    statuses = []
    for n in (16, 400, 16, 400):  # each after the first takes the jail its predecessor started
        _settle()
        job = Job(language=language, files={main: code}, runs=(Run(stdin=str(n)),), limits=MEM,
                  warm=True)  # fmt: skip
        result = run(job).runs[0]
        statuses.append(result.status)
        _expect(result, "ok" if n == 16 else "memory_limit", n)
    assert hits[1:] == [True] * 3, (hits, statuses)


@needs_bwrap
@needs_root
def test_lowered_scores_still_end_in_mle(v1_slots) -> None:
    """The program lowers itself and the jail's pid 1 to the sandbox's own score (0), so the
    kernel's first victim is bwrap's monitor (1000, out of the program's reach) and, while the
    jail is being torn down, possibly the slot's launcher (0) next. Either way the run is
    MLE and the next run is fine; with CAP_SYS_RESOURCE the launcher is at -1000 and the
    program cannot lower its 1000, so there the launcher always survives."""
    assert run_code("print(open('/proc/self/oom_score_adj').read())").stdout == b"1000\n\n"
    (slot,) = slots._free
    protected = can_lower_oom_score()
    want = "-1000" if protected else "0"
    assert Path(f"/proc/{slot.proc.pid}/oom_score_adj").read_text().strip() == want
    for _ in range(3):
        _expect(run_code(_python("lowered"), limits=MEM, stdin="400"), "memory_limit", 400)
        if protected:
            assert slot.proc.poll() is None and slots._free == [slot]
    _expect(run_code(_python("lowered"), limits=MEM, stdin="16"), "ok", 16)


@needs_root
def test_launcher_killed_by_the_oom_killer_reports_a_killed_run(v1_slots, monkeypatch) -> None:
    """Should the launcher be the victim all the same, the run is killed (MLE from the
    counter), not a slot failure; a launcher that died otherwise is still a slot failure."""
    for oom, outcome in ((True, "killed"), (False, "fault")):
        slot = slots.acquire(v1_slots)
        try:
            slot.prepare(memory_bytes=64 << 20, pids=4)
            slot.spawn(["/bin/sleep", "30"], [], [], uid=None, rlimits=[])
            monkeypatch.setattr(slot.group, "oom_killed", lambda oom=oom: oom)
            os.kill(slot.proc.pid, signal.SIGKILL)
            slot.proc.wait()
            if outcome == "killed":
                assert slot.reap() == (signal.SIGKILL, 0.0, 0.0)
            else:
                with pytest.raises(slots.LaunchError):
                    slot.reap()
            assert not slot.finish()  # never reused
        finally:
            slots.release(slot, reusable=False)
