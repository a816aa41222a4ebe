"""Isolated execution of untrusted programs: ``sandbox.run(job)`` and ``await sandbox.arun(job)``.

>>> from sandbox import Job, Run, run
>>> result = run(Job(language="python", files={"main.py": "print(sum(map(int, input().split())))"},
...                  runs=(Run(stdin="1 2\\n"),)))
>>> result.runs[0].status, result.runs[0].stdout
('ok', b'3\\n')

Backends: ``bwrap`` (default), ``process`` (weaker, warns), ``docker``. `doctor()` says what works
on this machine and which enforcement (cgroup or rlimit) is in force.
"""

from sandbox.doctor import available_backends, doctor
from sandbox.errors import BackendUnavailable, JobError, SandboxError
from sandbox.job import RUN_STATUSES, Job, JobResult, Limits, Run, RunResult, RunStatus
from sandbox.languages import LANGUAGES, Language, get_language
from sandbox.runner import arun, drop_warm, run

__all__ = [
    "LANGUAGES",
    "RUN_STATUSES",
    "BackendUnavailable",
    "Job",
    "JobError",
    "JobResult",
    "Language",
    "Limits",
    "Run",
    "RunResult",
    "RunStatus",
    "SandboxError",
    "arun",
    "available_backends",
    "doctor",
    "drop_warm",
    "get_language",
    "run",
]
