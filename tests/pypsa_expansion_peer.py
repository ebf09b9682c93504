"""The capacity-expansion option written independently in PyPSA, as a peer for the planner.

On top of the allocation peer of ``pypsa_peer`` (same network, sites, reserve, annual curtailment,
step limit and no-subsidy rows), with PyPSA's own components: per zone a bus for the new plants,
extendable generators on it (``p_max_pu`` = the candidate's profile, ``capital_cost`` = annualised
cost pro rata to the period), a one-way link from it to the zone, and per battery zone a store bus
with an extendable cyclic Store and two links (charger from the new-plant bus, so batteries charge
only from new plants; discharger to the zone), each with efficiency sqrt(round trip), the charger
sized like the discharger's output as in PyPSA-Eur. The one rule PyPSA has no component for (what
a zone's new plants and batteries put into the grid is at most what its sites draw) is added with
``extra_functionality``.
"""

from __future__ import annotations

import pandas as pd
import pypsa
from pypsa_peer import _network, _reserve_adder, _site_constraints

from offtake.planning.expansion import ExpansionCase
from offtake.scenario import Scenario

#: Rating of the link from a zone's new-plant bus to the zone: never binding [MW].
UNLIMITED_MW = 1e6


def _add_candidates(n: pypsa.Network, case: ExpansionCase) -> None:
    gens = case.generators
    share = case.horizon_share
    n.add("Carrier", ["new", "battery"])
    for zone in dict.fromkeys(gens["zone"]):
        n.add("Bus", f"new {zone}", carrier="new")
        n.add("Link", f"export {zone}", bus0=f"new {zone}", bus1=zone, p_nom=UNLIMITED_MW, carrier="new")
    for i, (cid, row) in enumerate(gens.iterrows()):
        n.add(
            "Generator",
            f"candidate {cid}",
            bus=f"new {row['zone']}",
            carrier=row["technology"],
            p_nom_extendable=True,
            p_nom_max=row["max_mw"],
            p_max_pu=case.profiles[:, i],
            capital_cost=row["annual_usd_per_mw"] * share,
            marginal_cost=row["variable_om_usd_per_mwh"],
        )
    storage = case.storage
    if storage is None:
        return
    eta = storage.one_way_efficiency
    rate = case.data.discount_rate
    for zone, row in case.stores.iterrows():
        n.add("Bus", f"store {zone}", carrier="battery")
        n.add(
            "Store",
            f"battery {zone}",
            bus=f"store {zone}",
            carrier="battery",
            e_nom_extendable=True,
            e_nom_max=row["max_mwh"],
            e_cyclic=True,
            capital_cost=storage.annual_usd_per_mwh(rate) * share,
        )
        n.add(
            "Link",
            f"charger {zone}",
            bus0=f"new {zone}",
            bus1=f"store {zone}",
            carrier="battery",
            efficiency=eta,
            p_nom_extendable=True,
            p_nom_max=row["max_mw"],
            capital_cost=storage.annual_usd_per_mw(rate) * share,
        )
        n.add(
            "Link",
            f"discharger {zone}",
            bus0=f"store {zone}",
            bus1=zone,
            carrier="battery",
            efficiency=eta,
            p_nom_extendable=True,
        )


def _expansion_rows(n: pypsa.Network, sites: pd.DataFrame, case: ExpansionCase) -> None:
    m = n.model
    link_p = m["Link-p"]
    gen_p = m["Generator-p"]
    eta = case.storage.one_way_efficiency if case.storage is not None else 1.0
    for zone in dict.fromkeys(case.generators["zone"]):
        into_grid = link_p.sel(name=f"export {zone}")
        if zone in case.stores.index:
            into_grid = into_grid + eta * link_p.sel(name=f"discharger {zone}")
            p_nom = m["Link-p_nom"]
            m.add_constraints(
                p_nom.sel(name=f"charger {zone}") - eta * p_nom.sel(name=f"discharger {zone}") == 0,
                name=f"peer_battery_power {zone}",
            )
        drawn = [f"site {s}" for s in sites.index[sites["zone"] == zone]]
        # a site's p is minus its served load
        m.add_constraints(into_grid + gen_p.sel(name=drawn).sum("name") <= 0, name=f"peer_new_to_sites {zone}")


def solve_expansion_peer(
    scenario: Scenario, sites: pd.DataFrame, cap_mw: float, step_limit_mw: float | None, case: ExpansionCase
) -> tuple[pypsa.Network, pypsa.Network]:
    """Solve the baseline and the allocation problem with expansion in PyPSA; return both networks."""
    add_reserve = _reserve_adder(scenario)
    base = _network(scenario, None, cap_mw)
    base.optimize(
        solver_name="highs", extra_functionality=lambda n, _: add_reserve(n), solver_options={"output_flag": False}
    )
    g0 = base.generators_t.p[list(scenario.plants.index)]
    n = _network(scenario, sites, cap_mw)
    _add_candidates(n, case)
    site_rows = _site_constraints(scenario, sites, step_limit_mw, g0)

    def extra(net: pypsa.Network, snapshots: object) -> None:
        site_rows(net, snapshots)
        _expansion_rows(net, sites, case)

    n.optimize(solver_name="highs", extra_functionality=extra, solver_options={"output_flag": False})
    return base, n
