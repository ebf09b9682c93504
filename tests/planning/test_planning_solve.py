"""How the allocation LP is solved: PDLP against simplex, step rows added where they bind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planning_fixtures import DATA, SITES

from offtake import scenario
from offtake.errors import InputError
from offtake.grid import Grid, corridor_shadow_prices, least_cost_dispatch, solve_model
from offtake.planning import PlanOptions, plan, read_sites
from offtake.planning.model import add_step_rows, build_model, step_excess_mw
from offtake.planning.planner import resolve_step_limit
from offtake.scenario import Scenario


@pytest.fixture(scope="module")
def case() -> tuple[Scenario, pd.DataFrame]:
    s = scenario.load(DATA / "three-zone")
    return s, read_sites(SITES, s.zone_ids)


@pytest.mark.parametrize("step_mw", [150.0, 20.0])
def test_pdlp_reaches_the_simplex_optimum(case: tuple[Scenario, pd.DataFrame], step_mw: float) -> None:
    s, sites = case
    exact = plan(s, sites, PlanOptions(cap_mw=500.0, max_curtailment_step_mw=step_mw, method="simplex"))
    first_order = plan(s, sites, PlanOptions(cap_mw=500.0, max_curtailment_step_mw=step_mw, method="pdlp"))
    assert exact.national["solver_method"] == "HiGHS simplex"
    assert first_order.national["solver_method"] == "HiGHS PDLP"
    assert first_order.national["solver_objective_error_rel"] <= 1e-5
    a, b = exact.national["objective_value"], first_order.national["objective_value"]
    assert abs(a - b) <= 1e-6 * abs(a)
    assert first_order.national["net_margin_usd"] == pytest.approx(exact.national["net_margin_usd"], rel=1e-5)
    assert first_order.national["allocated_mw"] == pytest.approx(exact.national["allocated_mw"], abs=0.01)


def test_auto_method_uses_simplex_for_short_plans_and_milps() -> None:
    assert PlanOptions(cap_mw=1.0).resolved_method(168) == "simplex"
    assert PlanOptions(cap_mw=1.0).resolved_method(8760) == "pdlp"
    assert PlanOptions(cap_mw=1.0, min_sizes=True).resolved_method(8760) == "simplex"
    assert PlanOptions(cap_mw=1.0, method="simplex").resolved_method(8760) == "simplex"


@pytest.mark.parametrize("kwargs", [{"method": "barrier"}, {"method": "pdlp", "min_sizes": True}])
def test_bad_method_is_named(kwargs: dict[str, object]) -> None:
    with pytest.raises(InputError) as err:
        # "barrier" is no Method: the run-time check of an untyped caller's input is under test.
        PlanOptions(cap_mw=100.0, **kwargs)  # type: ignore[arg-type]
    assert err.value.field == "method"


def test_step_rows_where_they_bind_give_the_optimum_with_every_row(
    case: tuple[Scenario, pd.DataFrame],
) -> None:
    # A tight step limit binds in many intervals; the plan adds rows only where a solution
    # breaks it, and must reach the same optimum as the model with a row in every interval.
    s, sites = case
    options = PlanOptions(cap_mw=500.0, max_curtailment_step_mw=20.0, method="simplex")
    lazy = plan(s, sites, options)
    step, _ = resolve_step_limit(s, options)
    assert step == 20.0
    grid = Grid.from_scenario(s)
    full, _ = build_model(grid, sites, options, least_cost_dispatch(s, grid=grid))
    add_step_rows(full, np.arange(grid.n_intervals), step, 0)
    value = solve_model(full)
    assert lazy.national["objective_value"] == pytest.approx(value, rel=1e-9)
    served = lazy.served_mw.to_numpy()
    assert step_excess_mw(served, step).max() <= 1e-6
    binding = lazy.binding[lazy.binding["kind"] == "contingency"]
    assert len(binding) == 1 and binding["hours_binding"].iloc[0] > 0
    # the comparison is with a row in every interval after the first
    rows = sum(int((c.labels.to_numpy() >= 0).sum()) for n, c in full.constraints.items() if n == "step_0")
    assert rows == grid.n_intervals - 1


def test_step_excess_counts_drops_only() -> None:
    served = np.array([[10.0, 5.0], [0.0, 10.0], [0.0, 0.0]])
    # drops: interval 1 -> 10 (site 0), interval 2 -> 10 (site 1); rises do not offset drops
    np.testing.assert_allclose(step_excess_mw(served, 4.0), [0.0, 6.0, 6.0])


def test_corridor_shadow_price_is_the_price_gap_at_a_limit(case: tuple[Scenario, pd.DataFrame]) -> None:
    s, _ = case
    grid = Grid.from_scenario(s)
    n_c = len(grid.corridors)
    fwd = grid.corridors["forward_mw"].to_numpy(dtype=float)
    rev = grid.corridors["reverse_mw"].to_numpy(dtype=float)
    pos = {z: i for i, z in enumerate(grid.zones)}
    frm = [pos[z] for z in grid.corridors["from_zone"]]
    to = [pos[z] for z in grid.corridors["to_zone"]]
    price = np.zeros((3, len(grid.zones)))
    price[:, to[0]] = 30.0  # the receiving end of corridor 0 is dearer
    flow = np.zeros((3, n_c))
    flow[0, 0] = fwd[0]  # at its forward limit: binds, worth the price gap
    flow[1, 0] = fwd[0] / 2  # inside its limits: does not bind
    flow[2, 0] = -rev[0]  # at its reverse limit, but reverse flow would earn nothing more
    forward, reverse = corridor_shadow_prices(grid, flow, price)
    gap = price[0, to[0]] - price[0, frm[0]]
    assert forward[0, 0] == pytest.approx(gap) and gap > 0
    assert forward[1, 0] == 0.0 and forward[2, 0] == 0.0
    assert (reverse[:, 0] == 0.0).all()
