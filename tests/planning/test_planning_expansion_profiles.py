"""Expansion candidates with physics profiles: pvlib at each zone's position, the corridor's wind."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from planning_fixtures import DATA, SITES, physics_data, reserve_feasible_three_zone

from offtake import scenario
from offtake.errors import InputError
from offtake.planning import PlanOptions, plan, read_sites
from offtake.planning.expansion import expansion_case, load_expansion
from offtake.planning.expansion_plan import sample_days
from offtake.renewables import solar, wind
from offtake.scenario import Scenario

EXPANSION = DATA / "planning" / "three-zone-expansion.toml"


@pytest.fixture(scope="module")
def three_zone(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return scenario.load(reserve_feasible_three_zone(tmp_path_factory.mktemp("physics")))


def test_each_zone_gets_pvlib_at_its_own_position(three_zone: Scenario, tmp_path: Path) -> None:
    s = three_zone
    sites = read_sites(SITES, s.zone_ids)
    case = expansion_case(s, sites, load_expansion(physics_data(tmp_path)))
    resource = solar.load_resource()
    gens = case.generators
    solar_ids = [c for c in gens.index if gens.at[c, "technology"] == "solar_pv"]
    assert len(solar_ids) >= 2  # the point is that zones differ
    for cid in solar_ids:
        zone = next(z for z in s.zones if z.id == gens.at[cid, "zone"])
        assert zone.lat is not None and zone.lon is not None
        expected = solar.solar_profile(
            s.index, zone.lat, zone.lon, resource.systems["utility"], resource, local_timezone=s.display_timezone
        ).to_numpy()
        got = case.profiles[:, gens.index.get_loc(cid)]
        np.testing.assert_allclose(got, expected, atol=1e-12)
        assert f"{zone.lat:.2f} N {zone.lon:.2f} E" in str(gens.at[cid, "profile_used"])
    first, second = (case.profiles[:, gens.index.get_loc(c)] for c in solar_ids[:2])
    assert not np.allclose(first, second)
    wind_id = next(c for c in gens.index if gens.at[c, "technology"] == "wind")
    np.testing.assert_allclose(
        case.profiles[:, gens.index.get_loc(wind_id)],
        wind.wind_profile(s.index, local_timezone=s.display_timezone).to_numpy(),
        atol=1e-12,
    )
    assert "windpowerlib" in str(gens.at[wind_id, "profile_used"])


def test_the_build_table_says_which_profile_was_used(three_zone: Scenario, tmp_path: Path) -> None:
    s = three_zone
    sites = read_sites(SITES, s.zone_ids)
    case = expansion_case(s, sites, load_expansion(physics_data(tmp_path)))
    result = plan(s, sites, PlanOptions(cap_mw=600.0, method="simplex"), expansion=case)
    assert result.expansion is not None
    build = result.expansion.build
    generators = build[build["technology"] != "battery"]
    assert generators["profile"].str.startswith("physics: ").all()
    # a scenario column is named as such
    plain = expansion_case(s, sites, load_expansion(EXPANSION))
    assert set(plain.generators["profile_used"]) == {
        "scenario: profiles.csv column solar_south",
        "scenario: profiles.csv column wind_south",
    }


def test_sample_days_get_the_whole_periods_values(three_zone: Scenario, tmp_path: Path) -> None:
    s = three_zone
    sites = read_sites(SITES, s.zone_ids)
    data = load_expansion(physics_data(tmp_path))
    whole = expansion_case(s, sites, data)
    short = sample_days(s, 3)
    part = expansion_case(short, sites, data)
    rows = s.index.get_indexer(short.index)
    np.testing.assert_allclose(part.profiles, whole.profiles[rows], atol=1e-12)


def test_profile_by_zone_overrides_physics(three_zone: Scenario, tmp_path: Path) -> None:
    s = three_zone
    sites = read_sites(SITES, s.zone_ids)
    path = physics_data(tmp_path, solar_line='physics = "utility"\nprofile_by_zone = { north = "solar_south" }')
    case = expansion_case(s, sites, load_expansion(path))
    assert case.generators.at["north solar_pv", "profile_used"] == "scenario: profiles.csv column solar_south"
    assert str(case.generators.at["south solar_pv", "profile_used"]).startswith("physics: pvlib")


@pytest.mark.parametrize(
    ("solar_line", "wind_line", "message", "field"),
    [
        ('physics = "utility"\nprofile = "solar_south"', 'physics = "jhimpir"', "exactly one", "solar_pv.profile"),
        ('physics = "floating"', 'physics = "jhimpir"', "unknown PV system 'floating'", "solar_pv.physics"),
        ('physics = "utility"', 'physics = "gharo-offshore"', "unknown wind corridor", "wind.physics"),
        ('physics = ""', 'physics = "jhimpir"', "non-empty", "solar_pv.physics"),
        ("physics = 3", 'physics = "jhimpir"', "non-empty", "solar_pv.physics"),
    ],
)
def test_bad_physics_entries_are_named(
    three_zone: Scenario, tmp_path: Path, solar_line: str, wind_line: str, message: str, field: str
) -> None:
    sites = read_sites(SITES, three_zone.zone_ids)
    path = physics_data(tmp_path, solar_line, wind_line)
    with pytest.raises(InputError) as err:
        expansion_case(three_zone, sites, load_expansion(path))
    assert message in str(err.value)
    assert err.value.field is not None and err.value.field.endswith(field)
    assert err.value.file is not None and err.value.file.endswith(path.name)


def test_a_zone_without_a_position_is_refused(tmp_path: Path) -> None:
    folder = reserve_feasible_three_zone(tmp_path)
    toml = folder / "scenario.toml"
    text, n = re.subn(r"(?m)^lat = 28\.0\nlon = 66\.0\n", "", toml.read_text(encoding="utf-8"))
    assert n == 1, "test setup: the city zone's position is in scenario.toml"
    toml.write_text(text, encoding="utf-8")
    s = scenario.load(folder)
    sites = read_sites(SITES, s.zone_ids)
    with pytest.raises(InputError) as err:
        expansion_case(s, sites, load_expansion(physics_data(tmp_path)))
    assert "city solar_pv" in str(err.value) and "lat/lon" in str(err.value)


def test_bundled_candidates_use_physics_in_every_zone() -> None:
    data = load_expansion()
    gens = data.generators
    assert (gens["profile_source"] == "physics").all()
    assert set(gens.loc[gens["technology"] == "wind", "zone"]) == {"HESCO", "KE"}
    s = scenario.load("pakistan-2025")
    sites = read_sites(scenario.resolve_path("pakistan-2025") / "sites-illustrative.csv", s.zone_ids)
    case = expansion_case(s, sites, data)
    is_solar = (case.generators["technology"] == "solar_pv").to_numpy()
    cf = case.profiles[:, is_solar].mean(axis=0)
    # utility PV in Pakistan: published plant capacity factors of about 17-22 % (renewables tests validate)
    assert ((cf > 0.15) & (cf < 0.24)).all()
    assert len(np.unique(np.round(cf, 6))) == len(cf)  # every zone its own
