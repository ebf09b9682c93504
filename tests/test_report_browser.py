"""A report in a real browser with the network cut off: every chart draws, hovers and hides a zone on click."""

from __future__ import annotations

import shutil
from pathlib import Path

import plotly.graph_objects as go
import pytest

from offtake.report import HtmlReport, new_chart, zone_colours, zone_map
from offtake.scenario import Corridor, Zone

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)


def _page(tmp_path: Path) -> Path:
    zones = (Zone("A", "Alpha", "r", lat=30.0, lon=70.0), Zone("B", "Beta", "r", lat=25.0, lon=68.0))
    colours = zone_colours(["A", "B"])
    report = HtmlReport("browser check")
    fig = new_chart(x_title="hour", y_title="MW")
    for zone, values in (("A", [1.0, 3.0, 2.0]), ("B", [2.0, 1.0, 4.0])):
        fig.add_trace(go.Scatter(x=[0, 1, 2], y=values, name=zone, line={"color": colours[zone]}))
    report.chart(fig, "two zones")
    corridors = (Corridor("a-b", "A", "B", 1000.0, 800.0),)
    report.chart(zone_map(zones, corridors, colours), "map")
    return report.write(tmp_path / "report.html")


def test_report_draws_and_responds_offline(tmp_path: Path) -> None:
    from playwright.sync_api import Route, sync_playwright

    path = _page(tmp_path)
    fetched: list[str] = []
    errors: list[str] = []

    def route(r: Route) -> None:
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            fetched.append(r.request.url)
            r.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("**/*", route)
            page.goto(path.as_uri())
            page.wait_for_function("document.querySelectorAll('.chart .main-svg').length >= 2", timeout=20_000)
            assert page.evaluate("document.querySelectorAll('.chart.js-plotly-plot').length") == 2
            box = page.locator("#chart-0 .nsewdrag").first.bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_function(
                "document.querySelector('#chart-0 .hoverlayer').textContent.includes('MW') || "
                "document.querySelector('#chart-0 .hoverlayer').childElementCount > 0",
                timeout=5_000,
            )
            hover = page.evaluate("document.querySelector('#chart-0 .hoverlayer').textContent")
            assert hover.replace(" ", "") == "1A:3B:1"  # x = 1, then each zone's value there
            page.locator("#chart-0 .legend .traces").first.click()
            page.wait_for_function("document.getElementById('chart-0').data[0].visible === 'legendonly'", timeout=5_000)
            assert page.evaluate("document.getElementById('chart-0').data[1].visible") in (None, True)
        finally:
            browser.close()
    assert errors == [] and fetched == []
