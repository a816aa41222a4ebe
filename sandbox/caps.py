"""The HTTP service's operator caps, and the checks that hold every request under them.

A client of ``rlvr-sandbox serve`` states its own limits; the service never trusts them (issue 9,
class 6: 100 GB of memory, ``Infinity`` CPU seconds, a terabyte of output). The operator sets
caps (`ServiceConfig`, ``rlvr-sandbox serve --max-*``) and every request is held under them:

- a limit the client **states** above its cap is refused with 422 and a message that names the
  field, the value and the cap (refused, never clamped: a client that asked for 100 GB and got
  1 GB would judge under limits it did not ask for without knowing);
- a limit the client **leaves out** gets the sandbox's default, lowered to the cap if above it;
- a value that is not a finite number > 0 of the right type is refused with 422 (the pydantic
  models at the boundary check types; `cap_limits` checks the caps).

=================  ===============================  ============================================
limit              cap                              note
=================  ===============================  ============================================
cpu_s              ``max_cpu_s``                    also SandboxFusion's run/compile_timeout
wall_s             ``2 * max_cpu_s + 1``            a sleeping program holds a slot this long
memory_mb          ``max_memory_mb``                also SandboxFusion's memory_limit_MB
output_bytes       ``max_output_bytes``             per stream and per collected file
workdir_mb         ``max_memory_mb``                the tmpfs is charged to the job's memory
file_size_bytes    ``max_memory_mb`` MiB
processes          512
open_files         4096
=================  ===============================  ============================================

What the server holds in memory is bounded too: at most ``concurrency + queue`` requests are
read at once (429 beyond, before the body is read), each body at most ``max_body_bytes`` (413),
and the captured output of one request at most ``max_response_bytes`` plus one run's worst case
(``(2 + collected files) * output_bytes``, itself at most ``max_response_bytes``: 422 otherwise).

>>> config = ServiceConfig(max_memory_mb=256, max_cpu_s=5)
>>> cap_limits({"cpu_s": 1.0}, Limits(), config, where="limits").memory_mb
256
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from sandbox.errors import RequestError
from sandbox.job import Limits

__all__ = ["ServiceConfig", "cap_limits", "check_output_ceiling"]


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """How ``rlvr-sandbox serve`` runs; each field maps onto one ``serve`` option.

    token: bearer token every endpoint but ``/healthz`` requires (None: no auth, loopback only).
    concurrency: jobs running at once (``--max-jobs``); queue: admitted jobs waiting (429 beyond).
    backend: sandbox backend (None: the default).
    max_memory_mb, max_cpu_s, max_output_bytes: caps on what a request may ask for (see the
        module docstring); max_body_bytes: request body (413 beyond).
    max_response_bytes: captured output held for one request; a batch stops making runs once its
        results reach it (the job result says so in ``stopped``).
    max_jobs_per_request, max_runs, max_files: counts per request, per job, per job (sources
        plus one run's files).
    body_timeout_s: a client that has not sent its whole body by then gets 408 (a slow sender
        must not hold one of the ``concurrency + queue`` request places for ever).

    >>> ServiceConfig(concurrency=0)
    Traceback (most recent call last):
    ...
    ValueError: ServiceConfig.concurrency=0: must be an integer >= 1 — e.g. --max-jobs 2
    """

    token: str | None = field(default=None, repr=False)  # never in a log line
    concurrency: int = 2
    queue: int = 64
    backend: str | None = None
    max_memory_mb: int = 1024
    max_cpu_s: float = 10.0
    max_output_bytes: int = 8 << 20
    max_body_bytes: int = 16 << 20
    max_response_bytes: int = 64 << 20
    max_jobs_per_request: int = 64
    max_runs: int = 512
    max_files: int = 256
    body_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        hints = {
            "concurrency": (1, "--max-jobs 2"),
            "queue": (0, "--queue 64"),
            "max_memory_mb": (1, "--max-memory 1G"),
            "max_output_bytes": (1, "--max-output 8M"),
            "max_body_bytes": (1, "--max-body 16M"),
            "max_response_bytes": (1, "--max-response 64M"),
            "max_jobs_per_request": (1, "64"),
            "max_runs": (1, "512"),
            "max_files": (1, "256"),
        }
        for name, (least, example) in hints.items():
            value = getattr(self, name)
            if type(value) is not int or value < least:
                raise ValueError(
                    f"ServiceConfig.{name}={value!r}: must be an integer >= {least} — "
                    f"e.g. {example}"
                )
        for name, example in (("max_cpu_s", "--max-time 10"), ("body_timeout_s", "30")):
            if not _finite_positive(getattr(self, name)):
                raise ValueError(
                    f"ServiceConfig.{name}={getattr(self, name)!r}: must be a finite number of "
                    f"seconds > 0 — e.g. {example}"
                )
        if self.token is not None and (not self.token.strip() or self.token != self.token.strip()):
            raise ValueError(
                "ServiceConfig.token is empty or has surrounding whitespace — pass the token "
                'itself, e.g. --token "$(openssl rand -hex 16)"'
            )
        if self.max_output_bytes * 2 > self.max_response_bytes:
            raise ValueError(
                f"ServiceConfig.max_response_bytes={self.max_response_bytes} is below two streams "
                f"of max_output_bytes={self.max_output_bytes} — raise --max-response or lower "
                "--max-output"
            )

    def caps(self) -> dict[str, float]:
        """Field of `Limits` -> the most a request may ask for."""
        return {
            "cpu_s": self.max_cpu_s,
            "wall_s": 2 * self.max_cpu_s + 1,
            "memory_mb": self.max_memory_mb,
            "output_bytes": self.max_output_bytes,
            "workdir_mb": self.max_memory_mb,
            "file_size_bytes": self.max_memory_mb << 20,
            "processes": 512,
            "open_files": 4096,
        }


def _finite_positive(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _show(cap: float) -> str:
    return str(cap) if isinstance(cap, int) else f"{cap:g}"


def cap_limits(
    given: Mapping[str, Any], base: Limits, config: ServiceConfig, *, where: str
) -> Limits:
    """``base`` with the client's ``given`` fields, each checked against its cap; fields not
    given keep ``base``'s value lowered to the cap. RequestError (422) names the first problem."""
    caps = config.caps()
    changes: dict[str, Any] = {}
    for name in (f.name for f in fields(Limits)):
        cap = caps[name]
        if name in given and given[name] is not None:
            value = given[name]
            if not _finite_positive(value):
                raise RequestError(f"{where}.{name}={value!r}: must be a finite number > 0")
            if value > cap:
                raise RequestError(
                    f"{where}.{name}={value!r} is over this server's cap of {_show(cap)} — ask "
                    f"for at most that (the operator sets caps with rlvr-sandbox serve --max-*)"
                )
            changes[name] = value
        elif getattr(base, name) is not None and getattr(base, name) > cap:
            changes[name] = type(getattr(base, name))(cap)
    try:
        return base.replace(**changes)
    except ValueError as exc:  # e.g. an int field given as a float
        raise RequestError(f"{where}: {exc}") from None


def check_output_ceiling(limits: Limits, collect: int, config: ServiceConfig, *, where: str):
    """422 unless one run's worst-case captured output fits ``max_response_bytes``."""
    worst = (2 + collect) * limits.output_bytes
    if worst > config.max_response_bytes:
        raise RequestError(
            f"{where}: one run may return {worst} bytes ((2 + {collect} collected files) x "
            f"output_bytes={limits.output_bytes}), over this server's {config.max_response_bytes}"
            " — lower output_bytes or collect fewer files"
        )
