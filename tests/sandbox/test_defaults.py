"""Defaults with one source (issue 16): each copy of a vocabulary is tied to it by a test."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from sandbox.caps import ServiceConfig
from sandbox.cli import _language
from sandbox.job import Limits
from sandbox.languages import LANGUAGES, language_for_file
from sandbox.service import LimitsModel

LIMIT_FIELDS = {f.name for f in fields(Limits)}


def test_the_http_limits_model_has_exactly_the_fields_of_limits() -> None:
    assert set(LimitsModel.model_fields) == LIMIT_FIELDS


def test_service_caps_name_only_limits_fields() -> None:
    assert set(ServiceConfig().caps()) <= LIMIT_FIELDS


def test_each_source_suffix_belongs_to_one_language() -> None:
    suffixes = [s for lang in LANGUAGES.values() for s in lang.source_suffixes]
    assert len(suffixes) == len(set(suffixes))
    for lang in LANGUAGES.values():
        for suffix in lang.source_suffixes:
            assert language_for_file(f"dir.x/prog{suffix}") == lang.name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.py", "python"),
        ("a.cpp", "cpp"),
        ("a.cc", "cpp"),
        ("a.cxx", "cpp"),
        ("a.c", "c"),
        ("a.txt", None),
        ("Makefile", None),
        ("a.c.txt", None),  # the last suffix decides
        ("a.PY", None),  # case as given: the CLIs decide whether to fold it
    ],
)
def test_language_for_file(name: str, expected: str | None) -> None:
    assert language_for_file(name) == expected


def test_the_sandbox_cli_reads_the_language_from_the_same_map() -> None:
    for lang in LANGUAGES.values():
        for suffix in lang.source_suffixes:
            assert _language(Path(f"prog{suffix}"), None) == lang.name
