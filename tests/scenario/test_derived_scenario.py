"""Scenarios years ahead: pakistan-2030 derived from pakistan-2025, and the refusals of a bad derivation."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from offtake import scenario
from offtake.errors import InputError

BUNDLED = scenario.resolve_path("pakistan-2025").parent


@pytest.fixture(scope="module")
def base() -> scenario.Scenario:
    return scenario.load("pakistan-2025")


@pytest.fixture(scope="module")
def outlook() -> scenario.Scenario:
    return scenario.load("pakistan-2030")


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """Writable copies of both scenarios, the derived one naming the copied base by a relative path."""
    base_dir = shutil.copytree(BUNDLED / "pakistan-2025", tmp_path / "pakistan-2025")
    derived = shutil.copytree(BUNDLED / "pakistan-2030", tmp_path / "pakistan-2030")
    toml = derived / "scenario.toml"
    toml.write_text(toml.read_text().replace('scenario = "pakistan-2025"', 'scenario = "../pakistan-2025"'))
    return Path(base_dir), Path(derived)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_period_is_the_base_shifted_five_years(base: scenario.Scenario, outlook: scenario.Scenario) -> None:
    assert outlook.name == "pakistan-2030" and len(outlook.index) == len(base.index) == 8760
    assert outlook.index[0] == pd.Timestamp("2029-06-30T19:00Z")
    assert (outlook.index - base.index).days.unique().tolist() == [1826]
    assert scenario.load_period("pakistan-2030")[0].equals(outlook.index)


def test_demand_is_grown_base_less_rooftop_solar(base: scenario.Scenario, outlook: scenario.Scenario) -> None:
    folder = scenario.resolve_path("pakistan-2030")
    config = tomllib.loads((folder / "scenario.toml").read_text())
    profiles = pd.read_csv(folder / "profiles.csv")
    growth = (1 + config["demand"]["annual_growth"]) ** config["base"]["years_ahead"]
    expected = base.demand_mw.to_numpy() * growth
    for entry in config["rooftop"]:
        expected[:, base.zone_ids.index(entry["zone"])] -= entry["added_mw"] * profiles[entry["profile"]].to_numpy()
    np.testing.assert_allclose(outlook.demand_mw.to_numpy(), np.maximum(expected, 0.0), rtol=1e-9)
    assert (outlook.demand_mw.to_numpy() >= 0).all()
    # the midday dip deepens: noon falls relative to the evening
    local = outlook.demand_mw.sum(axis=1).tz_convert("Asia/Karachi")
    local_base = base.demand_mw.sum(axis=1).tz_convert("Asia/Karachi")
    hour = pd.DatetimeIndex(local.index).hour
    ratio = local[hour == 12].mean() / local[hour == 21].mean()
    ratio_base = local_base[hour == 12].mean() / local_base[hour == 21].mean()
    assert ratio < ratio_base - 0.1


def test_plants_added_retired_and_coming_into_service(base: scenario.Scenario, outlook: scenario.Scenario) -> None:
    added = set(outlook.plants.index) - set(base.plants.index)
    assert added == {
        "Mohmand Dam",
        "Utility solar (IGCEP 2025-35 candidates; MEPCO)",
        "Wind (IGCEP 2025-35 candidates; Jhimpir-Gharo)",
    }
    assert set(base.plants.index) <= set(outlook.plants.index)
    assert outlook.plants.loc["Wind (IGCEP 2025-35 candidates; Jhimpir-Gharo)", "variable"]
    for retired in ("Furnace oil (LESCO)", "Furnace oil (FESCO)"):
        assert base.availability_pu[retired].max() > 0 and outlook.availability_pu[retired].max() == 0.0
    # base plants whose in-service date falls between the years run in the derived year
    for name in ("Dasu Stage-I (under construction)", "Tarbela 5th Extension (under construction)"):
        assert base.availability_pu[name].max() == 0.0 and outlook.availability_pu[name].min() > 0.0
    # base plants keep the base's profile values, hour for hour
    np.testing.assert_array_equal(
        outlook.availability_pu["Quaid-e-Azam Solar Park"].to_numpy(),
        base.availability_pu["Quaid-e-Azam Solar Park"].to_numpy(),
    )
    assert list(outlook.availability_pu.columns) == list(outlook.plants.index)


def test_corridor_and_inherited_settings(base: scenario.Scenario, outlook: scenario.Scenario) -> None:
    limits = {c.id: c for c in outlook.corridors}
    assert limits["ke-interconnection"].forward_mw == 2000 and limits["ke-interconnection"].reverse_mw == 500
    assert [c.id for c in outlook.corridors] == [c.id for c in base.corridors]
    assert outlook.reserve == base.reserve and outlook.zones == base.zones
    assert outlook.default_tariff_usd_per_mwh == base.default_tariff_usd_per_mwh
    assert "outlook" in outlook.sources and set(base.sources) <= set(outlook.sources)
    zones, corridors = scenario.load_layout("pakistan-2030")
    assert zones == base.zones and {c.id: c.forward_mw for c in corridors}["ke-interconnection"] == 2000


def test_a_change_to_the_base_carries_over(pair: tuple[Path, Path]) -> None:
    base_dir, derived = pair
    _edit(
        base_dir / "plants.csv",
        "Sahiwal Coal (Huaneng Shandong Ruyi),coal_imported,MEPCO,1320.0,51.79",
        "Sahiwal Coal (Huaneng Shandong Ruyi),coal_imported,MEPCO,1000.0,55.00",
    )
    _edit(base_dir / "scenario.toml", "default_tariff_usd_per_mwh = 82.07", "default_tariff_usd_per_mwh = 80.0")
    # a column the base gains (e.g. a fuel contract) does not break the derived scenario
    text = (base_dir / "plants.csv").read_text().splitlines()
    rows = [text[0] + ",min_offtake_pu"] + [line + ",0" for line in text[1:]]
    (base_dir / "plants.csv").write_text("\n".join(rows) + "\n")
    s = scenario.load(derived)
    assert s.plants.loc["Sahiwal Coal (Huaneng Shandong Ruyi)", "capacity_mw"] == 1000.0
    assert s.plants.loc["Sahiwal Coal (Huaneng Shandong Ruyi)", "marginal_cost_usd_per_mwh"] == 55.0
    assert s.default_tariff_usd_per_mwh == 80.0


def test_a_derived_scenario_can_derive_from_a_derived_one(pair: tuple[Path, Path], tmp_path: Path) -> None:
    _, derived = pair
    further = tmp_path / "pakistan-2035"
    further.mkdir()
    (further / "scenario.toml").write_text(
        'name = "pakistan-2035"\n[base]\nscenario = "../pakistan-2030"\nyears_ahead = 5\n'
        "[demand]\nannual_growth = 0.0\n"
    )
    s, mid = scenario.load(further), scenario.load(derived)
    assert s.index[0] == pd.Timestamp("2034-06-30T19:00Z")
    np.testing.assert_allclose(s.demand_mw.to_numpy(), mid.demand_mw.to_numpy())


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('scenario = "../pakistan-2025"', 'scenario = "../nowhere"', "base.scenario.*no base scenario"),
        ("years_ahead = 5", "years_ahead = 3", "base.years_ahead.*29 February"),
        ("years_ahead = 5", "years_ahead = 0", "base.years_ahead.*between 1 and"),
        ("annual_growth = 0.025", "annual_growth = 2.0", "demand.annual_growth"),
        ('zone = "LESCO"', 'zone = "ATLANTIS"', r"rooftop\[3\].zone.*unknown zone 'ATLANTIS'"),
        ('profile = "solar_rooftop_KE"', 'profile = "solar_moon"', r"rooftop\[9\].profile.*no profile 'solar_moon'"),
        ('plant = "Furnace oil (LESCO)"', 'plant = "Furnace oil (MARS)"', r"retire\[0\].plant.*no plant"),
        ('from = "2027-07-01"', 'from = "soon"', r"retire\[0\].from.*not a date"),
        ('id = "ke-interconnection"', 'id = "ke-teleport"', r"corridor_limits\[0\].id"),
        ("forward_mw = 2000", "forward_mw = -1", r"corridor_limits\[0\].forward_mw"),
        ("[demand]", "[period]\nstart = 1\n[demand]", "field 'period': not read in a derived scenario"),
    ],
)
def test_bad_derivation_names_the_field(pair: tuple[Path, Path], old: str, new: str, message: str) -> None:
    _, derived = pair
    _edit(derived / "scenario.toml", old, new)
    with pytest.raises(InputError, match=message) as info:
        scenario.load(derived)
    assert "scenario.toml" in str(info.value)


def test_added_plant_clashing_with_the_base_names_its_line(pair: tuple[Path, Path]) -> None:
    _, derived = pair
    with (derived / "plants-added.csv").open("a") as f:
        f.write("Mangla,hydro,IESCO,100.0,0.0,true,hydro,\n")
    with pytest.raises(InputError, match=r"plants-added.csv:5, field .name.: plant 'Mangla' is already in the base"):
        scenario.load(derived)


def test_added_plant_with_unknown_profile_is_refused(pair: tuple[Path, Path]) -> None:
    _, derived = pair
    _edit(derived / "plants-added.csv", "solar_utility_MEPCO", "solar_utility_MOON")
    with pytest.raises(InputError, match=r"plants-added\.csv:3, field .availability.*solar_utility_MOON"):
        scenario.load(derived)


def test_own_profiles_must_cover_the_derived_period(pair: tuple[Path, Path]) -> None:
    _, derived = pair
    lines = (derived / "profiles.csv").read_text().splitlines()
    (derived / "profiles.csv").write_text("\n".join(lines[:-24]) + "\n")
    with pytest.raises(InputError, match=r"profiles\.csv.*8736 intervals"):
        scenario.load(derived)


def test_a_circle_of_bases_is_refused(tmp_path: Path) -> None:
    for name, other in (("a", "b"), ("b", "a")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "scenario.toml").write_text(
            f'name = "{name}"\n[base]\nscenario = "../{other}"\nyears_ahead = 1\n'
        )
    with pytest.raises(InputError, match="comes back to itself"):
        scenario.load(tmp_path / "a")
    with pytest.raises(InputError, match="comes back to itself"):
        scenario.load_period(tmp_path / "a")
