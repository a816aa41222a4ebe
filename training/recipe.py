"""Training recipes: YAML files whose fields map one to one onto TRL's GRPOConfig / SFTConfig.

A recipe is the flat YAML that ``trl grpo --config`` and ``trl sft --config`` read: every top-level
key is a ``GRPOConfig``/``SFTConfig`` field, or one of TRL's script arguments
(``model_name_or_path``, ``dataset_name``, ``reward_funcs`` as dotted import paths), so the same
file runs under TRL's own CLI. What only ``rlvr train`` reads sits under one key, ``rlvr:``
(TRL's CLI ignores it):

- ``trainer``: ``grpo`` | ``sft``;
- ``synth``: the synthetic prompt set used when no ``--dataset`` is given
  (``{task, n, difficulty, seed}``, :mod:`engine.tasks`);
- ``template``: ``r1-zero`` (raw text prompt, base models) | ``chat``;
- ``traces``: SFT on programmatic long-CoT traces of the synthetic tasks (:mod:`training.traces`);
- ``cpu`` / ``cuda``: fields applied on that device (CPU: ``use_cpu``, no bf16, no activation
  checkpointing; CUDA: vLLM generation in colocate mode), each again a config field.

Unknown fields are an error that names the field (``RecipeError``, exit 2 from the CLI).

>>> r = load_recipe("r1-zero")
>>> r.trainer, r.config["loss_type"]
('grpo', 'grpo')
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.errors import UserError

__all__ = ["RECIPES", "Recipe", "RecipeError", "config_fields", "load_recipe", "resolved_config"]

RECIPE_DIR = Path(__file__).resolve().parent / "recipes"
RECIPES = ("r1-zero", "cold-start-sft", "r1-rl", "distill-sft")
SCRIPT_KEYS = frozenset({"model_name_or_path", "dataset_name", "reward_funcs"})
RLVR_KEYS = frozenset({"trainer", "synth", "template", "traces", "cpu", "cuda"})
TRAINERS = ("grpo", "sft")


class RecipeError(UserError):
    """A recipe that cannot be used as written; the message names the field and the fix."""


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """One loaded recipe: the config fields, TRL's script arguments and the ``rlvr:`` section."""

    name: str
    path: Path
    trainer: str
    config: dict[str, Any]
    model: str | None = None
    dataset: str | None = None
    reward_funcs: tuple[str, ...] = ()
    synth: dict[str, Any] = field(default_factory=dict)
    template: str = "chat"
    traces: bool = False
    cpu: dict[str, Any] = field(default_factory=dict)
    cuda: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["path"] = str(self.path)
        return out


def config_fields(trainer: str) -> frozenset[str]:
    """The field names of TRL's config class for ``trainer`` (the installed version's)."""
    from trl import GRPOConfig, SFTConfig

    cls = GRPOConfig if trainer == "grpo" else SFTConfig
    return frozenset(f.name for f in dataclasses.fields(cls))


def _path_of(name: str) -> Path:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    return RECIPE_DIR / f"{name}.yaml"


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError(
            f"no recipe {str(path)!r} — use one of {', '.join(RECIPES)} or a path to a YAML file"
        ) from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"recipe {path} is not valid YAML ({exc}) — fix the file") from exc
    if not isinstance(doc, dict):
        raise RecipeError(f"recipe {path} must be a YAML mapping of config fields")
    return doc


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` (value read as YAML, so ``beta=0.001`` is a float); ``rlvr.x=…`` too."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise RecipeError(f"override {text!r} is not key=value — e.g. learning_rate=1e-5")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError as exc:
        raise RecipeError(f"override {text!r}: the value is not valid YAML") from exc
    if isinstance(parsed, bool) and value.strip().lower() not in ("true", "false"):
        parsed = value.strip()  # YAML 1.1 reads no/yes/on/off as booleans: save_strategy=no is text
    if isinstance(parsed, str):  # YAML 1.1 reads 1e-5 (no dot) as text; a number was meant
        with contextlib.suppress(ValueError):
            parsed = float(parsed)
    return key.strip(), parsed


def _check_fields(where: str, keys: Any, allowed: frozenset[str], trainer: str) -> None:
    for key in keys:
        if key not in allowed:
            cls = "GRPOConfig" if trainer == "grpo" else "SFTConfig"
            raise RecipeError(
                f"unknown field {key!r} in {where} — not a {cls} field of TRL (see "
                f"`python -c 'import trl; help(trl.{cls})'`) nor a recipe key"
            )


def load_recipe(name: str, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read recipe ``name`` (a bundled name or a path), apply ``key=value`` overrides, validate."""
    path = _path_of(name)
    doc = _read(path)
    for text in overrides:
        key, value = parse_override(text)
        if key.startswith("rlvr."):
            doc.setdefault("rlvr", {})[key[5:]] = value
        else:
            doc[key] = value
    section = doc.pop("rlvr", None) or {}
    if not isinstance(section, dict):
        raise RecipeError(f"recipe {path}: 'rlvr' must be a mapping")
    trainer = section.get("trainer")
    if trainer not in TRAINERS:
        raise RecipeError(f"recipe {path}: rlvr.trainer must be grpo or sft, not {trainer!r}")
    fields = config_fields(trainer)
    _check_fields(f"recipe {path.name}", doc, fields | SCRIPT_KEYS, trainer)
    _check_fields(f"rlvr section of {path.name}", section, RLVR_KEYS, trainer)
    for device in ("cpu", "cuda"):
        _check_fields(f"rlvr.{device} of {path.name}", section.get(device) or {}, fields, trainer)
    if trainer == "sft" and doc.get("reward_funcs"):
        raise RecipeError(f"recipe {path}: reward_funcs belongs to GRPO recipes, not SFT")
    template = section.get("template", "chat")
    if template not in ("chat", "r1-zero"):
        raise RecipeError(f"recipe {path}: rlvr.template must be chat or r1-zero")
    config = {k: v for k, v in doc.items() if k not in SCRIPT_KEYS}
    return Recipe(
        name=path.stem, path=path, trainer=trainer, config=config,
        model=doc.get("model_name_or_path"), dataset=doc.get("dataset_name"),
        reward_funcs=tuple(doc.get("reward_funcs") or ()), synth=dict(section.get("synth") or {}),
        template=template, traces=bool(section.get("traces", False)),
        cpu=dict(section.get("cpu") or {}), cuda=dict(section.get("cuda") or {}),
    )  # fmt: skip


def resolved_config(recipe: Recipe, *, cuda: bool, output_dir: str) -> dict[str, Any]:
    """The config keywords for this device: the recipe's fields, then its ``cpu``/``cuda`` ones."""
    config = {**recipe.config, **(recipe.cuda if cuda else recipe.cpu)}
    config["output_dir"] = output_dir
    return config
