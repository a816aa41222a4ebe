"""Shared fixtures. Tests read ../shared (never copied into the tree) and skip cleanly without it."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; skips the test when the folder is absent."""
    data = SHARED / "data"
    if not data.is_dir():
        pytest.skip(f"{data} is absent: benchmark data is not available on this machine")
    return data


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    """Folder of the embedded tiny base model (``training/tiny.py``, size xs, seed 0).

    Built once and cached on disk in ``models/.cache/`` (git-ignored; ``RLVR_TEST_MODELS`` moves
    it), so only the first session after a builder change pays for the build; pytest workers that
    ask at once wait on the builder's lock. Loads with AutoModelForCausalLM / AutoTokenizer.
    `make test` builds it before pytest starts (~300 s of CPU): built here, inside a test's
    setup, the build would count against that test's 300 s timeout.
    """
    import os

    pytest.importorskip("torch")
    from training.tiny import build_tiny_model

    root = Path(__file__).resolve().parents[1]
    cache = Path(os.environ.get("RLVR_TEST_MODELS", root / "models" / ".cache"))
    return build_tiny_model(cache / "tiny-xs-seed0", size="xs", seed=0)
