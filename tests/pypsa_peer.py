"""The allocation problem written independently in PyPSA, as a trusted peer for the planner.

Native PyPSA components carry most of it: one bus per zone, loads, plants as generators
(must-run as p_min_pu = p_max_pu = availability, a fuel contract's minimum off-take as
p_min_pu = the minimum loading), corridors as lossless links with
p_min_pu = -reverse/forward, and each site as an extendable generator of negative output
(p_min_pu = -1, p_max_pu = -(1 - max_curtailment_fraction), marginal_cost = tariff, so its
cost is minus the tariff revenue), with the national cap as a
``tech_capacity_expansion_limit`` global constraint on the ``site`` carrier. What PyPSA has no
component for is added with ``extra_functionality`` on PyPSA's own variables: the reserve
held on non-variable plants, each site's annual curtailment limit, the curtailment step limit
and the no-subsidy rule (against a PyPSA baseline solved first).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pypsa

from offtake.scenario import Scenario


def _network(scenario: Scenario, sites: pd.DataFrame | None, cap_mw: float) -> pypsa.Network:
    n = pypsa.Network()
    n.set_snapshots(range(len(scenario.index)))
    techs = set(scenario.plants["technology"]) | {"site", "ac"}
    n.add("Carrier", sorted(techs))
    for z in scenario.zone_ids:
        n.add("Bus", z, carrier="ac")
        n.add("Load", f"demand {z}", bus=z, p_set=scenario.demand_mw[z].to_numpy())
    floor_mw = scenario.min_output_mw
    for name, p in scenario.plants.iterrows():
        assert isinstance(name, str)
        avail = scenario.availability_pu[name].to_numpy()
        # a fuel contract's minimum off-take: at least that share of capacity, or all available
        floor_pu = floor_mw[name].to_numpy() / p["capacity_mw"] if p["capacity_mw"] > 0 else 0.0 * avail
        n.add(
            "Generator",
            name,
            bus=p["zone"],
            carrier=p["technology"],
            p_nom=p["capacity_mw"],
            p_max_pu=avail,
            p_min_pu=avail if p["must_run"] else floor_pu,
            marginal_cost=p["marginal_cost_usd_per_mwh"],
        )
    for c in scenario.corridors:
        n.add(
            "Link",
            c.id,
            bus0=c.from_zone,
            bus1=c.to_zone,
            p_nom=c.forward_mw,
            p_min_pu=-c.reverse_mw / c.forward_mw,
            efficiency=1.0,
            carrier="ac",
        )
    if sites is not None:
        for sid, s in sites.iterrows():
            n.add(
                "Generator",
                f"site {sid}",
                bus=s["zone"],
                carrier="site",
                p_nom_extendable=True,
                p_nom_max=s["requested_mw"],
                p_min_pu=-1.0,
                p_max_pu=-(1.0 - s["max_curtailment_fraction"]),
                marginal_cost=s["tariff_usd_per_mwh"],
            )
        n.add(
            "GlobalConstraint",
            "national cap",
            type="tech_capacity_expansion_limit",
            carrier_attribute="site",
            sense="<=",
            constant=cap_mw,
        )
    return n


def _reserve_adder(scenario: Scenario) -> Callable[[pypsa.Network], None]:
    plants = scenario.plants
    non_variable = list(plants.index[~plants["variable"]])
    headroom = scenario.available_mw[non_variable].sum(axis=1).to_numpy()
    reserve = scenario.reserve_requirement_mw().to_numpy()

    def add_reserve(n: pypsa.Network) -> None:
        m = n.model
        p = m["Generator-p"].sel(name=non_variable)
        rhs = pd.Series(headroom - reserve, index=pd.Index(n.snapshots, name="snapshot"))
        m.add_constraints(p.sum("name") <= rhs.to_xarray(), name="peer_reserve")

    return add_reserve


def _site_constraints(
    scenario: Scenario, sites: pd.DataFrame, step_limit_mw: float | None, g0: pd.DataFrame
) -> Callable[[pypsa.Network, object], None]:
    plants = scenario.plants
    add_reserve = _reserve_adder(scenario)
    site_names = [f"site {s}" for s in sites.index]
    hours = len(scenario.index) * scenario.duration_h

    def extra(n: pypsa.Network, _: object) -> None:
        add_reserve(n)
        m = n.model
        p = m["Generator-p"]
        p_nom = m["Generator-p_nom"]
        for sid, s in sites.iterrows():
            name = f"site {sid}"
            served_energy = -(p.sel(name=name) * scenario.duration_h).sum("snapshot")
            m.add_constraints(
                served_energy - (1.0 - s["annual_curtailment_limit"]) * hours * p_nom.sel(name=name)
                >= 0,
                name=f"peer_annual {sid}",
            )
        if step_limit_mw is not None:
            ps = p.sel(name=site_names)
            later = n.snapshots[1:]
            drop = m.add_variables(
                lower=0.0, coords=[later, pd.Index(site_names, name="name")], name="peer_drop"
            )
            now = ps.sel(snapshot=later)
            before = ps.sel(snapshot=n.snapshots[:-1]).assign_coords(snapshot=later)
            # drop of served load = served before - served now = p now - p before
            m.add_constraints(drop - now + before >= 0, name="peer_drop_def")
            m.add_constraints(drop.sum("name") <= step_limit_mw, name="peer_step")
        cost = plants["marginal_cost_usd_per_mwh"]
        tariff = sites["tariff_usd_per_mwh"]
        for k, tau in enumerate(sorted(set(tariff))):
            dear = list(cost.index[cost > tau])
            if not dear:
                continue
            payers = [f"site {s}" for s in tariff.index[tariff > tau]]
            lhs = p.sel(name=dear).sum("name")
            if payers:
                lhs = lhs + p.sel(name=payers).sum("name")  # p of a site is minus its served load
            rhs = g0[dear].sum(axis=1)
            rhs.index = pd.Index(n.snapshots, name="snapshot")
            m.add_constraints(lhs <= rhs.to_xarray(), name=f"peer_no_subsidy {k}")

    return extra


def build_peer(
    scenario: Scenario,
    sites: pd.DataFrame,
    cap_mw: float,
    step_limit_mw: float | None,
    g0: pd.DataFrame,
) -> pypsa.Network:
    """Build (not solve) the allocation problem in PyPSA, given a baseline dispatch."""
    n = _network(scenario, sites, cap_mw)
    n.optimize.create_model()
    _site_constraints(scenario, sites, step_limit_mw, g0)(n, n.snapshots)
    return n


def solve_peer(
    scenario: Scenario, sites: pd.DataFrame, cap_mw: float, step_limit_mw: float | None
) -> tuple[pypsa.Network, pypsa.Network]:
    """Solve the baseline and the allocation problem in PyPSA; return both networks."""
    add_reserve = _reserve_adder(scenario)
    base = _network(scenario, None, cap_mw)
    base.optimize(
        solver_name="highs",
        extra_functionality=lambda n, _: add_reserve(n),
        solver_options={"output_flag": False},
    )
    g0 = base.generators_t.p[list(scenario.plants.index)]
    n = _network(scenario, sites, cap_mw)
    n.optimize(
        solver_name="highs",
        extra_functionality=_site_constraints(scenario, sites, step_limit_mw, g0),
        solver_options={"output_flag": False},
    )
    return base, n


def peer_site_results(n: pypsa.Network, sites: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Allocated MW per site and served MW per snapshot and site from a solved peer."""
    names = [f"site {s}" for s in sites.index]
    alloc = n.generators.loc[names, "p_nom_opt"].set_axis(sites.index)
    served = -n.generators_t.p[names].set_axis(sites.index, axis=1)
    return alloc, served


def numpy_index(frame: pd.DataFrame) -> np.ndarray:
    """Values of a frame as a float array."""
    return frame.to_numpy(dtype=float)


#: Weight of the extra load in the surplus peer's objective [USD/MWh]: far above any fuel cost, so
#: the optimum serves the most extra load and only then saves fuel.
EXTRA_WEIGHT_USD_PER_MWH = 1e5
#: Size of the extra-load generator of the surplus peer [MW], above any surplus of a test network.
EXTRA_SIZE_MW = 1e6


def solve_peer_baseline(scenario: Scenario) -> pd.DataFrame:
    """Least-cost dispatch of existing demand in PyPSA (reserve and fuel contracts included) [MW]."""
    add_reserve = _reserve_adder(scenario)
    base = _network(scenario, None, 0.0)
    base.optimize(
        solver_name="highs",
        extra_functionality=lambda n, _: add_reserve(n),
        solver_options={"output_flag": False},
    )
    dispatch: pd.DataFrame = base.generators_t.p[list(scenario.plants.index)]
    return dispatch


def solve_peer_surplus(scenario: Scenario, g0: pd.DataFrame, tariff_usd_per_mwh: float, zone: str | None) -> np.ndarray:
    """Largest extra load per snapshot at ``zone`` (all zones jointly if None), written in PyPSA [MW].

    The surplus rule on PyPSA components: plants above the tariff produce at most their
    baseline output ``g0`` (p_max_pu), must-run plants and fuel contracts keep their lower
    bounds (p_min_pu), the reserve is the same extra row as the baseline's, and the extra load
    is a generator of negative output at each taking bus whose negative cost outweighs any fuel.
    """
    n = _network(scenario, None, 0.0)
    plants = scenario.plants
    for name in plants.index[plants["marginal_cost_usd_per_mwh"] > tariff_usd_per_mwh]:
        capacity = float(plants.loc[name, "capacity_mw"])
        available = scenario.availability_pu[name].to_numpy()
        lowest = n.generators_t.p_min_pu[name].to_numpy() if name in n.generators_t.p_min_pu else 0.0
        limit = np.maximum(np.minimum(g0[name].to_numpy() / capacity, available), lowest)
        n.generators_t.p_max_pu[name] = limit
    takers = scenario.zone_ids if zone is None else [zone]
    for z in takers:
        n.add(
            "Generator",
            f"extra {z}",
            bus=z,
            carrier="site",
            p_nom=EXTRA_SIZE_MW,
            p_min_pu=-1.0,
            p_max_pu=0.0,
            marginal_cost=EXTRA_WEIGHT_USD_PER_MWH,
        )
    add_reserve = _reserve_adder(scenario)
    n.optimize(
        solver_name="highs",
        extra_functionality=lambda net, _: add_reserve(net),
        solver_options={"output_flag": False},
    )
    extra: pd.Series = -n.generators_t.p[[f"extra {z}" for z in takers]].sum(axis=1)
    values: np.ndarray = extra.to_numpy(dtype=float)
    return values
