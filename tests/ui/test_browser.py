"""`rlvr ui` in real headless Chromium (Debian's, driven by Playwright; nothing downloaded): the
researcher's path through the pages, screenshots checked for content, and an XSS rollout that
must stay text. Skips where /usr/bin/chromium or Playwright is absent."""

from __future__ import annotations

import io

import pytest

from engine.ui import create_app
from tests.engine.curate.conftest import GEN
from tests.ui.conftest import AFTER, chromium_page, serve

pytestmark = pytest.mark.timeout(300)


def _not_blank(png: bytes) -> None:
    from PIL import Image

    pixels = Image.open(io.BytesIO(png)).convert("L")
    low, high = pixels.getextrema()
    assert high - low > 100  # text on a background, not one colour
    assert sum(1 for n in pixels.histogram() if n) > 20


def test_open_run_filter_rollout_sql_compare(ui_lake) -> None:
    with serve(create_app(ui_lake)) as base, chromium_page() as page:
        page.goto(base + "/")
        page.click(f"a[href='/runs/{GEN}']")
        assert page.locator("h1").inner_text() == f"run {GEN}"
        assert page.locator("#prompts tr").count() == 4  # header + 3 prompts
        # filter to incorrect with the form, as a user would
        page.click("text=browse and search rollouts")
        page.select_option("select[name=status]", "incorrect")
        page.click("#filters button")
        badges = page.locator("#results td .badge:first-child").all_inner_texts()
        assert badges and set(badges) == {"incorrect"}
        # open a rollout and see its verdict
        page.locator("#results a[href^='/rollouts/']").first.click()
        assert "incorrect" in page.locator("h1 .badge").inner_text()
        assert page.locator(".verdict").first.is_visible()
        _not_blank(page.screenshot(full_page=True))
        # the SQL box
        page.goto(base + "/sql")
        page.fill(
            "textarea[name=q]", "SELECT run_id, count(*) AS n FROM rollouts GROUP BY 1 ORDER BY 1"
        )
        page.click("#sql-form button")
        cells = page.locator("#sql-result td").all_inner_texts()
        assert GEN in cells and AFTER in cells and "9" in cells
        page.fill("textarea[name=q]", "COPY rollouts TO '/tmp/stolen.csv'")
        page.click("#sql-form button")
        assert "refused" in page.locator("#sql-error").inner_text()
        # compare two runs
        page.goto(base + "/compare")
        page.select_option("select[name=a]", GEN)
        page.select_option("select[name=b]", AFTER)
        page.click("#compare-form button")
        summary = page.locator("#compare-summary").inner_text()
        assert "2 shared prompts" in summary and "correct majority: 1" in summary
        _not_blank(page.screenshot(full_page=True))
        assert page.dialogs == [] and page.errors == []


def test_xss_rollout_stays_text(ui_lake) -> None:
    with serve(create_app(ui_lake)) as base, chromium_page() as page:
        page.goto(f"{base}/runs/{GEN}/rollouts?q=onerror")
        page.locator("#results a[href^='/rollouts/']").first.click()
        page.click("text=full completion")
        text = page.locator("pre.completion").inner_text()
        assert "<script>alert('xss')</script></textarea><img src=x onerror=alert(2)>" in text
        assert page.locator("main script").count() == 0 and page.locator("main img").count() == 0
        page.goto(f"{base}/runs/{GEN}/rollouts?q=%3Cscript%3E")  # also in the search echo
        assert page.locator("input[name=q]").input_value() == "<script>"
        # the SQL box: a query that closes the textarea, and a result cell holding the rollout
        page.goto(base + "/sql")
        query = "SELECT completion FROM rollouts WHERE completion LIKE '%</textarea>%' -- </textarea><script>alert(3)</script>"
        page.fill("textarea[name=q]", query)
        page.click("#sql-form button")
        assert page.locator("textarea[name=q]").input_value() == query
        assert "onerror=alert(2)" in page.locator("#sql-result td").first.inner_text()
        assert page.locator("main script").count() == 0 and page.locator("main img").count() == 0
        assert page.dialogs == [] and page.errors == []
