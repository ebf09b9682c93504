"""Solar and wind profiles from physics, checked against the published capacity factors of Pakistan's plants."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from offtake.errors import InputError
from offtake.renewables import solar, wind
from offtake.renewables._data import data_path

#: Fiscal year 2024-25 in UTC, hourly (the bundled base year).
FY25 = pd.date_range("2024-06-30T19:00Z", "2025-06-30T19:00Z", freq="h", inclusive="left")
DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


@pytest.fixture(scope="module")
def resource() -> solar.SolarResource:
    return solar.load_resource()


@pytest.fixture(scope="module")
def qasp(resource: solar.SolarResource) -> pd.Series:
    return solar.solar_profile(
        FY25, resource.lat, resource.lon, resource.systems["utility"], resource, altitude_m=resource.altitude_m
    )


def test_monthly_irradiation_sums_to_the_sourced_annual_figure(resource: solar.SolarResource) -> None:
    annual = float(np.dot(resource.monthly_ghi_kwh_per_m2_day, DAYS_IN_MONTH))
    assert annual == pytest.approx(resource.annual_ghi_kwh_per_m2, rel=0.01)


def test_quaid_e_azam_solar_park_capacity_factor_within_published_bounds(
    qasp: pd.Series, resource: solar.SolarResource
) -> None:
    v = resource.validation
    low, high = v["qasp_target_cf"] - v["margin"], v["qasp_reported_cf"] + v["margin"]
    assert low <= float(qasp.mean()) <= high, (low, float(qasp.mean()), high)


def test_solar_is_zero_at_night_and_peaks_near_local_noon(qasp: pd.Series) -> None:
    local = qasp.tz_convert("Asia/Karachi")
    assert float(qasp.min()) == 0.0 and float(qasp.max()) <= 1.0
    by_hour = local.groupby(pd.DatetimeIndex(local.index).hour).mean()
    assert by_hour.loc[[0, 1, 2, 3, 22, 23]].max() == 0.0
    assert by_hour.to_numpy().argmax() in (11, 12, 13)
    # summer days are longer than winter days
    months = pd.DatetimeIndex(local.index).month
    hours_lit = (local > 0).groupby(months).mean()
    assert hours_lit.loc[6] > hours_lit.loc[12] + 0.1


def test_clear_sky_bounds_the_typical_year(resource: solar.SolarResource) -> None:
    factors = solar.clearness_factors(FY25, resource, "Asia/Karachi")
    assert factors.shape == (12,)
    assert ((factors > 0.5) & (factors <= 1.0)).all()
    # the monsoon (July-August) is the cloudiest time of the year at Bahawalpur
    assert factors[6:8].mean() < factors[[2, 3, 9, 10]].mean()


def test_rooftop_and_utility_differ_by_their_systems(resource: solar.SolarResource) -> None:
    week = FY25[: 24 * 7]
    k = solar.clearness_factors(FY25, resource, "Asia/Karachi")
    roof = solar.solar_profile(week, 31.55, 74.34, resource.systems["rooftop"], resource, factors=k)
    util = solar.solar_profile(week, 31.55, 74.34, resource.systems["utility"], resource, factors=k)
    assert not np.allclose(roof.to_numpy(), util.to_numpy())
    assert 0 < float(roof.mean()) < 0.4


def test_jhimpir_wind_table_averages_the_sourced_mean() -> None:
    r = wind.load_resource()
    assert float(np.mean(r.monthly_speed_m_per_s)) == pytest.approx(r.annual_mean_speed_m_per_s, rel=0.01)


def test_jhimpir_wind_capacity_factor_within_published_bounds() -> None:
    r = wind.load_resource()
    profile = wind.wind_profile(FY25, r)
    published = [r.validation["nepra_2011_cf"], r.validation["nepra_2013_cf"]]
    low, high = min(published) - r.validation["margin"], max(published) + 2 * r.validation["margin"]
    cf = float(profile.mean())
    assert low <= cf <= high, (low, cf, high)
    months = pd.DatetimeIndex(profile.index).tz_convert("Asia/Karachi").month
    monthly = profile.groupby(months).mean()
    assert monthly.loc[[6, 7]].min() > 2 * monthly.loc[[11, 12]].max()  # the monsoon drives the corridor
    assert 0.0 <= float(profile.min()) and float(profile.max()) <= 1.0


def test_wind_follows_the_power_curve_not_a_constant() -> None:
    r = wind.load_resource()
    speeds, curve = wind.power_curve_pu(r.turbine_type, r.hub_height_m)
    assert curve.max() == pytest.approx(1.0, abs=0.02) and np.interp(2.0, speeds, curve, left=0.0) == 0.0
    calm = wind.WindResource(**{**r.__dict__, "monthly_speed_m_per_s": tuple([3.0] * 12)})
    strong = wind.WindResource(**{**r.__dict__, "monthly_speed_m_per_s": tuple([12.0] * 12)})
    day = FY25[:24]
    assert float(wind.wind_profile(day, calm).mean()) < 0.05
    assert float(wind.wind_profile(day, strong).mean()) > 0.6


def test_unknown_turbine_is_refused() -> None:
    with pytest.raises(InputError, match="no turbine 'X-1/1'"):
        wind.power_curve_pu("X-1/1", 80.0)


def test_naive_index_and_bad_position_are_refused(resource: solar.SolarResource) -> None:
    naive = pd.date_range("2025-01-01", periods=24, freq="h")
    with pytest.raises(InputError, match="aware"):
        solar.solar_profile(naive, 30.0, 70.0, resource.systems["utility"], resource)
    with pytest.raises(InputError, match="aware"):
        wind.wind_profile(naive)
    with pytest.raises(InputError, match="position out of range"):
        solar.solar_profile(FY25[:24], 95.0, 70.0, resource.systems["utility"], resource)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (
            "ghi_kwh_per_m2_day = { value = [3.6, 4.5,",
            "ghi_kwh_per_m2_day = { value = [4.5,",
            "monthly.ghi_kwh_per_m2_day",
        ),
        ("losses = { value = 0.14,", "losses = { value = 1.5,", "systems.utility.losses"),
        ("annual_ghi_kwh_per_m2 = { value = 1920,", 'annual_ghi_kwh_per_m2 = { value = "much",', "annual_ghi"),
    ],
)
def test_bad_solar_table_names_the_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    text = data_path("solar.toml").read_text()
    assert old in text
    path = tmp_path / "solar.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(InputError, match=field) as info:
        solar.load_resource(path)
    assert str(path) in str(info.value)


def test_bad_wind_table_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "wind.toml"
    shutil.copy(data_path("wind.toml"), path)
    path.write_text(path.read_text().replace("weibull_k = { value = 2.5,", "weibull_k = { value = 0.2,"))
    with pytest.raises(InputError, match=r"turbine\.weibull_k"):
        wind.load_resource(path)
    path.write_text("[site\n")
    with pytest.raises(InputError, match="invalid TOML"):
        wind.load_resource(path)
