"""The language registry: how to compile and run each language, table-driven.

Adding a language is one `Language(...)` entry in `LANGUAGES` (DMOJ-style: an executor is a few
attributes, no code). Command templates are argv lists; ``{main}`` is the entry file, ``{sources}``
expands to every job file whose suffix is in ``source_suffixes``, ``{exe}`` is the compiled artifact.
Paths inside the jail: the work dir is ``/work`` and is also the current directory.

No file name can become an option (issue 9, class 1): besides the name whitelist of
`sandbox.job`, interpreters get ``--`` before ``{main}``, and ``{sources}`` expands to ``./name``
(gcc has no ``--``; a ``./`` path is never an option nor a ``@response`` file).

>>> get_language("c++").name
'cpp'
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import PurePath

from sandbox.job import Limits

__all__ = [
    "BASE_ENV",
    "COMPILE_LIMITS",
    "LANGUAGES",
    "Language",
    "get_language",
    "language_for_file",
]

# Everything a program sees in its environment: an allowlist, nothing inherited (hostile-cases B4).
BASE_ENV: Mapping[str, str] = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "USER": "nobody",
    # One BLAS/OpenMP thread: a thread pool per core would trip pids/memory limits (A8).
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

COMPILE_LIMITS = Limits(
    cpu_s=10.0,
    wall_s=20.0,
    memory_mb=1024,
    processes=32,
    output_bytes=64 << 10,  # compiler diagnostics beyond this are noise (B12: no file dumps)
    file_size_bytes=64 << 20,
    open_files=256,
    workdir_mb=128,
)


@dataclass(frozen=True, kw_only=True)
class Language:
    """One language: commands, source naming, environment and compile limits."""

    name: str
    aliases: tuple[str, ...] = ()
    main: str  # default entry file name, used by the CLI and the SandboxFusion adapter
    run: tuple[str, ...]
    compile: tuple[str, ...] | None = None
    exe: str = "main"  # the compile step's artifact, bound read-only into each run
    source_suffixes: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    compile_limits: Limits = COMPILE_LIMITS

    @property
    def compiled(self) -> bool:
        return self.compile is not None

    @property
    def tools(self) -> tuple[str, ...]:
        """Host binaries this language needs (checked by `doctor` and before each job)."""
        first = [self.run[0]] if self.run[0].startswith("/") else []
        if self.compile is not None:
            first.append(self.compile[0])
        return tuple(first)

    def missing_tools(self) -> list[str]:
        return list(_missing(self.tools))

    def expand(self, template: tuple[str, ...], *, main: str, files: list[str]) -> list[str]:
        sources = [f for f in files if f.endswith(self.source_suffixes)] or [main]
        argv: list[str] = []
        for part in template:
            if part == "{sources}":
                argv.extend(f"./{name}" for name in sources)
            else:
                argv.append(part.format(main=main, exe=self.exe))
        return argv


@cache
def _missing(tools: tuple[str, ...]) -> tuple[str, ...]:
    """Tools not installed (cached: checked once per process, not once per job)."""
    return tuple(t for t in tools if shutil.which(t) is None)


LANGUAGES: dict[str, Language] = {
    lang.name: lang
    for lang in (
        Language(
            name="python",
            aliases=("python3", "py", "py3"),
            main="main.py",
            run=("/usr/bin/python3", "--", "{main}"),
            env={"PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "PYTHONUTF8": "1"},
            source_suffixes=(".py",),
        ),
        Language(
            name="cpp",
            aliases=("c++", "cpp17", "c++17", "g++"),
            main="main.cpp",
            # ONLINE_JUDGE as on Codeforces: solutions `freopen` local files unless it is defined.
            compile=(
                "/usr/bin/g++",
                "-std=c++17",
                "-O2",
                "-pipe",
                "-DONLINE_JUDGE",
                "-o",
                "{exe}",
                "{sources}",
            ),
            run=("./{exe}",),
            source_suffixes=(".cpp", ".cc", ".cxx"),
        ),
        Language(
            name="c",
            aliases=("gcc", "c11"),
            main="main.c",
            compile=(
                "/usr/bin/gcc",
                "-O2",
                "-pipe",
                "-DONLINE_JUDGE",
                "-o",
                "{exe}",
                "{sources}",
                "-lm",
            ),
            run=("./{exe}",),
            source_suffixes=(".c",),
        ),
    )
}

_ALIASES = {alias: lang for lang in LANGUAGES.values() for alias in (lang.name, *lang.aliases)}


def get_language(name: str) -> Language:
    """The registry entry for ``name`` or an alias; KeyError names the known languages."""
    try:
        return _ALIASES[name.lower()]
    except KeyError:
        known = ", ".join(sorted(_ALIASES))
        raise KeyError(f"unknown language {name!r}: known are {known}") from None


def language_for_file(name: str) -> str | None:
    """The language whose ``source_suffixes`` hold the suffix of file ``name`` (case as given),
    or None. The one suffix map of both CLIs (``rlvr judge``, ``rlvr-sandbox run``).

    >>> language_for_file("sol.cc"), language_for_file("main.py"), language_for_file("notes.txt")
    ('cpp', 'python', None)
    """
    return _BY_SUFFIX.get(PurePath(name).suffix)


_BY_SUFFIX = {suffix: lang.name for lang in LANGUAGES.values() for suffix in lang.source_suffixes}
