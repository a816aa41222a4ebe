"""Adversarial tests: attacks a reward-hacking policy or a hostile client would try, each with its
control (the right program still AC, the honest wrong one still WA). Every test here is marked
``adversarial`` so the suite runs alone (``make test-adversarial``); ``make test`` runs it too."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/adversarial/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.adversarial)
