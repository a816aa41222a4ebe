"""A seccomp deny-list for the jail, as a classic BPF program bwrap loads with ``--seccomp FD``.

Why: namespaces hide other processes and files, but the kernel's attack surface stays reachable.
Denied with EPERM (hostile-cases A19, B7): ptrace and process_vm_* (the jail's pid 1 shares our
uid inside), keyrings, bpf, userfaultfd, perf_event_open, io_uring (it bypasses seccomp for its own
operations), namespace and mount syscalls, module and kexec loading. Any non-native ABI (i386
``int 0x80``, x32) kills the process: isolate 2.6 blocks legacy 32-bit syscalls for the same reason.
Only x86_64 has a table here; elsewhere `program()` returns None and enforcement says so.

Hand-assembled instead of libseccomp so the sandbox needs no extra package.
"""

from __future__ import annotations

import errno
import platform
import struct
from functools import cache

__all__ = ["DENIED_X86_64", "program"]

_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_RET = 0x06  # BPF_RET | BPF_K
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
_KILL_PROCESS = 0x80000000

DENIED_X86_64: dict[str, int] = {
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "bpf": 321,
    "userfaultfd": 323,
    "perf_event_open": 298,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "unshare": 272,
    "setns": 308,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "open_by_handle_at": 304,
    "name_to_handle_at": 303,
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
    "fanotify_init": 300,
    "lookup_dcookie": 212,
    "fsopen": 430,
    "fsmount": 432,
    "move_mount": 429,
    "open_tree": 428,
}


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


@cache
def program() -> bytes | None:
    """The filter for this machine's architecture, or None where there is no table."""
    if platform.machine() != "x86_64":
        return None
    denied = sorted(DENIED_X86_64.values())
    n = len(denied)
    # Layout: 0 ld arch; 1 jeq native; 2 kill; 3 ld nr; 4 jge x32; 5..5+n-1 jeq; allow; deny.
    allow_at = 5 + n
    deny_at = allow_at + 1
    out = [
        _insn(_LD_ABS, 0, 0, 4),  # seccomp_data.arch
        _insn(_JEQ, 1, 0, _AUDIT_ARCH_X86_64),
        _insn(_RET, 0, 0, _KILL_PROCESS),
        _insn(_LD_ABS, 0, 0, 0),  # seccomp_data.nr
        _insn(_JGE, deny_at - 5, 0, _X32_BIT),
    ]
    for i, nr in enumerate(denied):
        here = 5 + i
        out.append(_insn(_JEQ, deny_at - here - 1, 0, nr))
    out.append(_insn(_RET, 0, 0, _ALLOW))
    out.append(_insn(_RET, 0, 0, _ERRNO | errno.EPERM))
    return b"".join(out)
