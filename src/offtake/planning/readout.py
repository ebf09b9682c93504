"""Read a plan from its solved model: allocations, served load, money per zone, what binds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import linopy
import numpy as np
import pandas as pd

from offtake.grid.baseline import Baseline
from offtake.grid.model import Grid, corridor_shadow_prices
from offtake.grid.solve import solution_quality
from offtake.grid.subsidy import NoSubsidyRow
from offtake.planning.defaults import planning_defaults
from offtake.planning.model import PlanOptions, is_step_row
from offtake.planning.results import PlanResult, curtailment_stats
from offtake.scenario import Scenario
from offtake.surplus.assess import assess_surplus
from offtake.timeutil import HOURS_PER_YEAR

__all__ = ["Solved", "baseline_notes", "binding_table", "price_bound_per_mwh", "read_plan", "withheld_note"]

#: A dual smaller than this (in objective units per MW) counts as not binding [-].
BINDING_TOLERANCE = 1e-7

#: With PDLP, duals are accurate to about this share of the largest objective coefficient;
#: smaller ones count as not binding [-].
PDLP_BINDING_SHARE = 1e-4

#: With PDLP, allocations below this are read as zero [MW].
PDLP_ZERO_MW = 1e-3

#: Site terms copied from the candidate list into the allocation table.
_TERMS = ("max_curtailment_fraction", "max_curtailment_duration_h", "annual_curtailment_limit", "response_time_s")


@dataclass
class Solved:
    """A solved allocation model and everything it was built and solved with."""

    scenario: Scenario
    grid: Grid
    sites: pd.DataFrame
    options: PlanOptions
    model: linopy.Model
    duals: dict[str, np.ndarray]
    baseline: Baseline
    subsidy_rows: list[NoSubsidyRow]
    step_limit: float | None
    step_source: str
    objective_value: float
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def method(self) -> str:
        """``pdlp`` or ``simplex``, as chosen for this period."""
        return self.options.resolved_method(self.grid.n_intervals)

    @property
    def zero_mw(self) -> float:
        """Values within this of zero (or of the allocation) are read as at it [MW]."""
        return PDLP_ZERO_MW if self.method == "pdlp" else 1e-6

    @property
    def annual(self) -> float:
        """Factor from the period to a year [-]."""
        return HOURS_PER_YEAR / (self.grid.n_intervals * self.grid.duration_h)


def read_plan(s: Solved) -> PlanResult:
    """Read the plan from a solved model.

    Parameters
    ----------
    s
        The solved model and its inputs.

    Returns
    -------
    PlanResult
        Allocations, dispatch, money per zone and what binds.
    """
    index = s.scenario.index
    firm, intr, served = _allocated(s)
    sol = s.model.solution
    gen = sol["gen"].transpose("time", "group").to_numpy()
    plant_out = s.grid.fleet.plant_output_mw(s.scenario.available_mw, s.grid.full_generation_mw(gen))
    base_out = s.grid.fleet.plant_output_mw(s.scenario.available_mw, s.baseline.generation_mw)
    flow = _flows(s)
    allocation = _site_table(s, firm, intr, served)
    prices = _zone_prices(s)
    zones = _zone_table(s, allocation, served, prices)
    return PlanResult(
        scenario_name=s.scenario.name,
        objective=s.options.objective,
        cap_mw=s.options.cap_mw,
        min_sizes=s.options.min_sizes,
        step_limit_mw=s.step_limit,
        step_source=s.step_source,
        horizon_h=s.grid.n_intervals * s.grid.duration_h,
        sites=s.sites,
        allocation=allocation,
        served_mw=pd.DataFrame(served, index=index, columns=s.sites.index),
        plant_output_mw=plant_out,
        baseline_output_mw=base_out,
        flow_mw=flow,
        zone_price_usd_per_mwh=prices,
        zones=zones,
        binding=_binding_table(s, flow, prices),
        national=_national(s, zones, firm, intr, plant_out, base_out),
        reserve_shortfall_mw=pd.Series(s.baseline.reserve_short_mw, index=index, name="reserve_shortfall_mw"),
        timings_s=s.timings,
        notes=s.notes,
        warnings=s.warnings,
    )


def _allocated(s: Solved) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Firm and interruptible MW per site and served MW per interval and site, solver noise removed."""
    sol = s.model.solution
    zero = s.zero_mw
    firm = sol["firm"].to_series().reindex(s.sites.index).to_numpy(dtype=float)
    intr = sol["interruptible"].to_series().reindex(s.sites.index).to_numpy(dtype=float)
    firm = np.where(firm > zero, firm, 0.0)
    intr = np.where(intr > zero, intr, 0.0)
    allocated = firm + intr
    served = np.clip(sol["served"].transpose("time", "site").to_numpy(), 0.0, None)
    # within the solver's accuracy of the allocation (or of zero) is at it
    served = np.where(np.abs(served - allocated[None, :]) <= zero, allocated[None, :], served)
    return firm, intr, np.where(served <= zero, 0.0, served)


def _flows(s: Solved) -> pd.DataFrame:
    sol = s.model.solution
    if "flow" not in sol:
        return pd.DataFrame(index=s.scenario.index)
    values = sol["flow"].transpose("time", "corridor").to_numpy()
    return pd.DataFrame(values, index=s.scenario.index, columns=s.grid.corridors.index)


def _site_table(s: Solved, firm: np.ndarray, intr: np.ndarray, served: np.ndarray) -> pd.DataFrame:
    """One row per site: tranches, terms, expected energy, curtailment and revenue."""
    sites, dt = s.sites, s.grid.duration_h
    tariff = sites["tariff_usd_per_mwh"].to_numpy(dtype=float)
    terms = {c: sites[c].to_numpy(dtype=float) for c in _TERMS}
    rows = []
    for i, sid in enumerate(sites.index):
        allocated = float(firm[i] + intr[i])
        stats = curtailment_stats(served[:, i], allocated, dt)
        rows.append(
            {
                "site_id": sid,
                "operator": sites.at[sid, "operator"],
                "zone": sites.at[sid, "zone"],
                "kind": sites.at[sid, "kind"],
                "firm_mw": float(firm[i]),
                "interruptible_mw": float(intr[i]),
                "allocated_mw": allocated,
                **{c: float(terms[c][i]) for c in _TERMS},
                "tariff_usd_per_mwh": float(tariff[i]),
                **stats,
                "revenue_usd": stats["expected_energy_mwh"] * float(tariff[i]),
            }
        )
    allocation = pd.DataFrame(rows).set_index("site_id")
    # Terms the plan breaks (event length above all) are checked in offtake.planning.terms_check.
    return allocation


def _zone_table(s: Solved, allocation: pd.DataFrame, served: np.ndarray, prices: pd.DataFrame) -> pd.DataFrame:
    """Per zone and nationally: sites, MW, energy, use of the surplus, what the sites pay and serving cost.

    A zone's serving cost is its sites' served energy valued at the zone price (the dual of the
    zone balance) in each interval; fuel is a national figure only (re-dispatch moves fuel between
    zones in ways that say nothing about where the sites are), see :func:`_national`.
    """
    grid = s.grid
    surplus_zone, surplus_national = _surplus(s.scenario, s.baseline)
    cost = _serving_cost(s, served, prices)
    rows = [
        _zone_row(z, allocation[allocation["zone"] == z], cost.get(z, np.nan), surplus_zone.get(z, np.nan))
        for z in grid.zones
    ]
    zones = pd.DataFrame(rows).set_index("zone")
    total = _zone_row("national", allocation, float(zones["serving_cost_usd"].sum(skipna=False)), surplus_national)
    total["sites"] = int(zones["sites"].sum())
    zones.loc["national"] = {k: v for k, v in total.items() if k != "zone"}
    zones["margin_at_zone_price_usd"] = zones["revenue_usd"] - zones["serving_cost_usd"]
    zones["sites"] = zones["sites"].astype(int)
    return zones


def _serving_cost(s: Solved, served: np.ndarray, prices: pd.DataFrame) -> dict[str, float]:
    """Cost of serving each zone's sites at the zone prices [USD]; empty under the energy objective.

    Under the energy objective the balance duals are in MWh per MWh, not money: only zones
    without sites (zero) are known.
    """
    site_zone = s.sites["zone"].to_numpy()
    if s.options.objective != "margin" or any(z not in prices.columns for z in s.grid.zones):
        return {z: 0.0 for z in s.grid.zones if not (site_zone == z).any()}
    bound = price_bound_per_mwh(s)
    out: dict[str, float] = {}
    impossible: dict[str, int] = {}
    for z in s.grid.zones:
        in_zone = site_zone == z
        energy = served[:, in_zone].sum(axis=1) * s.grid.duration_h
        price = prices[z].to_numpy(dtype=float)
        beyond = int((price[energy > 0] > bound * (1 + 1e-6) + PDLP_BINDING_SHARE).sum())
        if beyond:
            impossible[z] = beyond
            out[z] = np.nan
            continue
        out[z] = float((energy * price).sum()) if in_zone.any() else 0.0
    if impossible:
        hint = " (PDLP's duals are approximate; --method simplex gives exact ones)" if s.method == "pdlp" else ""
        s.warnings.append(
            f"Serving cost at zone prices withheld for {len(impossible)} zone(s){hint}: the zone price exceeds "
            f"what one MWh can be worth ({bound:,.4g} USD/MWh, the higher of the highest tariff and the dearest "
            "unit's cost) in intervals where their sites are served: "
            + ", ".join(f"{z} ({n} intervals)" for z, n in impossible.items())
            + "."
        )
    return out


def _zone_row(zone: str, a: pd.DataFrame, serving_cost_usd: float, surplus_mwh: float) -> dict[str, Any]:
    energy = float(a["expected_energy_mwh"].sum())
    return {
        "zone": zone,
        "sites": int((a["allocated_mw"] > 0).sum()),
        "allocated_mw": float(a["allocated_mw"].sum()),
        "firm_mw": float(a["firm_mw"].sum()),
        "interruptible_mw": float(a["interruptible_mw"].sum()),
        "energy_mwh": energy,
        "surplus_energy_mwh": surplus_mwh,
        "surplus_use": energy / surplus_mwh if surplus_mwh and surplus_mwh > 0 else np.nan,
        "revenue_usd": float(a["revenue_usd"].sum()),
        "serving_cost_usd": serving_cost_usd,
    }


def _national(
    s: Solved, zones: pd.DataFrame, firm: np.ndarray, intr: np.ndarray, plant_out: pd.DataFrame, base_out: pd.DataFrame
) -> dict[str, Any]:
    """National figures: MW, energy, money, capacity payments offset, model size and solver accuracy."""
    scenario, dt = s.scenario, s.grid.duration_h
    mc = scenario.plants["marginal_cost_usd_per_mwh"]
    defaults = planning_defaults(scenario.name)
    nat = zones.loc["national"].to_dict()
    fuel = float(((plant_out - base_out) * mc).to_numpy().sum() * dt)
    net_margin = float(nat["revenue_usd"]) - fuel
    share = None
    if defaults.capacity_payments_pkr:
        share = net_margin * s.annual * scenario.exchange_rate_pkr_per_usd / defaults.capacity_payments_pkr
    return {
        "allocated_mw": float((firm + intr).sum()),
        "firm_mw": float(firm.sum()),
        "interruptible_mw": float(intr.sum()),
        "energy_mwh": float(nat["energy_mwh"]),
        "revenue_usd": float(nat["revenue_usd"]),
        "fuel_cost_usd": fuel,
        "serving_cost_usd": float(nat["serving_cost_usd"]),
        "net_margin_usd": net_margin,
        "net_margin_usd_per_year": net_margin * s.annual,
        "capacity_payments_pkr": defaults.capacity_payments_pkr,
        "capacity_payments_year": defaults.capacity_payments_year,
        "capacity_payments_source": defaults.capacity_payments_source,
        "capacity_payments_offset_share": share,
        "objective_value": s.objective_value,
        "baseline_objective_value": -s.baseline.objective_usd,
        "baseline_fuel_cost_usd": float((base_out * mc).to_numpy().sum() * dt),
        "plan_fuel_cost_usd": float((plant_out * mc).to_numpy().sum() * dt),
        "exchange_rate_pkr_per_usd": scenario.exchange_rate_pkr_per_usd,
        "variables": int(s.model.nvars),
        "constraints": int(s.model.ncons),
        "solver_method": "HiGHS PDLP" if s.method == "pdlp" else "HiGHS simplex",
        **{f"solver_{k}": v for k, v in solution_quality(s.model).items()},
    }


def _zone_prices(s: Solved) -> pd.DataFrame:
    """Zone prices from the duals of the zone balances [USD/MWh]."""
    dt = s.grid.duration_h
    columns = {z: np.abs(s.duals[f"balance_{z}"]) / dt for z in s.grid.zones if f"balance_{z}" in s.duals}
    return pd.DataFrame(columns, index=s.scenario.index)


def price_bound_per_mwh(s: Solved) -> float:
    """Return the most one MWh can be worth to the objective [USD/MWh] (MWh/MWh under the energy objective).

    One more MW in an interval earns at most the highest tariff (a site served more) or saves at
    most the dearest unit's fuel (generation moved to a cheaper unit); so a MW-year at the larger
    of the two bounds the worth of relaxing any MW limit. Under the energy objective one more MW
    absorbs at most one MW.
    """
    if s.options.objective != "margin":
        return 1.0
    tariff = float(s.sites["tariff_usd_per_mwh"].max())
    dearest = float(s.scenario.plants["marginal_cost_usd_per_mwh"].max())
    return max(tariff, dearest)


def _binding_table(s: Solved, flow: pd.DataFrame, prices: pd.DataFrame) -> pd.DataFrame:
    dt = s.grid.duration_h
    if s.method == "pdlp":
        top = float(s.sites["tariff_usd_per_mwh"].max()) if s.options.objective == "margin" else 1.0
        tolerance = PDLP_BINDING_SHARE * top * dt
    else:
        tolerance = BINDING_TOLERANCE
    # in objective units per MW and interval, for the corridor limits (every zone needed)
    zone_price = prices[s.grid.zones].to_numpy() * dt if len(prices.columns) == len(s.grid.zones) else None
    bound = price_bound_per_mwh(s)
    table, withheld = binding_table(
        s.grid,
        s.sites,
        s.duals,
        annual=s.annual,
        objective=s.options.objective,
        step_limit=s.step_limit,
        flow_mw=flow.to_numpy(dtype=float) if len(s.grid.corridors) else None,
        zone_price=zone_price,
        tolerance=tolerance,
        no_subsidy_rows=s.subsidy_rows,
        bound_per_mwh=bound,
    )
    if withheld:
        unit = "USD/MWh" if s.options.objective == "margin" else "MWh/MWh"
        s.warnings.append(withheld_note(withheld, bound, unit, s.method))
    return table


def withheld_note(withheld: list[str], bound_per_mwh: float, unit: str, method: str) -> str:
    """Say which shadow prices were withheld as impossible, and why."""
    hint = " (PDLP's duals are approximate; --method simplex gives exact ones)" if method == "pdlp" else ""
    return (
        f"{len(withheld)} shadow price(s) withheld as impossible{hint}: in some interval they exceed what one "
        f"more MW can be worth ({bound_per_mwh:,.4g} {unit}, the higher of the highest tariff and the dearest "
        f"unit's cost): {', '.join(withheld)}."
    )


def _surplus(scenario: Scenario, baseline: Baseline) -> tuple[pd.Series, float]:
    """Surplus energy per zone and nationally over the period [MWh], on the plan's baseline."""
    r = assess_surplus(scenario, tariff_usd_per_mwh=None, baseline=baseline)
    zone = r.zone_mw.sum(axis=0) * scenario.duration_h
    national = float(r.national_mw.sum() * scenario.duration_h)
    return zone, national


def baseline_notes(baseline: Baseline) -> list[str]:
    """Say in words what the grid cannot do even without sites."""
    grid = baseline.grid
    notes: list[str] = []
    shortfall = baseline.reserve_short_mw
    if shortfall.any():
        notes.append(
            "Even without any site the grid cannot hold its full reserve in "
            f"{int((shortfall > 0).sum())} "
            f"intervals (up to {shortfall.max():,.0f} MW short); the plan keeps all the reserve "
            "the grid holds there."
        )
    unserved = baseline.unserved_mw
    if unserved.any():
        short_zones = [z for z, v in zip(grid.zones, unserved.sum(axis=0), strict=True) if v > 0]
        notes.append(
            "Even without any site the grid cannot meet all demand in "
            f"{int((unserved.sum(axis=1) > 0).sum())} intervals "
            f"({unserved.sum() * grid.duration_h:,.0f} MWh short, in {', '.join(short_zones)}); "
            "the plan never takes power "
            "there and then, and meets all the demand the grid can serve."
        )
    if baseline.spilled_mw.any():
        notes.append(
            "Without any site the grid spills must-run output in "
            f"{int((baseline.spilled_mw.sum(axis=1) > 0).sum())} intervals "
            f"({baseline.spilled_mw.sum() * grid.duration_h:,.0f} MWh); sites may absorb it."
        )
    return notes


def binding_table(
    grid: Grid,
    sites: pd.DataFrame,
    duals: dict[str, np.ndarray],
    *,
    annual: float,
    objective: str,
    step_limit: float | None,
    flow_mw: np.ndarray | None,
    zone_price: np.ndarray | None,
    tolerance: float,
    no_subsidy_rows: list[NoSubsidyRow],
    bound_per_mwh: float,
) -> tuple[pd.DataFrame, list[str]]:
    """Tabulate what binds and what relaxing it by 1 MW is worth a year; withhold impossible values.

    Parameters
    ----------
    grid, sites, duals
        The grid, the candidate sites and the duals of the model's rows (objective units per
        interval).
    annual
        Factor from the period to a year [-].
    objective
        ``margin`` (worth in USD/yr per MW) or ``energy`` (MWh/yr per MW).
    step_limit
        The curtailment step limit [MW], for the row's name.
    flow_mw, zone_price
        Flows [MW] and zone prices in objective units per MW and interval, for the corridors.
    tolerance
        Duals at or below this count as not binding.
    no_subsidy_rows
        The model's no-subsidy rows.
    bound_per_mwh
        The most one MWh can be worth to the objective [USD/MWh]: a row whose dual exceeds it
        times the interval length in some interval (times the period for a period-long limit)
        is withheld.

    Returns
    -------
    tuple
        The table (``constraint``, ``kind``, ``hours_binding``, ``worth_per_year``, ``unit``;
        most valuable first) and the names of the rows withheld.
    """
    unit = "USD/yr per MW" if objective == "margin" else "MWh/yr per MW"
    rows: list[dict[str, object]] = []
    withheld: list[str] = []
    dt = grid.duration_h
    horizon = grid.n_intervals * dt

    def add(name: str, kind: str, values: np.ndarray, *, period: bool = False) -> None:
        v = np.abs(np.nan_to_num(np.atleast_1d(values)))
        v = np.where(v > tolerance, v, 0.0)
        limit = bound_per_mwh * (horizon if period else dt)
        if (v > limit * (1 + 1e-6) + tolerance).any():
            withheld.append(name)
            return
        hours = int((v > 0).sum())
        if hours:
            rows.append(
                {
                    "constraint": name,
                    "kind": kind,
                    "hours_binding": hours,
                    "worth_per_year": float(v.sum() * annual),
                    "unit": unit,
                }
            )

    if flow_mw is not None and zone_price is not None:
        limits = corridor_shadow_prices(grid, flow_mw, zone_price)
        for label, d in zip(("forward", "reverse"), limits, strict=True):
            for j, cid in enumerate(grid.corridors.index):
                c = grid.corridors.loc[cid]
                arrow = (
                    f"{c['from_zone']}->{c['to_zone']}" if label == "forward" else f"{c['to_zone']}->{c['from_zone']}"
                )
                add(f"corridor {cid} {arrow}", "corridor", d[:, j])
    if "national_cap" in duals:
        add("national cap", "cap", duals["national_cap"], period=True)
    step_duals = [np.nan_to_num(v) for k, v in duals.items() if is_step_row(k)]
    if step_duals:
        add(
            f"curtailment step limit ({step_limit:,.0f} MW)",
            "contingency",
            np.concatenate([v.ravel() for v in step_duals]),
        )
    if "reserve" in duals:
        add("reserve requirement", "reserve", duals["reserve"])
    for row in no_subsidy_rows:  # each row names the tariff it was built for
        if row.name in duals:
            add(f"no subsidy at {row.tariff_usd_per_mwh:g} USD/MWh", "no-subsidy", duals[row.name])
    if "request" in duals:
        for j, sid in enumerate(sites.index):
            add(f"request of site {sid}", "site request", duals["request"][j], period=True)
    table = pd.DataFrame(rows, columns=["constraint", "kind", "hours_binding", "worth_per_year", "unit"])
    return table.sort_values("worth_per_year", ascending=False, ignore_index=True), withheld
