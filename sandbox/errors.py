"""The sandbox's exceptions. Program failures are never exceptions: they are RunResult statuses.

::

    SandboxError                 base; carries ``backend`` when one is involved
    ├── JobError (ValueError)    the job itself is invalid: unknown language, unsafe file name,
    │                            empty source (a caller's mistake, never a program's)
    ├── RequestError (ValueError)  an HTTP request is malformed or over the operator's caps;
    │                            carries ``status`` (the 4xx the service answers with)
    ├── BackendUnavailable       the requested backend cannot run here (bwrap missing, no daemon)
    └── LaunchError (OSError)    a run slot's launcher could not start the command (nothing ran)
                                 or is gone; internal: the bwrap backend falls back to a cold start

A fault met *while running* a program (bwrap could not set up a mount, the Docker daemon went
away) is not raised: it becomes ``status = "sandbox_error"`` with ``message``, so that batch paths
go on and verifiers can map it to the SE judge code (never a reward).
"""

from __future__ import annotations

__all__ = ["BackendUnavailable", "JobError", "LaunchError", "RequestError", "SandboxError"]


class SandboxError(Exception):
    """Base of the sandbox's exceptions."""

    def __init__(self, message: str, *, backend: str | None = None) -> None:
        super().__init__(message)
        self.backend = backend


class JobError(SandboxError, ValueError):
    """The job is invalid; the message names the field and the fix."""


class BackendUnavailable(SandboxError):
    """The backend cannot run on this machine; the message says what to install."""


class RequestError(SandboxError, ValueError):
    """An HTTP request the service refuses; ``status`` is the 4xx it answers with (422 unless
    said otherwise), the message names the field, the value and the fix."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class LaunchError(SandboxError, OSError):
    """The launcher could not start the command (nothing ran), or the launcher is gone."""
