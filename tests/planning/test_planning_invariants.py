"""Physical and contractual invariants of a plan, checked from its results and the scenario."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planning_fixtures import DATA, SITES, three_zone_with_largest_unit

from offtake import scenario
from offtake.planning import ALLOCATION_COLUMNS, PlanOptions, PlanResult, plan, read_sites
from offtake.scenario import Scenario

TOL = 1e-4
STEP_MW = 150.0


@pytest.fixture(scope="module")
def case() -> tuple[Scenario, pd.DataFrame]:
    s = scenario.load(DATA / "three-zone")
    return s, read_sites(SITES, s.zone_ids)


@pytest.fixture(scope="module", params=["lp", "milp", "energy", "pdlp"])
def result(request: pytest.FixtureRequest, case: tuple[Scenario, pd.DataFrame]) -> PlanResult:
    s, sites = case
    options = PlanOptions(
        cap_mw=500.0,
        max_curtailment_step_mw=STEP_MW,
        min_sizes=request.param == "milp",
        objective="energy" if request.param == "energy" else "margin",
        method="pdlp" if request.param == "pdlp" else "auto",
    )
    return plan(s, sites, options)


def test_something_is_allocated(result: PlanResult) -> None:
    assert result.national["allocated_mw"] > 1.0


def test_demand_met_in_every_zone_and_interval(
    result: PlanResult, case: tuple[Scenario, pd.DataFrame]
) -> None:
    s, sites = case
    out = (
        result.plant_output_mw.T.groupby(s.plants["zone"])
        .sum()
        .T.reindex(columns=s.zone_ids, fill_value=0.0)
    )
    net_import = pd.DataFrame(0.0, index=s.index, columns=s.zone_ids)
    for c in s.corridors:
        net_import[c.to_zone] += result.flow_mw[c.id]
        net_import[c.from_zone] -= result.flow_mw[c.id]
    site_load = (
        result.served_mw.T.groupby(sites["zone"])
        .sum()
        .T.reindex(columns=s.zone_ids, fill_value=0.0)
    )
    # the three-zone week is never short of energy, only of reserve
    np.testing.assert_allclose(
        (out + net_import).to_numpy(), (s.demand_mw + site_load).to_numpy(), atol=TOL
    )


def test_plants_within_availability(
    result: PlanResult, case: tuple[Scenario, pd.DataFrame]
) -> None:
    s, _ = case
    out = result.plant_output_mw[s.plants.index].to_numpy()
    avail = s.available_mw[s.plants.index].to_numpy()
    assert (out >= -TOL).all() and (out <= avail + TOL).all()
    must = s.plants["must_run"].to_numpy()
    np.testing.assert_allclose(out[:, must], avail[:, must], atol=TOL)


def test_corridors_within_limits(result: PlanResult, case: tuple[Scenario, pd.DataFrame]) -> None:
    s, _ = case
    for c in s.corridors:
        flow = result.flow_mw[c.id].to_numpy()
        assert flow.max() <= c.forward_mw + TOL and flow.min() >= -c.reverse_mw - TOL


def test_reserve_kept_as_far_as_the_grid_can(
    result: PlanResult, case: tuple[Scenario, pd.DataFrame]
) -> None:
    s, _ = case
    holders = s.plants.index[~s.plants["variable"] & ~s.plants["must_run"]]
    headroom = (s.available_mw[holders] - result.plant_output_mw[holders]).sum(axis=1)
    need = s.reserve_requirement_mw() - result.reserve_shortfall_mw
    assert (headroom >= need - TOL).all()


def test_reserve_shortfall_is_never_made_worse(tmp_path_factory: pytest.TempPathFactory) -> None:
    # With a 1,100 MW largest unit this week cannot hold the full reserve at its peaks even without
    # sites; where it falls short the plan must keep at least the baseline's headroom.
    s = scenario.load(three_zone_with_largest_unit(tmp_path_factory.mktemp("tight"), 1100.0))
    result = plan(s, read_sites(SITES, s.zone_ids), PlanOptions(cap_mw=500.0, max_curtailment_step_mw=STEP_MW))
    holders = s.plants.index[~s.plants["variable"] & ~s.plants["must_run"]]
    headroom = (s.available_mw[holders] - result.plant_output_mw[holders]).sum(axis=1)
    base_headroom = (s.available_mw[holders] - result.baseline_output_mw[holders]).sum(axis=1)
    short = result.reserve_shortfall_mw > 0
    assert short.any()
    assert (headroom[short] >= base_headroom[short] - TOL).all()
    need = s.reserve_requirement_mw() - result.reserve_shortfall_mw
    assert (headroom >= need - TOL).all()


def test_site_terms(result: PlanResult) -> None:
    a = result.allocation
    served = result.served_mw
    dt = 1.0
    for sid, row in a.iterrows():
        assert isinstance(sid, str)
        x = served[sid].to_numpy()
        assert row["allocated_mw"] == pytest.approx(
            row["firm_mw"] + row["interruptible_mw"], abs=TOL
        )
        assert row["firm_mw"] == pytest.approx(
            (1 - row["max_curtailment_fraction"]) * row["allocated_mw"], abs=TOL
        )
        assert (x >= row["firm_mw"] - TOL).all(), "firm tranche served every hour"
        assert (x <= row["allocated_mw"] + TOL).all()
        curtailed = (row["allocated_mw"] - x).clip(min=0).sum() * dt
        assert (
            curtailed <= row["annual_curtailment_limit"] * row["allocated_mw"] * len(x) * dt + TOL
        )
        assert row["allocated_mw"] <= result.sites["requested_mw"].loc[sid] + TOL


def test_cap_and_step(result: PlanResult) -> None:
    assert result.allocation["allocated_mw"].sum() <= result.cap_mw + TOL
    drops = (result.served_mw.shift(1) - result.served_mw).clip(lower=0).iloc[1:].sum(axis=1)
    assert drops.max() <= STEP_MW + TOL


def test_no_subsidy(result: PlanResult, case: tuple[Scenario, pd.DataFrame]) -> None:
    s, sites = case
    mc = s.plants["marginal_cost_usd_per_mwh"]
    extra = result.plant_output_mw - result.baseline_output_mw
    for tau in sorted(set(sites["tariff_usd_per_mwh"])):
        dear = extra.loc[:, mc.index[mc > tau]].sum(axis=1)
        payers = result.served_mw.loc[:, sites.index[sites["tariff_usd_per_mwh"] > tau]].sum(axis=1)
        assert (dear <= payers + TOL).all(), f"units above {tau} USD/MWh serve sites paying less"


def test_min_sizes_respected(result: PlanResult) -> None:
    if not result.min_sizes:
        pytest.skip("LP run")
    a = result.allocation
    minimum = result.sites["min_size_mw"]
    given = a["allocated_mw"] > TOL
    assert (a.loc[given, "allocated_mw"] >= minimum[given] - TOL).all()


def test_allocation_table_columns_and_statistics(result: PlanResult) -> None:
    table = result.allocation_table()
    assert tuple(table.columns) == ALLOCATION_COLUMNS
    for _, row in table.iterrows():
        x = result.served_mw[row["site_id"]].to_numpy()
        assert row["expected_energy_mwh"] == pytest.approx(x.sum(), rel=1e-9, abs=1e-6)
        if row["curtailment_events"]:
            assert row["mean_event_h"] == pytest.approx(
                row["curtailed_hours"] / row["curtailment_events"]
            )


def test_energy_objective_absorbs_at_least_as_much(case: tuple[Scenario, pd.DataFrame]) -> None:
    s, sites = case
    margin = plan(s, sites, PlanOptions(cap_mw=500.0, max_curtailment_step_mw=STEP_MW))
    energy = plan(
        s, sites, PlanOptions(cap_mw=500.0, max_curtailment_step_mw=STEP_MW, objective="energy")
    )
    assert energy.national["energy_mwh"] >= margin.national["energy_mwh"] - 1e-3
    assert energy.national["net_margin_usd"] <= margin.national["net_margin_usd"] + 1e-3


def test_tighter_cap_binds_and_has_a_price(case: tuple[Scenario, pd.DataFrame]) -> None:
    s, sites = case
    r = plan(s, sites, PlanOptions(cap_mw=100.0, max_curtailment_step_mw=STEP_MW))
    assert r.national["allocated_mw"] == pytest.approx(100.0, abs=TOL)
    cap = r.binding[r.binding["kind"] == "cap"]
    assert len(cap) == 1 and cap["worth_per_year"].iloc[0] > 0
