"""Selection recipes: YAML files of named steps with parameters, mapped one to one onto
:data:`engine.curate.steps.STEPS`.

::

    name: r1-sft
    unit: rollouts            # rollouts (an SFT set) or prompts (an RL prompt set)
    steps:
      - correct               # a step with its default parameters
      - language: {target: en, threshold: 0.95}

Built-ins live next to this module (``recipes/<name>.yaml``). Every mistake — an unknown step, a
misspelt parameter, a value of the wrong type, a step that does not apply to the unit — is a
UserError naming the step and the field.

>>> recipe = parse_recipe("unit: prompts\\nsteps:\\n  - pass_rate: {min: 0.1}\\n", source="x")
>>> recipe.steps[0]
PassRate(min=0.1, max=1.0, inclusive=False)
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from engine.curate.steps import STEPS, Step, Unit
from engine.errors import UserError

__all__ = ["BUILTIN", "BUILTIN_DIR", "TEXT_FIELDS", "Recipe", "load_recipe", "parse_recipe"]

BUILTIN_DIR = Path(__file__).parent / "recipes"
BUILTIN = tuple(sorted(path.stem for path in BUILTIN_DIR.glob("*.yaml")))
_TOP_KEYS = {"name", "description", "unit", "steps"}
# The text columns a step may read, by unit.
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "rollouts": ("completion", "reasoning", "answer_text", "problem"),
    "prompts": ("problem",),
}


@dataclass(frozen=True, kw_only=True)
class Recipe:
    name: str
    unit: Unit
    steps: tuple[Step, ...]
    text: str  # the YAML as written: stored in the dataset's lineage
    description: str = ""

    def fresh_steps(self) -> tuple[Step, ...]:
        """New step objects (empty state) with the same parameters, for one selection."""
        return tuple(
            type(step)(**{f.name: getattr(step, f.name) for f in fields(step) if f.init})
            for step in self.steps
        )

    def step_params(self) -> list[dict[str, Any]]:
        return [{"step": step.name, **_params(step)} for step in self.steps]


def load_recipe(spec: str) -> Recipe:
    """A built-in name (``r1-sft``) or a path to a YAML file."""
    if spec in BUILTIN:
        path = BUILTIN_DIR / f"{spec}.yaml"
    else:
        path = Path(spec)
        if not path.is_file():
            raise UserError(
                f"no recipe {spec!r} — use a built-in ({', '.join(BUILTIN)}) or a YAML file path"
            )
    return parse_recipe(path.read_text(encoding="utf-8"), source=str(spec))


def parse_recipe(text: str, *, source: str) -> Recipe:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise UserError(f"recipe {source}{where}: not valid YAML — fix the syntax") from exc
    if not isinstance(data, dict):
        raise UserError(f"recipe {source}: expected a mapping with 'unit' and 'steps'")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise UserError(
            f"recipe {source}: unknown field {unknown[0]!r} — fields are {', '.join(sorted(_TOP_KEYS))}"
        )
    unit = data.get("unit", "rollouts")
    if unit not in ("rollouts", "prompts"):
        raise UserError(f"recipe {source}: unit {unit!r} — use 'rollouts' or 'prompts'")
    entries = data.get("steps")
    if not isinstance(entries, list) or not entries:
        raise UserError(f"recipe {source}: 'steps' must be a non-empty list of steps")
    steps = tuple(_step(source, index, entry, unit) for index, entry in enumerate(entries, 1))
    return Recipe(
        name=str(data.get("name") or Path(source).stem),
        unit=unit,
        steps=steps,
        text=text,
        description=str(data.get("description") or ""),
    )


def _step(source: str, index: int, entry: Any, unit: Unit) -> Step:
    params: Any
    if isinstance(entry, str):
        name, params = entry, {}
    elif isinstance(entry, dict) and len(entry) == 1:
        ((name, params),) = entry.items()
        params = params if params is not None else {}
    else:
        raise UserError(
            f"recipe {source}: step {index} must be a name or {{name: {{param: value}}}}"
        )
    where = f"recipe {source}: step {index} {name!r}"
    cls = STEPS.get(name)
    if cls is None:
        raise UserError(f"{where} is not a step — steps are {', '.join(STEPS)}")
    if unit not in cls.units:
        raise UserError(f"{where} does not apply to unit {unit!r} — it selects {cls.units[0]}")
    if not isinstance(params, dict):
        raise UserError(f"{where}: parameters must be a mapping, got {params!r}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in fields(cls) if f.init]
    values = {}
    for key, value in params.items():
        if key not in known:
            raise UserError(f"{where}: unknown field {key!r} — fields are {', '.join(known)}")
        values[key] = _coerce(where, key, value, hints[key])
    step = cls(**values)
    column = getattr(step, "field", None)
    allowed = TEXT_FIELDS[unit]
    if cls.name == "decontaminate" and unit == "rollouts":
        allowed = (*allowed, "both")
    if isinstance(column, str) and column not in allowed:
        raise UserError(f"{where}: field 'field' = {column!r} — use one of {', '.join(allowed)}")
    problem = step.validate()
    if problem:
        raise UserError(f"{where}: {problem}")
    return step


def _coerce(where: str, key: str, value: Any, hint: Any) -> Any:
    """Check ``value`` against the field's type: numbers for floats, lists for tuples."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        hint = next(arg for arg in args if arg is not type(None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    ok = True
    if origin is Literal:
        ok = value in args
    elif origin is tuple:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    elif hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is str:
        ok = isinstance(value, str)
    if not ok:
        wanted = (
            " | ".join(map(str, args)) if origin is Literal else getattr(hint, "__name__", hint)
        )
        raise UserError(f"{where}: field {key!r} = {value!r} is not {wanted}")
    return value


def _params(step: Step) -> dict[str, Any]:
    return {
        f.name: list(v) if isinstance(v := getattr(step, f.name), tuple) else v
        for f in fields(step)
        if f.init
    }
