"""Curation: rejection sampling and filtering into lake datasets, and exports for TRL and verl.

>>> from engine.curate import load_recipe
>>> [step.name for step in load_recipe("grpo-prompts").steps]
['pass_rate', 'exact_dedup', 'near_dedup', 'decontaminate']
"""

from engine.curate.recipe import BUILTIN, Recipe, load_recipe, parse_recipe
from engine.curate.select import Selection, datasets_from, read_lineage, select
from engine.curate.steps import STEPS

__all__ = [
    "BUILTIN",
    "STEPS",
    "Recipe",
    "Selection",
    "datasets_from",
    "load_recipe",
    "parse_recipe",
    "read_lineage",
    "select",
]
