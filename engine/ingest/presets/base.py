"""What every preset builds on: the `Draft` row an adapter returns, the `Preset` registry entry,
and the field helpers adapters read records with."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from engine.errors import FieldError

__all__ = ["Draft", "Preset", "Task", "answer_text", "last_boxed"]

Task = Literal["math", "code", "general"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Draft:
    """A prompts row before ``prompt_id``, ``dataset`` and ``created_at`` are added."""

    problem: str
    task: Task
    answer: str | None = None
    tests: str | None = None  # CodeTests JSON
    split: str = "test"
    meta: dict[str, Any] = field(default_factory=dict)
    group: str | None = None  # drafts with one group become one prompt (see Preset.merge)


@dataclass(frozen=True, kw_only=True, slots=True)
class Preset:
    """An adapter: the dataset name it imports as by default and the files ``auto`` recognises."""

    name: str
    dataset: str
    task: Task
    files: tuple[str, ...]
    map_row: Callable[[dict[str, Any]], Draft]
    merge: Callable[[list[Draft]], Draft] | None = None


# -- field helpers ----------------------------------------------------------------------------
def _str(rec: dict[str, Any], key: str) -> str:
    """A required, non-empty string field."""
    if key not in rec or rec[key] is None:
        raise FieldError(key, "missing required field")
    value = rec[key]
    if not isinstance(value, str):
        raise FieldError(key, f"expected a string, got {type(value).__name__}")
    if not value.strip():
        raise FieldError(key, "empty string")
    return value


def _list(rec: dict[str, Any], key: str) -> list[Any]:
    if key not in rec or rec[key] is None:
        raise FieldError(key, "missing required field")
    if not isinstance(rec[key], list):
        raise FieldError(key, f"expected a list, got {type(rec[key]).__name__}")
    return rec[key]


def _pick(rec: dict[str, Any], *keys: str) -> dict[str, Any]:
    """Optional fields kept in meta (absent ones are left out)."""
    return {k: rec[k] for k in keys if rec.get(k) is not None}


def _json_field(rec: dict[str, Any], key: str) -> Any:
    try:
        return json.loads(_str(rec, key))
    except json.JSONDecodeError as exc:
        raise FieldError(key, f"malformed JSON inside the field ({exc.msg})") from None


def answer_text(value: Any, key: str = "answer") -> str:
    """A gold answer as a string: AMC's float ``27.0`` becomes ``'27'``; AIME's ``'025'`` stays."""
    if isinstance(value, bool) or value is None:
        raise FieldError(key, f"expected a string or number, got {type(value).__name__}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        if not value.strip():
            raise FieldError(key, "empty string")
        return value
    raise FieldError(key, f"expected a string or number, got {type(value).__name__}")


def last_boxed(text: str) -> str | None:
    r"""Content of the last ``\boxed{...}`` (nested braces allowed); None if there is none."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth, j = 1, i
    while j < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        j += 1
    return text[i : j - 1].strip() if depth == 0 else None
