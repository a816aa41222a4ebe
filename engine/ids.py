"""Stable ids: content hashes for prompts and rollouts, time-sortable ids for runs.

Content-hashed ids make re-running idempotent: importing the same file twice, or resuming a
generation run, produces the same ids, and the lake's views keep one row per id.

An id is the first 16 hex characters (64 bits) of BLAKE2b over the parts joined by the unit
separator ``\\x1f`` (which cannot appear in a dataset name or run id, so ``("ab", "c")`` and
``("a", "bc")`` never collide). With 64 bits, the chance that any two of a million ids collide
is about 3e-8 (birthday bound n²/2⁶⁵). A problem's surrounding whitespace is not part of its
identity, so the same problem read from JSON or CSV gets the same id.

>>> prompt_id("gsm8k", "What is 2 + 2?")
'2b25030726ac2cab'
>>> rollout_id("20261129T031500-generate-ab12cd", "2b25030726ac2cab", 0) == rollout_id(
...     "20261129T031500-generate-ab12cd", "2b25030726ac2cab", 0)
True
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime

__all__ = ["ID_HEX_CHARS", "RUN_ID_PATTERN", "SEPARATOR", "new_run_id", "prompt_id", "rollout_id"]

ID_HEX_CHARS = 16
SEPARATOR = "\x1f"

# A run id names a partition folder (`run_id=<id>`), so it must be safe in a path and a URL.
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")


def _digest(*parts: str) -> str:
    data = SEPARATOR.join(parts).encode("utf-8")
    return hashlib.blake2b(data, digest_size=ID_HEX_CHARS // 2).hexdigest()


def prompt_id(dataset: str, problem: str) -> str:
    """Id of a prompt: hash of the dataset name and the problem text (stripped)."""
    return _digest(dataset, problem.strip())


def rollout_id(run_id: str, prompt_id: str, sample_idx: int) -> str:
    """Id of a rollout: hash of its run, its prompt and its sample index within the prompt."""
    return _digest(run_id, prompt_id, str(int(sample_idx)))


def new_run_id(kind: str, *, now: datetime | None = None) -> str:
    """A fresh run id, ``<UTC time>-<kind>-<6 random hex>``, e.g. ``20261129T031500-generate-ab12cd``.

    Sorting run ids sorts runs by start time; the random tail keeps two runs started in the same
    second apart.
    """
    if not _KIND_PATTERN.fullmatch(kind):
        raise ValueError(f"run kind {kind!r} must be lower-case letters, digits and '_'")
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{kind}-{secrets.token_hex(3)}"
