"""Host-side work directories: size-capped, written and read back without following links.

A run's ``/work`` is a host directory bound read-write into the jail. As root it is a fresh tmpfs
mounted for that run (``size=`` and ``nr_inodes=`` cap disk and inode fill, hostile-cases A13/A14;
its pages are charged to the run's memory cgroup, A9); otherwise a plain directory, capped only by
RLIMIT_FSIZE. Files the caller collects are read after the jail is dead, through ``openat`` with
``O_NOFOLLOW`` relative to the directory fd, regular files only (B11: ``out.txt -> /etc/shadow``
returns nothing).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import stat
import tempfile
from pathlib import Path, PurePosixPath

from sandbox.errors import JobError

_MNT_DETACH = 2
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def base_dir() -> Path:
    """Parent of all job directories (``RLVR_SANDBOX_DIR`` or a folder in the system temp dir)."""
    default = Path(tempfile.gettempdir()) / "rlvr-sandbox"
    if os.geteuid() != 0:
        default = default.with_name(f"rlvr-sandbox-{os.geteuid()}")  # one per user
    base = Path(os.environ.get("RLVR_SANDBOX_DIR") or default)
    base.mkdir(mode=0o711, exist_ok=True)
    return base


def check_name(name: str, *, field: str = "files") -> PurePosixPath:
    """A relative path without ``..``, absolute parts or NUL; raise JobError otherwise."""
    path = PurePosixPath(name)
    if (
        not name
        or "\0" in name
        or path.is_absolute()
        or any(p in ("..", ".", "") for p in name.split("/"))
    ):
        raise JobError(f"{field}: unsafe file name {name!r}: use a relative path without '..'")
    return path


def _mount_tmpfs(target: Path, *, size_mb: int, uid: int, gid: int) -> bool:
    inodes = max(64, size_mb * 64)  # A14: an inode cap proportional to the size
    opts = f"size={size_mb}m,nr_inodes={inodes},mode=0700,uid={uid},gid={gid}"
    rc = _libc.mount(b"tmpfs", str(target).encode(), b"tmpfs", 0, opts.encode())
    return rc == 0


class WorkDir:
    """One directory on the host: created, filled, read back, removed."""

    def __init__(self, path: Path, *, mounted: bool, uid: int | None, gid: int | None) -> None:
        self.path = path
        self.mounted = mounted
        self.uid, self.gid = uid, gid

    @classmethod
    def create(cls, parent: Path, *, size_mb: int, uid: int | None, gid: int | None) -> WorkDir:
        path = Path(tempfile.mkdtemp(dir=parent, prefix="w"))
        mounted = False
        if os.geteuid() == 0:
            mounted = _mount_tmpfs(path, size_mb=size_mb, uid=uid or 0, gid=gid or 0)
        if not mounted and uid is not None:
            os.chown(path, uid, gid if gid is not None else -1)
        os.chmod(path, 0o700)
        return cls(path, mounted=mounted, uid=uid, gid=gid)

    def write(self, name: str, content: bytes | str, *, mode: int = 0o644) -> None:
        rel = check_name(name)
        data = content.encode() if isinstance(content, str) else bytes(content)
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        try:
            _write_all(fd, data)
            if self.uid is not None:
                os.fchown(fd, self.uid, self.gid if self.gid is not None else -1)
        finally:
            os.close(fd)
        if self.uid is not None:
            for parent in rel.parents:
                if str(parent) != ".":
                    os.chown(self.path / parent, self.uid, self.gid or -1)

    def collect(self, names: tuple[str, ...], *, cap_bytes: int) -> dict[str, bytes]:
        """The named files that exist after a run (see `read`), each capped at ``cap_bytes``."""
        found = {name: self.read(name, cap_bytes=cap_bytes) for name in names}
        return {name: data for name, data in found.items() if data is not None}

    def read(self, name: str, *, cap_bytes: int) -> bytes | None:
        """A regular file's first ``cap_bytes``; None if missing, a link, or not a plain file."""
        try:
            rel = check_name(name, field="collect")
        except JobError:
            return None
        dirfd = os.open(self.path, _OPEN_DIR)
        try:
            for part in rel.parts[:-1]:
                nxt = os.open(part, _OPEN_DIR, dir_fd=dirfd)
                os.close(dirfd)
                dirfd = nxt
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            fd = os.open(rel.parts[-1], flags, dir_fd=dirfd)
        except OSError:
            return None
        finally:
            os.close(dirfd)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return _read_capped(fd, cap_bytes)
        finally:
            os.close(fd)

    def remove(self) -> None:
        if self.mounted:
            _libc.umount2(str(self.path).encode(), _MNT_DETACH)
        shutil.rmtree(self.path, ignore_errors=True)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_capped(fd: int, cap_bytes: int) -> bytes:
    chunks: list[bytes] = []
    left = cap_bytes
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists (owned by anyone): stale job dirs and cgroups are swept by it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
