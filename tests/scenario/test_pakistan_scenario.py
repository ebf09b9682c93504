"""The bundled pakistan-2025 scenario holds to the published facts it is built from."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from offtake import scenario

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "pakistan_2025"
FACTS = tomllib.loads((TOOLS / "facts.toml").read_text())


@pytest.fixture(scope="module")
def pk() -> scenario.Scenario:
    return scenario.load("pakistan-2025")


def national(pk: scenario.Scenario) -> pd.Series:
    return pk.demand_mw.sum(axis=1)


def stamps(series: pd.Series) -> pd.DatetimeIndex:
    """The time stamps a series of the scenario is indexed by."""
    index = series.index
    assert isinstance(index, pd.DatetimeIndex)
    return index


def test_fiscal_year_hourly(pk: scenario.Scenario) -> None:
    assert len(pk.index) == 8760
    assert pk.index[0] == pd.Timestamp("2024-07-01T00:00:00+05:00")
    assert pk.interval_end[-1] == pd.Timestamp("2025-07-01T00:00:00+05:00")
    assert pk.display_timezone == "Asia/Karachi"


def test_annual_energy_within_one_percent(pk: scenario.Scenario) -> None:
    energy_gwh = national(pk).sum() * pk.duration_h / 1000
    published = FACTS["demand"]["annual_gwh"]
    assert published == 127159
    assert abs(energy_gwh / published - 1) < 0.01


def test_every_month_within_three_percent(pk: scenario.Scenario) -> None:
    local = national(pk).tz_convert("Asia/Karachi")
    monthly_gwh = local.groupby([stamps(local).year, stamps(local).month]).sum() / 1000
    published = FACTS["demand"]["monthly_gwh"]
    assert len(monthly_gwh) == 12 == len(published)
    for got, want in zip(monthly_gwh.to_numpy(), published, strict=True):
        assert abs(got / want - 1) < 0.03, (got, want)


def test_summer_peak_and_winter_low_in_published_ranges(pk: scenario.Scenario) -> None:
    local = national(pk).tz_convert("Asia/Karachi")
    month = stamps(local).month
    summer_peak = local[(month >= 6) & (month <= 8)].max()
    winter_low = local[(month == 12) | (month <= 2)].min()
    lo, hi = FACTS["demand"]["summer_peak_range_mw"]
    assert lo <= summer_peak <= hi
    lo, hi = FACTS["demand"]["winter_low_range_mw"]
    assert lo <= winter_low <= hi
    assert stamps(local)[int(local.argmax())].month in (6, 7, 8)


def test_daily_shape(pk: scenario.Scenario) -> None:
    local = national(pk).tz_convert("Asia/Karachi")
    july = local[stamps(local).month == 7]
    by_hour = july.groupby(stamps(july).hour).mean()
    # summer: solar trough at midday, peak late evening / around midnight
    assert by_hour.idxmin() in range(9, 16)
    assert by_hour.idxmax() in (21, 22, 23, 0, 1)
    january = local[stamps(local).month == 1]
    by_hour = january.groupby(stamps(january).hour).mean()
    assert by_hour.idxmax() in range(17, 22)


def test_zone_shares(pk: scenario.Scenario) -> None:
    shares = pk.demand_mw.sum() / pk.demand_mw.to_numpy().sum()
    assert abs(shares["KE"] - FACTS["zones"]["ke_share"]) < 1e-3
    assert shares["LESCO"] == shares.drop("KE").max()
    assert set(pk.zone_ids) == {e["id"] for e in FACTS["zones"]["list"]}


def test_every_reference_plant_is_in(pk: scenario.Scenario) -> None:
    reference = pd.read_csv(TOOLS / "pakistan-plants.csv")
    plants = reference[reference["technology"] != "hvdc_terminal"]
    for name, capacity_mw in zip(plants["name"], plants["capacity_mw"], strict=True):
        assert name in pk.plants.index
        assert pk.plants.loc[name, "capacity_mw"] == capacity_mw
    # the HVDC terminals became the corridor
    hvdc = next(c for c in pk.corridors if c.id == "hvdc-matiari-lahore")
    assert hvdc.forward_mw == reference.loc[reference["technology"] == "hvdc_terminal", "capacity_mw"].iloc[0]


def test_hydro_is_seasonal_and_future_plants_are_off(pk: scenario.Scenario) -> None:
    hydro = pk.available_mw.loc[:, pk.plants["technology"] == "hydro"].sum(axis=1).tz_convert("Asia/Karachi")
    monthly = hydro.groupby(stamps(hydro).month).mean()
    assert monthly[8] > 5 * monthly[1]
    assert (pk.availability_pu["Dasu Stage-I (under construction)"] == 0).all()
    hydro_gwh = hydro.sum() / 1000
    published_share = FACTS["profiles"]["hydro_share_of_generation"]
    assert abs(hydro_gwh / (FACTS["demand"]["annual_gwh"] * published_share) - 1) < 0.01


def test_marginal_costs_follow_fuel_costs(pk: scenario.Scenario) -> None:
    rate = FACTS["money"]["exchange_rate_pkr_per_usd"]
    for tech, entry in FACTS["technologies"].items():
        costs = pk.plants.loc[pk.plants["technology"] == tech, "marginal_cost_usd_per_mwh"]
        assert len(costs) > 0
        assert np.allclose(costs, entry["cost_pkr_per_kwh"] * 1000 / rate, atol=0.01)
    assert abs(pk.default_tariff_usd_per_mwh - 22.98 * 1000 / rate) < 0.01


def test_sources_cover_every_number() -> None:
    sources = (ROOT / "src/offtake/data/scenarios/pakistan-2025/SOURCES.md").read_text()
    for key in ("127,159", "Topline", "estimate", "hvdc-matiari-lahore", "K-Electric"):
        assert key in sources
    aggregated = pd.read_csv(TOOLS / "aggregated-plants.csv")
    assert aggregated["source"].str.len().min() > 10
    for corridor in FACTS["corridors"]:
        assert len(corridor["description"]) > 10


def test_build_is_reproducible(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(TOOLS / "build.py"), "--out", str(tmp_path)], check=True, capture_output=True)
    bundled = ROOT / "src/offtake/data/scenarios/pakistan-2025"
    for name in ("scenario.toml", "plants.csv", "demand.csv", "profiles.csv", "SOURCES.md"):
        assert (tmp_path / name).read_bytes() == (bundled / name).read_bytes(), name


def test_every_zone_has_a_map_position_inside_pakistan() -> None:
    zones, _ = scenario.load_layout("pakistan-2025")
    for z in zones:
        assert z.lat is not None and z.lon is not None, z.id
        assert 23.5 < z.lat < 37.1 and 60.8 < z.lon < 77.9, z.id  # Pakistan's extent [degrees]
    lat = {z.id: z.lat or 0.0 for z in zones}
    lon = {z.id: z.lon or 0.0 for z in zones}
    assert lat["PESCO"] > lat["LESCO"] > lat["KE"]  # north to south
    assert lon["QESCO"] < lon["MEPCO"] < lon["LESCO"]  # west to east
