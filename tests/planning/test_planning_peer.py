"""The planner against PyPSA on the same small problem (3 zones, 9 plants, 5 sites, a week)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from offtake import scenario
from offtake.planning import PlanOptions, plan, read_sites

pytest.importorskip("pypsa")

from planning_fixtures import SITES, reserve_feasible_three_zone
from pypsa_peer import peer_site_results, solve_peer


@pytest.mark.parametrize(("cap_mw", "step_mw"), [(600.0, 150.0), (450.0, None)])
def test_same_optimum_as_pypsa(tmp_path: Path, cap_mw: float, step_mw: float | None) -> None:
    s = scenario.load(reserve_feasible_three_zone(tmp_path))
    sites = read_sites(SITES, s.zone_ids)
    # a step limit above anything the sites could drop is the same as none
    result = plan(
        s, sites, PlanOptions(cap_mw=cap_mw, max_curtailment_step_mw=step_mw if step_mw else 1e6)
    )
    assert not result.notes or all("surplus" in n for n in result.notes)
    base, n = solve_peer(s, sites, cap_mw, step_mw)
    assert n.objective is not None and base.objective is not None  # both solved

    must = s.plants["must_run"]
    must_run_cost = float(
        (s.available_mw.loc[:, must] * s.plants.loc[must, "marginal_cost_usd_per_mwh"])
        .to_numpy()
        .sum()
    )
    ours = result.national["objective_value"] - must_run_cost  # revenue - all fuel [USD]
    theirs = -float(n.objective)
    assert abs(ours - theirs) <= 1e-6 * abs(theirs)
    assert result.national["net_margin_usd"] == pytest.approx(
        theirs + float(base.objective), rel=1e-6
    )
    assert result.national["allocated_mw"] > 0  # the comparison is about a real plan

    alloc, served = peer_site_results(n, sites)
    np.testing.assert_allclose(
        result.allocation["allocated_mw"].to_numpy(), alloc.to_numpy(), atol=1e-4
    )
    # plant dispatch is unique here (distinct costs); which site is curtailed in which hour, and
    # over which corridor, is not (equal-value alternatives), so served load is compared in total
    plants = list(s.plants.index)
    np.testing.assert_allclose(
        result.plant_output_mw[plants].to_numpy(), n.generators_t.p[plants].to_numpy(), atol=1e-4
    )
    np.testing.assert_allclose(
        result.served_mw.sum(axis=1).to_numpy(), served.sum(axis=1).to_numpy(), atol=1e-4
    )
    energy_ours = result.allocation["expected_energy_mwh"].sum()
    assert energy_ours == pytest.approx(served.to_numpy().sum() * s.duration_h, rel=1e-7)
