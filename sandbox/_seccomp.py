"""A seccomp deny-list for the jail, as a classic BPF program bwrap loads with ``--seccomp FD``.

Why: namespaces hide other processes and files, but the kernel's attack surface stays reachable.
Denied with EPERM (hostile-cases A19, B7; issue 9, class 5), so a program that tries one sees an
ordinary error and goes on (never a sandbox fault):

- cross-process primitives, even against the jail's own processes (a trusted helper may share
  the jail): ptrace, process_vm_readv/writev, pidfd_getfd, process_madvise, process_mrelease,
  kcmp, migrate_pages, move_pages. ``pidfd_open`` stays: alone it only polls or signals a jail
  process (as ``kill`` does), and Python's asyncio probes it;
- kernel objects with a record of exploits: keyrings, bpf, userfaultfd, perf_event_open,
  io_uring (it bypasses seccomp for its own operations), memfd_secret, uselib, iopl/ioperm;
- namespace and mount syscalls (old and new mount API), file handles, module and kexec loading,
  swap, reboot, quotas, accounting, fanotify, syslog, personality;
- sockets of any address family but AF_UNIX, AF_INET, AF_INET6 and NETLINK_ROUTE netlink
  (getaddrinfo and getifaddrs need it; it sees only the jail's loopback): AF_VSOCK reaches the
  hypervisor and other VMs and no network namespace covers it; AF_ALG, AF_PACKET, AF_KEY, AF_RDS,
  AF_TIPC, other netlink families and the rest are kernel surface no judged program needs.

Any non-native ABI (i386 ``int 0x80``) kills the process and x32 calls fail: isolate 2.6 blocks
legacy 32-bit syscalls for the same reason. Only x86_64 has a table here; elsewhere `program()`
returns None and enforcement says so.

Hand-assembled instead of libseccomp so the sandbox needs no extra package. The kernel caches
the verdict of every syscall whose rule reads no argument (all but socket/socketpair), so the
list's length costs nothing per call.
"""

from __future__ import annotations

import errno
import platform
import struct
from functools import cache

__all__ = ["ALLOWED_NETLINK", "ALLOWED_SOCKET_FAMILIES", "DENIED_X86_64", "program"]

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_RET = 0x06  # BPF_RET | BPF_K
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
_KILL_PROCESS = 0x80000000
# struct seccomp_data: nr, arch, instruction_pointer, args[6] (u64, low word first on x86_64)
_NR, _ARCH, _ARG0, _ARG2 = 0, 4, 16, 32

DENIED_X86_64: dict[str, int] = {
    # cross-process
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "pidfd_getfd": 438,
    "process_madvise": 440,
    "process_mrelease": 448,
    "kcmp": 312,
    "migrate_pages": 256,
    "move_pages": 279,
    # kernel objects
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "bpf": 321,
    "userfaultfd": 323,
    "perf_event_open": 298,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "memfd_secret": 447,
    "uselib": 134,
    "iopl": 172,
    "ioperm": 173,
    # namespaces, mounts, file handles
    "unshare": 272,
    "setns": 308,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "move_mount": 429,
    "open_tree": 428,
    "open_tree_attr": 467,
    "mount_setattr": 442,
    "open_by_handle_at": 304,
    "name_to_handle_at": 303,
    # the machine itself
    "kexec_load": 246,
    "kexec_file_load": 320,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "personality": 135,
    "syslog": 103,
    "acct": 163,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "quotactl": 179,
    "quotactl_fd": 443,
    "fanotify_init": 300,
    "lookup_dcookie": 212,
}
_SOCKET, _SOCKETPAIR = 41, 53
_AF_NETLINK = 16
ALLOWED_SOCKET_FAMILIES = {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": _AF_NETLINK}
ALLOWED_NETLINK = {"NETLINK_ROUTE": 0}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _assemble(lines: list[tuple]) -> bytes:
    """Lines are ``("label", name)`` or ``(code, k, jt, jf)`` with jt/jf a label, or 0 for "next"."""
    at: dict[str, int] = {}
    insns: list[tuple] = []
    for line in lines:
        if line[0] == "label":
            at[line[1]] = len(insns)
        else:
            insns.append(line)
    out = []
    for i, (code, k, jt, jf) in enumerate(insns):
        rel = [0 if j == 0 else at[j] - i - 1 for j in (jt, jf)]
        assert all(0 <= r <= 255 for r in rel), (i, rel)  # classic BPF: forward, 8-bit offsets
        out.append(_insn(code, rel[0], rel[1], k))
    return b"".join(out)


@cache
def program() -> bytes | None:
    """The filter for this machine's architecture, or None where there is no table."""
    if platform.machine() != "x86_64":
        return None
    lines: list[tuple] = [
        (_LD_ABS, _ARCH, 0, 0),
        (_JEQ, _AUDIT_ARCH_X86_64, "native", 0),
        (_RET, _KILL_PROCESS, 0, 0),
        ("label", "native"),
        (_LD_ABS, _NR, 0, 0),
        (_JGE, _X32_BIT, "deny", 0),
        (_JEQ, _SOCKET, "socket", 0),
        (_JEQ, _SOCKETPAIR, "socket", 0),
    ]
    lines += [(_JEQ, nr, "deny", 0) for nr in sorted(DENIED_X86_64.values())]
    families = sorted(af for af in ALLOWED_SOCKET_FAMILIES.values() if af != _AF_NETLINK)
    lines += [
        (_RET, _ALLOW, 0, 0),
        ("label", "socket"),  # the domain is an int: the kernel reads the low word only
        (_LD_ABS, _ARG0, 0, 0),
        *[(_JEQ, af, "allow", 0) for af in families],
        (_JEQ, _AF_NETLINK, 0, "deny"),
        (_LD_ABS, _ARG2, 0, 0),  # netlink: the protocol picks the kernel subsystem
        *[(_JEQ, proto, "allow", 0) for proto in sorted(ALLOWED_NETLINK.values())],
        ("label", "deny"),
        (_RET, _ERRNO | errno.EPERM, 0, 0),
        ("label", "allow"),
        (_RET, _ALLOW, 0, 0),
    ]
    return _assemble(lines)
