"""Fixture lakes for `rlvr ui`, written through the lake API, and a headless Chromium helper.

:func:`chromium_page` is shared: any test that must look at a page in a real browser (Debian's
``/usr/bin/chromium`` driven by Playwright, never a downloaded browser) uses it and skips cleanly
where the browser or Playwright is absent.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine import ids
from engine.lake import Lake
from tests.engine.curate.conftest import GEN, VERIFY, R, prompt_row, write_run

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]  # fmt: skip
EVIL = "<script>alert('xss')</script></textarea><img src=x onerror=alert(2)>"
AFTER = "20261130T120000-generate-after"
TRAIN = "20261130T130000-train-fixture"
CODE_TESTS = json.dumps(
    {
        "version": 1,
        "kind": "stdio",
        "checker": "tokens",
        "cases": [
            {"stdin": "1 2\n", "expected": ["3\n"]},
            {"stdin": "40 2\n", "expected": ["42\n"]},
        ],
    }
)


@pytest.fixture
def ui_lake(tmp_path: Path) -> Lake:
    """Two generate runs on the same prompts (one flips), a code prompt, an XSS rollout, a
    language-mixed rollout and a training run with three steps."""
    lake = Lake.open(tmp_path / "lake")
    prompts = [prompt_row("a"), prompt_row("b", dataset="other"),
               prompt_row("c", task="code", answer=None, tests=CODE_TESTS, dataset="codes",
                          problem="Read two integers and print their sum.")]  # fmt: skip
    keys = write_run(lake, prompts, {
        "0": [R(), R(status="incorrect", extracted="5", tokens=40),
              R(completion=EVIL, answer_text=EVIL, status="incorrect", extracted="7", tokens=5),
              R(status="incorrect", extracted="5", finish="length", tokens=99)],
        "1": [R(status="incorrect", extracted="2", tokens=20), R(tokens=50),
              R(status="incorrect", extracted="2", tokens=30), R(tokens=12)],
        "2": [R(status="incorrect", extracted="print(sum(map(int, input().split())) + 1)",
                answer_text="```python\nprint(sum(map(int, input().split())) + 1)\n```")],
    })  # fmt: skip
    _extra_verdicts(lake, keys)
    write_run(lake, prompts[:2], {"0": [R(), R(), R(), R(status="incorrect")],
                                  "1": [R(status="incorrect", extracted="2")] * 4},
              run_id=AFTER, verify_run="20261130T121000-verify-after")  # fmt: skip
    _train_run(lake, keys["0"])
    return lake


def _extra_verdicts(lake: Lake, keys: dict[str, str]) -> None:
    code_rid = ids.rollout_id(GEN, keys["2"], 0)
    detail = {"tests": [{"i": 0, "code": "WA", "reason": "expected 3, got 4"}], "total": 2,
              "passed": 0, "first_failure": {"i": 0, "code": "WA", "actual": "4\n",
                                             "reason": "expected 3, got 4"}}  # fmt: skip
    mixed_rid = ids.rollout_id(GEN, keys["0"], 1)
    lake.append("verdicts", [
        {"rollout_id": code_rid, "verifier": "code", "status": "incorrect", "reward": 0.0,
         "extracted": "print(sum(map(int, input().split())) + 1)", "detail": detail},
        {"rollout_id": mixed_rid, "verifier": "language", "status": "incorrect", "reward": 0.0,
         "detail": {"reason": "mixed: 30% non-English words"}},
    ], run_id=VERIFY)  # fmt: skip


def _train_run(lake: Lake, prompt_id: str) -> None:
    lake.write_run("train", run_id=TRAIN, model="tiny")
    rows, verdicts = [], []
    for step in (1, 2, 3):
        for i in range(4):
            idx = (step - 1) * 4 + i
            rid = ids.rollout_id(TRAIN, prompt_id, idx)
            correct = i < step  # accuracy 1/4, 2/4, 3/4
            rows.append({"rollout_id": rid, "prompt_id": prompt_id, "sample_idx": idx,
                         "completion": f"step {step} sample {i}", "completion_tokens": 10 * step,
                         "source": "train", "step": step})  # fmt: skip
            verdicts.append({"rollout_id": rid, "verifier": "math", "reward": float(correct),
                             "status": "correct" if correct else "incorrect"})  # fmt: skip
    lake.append("rollouts", rows, run_id=TRAIN)
    lake.append("verdicts", verdicts, run_id=TRAIN)
    lake.finish_run(TRAIN)


@contextmanager
def serve(app) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium_page(*, width: int = 1280, height: int = 900):
    """A Playwright page in Debian's headless Chromium; ``page.dialogs`` lists any dialog shown
    and ``page.errors`` the page's script errors. Skips when the browser is not installed."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium absent (make setup installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.dialogs, page.errors = [], []
            page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda exc: page.errors.append(str(exc)))
            yield page
        finally:
            browser.close()
