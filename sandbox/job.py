"""What the sandbox runs and what it reports: jobs, runs, limits, results.

A *job* is a language, source files, an optional compile step (taken from the language registry)
and one or more *runs* (stdin, args, extra files). The job is compiled once, in its own jail; each
run then executes in a fresh jail with the compiled artifact bound read-only.

Every limit carries its unit in its name; what happens when it is hit:

==================  ===========================================================================
limit               when hit
==================  ===========================================================================
cpu_s               the process tree is killed (SIGKILL); status ``time_limit``
wall_s              backstop for sleeping/blocked programs: killed; status ``time_limit``
memory_mb           allocation fails or the tree is OOM-killed; status ``memory_limit``
processes           fork/clone fails with EAGAIN inside the jail (the program usually crashes)
output_bytes        per stream; the program is killed once stdout or stderr exceeds it; status
                    ``output_limit``; what was read so far is kept and flagged truncated
file_size_bytes     a write past it fails (SIGXFSZ / EFBIG)
open_files          open() fails with EMFILE
workdir_mb          the work dir (a tmpfs) is full: writes fail with ENOSPC
==================  ===========================================================================

File names come from clients (HTTP, CLI, datasets), and source names reach the compiler's and the
interpreter's command lines, so every name is checked when the `Job` is made (issue 9, class 1):
a source name (``files``, ``main``) is one component of ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}``
without ``..`` (it can never read as an option, a ``@response`` file or a path); a run's extra
file may be a relative path of such components (``data/in.txt``). Anything else is a `JobError`
that names the field.

>>> job = Job(language="python", files={"main.py": "print(input())"}, runs=(Run(stdin="hi\\n"),))
>>> job.limits.cpu_s
2.0
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, cast, get_args

from sandbox.errors import JobError

__all__ = [
    "RUN_STATUSES",
    "Job",
    "JobResult",
    "Limits",
    "Run",
    "RunResult",
    "RunStatus",
    "check_file_name",
    "check_file_path",
]

RunStatus = Literal[
    "ok",
    "time_limit",
    "memory_limit",
    "output_limit",
    "runtime_error",
    "compile_error",
    "sandbox_error",
]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)

# ASCII only (explicit ranges), no leading '-' (option), '@' (gcc response file) or '.' (hidden,
# '..'); fullmatch, so a trailing newline cannot slip past '$'.
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
_MAX_PATH_PARTS = 8


def check_file_name(name: object, *, field: str) -> str:
    """``name`` if it is a safe single file name (see the module docstring), else JobError.

    >>> check_file_name("main.cpp", field="Job.files")
    'main.cpp'
    """
    if not isinstance(name, str) or _FILE_NAME.fullmatch(name) is None or ".." in name:
        raise JobError(
            f"{field}: file name {name!r} is not allowed — use 1-100 characters of A-Z a-z 0-9 "
            "_ . - that do not start with '.' or '-', without '/' or '..'"
        )
    return name


def check_file_path(name: object, *, field: str) -> str:
    """``name`` if it is a relative path of at most 8 safe file names, else JobError."""
    parts = name.split("/") if isinstance(name, str) else [name]
    if len(parts) > _MAX_PATH_PARTS:
        raise JobError(f"{field}: {name!r} is nested too deep — use at most 8 path parts")
    for part in parts:
        try:
            check_file_name(part, field=field)
        except JobError:
            raise JobError(
                f"{field}: file path {name!r} is not allowed — use relative paths whose parts "
                "are 1-100 of A-Z a-z 0-9 _ . - not starting with '.' or '-', without '..'"
            ) from None
    return cast(str, name)  # check_file_name accepted every part, so name is a str


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """Resource limits for one run (or for the compile step)."""

    cpu_s: float = 2.0
    wall_s: float | None = None  # None: 2 * cpu_s + 1
    memory_mb: int = 512
    processes: int = 64
    output_bytes: int = 8 << 20
    file_size_bytes: int = 16 << 20
    open_files: int = 256
    workdir_mb: int = 64

    def __post_init__(self) -> None:
        for name in (
            "cpu_s",
            "memory_mb",
            "processes",
            "output_bytes",
            "file_size_bytes",
            "open_files",
            "workdir_mb",
        ):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"Limits.{name}={value!r}: must be > 0")
        if self.wall_s is not None and not self.wall_s > 0:
            raise ValueError(f"Limits.wall_s={self.wall_s!r}: must be > 0 or None")

    @property
    def effective_wall_s(self) -> float:
        return self.wall_s if self.wall_s is not None else 2 * self.cpu_s + 1

    def replace(self, **changes: Any) -> Limits:
        return replace(self, **changes)


@dataclass(frozen=True, kw_only=True, slots=True)
class Run:
    """One execution of the job's program.

    stdin: bytes or text fed on standard input.
    args: extra command-line arguments.
    files: extra files placed in the work dir before the run (name -> content).
    collect: names of work-dir files whose content is returned after the run (capped at
        ``output_bytes`` each), for harnesses that report through a file instead of stdout.
    limits: overrides the job's limits for this run.
    """

    stdin: bytes | str = b""
    args: tuple[str, ...] = ()
    files: Mapping[str, bytes | str] = field(default_factory=dict)
    collect: tuple[str, ...] = ()
    limits: Limits | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Job:
    """A program and the runs to make of it.

    language: a key of the language registry (``python``, ``cpp``, ``c``).
    files: source files (name -> content); ``main`` names the entry file (default: the first).
    runs: the executions; a job with no runs only compiles.
    limits: default limits for each run; ``compile_limits`` for the compile step.
    warm: the program reads all its stdin before anything it does depends on the job (a judge
        harness that gets its work on stdin). The sandbox may then start the jail of the next
        job of the same shape (language, files, args, limits but time) ahead of time, on idle
        CPU; that jail is still fresh and used once. Never set it for a program that could act
        before reading stdin.
    """

    language: str
    files: Mapping[str, bytes | str]
    runs: tuple[Run, ...] = ()
    main: str | None = None
    limits: Limits = field(default_factory=Limits)
    compile_limits: Limits | None = None
    warm: bool = False

    def __post_init__(self) -> None:
        self.check_names()

    def check_names(self) -> None:
        """JobError unless every file name is safe (module docstring) and ``main`` is a file."""
        for name in self.files:
            check_file_name(name, field="Job.files")
        if self.main is not None:
            check_file_name(self.main, field="Job.main")
            if self.files and self.main not in self.files:
                raise JobError(f"Job.main={self.main!r} is not one of Job.files")
        for i, run in enumerate(self.runs):
            for name in run.files:
                check_file_path(name, field=f"Job.runs[{i}].files")
                if name.split("/")[0] in self.files:
                    raise JobError(f"Job.runs[{i}].files: {name!r} would shadow a source file")

    @property
    def main_file(self) -> str:
        if self.main is not None:
            return self.main
        if not self.files:
            raise ValueError("Job.files is empty: a job needs at least one source file")
        return next(iter(self.files))


@dataclass(frozen=True, kw_only=True, slots=True)
class RunResult:
    """What happened in one run (or in the compile step).

    exit_code is None when the process was killed by a signal (then `signal` is set).
    memory_mb is the peak resident memory of the process tree, as the backend could measure it.
    files holds the contents of the run's ``collect`` files that existed after the run.
    message explains ``sandbox_error`` and ``compile_error`` in words.
    """

    status: RunStatus
    exit_code: int | None = None
    signal: int | None = None
    cpu_s: float = 0.0
    wall_s: float = 0.0
    memory_mb: float = 0.0
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    files: Mapping[str, bytes] = field(default_factory=dict)
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stdout"] = self.stdout.decode("utf-8", "replace")
        d["stderr"] = self.stderr.decode("utf-8", "replace")
        d["files"] = {k: v.decode("utf-8", "replace") for k, v in self.files.items()}
        return d


@dataclass(frozen=True, kw_only=True, slots=True)
class JobResult:
    """A compile result (None for interpreted languages) and one RunResult per run made.

    When the compile step fails, ``runs`` is empty. When a ``stop`` callback ends the job early,
    ``runs`` holds only the runs made.
    """

    compile: RunResult | None
    runs: tuple[RunResult, ...]
    backend: str = ""
    enforcement: Mapping[str, str] = field(default_factory=dict)  # e.g. {"memory": "cgroup"}

    @property
    def compiled(self) -> bool:
        return self.compile is None or self.compile.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "compile": self.compile.to_dict() if self.compile else None,
            "runs": [r.to_dict() for r in self.runs],
            "backend": self.backend,
            "enforcement": dict(self.enforcement),
        }
