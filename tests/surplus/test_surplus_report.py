"""The assessment report: its charts carry the numbers computed, in Pakistan time, with a map, offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from report_checks import assert_self_contained, trace

from offtake import scenario
from offtake.report import zone_colours
from offtake.surplus.report import build_report, duration_points, monthly_hourly_means
from offtake.surplus.study import NATIONAL, Assessment, run_assessment

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def assessment() -> Assessment:
    return run_assessment(scenario.load(DATA / "three-zone"), 80.0)


@pytest.fixture(scope="module")
def page(assessment: Assessment) -> str:
    return build_report(assessment).render()


def test_duration_points_are_the_sorted_values() -> None:
    values = np.array([5.0, 1.0, 3.0, 2.0, 4.0])
    share, mw = duration_points(values)
    assert share[0] == 0.0 and share[-1] == 100.0 and len(share) == 201
    assert mw[0] == 5.0 and mw[-1] == 1.0
    assert mw[share.index(20.0)] == 5.0 and mw[share.index(40.0)] == 4.0 and mw[share.index(60.0)] == 3.0
    assert (np.diff(mw) <= 0).all()


def test_report_is_self_contained_and_charts_equal_the_assessment(assessment: Assessment, page: str) -> None:
    specs = assert_self_contained(page)
    assert "<img" not in page  # no static picture left
    assert len(specs) == 6  # map, heat map, duration, tariff, tornado, mix
    duration = next(s for s in specs if s["layout"]["xaxis"]["title"]["text"] == "share of hours [%]")
    _, national = duration_points(assessment.surplus.national_mw.to_numpy())
    np.testing.assert_allclose(trace(duration, f"{NATIONAL} (joint)")["y"], national)
    for zone in assessment.scenario.zone_ids:
        _, values = duration_points(assessment.surplus.zone_mw[zone].to_numpy())
        np.testing.assert_allclose(trace(duration, zone)["y"], values)
    heat = next(s for s in specs if s["data"][0]["type"] == "heatmap")
    grid = monthly_hourly_means(assessment.surplus.national_mw, "Asia/Karachi")
    z = np.array([[np.nan if v is None else v for v in row] for row in trace(heat, NATIONAL)["z"]], dtype=float)
    np.testing.assert_allclose(z, grid.to_numpy(), equal_nan=True)
    assert [t["name"] for t in heat["data"]] == [NATIONAL, *assessment.scenario.zone_ids]


def test_the_heat_map_is_in_pakistan_time(assessment: Assessment) -> None:
    nat = assessment.surplus.national_mw
    grid = monthly_hourly_means(nat, "Asia/Karachi")
    first = nat.index[0].tz_convert("Asia/Karachi")
    assert grid.loc[first.month, first.hour] == pytest.approx(
        nat[
            [
                t
                for t in nat.index
                if t.tz_convert("Asia/Karachi").hour == first.hour and t.tz_convert("Asia/Karachi").month == first.month
            ]
        ].mean()
    )


def test_every_chart_and_the_map_use_one_colour_per_zone(assessment: Assessment, page: str) -> None:
    colours = zone_colours(assessment.scenario.zone_ids)
    specs = assert_self_contained(page)
    duration = next(s for s in specs if s["layout"]["xaxis"]["title"]["text"] == "share of hours [%]")
    the_map = next(s for s in specs if s["layout"]["xaxis"]["title"]["text"] == "longitude [°E]")
    for zone in assessment.scenario.zone_ids:
        assert trace(duration, zone)["line"]["color"] == colours[zone]
        assert trace(the_map, zone)["marker"]["color"] == colours[zone]
    names = {c.id for c in assessment.scenario.corridors}
    hovers = " ".join(t["hovertemplate"] for t in the_map["data"] if t.get("legendgroup") == "corridors")
    assert all(name in hovers for name in names)


def test_rates_money_and_tables(page: str) -> None:
    assert "<td>0.25</td>" in page  # the 0.25 % curtailment rate, not 0.2
    assert " MW at 0.25 %, " in page and " MW at 0.2 %" not in page
    assert " M USD (" in page and " bn PKR) at 280 PKR/USD" in page
    assert page.count('<div class="table-wrap">') >= 4
