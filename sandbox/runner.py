"""Run a job: compile once in its own jail, then each run in a fresh jail with the artifact bound.

This is the only module that knows the order of things; backends only execute one command.
Infrastructure faults never raise: they come back as ``sandbox_error`` results (an interpreted
job's fault is reported as a failed ``compile`` step with that status, so ``runs`` stays empty
and the caller sees one clear reason).
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import functools
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from sandbox._background import Background
from sandbox._workdir import WorkDir, base_dir, pid_alive
from sandbox.backends import get_backend
from sandbox.backends.base import UIDS, Backend, ExecSpec
from sandbox.errors import JobError
from sandbox.job import Job, JobResult, Limits, Run, RunResult
from sandbox.languages import BASE_ENV, Language, get_language

__all__ = ["StopFn", "arun", "drop_warm", "run", "settle"]

log = logging.getLogger("sandbox")
StopFn = Callable[[int, RunResult], bool]


def _validate(job: Job) -> Language:
    try:
        lang = get_language(job.language)
    except KeyError as exc:
        raise JobError(f"Job.language: {exc.args[0]}") from None
    if not job.files:
        raise JobError("Job.files is empty: a job needs at least one source file")
    job.check_names()  # again: made at construction, but this is the gate before the host acts
    if job.main_file not in job.files:
        raise JobError(f"Job.main={job.main_file!r} is not one of Job.files")
    for i, run in enumerate(job.runs):
        for name in run.files:
            if lang.compiled and name.split("/")[0] == lang.exe:
                raise JobError(
                    f"Job.runs[{i}].files: {name!r} would shadow the compiled program — rename it"
                )
        _check_tree([*job.files, *run.files], field=f"Job.runs[{i}].files")
    return lang


def _check_tree(names, *, field: str) -> None:
    """No name is also the directory of another (``a`` and ``a/b``): the second write would
    fail half-way through setting up the work dir (issue 9: refuse it up front)."""
    given = set(names)
    for name in given:
        parts = name.split("/")
        for i in range(1, len(parts)):
            if (parent := "/".join(parts[:i])) in given:
                raise JobError(
                    f"{field}: {name!r} needs {parent!r} to be a directory, but {parent!r} "
                    "is a file too — rename one of them"
                )


def _job_dir() -> Path:
    _sweep_once()
    path = Path(tempfile.mkdtemp(dir=base_dir(), prefix=f"job-{os.getpid()}-"))
    os.chmod(path, 0o711)  # the jail's pool uid must traverse it to reach its work dir
    return path


@functools.cache
def _sweep_once() -> None:
    """Remove job dirs of processes that died mid-job (``job-<pid>-...``), once per process."""
    for path in base_dir().glob("warm-*-*"):  # staged copies of warm jobs' files
        owner = path.name.split("-")[1]
        if owner.isdigit() and not pid_alive(int(owner)):
            shutil.rmtree(path, ignore_errors=True)
    for path in base_dir().glob("job-*-*"):
        owner = path.name.split("-")[1]
        if not owner.isdigit() or pid_alive(int(owner)):
            continue
        for sub in path.iterdir():
            if os.path.ismount(sub):
                WorkDir(sub, mounted=True, uid=None, gid=None).remove()
        shutil.rmtree(path, ignore_errors=True)


def _fault(message: str, backend: str, enforcement: dict[str, str]) -> JobResult:
    return JobResult(
        compile=RunResult(status="sandbox_error", message=message),
        runs=(),
        backend=backend,
        enforcement=enforcement,
    )


def run(job: Job, *, backend: str | None = None, stop: StopFn | None = None) -> JobResult:
    """Compile ``job`` (if its language compiles), then make its runs; see the module docstring.

    >>> from sandbox import Job, Run, run
    >>> r = run(Job(language="python", files={"main.py": "print(input()[::-1])"},
    ...             runs=(Run(stdin="abc\\n"),)))
    >>> r.runs[0].status, r.runs[0].stdout
    ('ok', b'cba\\n')
    """
    lang = _validate(job)
    impl = get_backend(backend)
    enforcement = impl.enforcement()
    why = impl.unavailable()
    if why is not None:
        return _fault(f"backend {impl.name!r} unavailable: {why}", impl.name, enforcement)
    missing = lang.missing_tools()
    if missing and impl.name != "docker":
        msg = f"language {lang.name!r} needs {', '.join(missing)} on this machine"
        return _fault(msg, impl.name, enforcement)
    root = _job_dir()
    keep: list[WorkDir] = []
    try:
        compiled: RunResult | None = None
        binds: list[tuple[str, str]]
        if lang.compiled:
            compiled, binds = _compile(impl, job, lang, root, keep)
            if not compiled.ok:
                return JobResult(
                    compile=compiled, runs=(), backend=impl.name, enforcement=enforcement
                )
        else:
            binds = _stage_sources(job, root)
        results: list[RunResult] = []
        for i, one in enumerate(job.runs):
            result = _run_one(impl, job, lang, one, binds, root)
            results.append(result)
            if stop is not None and stop(i, result):
                break
        return JobResult(
            compile=compiled, runs=tuple(results), backend=impl.name, enforcement=enforcement
        )
    finally:
        _cleanup(root, keep)


def drop_warm() -> None:
    """Kill the jails started ahead for `Job.warm` jobs (each backend keeps a few while judging
    goes on); for a caller that is done, or that checks no jailed process is left."""
    from sandbox.backends import started_backends

    for impl in started_backends():
        drop = getattr(impl, "drop_warm", None)
        if drop is not None:
            drop()


_CLEANER = Background("rlvr-job-cleanup")


def _cleanup(root: Path, keep: list[WorkDir]) -> None:
    """Remove a finished job's directory on a background thread: ``rmdir`` and ``lstat`` wait on
    the kernel's mount lock while other jails are being set up (0.5-1 ms each, measured), and
    no result depends on it. `settle` waits for it; after a crash the next process sweeps it."""

    def remove() -> None:
        for work in keep:
            try:
                work.remove()
            except OSError:
                log.warning("could not remove %s", work.path, exc_info=True)
        shutil.rmtree(root, ignore_errors=True)

    _CLEANER.put(remove)


def settle(timeout_s: float = 30.0) -> None:
    """Wait until the directories of every job finished so far are removed."""
    _CLEANER.drain(timeout_s)


atexit.register(settle)


async def arun(job: Job, *, backend: str | None = None, stop: StopFn | None = None) -> JobResult:
    """`run` in a worker thread, so the event loop keeps serving while the job runs."""
    return await asyncio.to_thread(run, job, backend=backend, stop=stop)


def _stage_sources(job: Job, root: Path) -> list[tuple[str, str]]:
    """Write sources once (read-only for the jail); each run binds them into its /work."""
    src = root / "src"
    src.mkdir(mode=0o755)
    binds = []
    for name, content in job.files.items():  # single safe names (`Job.check_names`)
        data = content.encode() if isinstance(content, str) else bytes(content)
        fd = os.open(src / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            with os.fdopen(fd, "wb", closefd=False) as f:
                f.write(data)
            os.fchmod(fd, 0o644)
        finally:
            os.close(fd)
        binds.append((str(src / name), name))
    return binds


def _execute(impl: Backend, spec_kw: dict, limits: Limits, size_mb: int, root: Path) -> RunResult:
    uid = UIDS.acquire()
    writes = spec_kw.pop("writes")
    work = None
    try:
        if writes or spec_kw["collect"] or not getattr(impl, "private_workdir", False):
            work = WorkDir.create(root, size_mb=size_mb, uid=uid, gid=uid)
            _place(work, writes, field="Job.runs[].files")
        return impl.execute(ExecSpec(workdir=work, limits=limits, uid=uid, **spec_kw))
    finally:
        if work is not None:
            work.remove()
        UIDS.release(uid)


def _place(work: WorkDir, files, *, field: str) -> None:
    """Write the caller's files; one that does not fit (ENOSPC: over ``workdir_mb`` or its inode
    cap) is the caller's mistake, reported as such, never a crash of the service (issue 9)."""
    for name, content in files.items():
        try:
            work.write(name, content)
        except OSError as exc:
            raise JobError(
                f"{field}: cannot place {name!r} in the work dir ({exc.strerror}) — send fewer "
                "or smaller files, or raise workdir_mb"
            ) from exc


def _compile(impl: Backend, job: Job, lang: Language, root: Path, keep: list[WorkDir]):
    """Compile in a jail whose work dir is kept (not removed) until the job ends."""
    assert lang.compile is not None
    limits = job.compile_limits or lang.compile_limits
    uid = UIDS.acquire()
    try:
        work = WorkDir.create(root, size_mb=limits.workdir_mb, uid=uid, gid=uid)
    except OSError:
        UIDS.release(uid)
        raise
    try:
        _place(work, job.files, field="Job.files")
        argv = lang.expand(lang.compile, main=job.main_file, files=list(job.files))
        env = {**BASE_ENV, **lang.env}
        result = impl.execute(ExecSpec(argv=argv, workdir=work, env=env, limits=limits, uid=uid))
    except BaseException:
        work.remove()  # not in `keep` yet: nobody else unmounts it (issue 9)
        raise
    finally:
        UIDS.release(uid)
    refused = None
    if result.ok:
        # The compile jail could have left anything under the product's name; what runs bind
        # is a copy in a directory of ours, taken through an O_NOFOLLOW fd (issue 9, class 1).
        bindir = root / "bin"
        bindir.mkdir(mode=0o755, exist_ok=True)
        refused = work.copy_out(lang.exe, bindir / lang.exe, cap_bytes=limits.file_size_bytes)
    keep.append(work)  # removed with the job's directory (`_cleanup`)
    if refused is not None:
        # The compiler makes a plain file; anything else is the job's doing: its failure,
        # never a fault of ours it could choose (issue 9, class 4).
        message = f"build product refused: {refused}; the compiler leaves a plain file"
        return dataclasses.replace(result, status="compile_error", message=message), []
    if not result.ok:
        if result.status in ("ok", "runtime_error"):
            result = _as_compile_error(result)
        elif result.status != "sandbox_error":
            result = _as_compile_error(result, why=result.status)
        return result, []
    return result, [(str(root / "bin" / lang.exe), lang.exe)]


def _as_compile_error(result: RunResult, why: str = "") -> RunResult:
    message = result.stderr.decode("utf-8", "replace")[-2000:].strip()
    if why:
        message = f"compiler hit {why}: {result.message}\n{message}".strip()
    return dataclasses.replace(result, status="compile_error", message=message)


def _run_one(impl, job: Job, lang: Language, one: Run, binds, root: Path) -> RunResult:
    limits = one.limits or job.limits
    argv = lang.expand(lang.run, main=job.main_file, files=list(job.files)) + list(one.args)
    stdin = one.stdin.encode() if isinstance(one.stdin, str) else bytes(one.stdin)
    spec_kw = dict(
        argv=argv,
        binds=binds,
        env={**BASE_ENV, **lang.env},
        stdin=stdin,
        collect=one.collect,
        writes=dict(one.files),
        warm=job.warm and not one.collect and not one.files,
    )
    return _execute(impl, spec_kw, limits, limits.workdir_mb, root)
