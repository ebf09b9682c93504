"""The plan report: charts carry the plan's numbers, zones keep their colours, a map of sites, offline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from planning_fixtures import DATA, SITES
from report_checks import assert_self_contained, trace

from offtake import scenario
from offtake.planning import PlanOptions, PlanResult, plan, read_sites
from offtake.planning.report import LEGEND_KEY_COLOUR, daily_served, render_report
from offtake.report import local_times, zone_colours
from offtake.scenario import Scenario


@pytest.fixture(scope="module")
def case() -> tuple[Scenario, PlanResult]:
    s = scenario.load(DATA / "three-zone")
    return s, plan(s, read_sites(SITES, s.zone_ids), PlanOptions(cap_mw=400.0))


def _chart(specs: list[dict[str, Any]], x_title: str) -> dict[str, Any]:
    found = [s for s in specs if s["layout"]["xaxis"]["title"]["text"] == x_title]
    assert len(found) == 1, x_title
    return found[0]


def test_charts_carry_the_plan_in_the_zones_colours(case: tuple[Scenario, PlanResult]) -> None:
    s, result = case
    page = render_report(result, scenario=s)
    specs = assert_self_contained(page)
    assert "<img" not in page
    colours = zone_colours(s.zone_ids)
    bars = _chart(specs, "allocated [MW]")
    zones = result.zones.drop(index="national")
    for name, col in (("firm", "firm_mw"), ("interruptible", "interruptible_mw")):
        shown = [t for t in bars["data"] if t.get("name") == name and t.get("showlegend") is False]
        assert len(shown) == 1
        assert shown[0]["y"] == list(zones.index)
        np.testing.assert_allclose(shown[0]["x"], zones[col].to_numpy())
        assert shown[0]["marker"]["color"] == [colours[z] for z in zones.index]
    legend_keys_are_grey_not_a_zone(bars, colours)
    served = _chart(specs, "Pakistan time")
    line = trace(served, "served")
    total = result.served_mw.sum(axis=1)
    assert line["x"] == local_times(total.index)
    np.testing.assert_allclose(line["y"], total.to_numpy())


def legend_keys_are_grey_not_a_zone(bars: dict[str, Any], colours: dict[str, str]) -> None:
    """The legend shows one key per kind, grey (a bar trace's swatch would take its first zone's colour)."""
    keys = [t for t in bars["data"] if t.get("showlegend") is not False]
    assert [t["name"] for t in keys] == ["firm", "interruptible"]
    for key in keys:
        assert key["marker"]["color"] == LEGEND_KEY_COLOUR and LEGEND_KEY_COLOUR not in colours.values()
        assert key["legendgroup"] == key["name"]  # clicking the key hides that kind's bars
        assert [v for v in key["x"] if v is not None] == []
    assert [k["marker"]["pattern"]["shape"] for k in keys] == ["", "/"]


def test_the_map_shows_each_allocated_site_at_its_zone(case: tuple[Scenario, PlanResult]) -> None:
    s, result = case
    the_map = _chart(assert_self_contained(render_report(result, scenario=s)), "longitude [°E]")
    alloc = result.allocation[result.allocation["allocated_mw"] > 0]
    assert len(alloc) > 0
    drawn: dict[str, float] = {}
    for zone in s.zone_ids:
        assert trace(the_map, zone)["marker"]["color"] == zone_colours(s.zone_ids)[zone]
        sites = [t for t in the_map["data"] if t.get("name") == f"{zone} sites"]
        for t in sites:
            drawn.update({site: mw for site, mw in t["customdata"]})
    assert drawn == pytest.approx(alloc["allocated_mw"].to_dict())
    assert render_report(result).count("longitude [°E]") == 0  # no scenario, no map


def test_money_in_m_usd_and_bn_pkr_with_the_rate(case: tuple[Scenario, PlanResult]) -> None:
    s, result = case
    page = render_report(result, scenario=s)
    rate = s.exchange_rate_pkr_per_usd
    revenue = result.national["revenue_usd"]
    assert f"{revenue / 1e6:,.2f} M USD ({revenue * rate / 1e9:,.2f} bn PKR)" in page
    assert f"{rate:g} PKR/USD" in page and "revenue_<wbr>bn_<wbr>pkr" in page and "revenue_<wbr>musd" in page
    assert '<div class="table-wrap">' in page


def test_daily_served_groups_by_pakistan_day(case: tuple[Scenario, PlanResult]) -> None:
    _, result = case
    daily = daily_served(result)
    total = result.served_mw.sum(axis=1)
    when = pd.DatetimeIndex(total.index).tz_convert("Asia/Karachi")
    local = pd.Series(total.to_numpy(), index=when)
    first_day = when[0].normalize()
    assert daily.index[0] == first_day
    same_day = local[when.normalize() == first_day]
    assert daily["mean"].iloc[0] == pytest.approx(same_day.mean())
    assert daily["min"].iloc[0] == pytest.approx(same_day.min())
    assert len(daily) == len(set(when.normalize()))
