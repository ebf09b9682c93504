"""The outlook's figures on the three-zone test network and a year derived from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_checks import assert_self_contained, trace

from offtake import scenario
from offtake.errors import InputError
from offtake.surplus import assess_surplus
from offtake.surplus.outlook import default_programme_mw, run_outlook, summarise, write_outlook


@pytest.fixture
def two_years(three_zone_copy: Path, tmp_path: Path) -> list[scenario.Scenario]:
    later = tmp_path / "three-zone-later"
    later.mkdir()
    (later / "scenario.toml").write_text(
        'name = "three-zone-later"\n[base]\nscenario = "../three-zone"\nyears_ahead = 2\n'
        "[demand]\nannual_growth = 0.05\n"
    )
    return [scenario.load(three_zone_copy), scenario.load(later)]


def test_more_demand_means_less_surplus(two_years: list[scenario.Scenario], tmp_path: Path) -> None:
    outlook = run_outlook(two_years, programme_mw=50.0)
    first, later = (y.summary.set_index("area").loc["national"].astype(float).to_dict() for y in outlook.years)
    assert later["demand_gwh"] == pytest.approx(first["demand_gwh"] * 1.05**2)
    assert later["mean_surplus_mw"] <= first["mean_surplus_mw"] + 1e-6
    paths = write_outlook(outlook, tmp_path / "out")
    assert set(paths) == {"by_hour", "summary", "programme", "report"}
    table = pd.read_csv(paths["programme"])
    assert list(table["scenario"]) == ["three-zone", "three-zone-later"]


def test_programme_figures_follow_their_definitions(two_years: list[scenario.Scenario]) -> None:
    s = two_years[0]
    surplus = assess_surplus(s)
    national = surplus.national_mw.to_numpy()
    p = float(np.quantile(national, 0.5))  # fits in about half the hours
    year = summarise(s, surplus, p)
    row = year.programme.iloc[0]
    assert row["share_of_hours_fits"] == pytest.approx((national >= p).mean())
    assert row["absorbed_gwh"] == pytest.approx(np.minimum(national, p).sum() / 1000.0)
    assert row["absorbed_gwh"] + row["curtailed_gwh"] == pytest.approx(p * len(national) / 1000.0)
    assert 0 < row["absorbed_share"] < 1
    before = year.summary.set_index("area").loc["national"]
    for rate in (0.0025, 0.01, 0.05):
        left = row[f"headroom_after_{rate * 100:g}pct_mw"]
        assert 0 <= left <= before[f"headroom_{rate * 100:g}pct_mw"] + 1e-6
    fits = year.by_hour.dropna(subset=["programme_fits_share"])
    assert set(fits["area"]) == {"national"} and fits["programme_fits_share"].between(0, 1).all()


def test_a_programme_that_always_fits_leaves_the_headroom_of_what_remains(two_years: list[scenario.Scenario]) -> None:
    s = two_years[0]
    surplus = assess_surplus(s)
    p = 0.5 * float(surplus.national_mw.min())
    assert p > 0
    year = summarise(s, surplus, p)
    row = year.programme.iloc[0]
    before = year.summary.set_index("area").loc["national"]
    assert row["share_of_hours_fits"] == 1.0 and row["absorbed_share"] == pytest.approx(1.0)
    national = surplus.national_mw.to_numpy()
    for rate in (0.0025, 0.005, 0.01, 0.05):
        key = f"{rate * 100:g}pct_mw"
        left = row[f"headroom_after_{key}"]
        assert 0 < left < before[f"headroom_{key}"]
        # Duke's definition on the margin left once the programme has taken p in every hour
        # (the week is 168 of 8,760 hours of a year, so the rate's denominator is 168 L)
        curtailed = np.maximum(0.0, left - (national - p)).sum()
        assert curtailed / (left * len(national)) == pytest.approx(rate, abs=1e-6)


def test_bad_outlook_input_is_refused(two_years: list[scenario.Scenario]) -> None:
    with pytest.raises(InputError, match="--programme-mw"):
        run_outlook(two_years, programme_mw=0.0)
    with pytest.raises(InputError, match="two or more different"):
        run_outlook([two_years[0], two_years[0]], programme_mw=10.0)


def test_default_programme_is_the_announced_one(tmp_path: Path) -> None:
    assert default_programme_mw() == 2000.0
    bad = tmp_path / "programme.toml"
    bad.write_text('programme_mw = { value = -1, source = "x" }\n')
    with pytest.raises(InputError, match="programme_mw"):
        default_programme_mw(bad)


def test_outlook_report_charts_carry_the_hourly_means(two_years: list[scenario.Scenario], tmp_path: Path) -> None:
    outlook = run_outlook(two_years, programme_mw=50.0)
    paths = write_outlook(outlook, tmp_path / "out")
    specs = assert_self_contained(Path(paths["report"]).read_text())
    national, _demand, zones = specs
    for year in outlook.years:
        nat = year.by_hour[year.by_hour["area"] == "national"]
        line = trace(national, year.scenario.name)
        assert line["x"] == nat["hour"].tolist()
        assert np.allclose(np.asarray(line["y"], dtype=float), nat["mean_surplus_mw"].to_numpy())
        zone = year.scenario.zone_ids[0]
        part = year.by_hour[year.by_hour["area"] == zone]
        zline = trace(zones, f"{zone} {year.scenario.name}")
        assert np.allclose(np.asarray(zline["y"], dtype=float), part["mean_surplus_mw"].to_numpy())
