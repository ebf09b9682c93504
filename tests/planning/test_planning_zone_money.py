"""Per-zone money that means something, national fuel, and shadow prices within their bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planning_fixtures import DATA, SITES

from offtake import scenario
from offtake.grid.model import Grid
from offtake.planning import PlanOptions, PlanResult, plan, read_sites
from offtake.planning.readout import binding_table, withheld_note
from offtake.scenario import Scenario
from offtake.timeutil import HOURS_PER_YEAR


@pytest.fixture(scope="module")
def case() -> tuple[Scenario, pd.DataFrame]:
    s = scenario.load(DATA / "three-zone")
    return s, read_sites(SITES, s.zone_ids)


@pytest.fixture(scope="module")
def without_south(case: tuple[Scenario, pd.DataFrame]) -> PlanResult:
    s, sites = case
    return plan(s, sites[sites["zone"] != "south"], PlanOptions(cap_mw=500.0))


def test_zone_without_sites_costs_and_earns_nothing(without_south: PlanResult) -> None:
    south = without_south.zones.loc["south"]
    assert south["sites"] == 0 and south["energy_mwh"] == 0.0
    assert south["revenue_usd"] == 0.0
    assert south["serving_cost_usd"] == 0.0
    assert south["margin_at_zone_price_usd"] == 0.0
    assert "fuel_cost_usd" not in without_south.zones.columns
    assert without_south.summary().loc["south", "margin_at_zone_price_musd"] == 0.0


def test_national_totals_are_consistent(without_south: PlanResult) -> None:
    r = without_south
    zones, nat = r.zones.drop(index="national"), r.zones.loc["national"]
    for column in ("revenue_usd", "serving_cost_usd", "energy_mwh", "allocated_mw", "margin_at_zone_price_usd"):
        assert nat[column] == pytest.approx(zones[column].sum(), rel=1e-9, abs=1e-6)
    assert nat["revenue_usd"] == pytest.approx(r.allocation["revenue_usd"].sum())
    assert r.national["revenue_usd"] == pytest.approx(nat["revenue_usd"])
    assert r.national["net_margin_usd"] == pytest.approx(r.national["revenue_usd"] - r.national["fuel_cost_usd"])
    extra_fuel = r.national["plan_fuel_cost_usd"] - r.national["baseline_fuel_cost_usd"]
    assert r.national["fuel_cost_usd"] == pytest.approx(extra_fuel, rel=1e-6)


def test_serving_cost_is_served_energy_at_zone_prices(without_south: PlanResult) -> None:
    r = without_south
    dt = r.horizon_h / len(r.served_mw)
    zone_of = r.sites.loc[r.served_mw.columns, "zone"]
    for zone in ("north", "city"):
        energy = r.served_mw.loc[:, (zone_of == zone).to_numpy()].sum(axis=1).to_numpy() * dt
        expected = float((energy * r.zone_price_usd_per_mwh[zone].to_numpy()).sum())
        assert r.zones.loc[zone, "serving_cost_usd"] == pytest.approx(expected, rel=1e-9)
        # at the margin a site never costs more than its tariff earns (or it would not be served)
        row = r.zones.to_dict("index")[zone]
        margin, revenue = float(row["margin_at_zone_price_usd"]), float(row["revenue_usd"])
        assert margin >= -1e-6 * revenue


def test_energy_objective_has_no_money_per_zone(case: tuple[Scenario, pd.DataFrame]) -> None:
    s, sites = case
    r = plan(s, sites[sites["zone"] != "south"], PlanOptions(cap_mw=300.0, objective="energy"))
    cost = r.zones["serving_cost_usd"]
    assert cost.drop(index="south").isna().all() and cost["south"] == 0.0
    assert np.isfinite(r.national["fuel_cost_usd"])


def _synthetic(case: tuple[Scenario, pd.DataFrame], duals: dict[str, np.ndarray]) -> tuple[pd.DataFrame, list[str]]:
    s, sites = case
    grid = Grid.from_scenario(s)
    return binding_table(
        grid,
        sites,
        duals,
        annual=HOURS_PER_YEAR / (grid.n_intervals * grid.duration_h),
        objective="margin",
        step_limit=None,
        flow_mw=None,
        zone_price=None,
        tolerance=1e-7,
        no_subsidy_rows=[],
        bound_per_mwh=100.0,
    )


def test_impossible_shadow_prices_are_withheld(case: tuple[Scenario, pd.DataFrame]) -> None:
    s, sites = case
    n, dt = len(s.index), s.duration_h
    horizon = n * dt
    reserve = np.zeros(n)
    reserve[3] = 100.0 * dt  # at the bound: possible
    request = np.zeros(len(sites))
    request[0] = 100.0 * horizon * 1.5  # half as much again as a MW over the whole period can earn
    request[1] = 40.0 * horizon
    table, withheld = _synthetic(
        case, {"national_cap": np.array(20.0 * horizon), "reserve": reserve, "request": request}
    )
    assert withheld == [f"request of site {sites.index[0]}"]
    worth = table.set_index("constraint")["worth_per_year"]
    annual = HOURS_PER_YEAR / horizon
    assert worth["reserve requirement"] == pytest.approx(100.0 * dt * annual)
    assert worth["national cap"] == pytest.approx(20.0 * horizon * annual)
    assert worth[f"request of site {sites.index[1]}"] == pytest.approx(40.0 * HOURS_PER_YEAR)
    # no worth shown is above a MW-year at the bound
    assert (table["worth_per_year"] <= 100.0 * HOURS_PER_YEAR * (1 + 1e-6)).all()


def test_an_hourly_dual_above_its_bound_withholds_the_row(case: tuple[Scenario, pd.DataFrame]) -> None:
    s, _ = case
    reserve = np.full(len(s.index), 1.0)
    reserve[-1] = 101.0 * s.duration_h
    table, withheld = _synthetic(case, {"reserve": reserve})
    assert withheld == ["reserve requirement"] and table.empty
    note = withheld_note(withheld, 100.0, "USD/MWh", "pdlp")
    assert note.startswith("1 shadow price(s) withheld") and "reserve requirement" in note and "simplex" in note


def test_serving_cost_at_impossible_zone_prices_is_withheld(
    case: tuple[Scenario, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    import offtake.planning.readout as readout

    s, sites = case
    # a bound below every price where sites are served: every zone with served sites is withheld
    monkeypatch.setattr(readout, "price_bound_per_mwh", lambda _: 1.0)
    r = plan(s, sites[sites["zone"] != "south"], PlanOptions(cap_mw=300.0))
    zones = r.zones.to_dict("index")
    served_zones = {z for z in ("north", "city") if float(zones[z]["energy_mwh"]) > 0}
    assert served_zones
    for zone in served_zones:
        assert np.isnan(float(zones[zone]["serving_cost_usd"]))
    assert float(zones["south"]["serving_cost_usd"]) == 0.0
    assert np.isnan(float(zones["national"]["serving_cost_usd"]))  # no national total from a partial sum
    assert any(w.startswith(f"Serving cost at zone prices withheld for {len(served_zones)} zone") for w in r.warnings)
    assert r.binding.empty  # every shadow price is above that bound too
    assert any("shadow price(s) withheld" in w for w in r.warnings)
