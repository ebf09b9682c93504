"""One definition of no subsidy: the plan built under the rule passes the risk command's test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from planning_fixtures import SITES, reserve_feasible_three_zone

from offtake import scenario
from offtake.grid import Grid, least_cost_dispatch
from offtake.grid.subsidy import check_no_subsidy, no_subsidy_rows
from offtake.planning import PlanOptions, PlanResult, plan, read_sites
from offtake.risk.from_scenario import prepare_inputs
from offtake.scenario import Scenario


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, PlanResult]:
    s = scenario.load(reserve_feasible_three_zone(tmp_path_factory.mktemp("grid")))
    sites = read_sites(SITES, s.zone_ids)
    return s, plan(s, sites, PlanOptions(cap_mw=500.0, max_curtailment_step_mw=150.0, method="simplex"))


def test_plan_allocation_passes_the_risk_no_subsidy_test(planned: tuple[Scenario, PlanResult]) -> None:
    s, result = planned
    allocation = result.allocation_table().set_index("site_id")
    allocation = allocation[allocation["allocated_mw"] > 0]
    assert len(allocation) >= 2
    prepared = prepare_inputs(s, allocation)
    assert prepared.no_subsidy.passed, prepared.no_subsidy.failures.head()
    # the plan's own served profile passes the same check on the grid model
    served = result.served_mw[allocation.index]
    check = check_no_subsidy(
        least_cost_dispatch(s), served, allocation["zone"], allocation["tariff_usd_per_mwh"]
    )
    assert check.breach_mw.to_numpy().max() == 0.0
    assert check.undeliverable_mw.to_numpy().max() == 0.0


def test_check_finds_a_site_served_from_dearer_units(planned: tuple[Scenario, PlanResult]) -> None:
    # one tariff below every plant's cost: all extra output is dearer, so the check must
    # report a breach wherever the site is served
    s, _ = planned
    cheapest = float(s.plants["marginal_cost_usd_per_mwh"][~s.plants["must_run"]].min())
    baseline = least_cost_dispatch(s)
    zone = s.zone_ids[0]
    served = pd.DataFrame({"x": np.full(len(s.index), 10.0)}, index=s.index)
    check = check_no_subsidy(baseline, served, pd.Series({"x": zone}), pd.Series({"x": cheapest - 1.0}))
    breach = check.breach_mw["x"].to_numpy()
    takes_extra = check.dearest_cost_usd_per_mwh.to_numpy() > 0
    assert takes_extra.any()
    assert (breach[takes_extra] > 0).all()
    assert (check.dearest_cost_usd_per_mwh.to_numpy()[takes_extra] >= cheapest).all()


def test_binding_no_subsidy_rows_name_the_tariff_they_were_built_for(
    planned: tuple[Scenario, PlanResult],
) -> None:
    # Site tariffs 72, 78, 80, 100, 125 against plant costs 0 ... 75, 110, 120: the rows are
    # built for 72 (units above 72) and 100 (units above 100, the same set as above 78 and 80);
    # none for 125. Under the energy objective both bind; each must carry its own tariff.
    s, result = planned
    options = PlanOptions(cap_mw=500.0, max_curtailment_step_mw=150.0, method="simplex", objective="energy")
    energy = plan(s, result.sites, options)
    grid = Grid.from_scenario(s)
    built = [row.tariff_usd_per_mwh for row in no_subsidy_rows(grid, result.sites["tariff_usd_per_mwh"].to_numpy())]
    assert built == [72.0, 100.0]
    labels = set(energy.binding.loc[energy.binding["kind"] == "no-subsidy", "constraint"])
    assert labels == {"no subsidy at 72 USD/MWh", "no subsidy at 100 USD/MWh"}


def test_rows_are_one_per_set_of_dearer_units() -> None:
    s = scenario.load(Path(__file__).parent.parent / "data" / "three-zone")
    grid = Grid.from_scenario(s)
    costs = np.sort(np.unique(grid.group_cost_usd_per_mwh))
    below, between = costs[-2] - 1.0, (costs[-2] + costs[-1]) / 2
    rows = no_subsidy_rows(grid, np.array([below, costs[-2], between, costs[-1] + 5.0]))
    # costs[-2] and `between` have the same dearer set: the higher one's row; none above the top
    assert [r.tariff_usd_per_mwh for r in rows] == [below, between]
    assert [r.name for r in rows] == ["no_subsidy_0", "no_subsidy_1"]


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a full-year plan and check: about 2 min on 2 free cores
def test_the_bundled_plan_and_the_risk_command_agree_on_no_subsidy() -> None:
    """The bundled example: the planner's 2,000 MW allocation passes risk's test, and says at what tariff."""
    s = scenario.load("pakistan-2025")
    sites_file = scenario.resolve_path("pakistan-2025") / "sites-illustrative.csv"
    baseline = least_cost_dispatch(s)
    result = plan(s, read_sites(sites_file, s.zone_ids), PlanOptions(cap_mw=2000.0), baseline=baseline)
    allocation = result.allocation_table().set_index("site_id")
    allocation = allocation[allocation["allocated_mw"] > 0]
    test = prepare_inputs(s, allocation, baseline=baseline).no_subsidy
    assert test.passed, test.failures.head()
    assert test.failed_hours == 0
    # the lowest single tariff that keeps the rule is no higher than what the sites pay
    assert test.lowest_passing_tariff_all_usd_per_mwh <= allocation["tariff_usd_per_mwh"].max() + 1e-6
