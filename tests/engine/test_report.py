"""`rlvr report`: the page's content (numbers, escaping, funnel, training steps, two runs), its
errors, and the page opened in real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path

import pytest

from engine import ids
from engine.cli import main
from engine.errors import UserError
from engine.lake import Lake
from engine.report import collect, write_report
from tests.engine.curate.conftest import GEN, R, prompt_row, write_run

CHROMIUM = Path("/usr/bin/chromium")
EVIL = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
pytest.importorskip("matplotlib")


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.open(tmp_path / "lake")


@pytest.fixture
def two_runs(lake):
    write_run(lake, [prompt_row("a"), prompt_row("b", dataset="other")], {
        "0": [R(tokens=10), R(status="incorrect", extracted="5", tokens=40),
              R(completion=EVIL, tokens=5), R(extracted="1.", tokens=30)],
        "1": [R(status="incorrect", extracted="2", tokens=20), R(tokens=50),
              R(status="incorrect", extracted=None, finish="length", tokens=100), R(tokens=12)],
    }, model=EVIL)  # fmt: skip
    write_run(lake, [prompt_row("a")], {"0": [R(), R(), R(), R(status="incorrect")]},
              run_id="after-run")  # fmt: skip
    return lake


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_page_has_the_plots_tables_and_escaped_text(two_runs, tmp_path) -> None:
    path = write_report(two_runs, [GEN, "after-run"], tmp_path / "out")
    page = path.read_text(encoding="utf-8")
    images = _images(page)
    # pass@k, maj@k vs pass@1, rates, and one length histogram per run
    assert len(images) == 5 and all(img.startswith(b"\x89PNG\r\n\x1a\n") for img in images)
    assert "<script" not in page and "<img src=x" not in page
    assert html.escape(EVIL) in page  # the completion and the model name, as text
    assert "before / after" in page and "after: after-run" in page
    # the per-dataset table carries run_metrics' values: demo pass@1 = 3/4, other = 2/4
    assert re.search(r"<td>demo</td><td class=\"n\">0\.750", page)
    assert re.search(r"<td>other</td><td class=\"n\">0\.500", page)
    assert "0.250" in page  # other: truncation and no-answer rates 1/4
    # the comparison row of demo's pass@1: before 3 of 4, after 3 of 4
    assert re.search(r"<td>demo</td><td>pass@1</td><td class=\"n\">0\.750</td>", page)
    assert list(path.parent.iterdir()) == [path]  # one self-contained file


def test_funnel_of_a_dataset_selected_from_the_run(two_runs, tmp_path) -> None:
    from engine.curate import load_recipe, select

    select(two_runs, [GEN], load_recipe("r1-sft"), "sft-from-gen")
    data = collect(two_runs, GEN)
    assert [lineage["name"] for lineage in data.funnels] == ["sft-from-gen"]
    page = write_report(two_runs, [GEN], tmp_path / "out").read_text(encoding="utf-8")
    assert "dataset sft-from-gen" in page and len(_images(page)) == 5  # + the funnel plot
    assert collect(two_runs, "after-run").funnels == []


def test_training_run_plots_accuracy_and_length_over_steps(lake, tmp_path) -> None:
    write_run(lake, [prompt_row("a")], {"0": [R(), R(status="incorrect", tokens=30)]})
    prompt = prompt_row("a")["prompt_id"]
    train = "20261130T120000-train-fixture"
    lake.write_run("train", run_id=train, model="tiny")
    rows, verdicts = [], []
    for step, statuses in enumerate([("incorrect", "incorrect"), ("correct", "incorrect"),
                                     ("correct", "correct")]):  # fmt: skip
        for i, status in enumerate(statuses):
            rid = ids.rollout_id(train, prompt, step * 2 + i)
            rows.append({"rollout_id": rid, "prompt_id": prompt, "sample_idx": step * 2 + i,
                         "completion": "x", "completion_tokens": 10 * (step + 1),
                         "finish_reason": "stop", "source": "train", "step": step})  # fmt: skip
            verdicts.append({"rollout_id": rid, "verifier": "math", "status": status,
                             "reward": float(status == "correct"), "extracted": "1"})  # fmt: skip
    lake.append("rollouts", rows, run_id=train)
    lake.append("verdicts", verdicts, run_id="verify-train")
    steps = collect(lake, train).steps
    assert steps["accuracy"].to_list() == [0.0, 0.5, 1.0]
    assert steps["mean_length"].to_list() == [10.0, 20.0, 30.0]
    page = write_report(lake, [train], tmp_path / "out").read_text(encoding="utf-8")
    assert "training steps · " + train in page and len(_images(page)) == 5
    assert collect(lake, GEN).steps.height == 0  # a generate run has no steps section


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "nope"], "error: no rollouts for run 'nope' — list the runs with `rlvr runs`"),
        (
            ["--run", "a", "--run", "b", "--run", "c"],
            "error: 3 runs given — pass one --run, or two",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(two_runs, tmp_path, capsys, args, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--lake", str(two_runs.root), *args, "-o", str(out)])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.startswith(message) and "\n" not in err
    assert not out.exists()
    assert not any(p.name.startswith(".out.") for p in tmp_path.iterdir())  # no temp folder left


def test_existing_output_folder_is_refused_untouched(two_runs, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--lake", str(two_runs.root), "--run", GEN, "-o", str(out)])
    assert exit_info.value.code == 2
    assert (
        capsys.readouterr().err.strip()
        == f"error: {out} exists — pick a new -o folder or remove it"
    )
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    with pytest.raises(UserError, match="exists"):
        write_report(two_runs, [GEN], out)


def test_cli_writes_the_page(two_runs, tmp_path, capsys) -> None:
    out = tmp_path / "rep"
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--lake", str(two_runs.root), "--run", f"{GEN},after-run", "-o", str(out)])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"wrote {out / 'index.html'}"
    assert "before / after" in (out / "index.html").read_text(encoding="utf-8")


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium absent (make setup installs it)"
)
def test_page_renders_in_headless_chromium(two_runs, tmp_path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    from PIL import Image

    path = write_report(two_runs, [GEN, "after-run"], tmp_path / "out")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run"]  # fmt: skip
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=flags)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(path.as_uri(), wait_until="load")
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
            )
            title = page.title()
            shot = page.screenshot(full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert len(images) == 5 and all(ok and w > 0 and h > 0 for ok, w, h in images)
    assert title.startswith("rlvr report") and "pwned" not in title  # the completion did not run
    pixels = Image.open(io.BytesIO(shot)).convert("L")
    low, high = pixels.getextrema()
    assert high - low > 100  # not a blank page
    assert sum(1 for n in pixels.histogram() if n) > 20  # text and plots, not one colour
