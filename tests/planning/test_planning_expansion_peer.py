"""The expansion option against PyPSA on a small case: same candidates, profiles and load, same build and cost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from offtake import scenario
from offtake.planning import PlanOptions, plan, read_sites
from offtake.planning.expansion import expansion_case, load_expansion

pytest.importorskip("pypsa")

from planning_fixtures import DATA, SITES, physics_data, reserve_feasible_three_zone
from pypsa_expansion_peer import solve_expansion_peer


@pytest.mark.parametrize(
    ("cap_mw", "step_mw", "physics"), [(600.0, None, False), (450.0, 150.0, False), (600.0, None, True)]
)
def test_same_build_and_cost_as_pypsa(tmp_path: Path, cap_mw: float, step_mw: float | None, physics: bool) -> None:
    s = scenario.load(reserve_feasible_three_zone(tmp_path))
    sites = read_sites(SITES, s.zone_ids)
    data = physics_data(tmp_path) if physics else DATA / "planning" / "three-zone-expansion.toml"
    case = expansion_case(s, sites, load_expansion(data))
    if physics:  # the peer is given the same per-zone physics profiles
        assert case.generators["profile_used"].str.startswith("physics: ").all()
    options = PlanOptions(cap_mw=cap_mw, max_curtailment_step_mw=step_mw if step_mw else 1e6, method="simplex")
    result = plan(s, sites, options, expansion=case)
    base, n = solve_expansion_peer(s, sites, cap_mw, step_mw, case)
    assert n.objective is not None and base.objective is not None
    e = result.expansion
    assert e is not None and e.build["built_mw"].sum() > 0  # the comparison is about a real build

    must = s.plants["must_run"]
    must_run_cost = float(
        (s.available_mw.loc[:, must] * s.plants.loc[must, "marginal_cost_usd_per_mwh"]).to_numpy().sum()
    )
    ours = result.national["objective_value"] - must_run_cost  # revenue - fuel - build [USD]
    theirs = -float(n.objective)
    assert abs(ours - theirs) <= 1e-6 * abs(theirs)

    # the build, candidate by candidate, and its cost
    built = n.generators.loc[[f"candidate {c}" for c in case.generators.index], "p_nom_opt"].to_numpy()
    np.testing.assert_allclose(e.build.loc[case.generators.index, "built_mw"].to_numpy(), built, atol=1e-3)
    for zone in case.stores.index:
        assert e.build.at[f"{zone} battery", "built_mwh"] == pytest.approx(
            n.stores.at[f"battery {zone}", "e_nom_opt"], abs=1e-3
        )
        assert e.build.at[f"{zone} battery", "built_mw"] == pytest.approx(
            n.links.at[f"charger {zone}", "p_nom_opt"], abs=1e-3
        )
    capital = float((n.generators["p_nom_opt"] * n.generators["capital_cost"]).sum())
    capital += float((n.stores["e_nom_opt"] * n.stores["capital_cost"]).sum())
    capital += float((n.links["p_nom_opt"] * n.links["capital_cost"]).sum())
    vom_rate = case.generators["variable_om_usd_per_mwh"].to_dict()
    vom = 0.0
    for c in case.generators.index:
        vom += float(n.generators_t.p[f"candidate {c}"].sum()) * float(vom_rate[c])
    assert e.totals["cost_usd"] == pytest.approx(capital + vom, rel=1e-6)
    # the new energy the sites draw: the export links and battery discharge into the zones
    delivered = sum(float(n.links_t.p1[f"export {z}"].sum()) for z in dict.fromkeys(case.generators["zone"]))
    delivered += sum(float(n.links_t.p1[f"discharger {z}"].sum()) for z in case.stores.index)
    assert e.totals["renewable_energy_mwh"] == pytest.approx(-delivered * s.duration_h, rel=1e-6)
    assert result.allocation["allocated_mw"].sum() == pytest.approx(
        n.generators.loc[[f"site {x}" for x in sites.index], "p_nom_opt"].sum(), abs=1e-3
    )
