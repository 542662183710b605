"""The example app in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

Sign in, watch the visit counter rise, hit the rate limit and see the 429 page, invalidate the cached page, open the
dashboard and clear a store after confirming. Takes the dashboard's screenshot; with ``KVSTORES_UPDATE_SCREENSHOTS=1``
it becomes the one the docs show (``docs/images/dashboard.png``), so an ordinary run leaves the checkout unchanged.
Playwright's own browser download cannot work here, so the browser is given by path; ``scripts/test.sh`` installs
the package when it runs as root.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from example_app.app import create_app
from tests.support.dashboard import CountingMemoryStore
from testservers.process import free_port, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "dashboard.png"
UPDATE_VARIABLE = "KVSTORES_UPDATE_SCREENSHOTS"


@pytest.fixture
def served_app() -> Iterator[str]:
    """The example app served by uvicorn on a free loopback port, on a store that counts hits and misses."""
    if not CHROMIUM.exists():
        pytest.skip(f"the browser test needs Debian's package 'chromium' ({CHROMIUM}); install it as root")
    port = free_port()
    app = create_app(CountingMemoryStore(), sample_interval=0.25)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="example app", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 10, "the example app to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_visitor_in_a_real_browser(served_app: str, tmp_path: Path) -> None:
    screenshot = tmp_path / "dashboard.png"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 860})

            page.goto(served_app + "/")
            page.fill("input[name=name]", "Ada")
            page.click("button:has-text('Sign in')")
            assert page.text_content("h1") == "Hello, Ada"
            counts = [int(page.text_content("#visits") or "")]
            for _ in range(3):
                page.reload()
                counts.append(int(page.text_content("#visits") or ""))
            assert counts == [counts[0] + step for step in range(4)]

            for _ in range(5):
                response = page.goto(served_app + "/limited")
                assert response is not None
                assert response.status == 200
            refused = page.goto(served_app + "/limited")
            assert refused is not None
            assert refused.status == 429
            assert page.text_content("#retry-after") == refused.headers["retry-after"]
            assert page.text_content("h1") == "Slow down a little"

            page.goto(served_app + "/cached")
            rendered = page.text_content("#rendered-at")
            for _ in range(6):  # cache hits, spread over a few samples of the dashboard's chart
                page.reload()
                assert page.text_content("#rendered-at") == rendered
                time.sleep(0.15)
            time.sleep(1.05)  # the page shows whole seconds
            page.click("button:has-text('Invalidate the cached copy')")  # its CSRF token comes from the cookie
            page.wait_for_url(served_app + "/cached")
            assert page.text_content("#rendered-at") != rendered

            page.goto(served_app + "/stores")
            row = page.locator('tr[data-store="rate_limit"]')
            assert row.locator("td").nth(3).text_content() == "1"
            row.locator("a:has-text('Clear')").click()
            assert page.text_content("h2") == "Clear rate_limit?"
            page.click("button:has-text('Yes, clear rate_limit')")
            page.wait_for_url(re.compile(r".*/stores\?done=clear.*"))
            assert page.text_content("[role=status]") == "Cleared every entry of rate_limit."
            assert page.locator('tr[data-store="rate_limit"] td').nth(3).text_content() == "0"
            wait_until(lambda: page.locator("tr[data-store=sessions] polyline").count() == 2, 5, "the chart")
            page.screenshot(path=str(screenshot), full_page=True)

            again = page.goto(served_app + "/limited")  # the counter went with the cleared store
            assert again is not None
            assert again.status == 200
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
    if os.environ.get(UPDATE_VARIABLE) == "1":
        shutil.copyfile(screenshot, DOCS_SCREENSHOT)
