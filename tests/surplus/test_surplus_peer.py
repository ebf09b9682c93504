"""The exact surplus against PyPSA on a second, independent network.

Five zones in a meshed ring, two days of hours, no storage: must-run hydro held to a daily water
budget (its availability), must-run wind and solar (variable output that draws nothing from the
reserve pool), fuel contracts (minimum loadings) on cheap and dear units, a desert zone whose
solar and contracted gas outgrow its export links, units above and below the tariffs tried, and a
reserve that binds. The surplus of :mod:`offtake.surplus` (cut
enumeration) must equal the largest extra load PyPSA finds on the same network, zone by zone and
nationally, with PyPSA's own baseline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from offtake import scenario
from offtake.grid import Baseline, least_cost_dispatch
from offtake.grid.extra_load import max_extra_load
from offtake.surplus.assess import _network_inputs, surplus_arrays
from offtake.surplus.network import ZoneCuts

pytest.importorskip("pypsa")

from pypsa_peer import solve_peer_baseline, solve_peer_surplus

HOURS = 48
ZONES = ("hills", "plain", "coast", "desert", "metro")
#: Corridors: a ring and one chord, (id, from, to, forward MW, reverse MW).
CORRIDORS = (
    ("hills-plain", "hills", "plain", 2500, 2000),
    ("plain-metro", "plain", "metro", 2200, 2200),
    ("coast-metro", "coast", "metro", 2000, 1500),
    ("desert-coast", "desert", "coast", 800, 500),
    ("hills-desert", "hills", "desert", 400, 400),
    ("plain-coast", "plain", "coast", 350, 350),
)
#: Plants: name, technology, zone, MW, USD/MWh, must-run, availability, min_output_pu.
PLANTS = (
    ("Hydro Hills", "hydro", "hills", 900, 0, "true", "hydro_hills", ""),
    ("Gas Hills", "gas", "hills", 500, 61, "false", "0.9", "0.4"),
    ("Coal Plain", "coal", "plain", 800, 44, "false", "0.85", ""),
    ("Wind Coast", "wind", "coast", 600, 0, "true", "wind_coast", ""),
    ("Nuclear Coast", "nuclear", "coast", 300, 9, "true", "0.9", ""),
    ("Solar Desert", "solar_pv", "desert", 1800, 0, "false", "solar_desert", ""),
    ("Gas Desert", "gas", "desert", 300, 58, "false", "0.9", "0.6"),
    ("Solar Metro", "solar_pv", "metro", 200, 0, "true", "solar_desert", ""),
    ("RLNG Metro", "rlng_ccgt", "metro", 700, 86, "false", "0.9", "0.3"),
    ("Gas Metro", "gas", "metro", 400, 72, "false", "0.9", ""),
    ("Oil Metro", "oil", "metro", 300, 125, "false", "0.8", ""),
    ("Oil Plain", "oil", "plain", 250, 133, "false", "0.8", ""),
)
#: Tariffs compared with PyPSA: at 50 and 80 a unit under a fuel contract lies above the tariff; at
#: 150 every unit is below it and the reserve pool binds, where the contracts' floors enter the cuts.
TARIFFS = (50.0, 80.0, 150.0)


def _write_network(root: Path) -> Path:
    """Write the five-zone scenario folder; demand, hydro, wind and solar from a fixed seed."""
    rng = np.random.default_rng(20250301)
    root.mkdir()
    index = pd.date_range("2025-03-01T00:00:00Z", periods=HOURS, freq="h")
    times = pd.DataFrame(
        {
            "interval_start": index.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "interval_end": (index + pd.Timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    hour = index.hour.to_numpy()
    daily = 1.0 + 0.25 * np.sin((hour - 14) / 24 * 2 * np.pi)
    demand = times.copy()
    for zone, level in zip(ZONES, (300.0, 560.0, 380.0, 120.0, 950.0), strict=True):
        demand[zone] = np.round(level * daily * (1 + rng.normal(0, 0.03, HOURS)), 1)
    demand.to_csv(root / "demand.csv", index=False)
    sun = np.clip(np.sin((hour - 6) / 12 * np.pi), 0.0, None)
    profiles = times.copy()
    # the hydro budget: water for 55 % of capacity, released more in the evening
    profiles["hydro_hills"] = np.round(np.clip(0.55 + 0.2 * np.sin((hour - 13) / 24 * 2 * np.pi), 0, 1), 4)
    profiles["wind_coast"] = np.round(np.clip(0.35 + 0.25 * np.sin(np.arange(HOURS) / 7.0), 0, 1), 4)
    profiles["solar_desert"] = np.round(0.8 * sun, 4)
    profiles.to_csv(root / "profiles.csv", index=False)
    header = "name,technology,zone,capacity_mw,marginal_cost_usd_per_mwh,must_run,availability,min_output_pu"
    rows = [",".join(str(v) for v in p) for p in PLANTS]
    (root / "plants.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    zones = "".join(f'\n[[zones]]\nid = "{z}"\nname = "{z}"\nregion = "test"\n' for z in ZONES)
    corridors = "".join(
        f'\n[[corridors]]\nid = "{c}"\nfrom = "{a}"\nto = "{b}"\nforward_mw = {f}\nreverse_mw = {r}\n'
        for c, a, b, f, r in CORRIDORS
    )
    (root / "scenario.toml").write_text(
        f"""name = "five-zone-peer"
title = "Five-zone PyPSA peer network"
variable_technologies = ["wind", "solar_pv"]

[period]
start = "{times['interval_start'].iloc[0]}"
end = "{times['interval_end'].iloc[-1]}"
resolution_s = 3600

[money]
exchange_rate_pkr_per_usd = 280.0
default_tariff_usd_per_mwh = 80.0

[reserve]
hold_largest_unit = true
largest_unit_mw = 300
fraction_of_demand = 0.05

[files]
plants = "plants.csv"
demand = "demand.csv"
profiles = "profiles.csv"

[sources]
all = "Invented numbers for tests only."
{zones}{corridors}""",
        encoding="utf-8",
    )
    return root


@pytest.fixture(scope="module")
def five(tmp_path_factory: pytest.TempPathFactory) -> scenario.Scenario:
    return scenario.load(_write_network(tmp_path_factory.mktemp("peer") / "five-zone"))


@pytest.fixture(scope="module")
def five_baseline(five: scenario.Scenario) -> Baseline:
    return least_cost_dispatch(five)


@pytest.fixture(scope="module")
def peer_g0(five: scenario.Scenario) -> pd.DataFrame:
    return solve_peer_baseline(five)


def test_the_network_exercises_what_it_is_for(five: scenario.Scenario, five_baseline: Baseline) -> None:
    baseline = five_baseline
    fleet = baseline.fleet
    assert not baseline.short.any() and baseline.spilled_mw.max() == 0.0
    assert (fleet.must_run & fleet.variable).any() and (fleet.min_output_mw > 0).any()
    # the RLNG contract binds: the least-cost dispatch would run it less without it
    rlng = fleet.names.index("metro|rlng_ccgt|86|0|min0.3")
    assert np.isclose(baseline.generation_mw[:, rlng], fleet.min_output_mw[:, rlng]).any()
    # the reserve binds the surplus: at the top tariff the nation can take all available output
    # less demand and reserve, in the hours where no corridor limits it
    _, national_mw = surplus_arrays(five, baseline, 150.0)
    spare = five.available_mw.sum(axis=1) - five.demand_mw.sum(axis=1) - five.reserve_requirement_mw()
    assert np.isclose(national_mw, spare.to_numpy(), atol=1e-6).any()
    # and in some hours a zone is limited by its corridors: it alone takes less than the nation
    zone_mw, _ = surplus_arrays(five, baseline, 150.0)
    assert (zone_mw.min(axis=1) < national_mw - 1.0).any()
    # the contracts' floors bind in the cuts: desert's floored gas and its curtailed solar leave
    # less of the reserve pool to the other zones than the cuts without the floors would claim
    dispatchable, variable, least, demand, pool = _network_inputs(five, baseline, 150.0)
    floors = np.zeros_like(least)
    for g in np.flatnonzero(fleet.free & fleet.dispatchable):
        floors[:, fleet.zone_index[g]] += fleet.min_output_mw[:, g]
    cuts = ZoneCuts.from_scenario(five)
    with_floors, _ = cuts.surplus_mw(dispatchable, variable, least, demand, pool)
    without, _ = cuts.surplus_mw(dispatchable, variable, least - floors, demand, pool)
    assert np.allclose(with_floors, zone_mw)
    assert (without > with_floors + 100.0).any()


@pytest.mark.parametrize("tariff", TARIFFS)
def test_surplus_equals_pypsa(
    five: scenario.Scenario, five_baseline: Baseline, peer_g0: pd.DataFrame, tariff: float
) -> None:
    baseline, g0 = five_baseline, peer_g0
    plants = list(five.plants.index)
    ours = baseline.fleet.plant_output_mw(five.available_mw, baseline.generation_mw)[plants]
    # distinct costs: the least-cost dispatch is unique, so both surpluses start from the same one
    np.testing.assert_allclose(ours.to_numpy(), g0.to_numpy(), atol=1e-4)
    zone_mw, national_mw = surplus_arrays(five, baseline, tariff)
    assert national_mw.max() > 0.0
    for zone in [*five.zone_ids, None]:
        theirs = solve_peer_surplus(five, g0, tariff, zone)
        expected = national_mw if zone is None else zone_mw[:, five.zone_ids.index(zone)]
        np.testing.assert_allclose(expected, theirs, atol=1e-4, err_msg=f"zone {zone}")
        # and the extra-load LP on offtake's grid model agrees with both
        lp = max_extra_load(five, baseline, tariff, np.arange(len(five.index)), zone)
        np.testing.assert_allclose(lp.extra_mw.sum(axis=1), theirs, atol=1e-4, err_msg=f"LP, zone {zone}")
