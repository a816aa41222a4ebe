"""What works on this machine: backends, namespaces, cgroups, languages (STYLE.md §15).

`doctor()` returns a plain dict (the CLI prints it; the service returns it on /healthz) so that a
user sees at once whether untrusted code would run jailed, and how limits are enforced.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from sandbox import _cgroups as cgroups
from sandbox.backends import BACKENDS, default_backend, get_backend
from sandbox.languages import LANGUAGES

__all__ = ["available_backends", "doctor"]


def available_backends() -> list[str]:
    """Names of the backends that can run a job here, strongest first."""
    return [name for name in BACKENDS if get_backend(name).unavailable() is None]


def _userns() -> str:
    try:
        with open("/proc/sys/user/max_user_namespaces") as f:
            n = int(f.read())
    except (OSError, ValueError):
        return "unknown"
    return "enabled" if n > 0 else "disabled (sysctl user.max_user_namespaces=0)"


def doctor() -> dict[str, Any]:
    """A report: each backend (ok or why not), enforcement in force, languages, warnings."""
    layout = cgroups.probe()
    backends: dict[str, Any] = {}
    for name in BACKENDS:
        impl = get_backend(name)
        why = impl.unavailable()
        backends[name] = {
            "ok": why is None,
            "reason": why or "",
            "enforcement": impl.enforcement() if why is None else {},
        }
    warnings = []
    if layout is None:
        warnings.append(
            "no writable cgroup (v2 delegation or v1 memory+pids): memory and process limits "
            "fall back to rlimits (RLIMIT_DATA, RLIMIT_NPROC)"
        )
    if not backends["bwrap"]["ok"]:
        warnings.append("bwrap unavailable: only the weaker 'process' backend would isolate jobs")
    return {
        "default_backend": default_backend(),
        "backends": backends,
        "bwrap": shutil.which("bwrap") or "",
        "user_namespaces": _userns(),
        "cgroup": layout.detail if layout else "none writable",
        "running_as_root": os.geteuid() == 0,
        "languages": {
            name: {"ok": not lang.missing_tools(), "missing": lang.missing_tools()}
            for name, lang in LANGUAGES.items()
        },
        "warnings": warnings,
    }
