"""Host-side work directories: size-capped, written and read back without following links.

A run's ``/work`` is a host directory bound read-write into the jail. As root it is a fresh tmpfs
mounted for that run (``size=`` and ``nr_inodes=`` cap disk and inode fill, hostile-cases A13/A14;
its pages are charged to the run's memory cgroup, A9; ``nosuid,nodev``); otherwise a plain
directory, capped only by RLIMIT_FSIZE.

Everything in a work dir may have been placed by the job, so the host never resolves a path in
it (issue 9, class 1): files are written, read back and copied out through the directory's fd
(``openat`` with ``O_NOFOLLOW`` at every component, ``O_EXCL`` on create), checked with ``fstat``
(regular file; a build product also has a single link), and changed only through their fd
(``fchown``/``fchmod``). B11: ``out.txt -> /etc/shadow`` returns nothing; a compiled ``main`` that
is a link to a host file is refused, never chowned, chmodded or bound. Build products are *copied*
to a directory of the host's own (`copy_out`), so what later runs bind was never writable by a
job. Removal unmounts with ``UMOUNT_NOFOLLOW`` and uses ``shutil.rmtree``'s fd-based walk.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path, PurePosixPath

from sandbox.errors import JobError, SandboxError
from sandbox.job import check_file_path

__all__ = ["WorkDir", "base_dir", "check_name", "pid_alive"]

_MNT_DETACH, _UMOUNT_NOFOLLOW = 2, 8
_MS_NOSUID, _MS_NODEV = 2, 4
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO left by the job must not block the host's open.
_OPEN_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def base_dir() -> Path:
    """Parent of all job directories (``RLVR_SANDBOX_DIR`` or a folder in the system temp dir)."""
    default = Path(tempfile.gettempdir()) / "rlvr-sandbox"
    if os.geteuid() != 0:
        default = default.with_name(f"rlvr-sandbox-{os.geteuid()}")  # one per user
    base = Path(os.environ.get("RLVR_SANDBOX_DIR") or default)
    base.mkdir(mode=0o711, exist_ok=True)
    _check_private(base)
    return base


def _check_private(base: Path) -> None:
    """The base dir must be our own real directory: in a shared /tmp another user could have
    put a link or a writable directory there first, and every job dir lives under it."""
    st = os.lstat(base)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise SandboxError(
            f"sandbox dir {base} is not a directory of this user that only it can write "
            "(a link, or another owner) — remove it or set RLVR_SANDBOX_DIR to a private dir"
        )


def check_name(name: str, *, field: str = "files") -> PurePosixPath:
    """A relative path of safe names (`sandbox.job.check_file_path`); JobError otherwise."""
    return PurePosixPath(check_file_path(name, field=field))


def _mount_tmpfs(target: Path, *, size_mb: int, uid: int, gid: int) -> bool:
    inodes = max(64, size_mb * 64)  # A14: an inode cap proportional to the size
    opts = f"size={size_mb}m,nr_inodes={inodes},mode=0700,uid={uid},gid={gid}"
    flags = _MS_NOSUID | _MS_NODEV
    rc = _libc.mount(b"tmpfs", str(target).encode(), b"tmpfs", flags, opts.encode())
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
        fd = os.open(path, _OPEN_DIR)
        try:
            if not mounted and uid is not None:
                os.fchown(fd, uid, gid if gid is not None else -1)
            os.fchmod(fd, 0o700)
        finally:
            os.close(fd)
        return cls(path, mounted=mounted, uid=uid, gid=gid)

    def _owner(self) -> tuple[int, int]:
        assert self.uid is not None
        return self.uid, self.gid if self.gid is not None else -1

    def write(self, name: str, content: bytes | str, *, mode: int = 0o644) -> None:
        """Create ``name`` (missing parent dirs too) with ``content``; it must not exist yet."""
        rel = check_name(name)
        data = content.encode() if isinstance(content, str) else bytes(content)
        dirfd = os.open(self.path, _OPEN_DIR)
        try:
            for part in rel.parts[:-1]:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=dirfd)
                nxt = os.open(part, _OPEN_DIR, dir_fd=dirfd)
                os.close(dirfd)
                dirfd = nxt
                if self.uid is not None:
                    os.fchown(dirfd, *self._owner())
            fd = os.open(rel.parts[-1], _CREATE, mode, dir_fd=dirfd)
        finally:
            os.close(dirfd)
        try:
            _write_all(fd, data)
            if self.uid is not None:
                os.fchown(fd, *self._owner())
        finally:
            os.close(fd)

    def collect(self, names: tuple[str, ...], *, cap_bytes: int) -> dict[str, bytes]:
        """The named files that exist after a run (see `read`), each capped at ``cap_bytes``."""
        found = {name: self.read(name, cap_bytes=cap_bytes) for name in names}
        return {name: data for name, data in found.items() if data is not None}

    def _open(self, rel: PurePosixPath) -> int:
        """An fd of ``rel`` opened without following a link at any component (OSError if not)."""
        dirfd = os.open(self.path, _OPEN_DIR)
        try:
            for part in rel.parts[:-1]:
                nxt = os.open(part, _OPEN_DIR, dir_fd=dirfd)
                os.close(dirfd)
                dirfd = nxt
            return os.open(rel.parts[-1], _OPEN_READ, dir_fd=dirfd)
        finally:
            os.close(dirfd)

    def read(self, name: str, *, cap_bytes: int) -> bytes | None:
        """A regular file's first ``cap_bytes``; None if missing, a link, or not a plain file."""
        try:
            fd = self._open(check_name(name, field="collect"))
        except (JobError, OSError):
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return _read_capped(fd, cap_bytes)
        finally:
            os.close(fd)

    def copy_out(self, name: str, dest: Path, *, cap_bytes: int, mode: int = 0o755) -> str | None:
        """Copy the build product ``name`` to the new file ``dest`` (in a directory of the
        host's, never a work dir); None when done, else why the product was refused.

        Refused: missing, a symbolic link, not a regular file (FIFO, directory, socket), more
        than one hard link (an alias of a file outside this run's making), over ``cap_bytes``.
        """
        try:
            fd = self._open(check_name(name, field="artifact"))
        except FileNotFoundError:
            return f"{name!r} is missing"
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return f"{name!r} is a symbolic link"
            return f"{name!r} cannot be opened: {exc.strerror}"
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return f"{name!r} is not a regular file"
            if st.st_nlink != 1:
                return f"{name!r} has {st.st_nlink} hard links"
            if st.st_size > cap_bytes:
                return f"{name!r} is over {cap_bytes} bytes"
            return _copy_fd(fd, dest, cap_bytes=cap_bytes, mode=mode, name=name)
        finally:
            os.close(fd)

    def remove(self) -> None:
        if self.mounted:
            _libc.umount2(str(self.path).encode(), _MNT_DETACH | _UMOUNT_NOFOLLOW)
        shutil.rmtree(self.path, ignore_errors=True)  # fd-based: never follows a link


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _copy_fd(src: int, dest: Path, *, cap_bytes: int, mode: int, name: str) -> str | None:
    """Copy ``src`` into the new file ``dest`` in the kernel (sendfile), at most ``cap_bytes``."""
    out = os.open(dest, _CREATE, 0o600)
    try:
        copied = 0
        while copied <= cap_bytes:
            n = os.sendfile(out, src, None, min(cap_bytes + 1 - copied, 1 << 24))
            if n == 0:
                break
            copied += n
        if copied > cap_bytes:
            os.unlink(dest)
            return f"{name!r} is over {cap_bytes} bytes"
        os.fchmod(out, mode)
        return None
    finally:
        os.close(out)


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
