"""The reports' one chart layer: data in the page equal what was computed, offline, one zone palette."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from report_checks import assert_self_contained, external_loads, trace

from offtake import scenario as scenario_mod
from offtake.report import (
    ZONE_PALETTE,
    Box,
    HtmlReport,
    chart_specs,
    label_box,
    local_times,
    map_pixels,
    money_text,
    new_chart,
    overlap,
    rate_text,
    share_text,
    zone_colours,
    zone_map,
)
from offtake.scenario import Corridor, Zone


def test_chart_data_in_the_page_equal_the_arrays_given() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=500)
    y[7] = math.nan
    counts = np.arange(24, dtype=np.int64)
    grid = rng.uniform(size=(12, 24))
    report = HtmlReport("t")
    fig = new_chart(x_title="x [h]", y_title="y [MW]")
    fig.add_trace(go.Scatter(x=np.arange(500), y=y, name="float"))
    fig.add_trace(go.Bar(x=list(range(24)), y=counts, name="int"))
    report.chart(fig, "two traces")
    heat = new_chart()
    heat.add_trace(go.Heatmap(z=grid, name="grid"))
    report.chart(heat)
    specs = assert_self_contained(report.render())
    assert len(specs) == 2
    shown = trace(specs[0], "float")
    assert shown["x"] == list(range(500))
    assert shown["y"][7] is None
    np.testing.assert_array_equal(np.array([v for i, v in enumerate(shown["y"]) if i != 7]), np.delete(y, 7))
    assert trace(specs[0], "int")["y"] == counts.tolist()
    np.testing.assert_array_equal(np.array(trace(specs[1], "grid")["z"]), grid)
    assert specs[0]["layout"]["xaxis"]["title"]["text"] == "x [h]"


def test_a_page_without_charts_carries_no_script() -> None:
    report = HtmlReport("t")
    report.table(pd.DataFrame({"a": [1.0]}))
    page = report.render()
    assert "<script" not in page and chart_specs(page) == []


def test_markup_in_a_name_cannot_break_out_of_the_chart_data() -> None:
    hostile = "</script><script>alert(1)</script><!--"
    report = HtmlReport("t")
    fig = new_chart()
    fig.add_trace(go.Scatter(x=[1], y=[2], name=hostile))
    report.chart(fig, caption=hostile)
    page = report.render()
    specs = assert_self_contained(page)
    assert specs[0]["data"][0]["name"] == hostile
    assert page.count("<script") == 3  # plotly.js, the data block, the loader
    assert "<script>alert(1)" not in page


def test_an_external_script_or_style_is_caught() -> None:
    assert external_loads('<script src="https://cdn.example.org/x.js"></script>') == ["https://cdn.example.org/x.js"]
    assert external_loads("<link rel=stylesheet href=//cdn.example.org/x.css>") == ["//cdn.example.org/x.css"]
    assert external_loads("<style>body { background: url('https://example.org/a.png') }</style>") == ["https:"]
    assert external_loads('<img src="data:image/png;base64,AAAA">') == []


def test_eleven_zones_get_eleven_distinct_colours_in_a_fixed_order() -> None:
    zones = [f"Z{i}" for i in range(11)]
    colours = zone_colours(zones)
    assert len(set(colours.values())) == 11 == len(ZONE_PALETTE)
    assert zone_colours(zones) == colours
    assert zone_colours(["Z0", "Z1"]) == {"Z0": colours["Z0"], "Z1": colours["Z1"]}
    assert all(re.fullmatch(r"#[0-9A-F]{6}", c) for c in ZONE_PALETTE)


def test_the_control_room_map_uses_the_reports_colours() -> None:
    from offtake.api.console import schematic

    zones = [f"Z{i}" for i in range(11)]
    assert schematic.zone_colours(zones) == zone_colours(zones)


@pytest.mark.parametrize(("fraction", "text"), [(0.0025, "0.25 %"), (0.01, "1 %"), (0.07, "7 %"), (0.005, "0.5 %")])
def test_rates_are_shown_as_given(fraction: float, text: str) -> None:
    assert rate_text(fraction) == text


def test_money_in_m_usd_and_bn_pkr() -> None:
    assert money_text(12_345_678.0, 280.0) == "12.3 M USD (3.5 bn PKR)"
    assert money_text(-1e9, 280.0, 0) == "-1,000 M USD (-280.0 bn PKR)"


def test_times_are_shown_in_pakistan_time_and_naive_ones_refused() -> None:
    utc = pd.date_range("2024-06-30T19:00Z", periods=2, freq="h")
    assert local_times(utc) == ["2024-07-01 00:00", "2024-07-01 01:00"]
    with pytest.raises(ValueError, match="aware"):
        local_times(pd.date_range("2024-06-30", periods=2, freq="h"))


def test_tables_scroll_inside_the_page() -> None:
    report = HtmlReport("t")
    report.table(pd.DataFrame({"rate_pct": [0.25], "mw": [1234.5]}), formats={"rate_pct": "{:g}"})
    page = report.render()
    assert '<div class="table-wrap">' in page and ".table-wrap { max-width: 100%; overflow-x: auto;" in page
    assert "<td>0.25</td>" in page and "<td>1,234.5</td>" in page
    assert "<th>rate_<wbr>pct</th>" in page  # a long name breaks after an underscore, a value never


def test_map_places_zones_corridors_and_sites() -> None:
    zones = (
        Zone("A", "Alpha", "r", lat=30.0, lon=70.0),
        Zone("B", "Beta", "r", lat=25.0, lon=68.0),
        Zone("C", "Nowhere", "r"),
    )
    corridors = (Corridor("a-b", "A", "B", 3000.0, 500.0), Corridor("a-c", "A", "C", 100.0, 100.0))
    sites = pd.DataFrame({"zone": ["A", "A", "B"], "mw": [100.0, 400.0, 25.0]}, index=["s1", "s2", "s3"])
    colours = zone_colours(["A", "B", "C"])
    report = HtmlReport("map")
    report.chart(zone_map(zones, corridors, colours, sites=sites, zone_values={"A": "surplus 12 MW"}))
    spec = assert_self_contained(report.render())[0]
    a = trace(spec, "A")
    assert (a["x"], a["y"]) == ([70.0], [30.0]) and a["marker"]["color"] == colours["A"]
    assert "surplus 12 MW" in a["hovertemplate"]
    assert not [t for t in spec["data"] if t.get("name") == "C"]  # no position: left out, not put at 0,0
    lines = [t for t in spec["data"] if t.get("legendgroup") == "corridors"]
    assert len(lines) == 1 and "A→B 3,000 MW, B→A 500 MW" in lines[0]["hovertemplate"]
    assert lines[0]["text"] == ["", "3,000/500 MW", ""]  # the limits read without hovering
    a_sites = trace(spec, "A sites")
    assert [c[0] for c in a_sites["customdata"]] == ["s1", "s2"]
    small, large = a_sites["marker"]["size"]
    assert large > small > trace(spec, "B sites")["marker"]["size"][0]
    assert all(abs(x - 70.0) < 1 and abs(y - 30.0) < 1 for x, y in zip(a_sites["x"], a_sites["y"], strict=True))
    assert trace(spec, "B sites")["marker"]["color"] == colours["B"]
    assert spec["layout"]["yaxis"]["scaleanchor"] == "x"


def _label_boxes(spec: dict[str, Any], height: int) -> tuple[dict[str, Box], dict[str, Box]]:
    """Read back where a map writes its zone and corridor labels; return their boxes and the zone markers' [px]."""
    zones = {t["name"]: t for t in spec["data"] if t.get("mode") == "markers+text"}
    where = {name: (float(t["x"][0]), float(t["y"][0])) for name, t in zones.items()}
    to_px = map_pixels(where, height)
    labels: dict[str, Box] = {}
    markers: dict[str, Box] = {}
    for name, t in zones.items():
        x, y = to_px(*where[name])
        labels[name] = label_box(x, y, t["textposition"], t["text"][0], 12, 14)
        markers[name] = (x - 7, y - 7, x + 7, y + 7)
    for t in spec["data"]:
        if t.get("legendgroup") == "corridors":
            x, y = to_px(float(t["x"][1]), float(t["y"][1]))
            labels[t["text"][1] + " " + t["hovertemplate"]] = label_box(x, y, t["textposition"], t["text"][1], 9, 6)
    return labels, markers


def _collisions(labels: dict[str, Box], markers: dict[str, Box]) -> list[tuple[str, str]]:
    names = list(labels)
    found = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :] if overlap(labels[a], labels[b]) > 0]
    found += [(a, z) for a in labels for z in markers if z != a and overlap(labels[a], markers[z]) > 0]
    return found


def test_map_labels_in_the_crowded_north_do_not_overlap() -> None:
    s = scenario_mod.load(Path(__file__).parents[1] / "src/offtake/data/scenarios/pakistan-2025")
    spec = assert_self_contained(_one_chart(zone_map(s.zones, s.corridors, zone_colours(s.zone_ids))))[0]
    labels, markers = _label_boxes(spec, 640)
    assert len(labels) == len(s.zones) + len(s.corridors)
    assert _collisions(labels, markers) == []
    # the same measure finds the overlaps of every zone name above its point, every limit on the right
    for t in spec["data"]:
        if t.get("mode") == "markers+text":
            t["textposition"] = "top center"
        elif t.get("legendgroup") == "corridors":
            t["textposition"] = "middle right"
    crowded = {name for pair in _collisions(*_label_boxes(spec, 640)) for name in pair}
    assert {"IESCO", "GEPCO", "LESCO"} <= crowded


def test_map_labels_of_zones_at_one_spot_go_different_ways() -> None:
    zones = tuple(Zone(z, z, "r", lat=30.0, lon=70.0 + 0.01 * i) for i, z in enumerate(("NORTHX", "NORTHY", "NZ")))
    spec = assert_self_contained(_one_chart(zone_map(zones, (), zone_colours(["NORTHX", "NORTHY", "NZ"]))))[0]
    positions = [trace(spec, z)["textposition"] for z in ("NORTHX", "NORTHY", "NZ")]
    assert len(set(positions)) == 3
    labels, _ = _label_boxes(spec, 640)
    assert [pair for pair in _collisions(labels, {}) if pair] == []


def _one_chart(fig: Any) -> str:
    report = HtmlReport("map")
    report.chart(fig)
    return report.render()


@pytest.mark.parametrize(
    ("share", "text"),
    [
        (0.9995, "99.95 %"),  # the risk run's P(miner leaves): never "100 %" unless it is
        (0.99999, "99.999 %"),
        (1 - 1e-9, "> 99.9999 %"),
        (1e-9, "< 0.0001 %"),
        (0.123, "12.3 %"),
        (1.0, "100 %"),
        (0.0, "0 %"),
        (1.25, "125.0 %"),  # above its bound: written plainly
    ],
)
def test_shares_reach_0_or_100_percent_only_when_exact(share: float, text: str) -> None:
    assert share_text(share) == text


def test_share_text_refuses_what_is_not_a_number() -> None:
    with pytest.raises(ValueError, match="not a share"):
        share_text(float("nan"))
    assert share_text(0.00123, 2) == "0.12 %" and share_text(0.000004, 2) == "0.0004 %"


def test_zone_names_stay_clear_of_site_bubbles_and_inside_the_map() -> None:
    folder = Path(__file__).parents[1] / "src/offtake/data/scenarios/pakistan-2025"
    s = scenario_mod.load(folder)
    candidates = pd.read_csv(folder / "sites-illustrative.csv").set_index("site_id")
    sites = pd.DataFrame({"zone": candidates["zone"], "mw": candidates["requested_mw"].astype(float)})
    spec = assert_self_contained(_one_chart(zone_map(s.zones, s.corridors, zone_colours(s.zone_ids), sites=sites)))[0]
    labels, _ = _label_boxes(spec, 640)
    zones = {z.id: (float(z.lon), float(z.lat)) for z in s.zones if z.lon is not None and z.lat is not None}
    to_px = map_pixels(zones, 640)
    bubbles: list[Box] = []
    for t in spec["data"]:
        if str(t.get("name", "")).endswith(" sites"):
            for x, y, size in zip(t["x"], t["y"], t["marker"]["size"], strict=True):
                u, v = to_px(float(x), float(y))
                bubbles.append((u - size / 2, v - size / 2, u + size / 2, v + size / 2))
    assert len(bubbles) == len(sites)
    left, right = (to_px(float(lon), 0.0)[0] for lon in spec["layout"]["xaxis"]["range"])
    covered = sum(overlap(labels[zone], b) for zone in zones for b in bubbles)
    above = sum(overlap(label_box(*to_px(*zones[z]), "top center", z, 12, 14), b) for z in zones for b in bubbles)
    assert covered <= 0.1 * above  # names drawn above their points lay under the bubbles
    assert sum(any(overlap(labels[z], b) > 0 for b in bubbles) for z in zones) <= 1  # 20 sites: one may touch
    for zone in zones:
        assert left <= labels[zone][0] and labels[zone][2] <= right, zone
