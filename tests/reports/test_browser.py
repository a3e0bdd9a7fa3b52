"""index.html in a real headless browser (Debian's chromium): it loads with no console errors and no
network request, the key elements are there, every plot renders at a real size, a screenshot is not
blank, and the print stylesheet applies."""

from __future__ import annotations

import io
import shutil

import numpy
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: install Debian's (apt-get install -y chromium) to run the browser test"
)


@pytest.fixture(scope="module")
def page(report_dir):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra: pip install -e '.[test]'")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            problems: list[str] = []
            requests: list[str] = []
            page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto((report_dir / "index.html").as_uri(), wait_until="load")
            page.problems = problems  # type: ignore[attr-defined]
            page.requests = requests  # type: ignore[attr-defined]
            yield page
        finally:
            browser.close()


def test_loads_without_console_errors_or_network(page, report_dir):
    assert page.problems == []
    assert page.requests == [(report_dir / "index.html").as_uri()]


def test_key_elements(page):
    assert page.inner_text("h1") == "FAILED: 1 of 2 properties violated"
    assert page.locator("header.verdict.failed").count() == 1
    rows = page.locator("table.properties tbody tr")
    assert rows.count() == 2
    assert "FAILED" in rows.nth(1).inner_text().upper() and "replicas-converge" in rows.nth(1).inner_text()
    section = page.locator("section#counterexample-1")
    assert section.locator("table.faults tbody tr").count() == 2
    assert section.locator("pre.replay").inner_text() == "podquake replay counterexample-1.yaml"
    assert "from podquake.chaos import replay" in section.locator("pre.pytest").inner_text()
    assert "<after>" in page.inner_text("body")  # escaped in the source, shown as written


def test_every_plot_renders_at_a_real_size(page):
    for name in ("timeline", "load", "utilization", "topology"):
        svg = page.locator(f"svg#plot-counterexample-1-{name}")
        assert svg.count() == 1, name
        box = svg.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100, (name, box)
    # the text in the plots is real text: node names are there to find
    assert page.locator("svg#plot-counterexample-1-topology text", has_text="worker-3").count() >= 1


def test_a_screenshot_is_not_blank(page):
    image_module = pytest.importorskip("PIL.Image")
    page.locator("svg#plot-counterexample-1-timeline").scroll_into_view_if_needed()
    shot = image_module.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    colors = shot.getcolors(maxcolors=1 << 16)
    assert colors is None or len(colors) > 50  # None: more than 65536 colors
    plot = image_module.open(io.BytesIO(page.locator("svg#plot-counterexample-1-timeline").screenshot())).convert("RGB")
    pixels = numpy.asarray(plot).astype(int)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    reds = int(((r > 150) & (g < 80) & (b < 80)).sum())
    greens = int(((g > 100) & (r < 80) & (b < 80)).sum())
    assert reds > 20 and greens > 500  # the failure line, and Ready=True bars


def test_print_stylesheet(page):
    page.emulate_media(media="print")
    try:
        assert page.locator("nav.toc").is_hidden()
        assert page.evaluate("getComputedStyle(document.querySelector('section.counterexample')).breakBefore") == "page"
    finally:
        page.emulate_media(media="screen")
