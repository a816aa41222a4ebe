"""A defaults value has one source; every copy of it outside that source is tied to it here."""

from __future__ import annotations

import inspect
from typing import get_args

from engine import cli_judge, schema
from engine.ingest import core, presets
from engine.verify import DEFAULT_VERIFIERS
from verifiers.code.config import CodeConfig
from verifiers.registry import REGISTRY
from verifiers.verdict import STATUSES


def _option_default(function, name: str):
    default = inspect.signature(function).parameters[name].default
    return getattr(default, "default", default)  # typer.Option(default) or Annotated's plain one


def test_verdict_statuses_in_the_lake_schema_are_the_verdicts_statuses() -> None:
    assert schema.ENUMS[("verdicts", "status")] == frozenset(STATUSES)


def test_task_vocabulary_agrees_across_ingest_schema_and_scoring() -> None:
    ingest_tasks = set(get_args(presets.Task))
    assert set(core.TASKS) == ingest_tasks
    lake_tasks = schema.ENUMS[("prompts", "task")]
    assert ingest_tasks <= lake_tasks  # every task ingest writes fits the prompts table
    assert set(DEFAULT_VERIFIERS) == lake_tasks  # every task the lake holds has its verifiers
    for names in DEFAULT_VERIFIERS.values():
        assert set(names) <= set(REGISTRY)


def test_rlvr_judge_limits_default_to_the_code_verifiers_config() -> None:
    from sandbox.cli import parse_megabytes

    default = CodeConfig()
    assert _option_default(cli_judge.judge, "time") == default.test_cpu_s
    assert parse_megabytes(_option_default(cli_judge.judge, "memory")) == default.memory_mb
