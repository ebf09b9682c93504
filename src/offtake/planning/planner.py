"""Run a plan: the least-cost baseline (shared with the surplus), the allocation model, results."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from offtake.grid.baseline import Baseline, least_cost_dispatch
from offtake.grid.model import Grid, corridor_shadow_prices
from offtake.grid.solve import SolveError, solution_quality, solve_model
from offtake.grid.subsidy import NoSubsidyRow
from offtake.planning.defaults import planning_defaults
from offtake.planning.model import (
    PlanOptions,
    add_step_rows,
    build_model,
    step_can_bind,
    step_excess_mw,
)
from offtake.planning.results import PlanResult, curtailment_stats
from offtake.scenario import Scenario
from offtake.surplus.assess import assess_surplus
from offtake.timeutil import HOURS_PER_YEAR

__all__ = ["plan", "resolve_step_limit"]

ProgressFn = Callable[[str], None]

#: A dual smaller than this (in objective units per MW) counts as not binding [-].
BINDING_TOLERANCE = 1e-7

#: With PDLP, duals are accurate to about this share of the largest objective coefficient;
#: smaller ones count as not binding [-].
PDLP_BINDING_SHARE = 1e-4

#: With PDLP, allocations below this are read as zero [MW].
PDLP_ZERO_MW = 1e-3

#: A curtailment step this far above the limit counts as breaking it [MW].
STEP_TOLERANCE_MW = 1e-3


def _quiet(_: str) -> None:
    return None


def resolve_step_limit(scenario: Scenario, options: PlanOptions) -> tuple[float | None, str]:
    """Return the contingency limit on the simultaneous curtailment step and its source.

    Parameters
    ----------
    scenario
        The scenario.
    options
        Planning options; an explicit ``max_curtailment_step_mw`` wins.

    Returns
    -------
    tuple
        The limit [MW] and a description of its source.
    """
    if options.max_curtailment_step_mw is not None:
        return options.max_curtailment_step_mw, "given for this run"
    defaults = planning_defaults(scenario.name)
    if defaults.max_curtailment_step_mw is not None:
        return defaults.max_curtailment_step_mw, defaults.step_source
    return scenario.reserve.largest_unit_mw, "the scenario's largest unit (reserve rule)"


def plan(
    scenario: Scenario,
    sites: pd.DataFrame,
    options: PlanOptions,
    *,
    progress: ProgressFn | None = None,
    baseline: Baseline | None = None,
) -> PlanResult:
    """Plan the allocation of the programme cap to candidate sites.

    Parameters
    ----------
    scenario
        The validated scenario.
    sites
        Candidate sites, as returned by :func:`offtake.planning.read_sites`.
    options
        Planning choices (cap, objective, minimum sizes, contingency step).
    progress
        Called with a short message at each stage (the CLI prints them on stderr).
    baseline
        The least-cost dispatch of ``scenario`` without sites, if already solved (by
        :func:`offtake.grid.least_cost_dispatch`); solved here otherwise. The plan's
        no-subsidy rule and its surplus figures are measured against it.

    Returns
    -------
    PlanResult
        Allocations, dispatch, money per zone and what binds.

    Raises
    ------
    offtake.planning.SolveError
        If the scenario cannot run even without sites, or the solver fails.
    """
    say = progress or _quiet
    timings: dict[str, float] = {}
    grid = Grid.from_scenario(scenario)
    n_t = grid.n_intervals
    if baseline is None:
        say(
            f"least-cost dispatch without sites: {n_t} intervals, {len(grid.groups)} plant groups, "
            f"{len(grid.zones)} zones"
        )
        t0 = time.perf_counter()
        baseline = least_cost_dispatch(scenario, grid=grid)
        timings["baseline_s"] = time.perf_counter() - t0
    else:
        grid = baseline.grid
    notes = _baseline_notes(baseline)
    step_limit, step_source = resolve_step_limit(scenario, options)

    t0 = time.perf_counter()
    say(
        f"building the allocation model: {len(sites)} sites, cap {options.cap_mw:,.0f} MW, "
        f"objective {options.objective}"
    )
    model, rows = build_model(grid, sites, options, baseline)
    timings["build_s"] = time.perf_counter() - t0
    kind = "MILP" if options.min_sizes and "build" in model.variables else "LP"
    method = options.resolved_method(n_t)
    limit = step_limit if step_can_bind(sites, options, step_limit, n_t) else None
    say(
        f"solving the {kind} with {'PDLP' if method == 'pdlp' else 'simplex'}: "
        f"{model.nvars:,} variables, {model.ncons:,} constraints"
    )
    t0 = time.perf_counter()
    objective_value = _solve_keeping_step(model, options, method, limit, say)
    if options.objective == "energy":
        duals_model = model
        dual_frames = _duals(model)
        energy = objective_value
        say("energy objective: choosing the cheapest dispatch among plans serving that energy")
        served_var = model.variables["served"]
        model.add_constraints(
            (served_var * grid.duration_h).sum() >= energy * (1 - 1e-9) - 1e-6, name="energy_floor"
        )
        tariff = sites["tariff_usd_per_mwh"].to_numpy(dtype=float) * grid.duration_h
        cost = grid.group_cost_usd_per_mwh * grid.duration_h
        model.add_objective(
            (served_var * _site_da(sites, tariff)).sum()
            - (model.variables["gen"] * _group_da(grid, cost)).sum(),
            sense="max",
            overwrite=True,
        )
        _solve_keeping_step(model, options, method, limit, say)
    timings["solve_s"] = time.perf_counter() - t0

    if kind == "MILP":
        built = pd.Series(model.solution["build"].to_series() > 0.5)
        say(f"reading shadow prices with the {int(built.sum())} sized sites fixed")
        t0 = time.perf_counter()
        fixed, _ = build_model(grid, sites, options, baseline, fixed_build=_fixed_choices(sites, built))
        _copy_step_rows(model, fixed, limit)
        _solve_keeping_step(fixed, options, method, limit, say, what="plan with fixed sizes")
        timings["duals_s"] = time.perf_counter() - t0
        duals_model = fixed
        dual_frames = _duals(fixed)
    elif options.objective != "energy":
        duals_model = model
        dual_frames = _duals(model)

    say("reading results")
    return _results(
        scenario,
        grid,
        sites,
        options,
        model,
        duals_model,
        dual_frames,
        baseline,
        rows,
        step_limit,
        step_source,
        objective_value,
        timings,
        notes,
    )


#: Most rounds of adding curtailment-step rows where a solution breaks the limit [-].
MAX_STEP_ROUNDS = 20


def _solve_keeping_step(
    model: linopy.Model,
    options: PlanOptions,
    method: Literal["simplex", "pdlp"],
    step_limit: float | None,
    say: ProgressFn,
    *,
    what: str = "plan",
) -> float:
    """Solve; add step rows where the solution breaks the step limit, and solve again.

    Without step rows the model is a relaxation; once its optimum keeps the limit in every
    interval it is the optimum of the model with every row, so only the intervals where the
    limit would bind get rows.
    """
    value = solve_model(model, options.solver_options, what=what, method=method)
    if step_limit is None:
        return value
    existing = _step_rows(model)
    rounds = len(existing)
    tolerance = STEP_TOLERANCE_MW + 1e-6 * step_limit
    limited = np.zeros(model.variables["served"].sizes["time"], dtype=bool)
    for mask in existing.values():
        limited |= mask
    for _ in range(MAX_STEP_ROUNDS):
        served = model.solution["served"].transpose("time", "site").to_numpy()
        excess = step_excess_mw(served, step_limit)
        over = np.flatnonzero((excess > tolerance) & ~limited)
        if not len(over):  # where rows exist, any excess left is the solver's tolerance
            return value
        say(
            f"curtailment step above {step_limit:,.0f} MW in {len(over)} intervals: adding "
            "the step limit there and solving again"
        )
        # the neighbours too: limiting one step often moves the drop to the next interval
        near = np.unique(np.concatenate([over - 1, over, over + 1]))
        near = near[(near >= 1) & (near < served.shape[0])]
        near = near[~limited[near]]
        limited[near] = True
        add_step_rows(model, near, step_limit, rounds)
        rounds += 1
        value = solve_model(model, options.solver_options, what=what, method=method)
    raise SolveError(
        f"{what}: the curtailment step limit still broken after {MAX_STEP_ROUNDS} rounds"
    )


def _is_step_row(name: str) -> bool:
    return name.startswith("step_") and name[5:].isdigit()


def _step_rows(model: linopy.Model) -> dict[int, np.ndarray]:
    """Step rows the model has: round number -> which intervals they limit."""
    return {
        int(str(name)[5:]): model.constraints[name].labels.to_numpy() >= 0
        for name in model.constraints
        if _is_step_row(str(name))
    }


def _copy_step_rows(source: linopy.Model, target: linopy.Model, step_limit: float | None) -> None:
    """Give ``target`` the step rows ``source`` needed (the same intervals)."""
    if step_limit is None:
        return
    for round_no, mask in _step_rows(source).items():
        add_step_rows(target, np.flatnonzero(mask), step_limit, round_no)


def _fixed_choices(sites: pd.DataFrame, built: pd.Series) -> pd.Series:
    fixed = pd.Series(True, index=sites.index)
    fixed.loc[built.index] = built.to_numpy(dtype=bool)
    return fixed


def _site_da(sites: pd.DataFrame, values: np.ndarray) -> xr.DataArray:
    return xr.DataArray(values, coords=[pd.Index(sites.index, name="site")])


def _group_da(grid: Grid, values: np.ndarray) -> xr.DataArray:
    return xr.DataArray(values, coords=[grid.groups])


def _duals(m: linopy.Model) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name in m.constraints:
        dual = m.dual.get(name) if hasattr(m.dual, "get") else None
        if dual is None:
            continue
        out[str(name)] = np.asarray(dual.to_numpy(), dtype=float)
    return out


def _results(
    scenario: Scenario,
    grid: Grid,
    sites: pd.DataFrame,
    options: PlanOptions,
    model: linopy.Model,
    duals_model: linopy.Model,
    duals: dict[str, np.ndarray],
    baseline: Baseline,
    subsidy_rows: list[NoSubsidyRow],
    step_limit: float | None,
    step_source: str,
    objective_value: float,
    timings: dict[str, float],
    notes: list[str],
) -> PlanResult:
    index = scenario.index
    dt = grid.duration_h
    n_t = grid.n_intervals
    horizon_h = n_t * dt
    annual = HOURS_PER_YEAR / horizon_h
    sol = model.solution
    method = options.resolved_method(n_t)
    # PDLP's values carry its tolerance; below these they are read as zero
    zero_mw = PDLP_ZERO_MW if method == "pdlp" else 1e-6
    if method == "pdlp":
        top = (
            float(sites["tariff_usd_per_mwh"].max()) if options.objective == "margin" else 1.0
        )
        tolerance = PDLP_BINDING_SHARE * top * dt
    else:
        tolerance = BINDING_TOLERANCE
    firm = sol["firm"].to_series().reindex(sites.index).to_numpy(dtype=float)
    intr = sol["interruptible"].to_series().reindex(sites.index).to_numpy(dtype=float)
    firm = np.where(firm > zero_mw, firm, 0.0)
    intr = np.where(intr > zero_mw, intr, 0.0)
    allocated = firm + intr
    served = sol["served"].transpose("time", "site").to_numpy()
    served = np.clip(served, 0.0, None)
    # within the solver's accuracy of the allocation (or of zero) is at it
    served = np.where(np.abs(served - allocated[None, :]) <= zero_mw, allocated[None, :], served)
    served = np.where(served <= zero_mw, 0.0, served)
    served_df = pd.DataFrame(served, index=index, columns=sites.index)
    gen = sol["gen"].transpose("time", "group").to_numpy()
    plant_out = grid.fleet.plant_output_mw(scenario.available_mw, grid.full_generation_mw(gen))
    base_out = grid.fleet.plant_output_mw(scenario.available_mw, baseline.generation_mw)
    flow = (
        pd.DataFrame(
            sol["flow"].transpose("time", "corridor").to_numpy(),
            index=index,
            columns=grid.corridors.index,
        )
        if "flow" in sol
        else pd.DataFrame(index=index)
    )

    tariff = sites["tariff_usd_per_mwh"].to_numpy(dtype=float)
    terms = {
        c: sites[c].to_numpy(dtype=float)
        for c in (
            "max_curtailment_fraction",
            "max_curtailment_duration_h",
            "annual_curtailment_limit",
            "response_time_s",
        )
    }
    rows = []
    for i, sid in enumerate(sites.index):
        stats = curtailment_stats(served[:, i], float(allocated[i]), dt)
        rows.append(
            {
                "site_id": sid,
                "operator": sites.at[sid, "operator"],
                "zone": sites.at[sid, "zone"],
                "kind": sites.at[sid, "kind"],
                "firm_mw": float(firm[i]),
                "interruptible_mw": float(intr[i]),
                "allocated_mw": float(allocated[i]),
                "max_curtailment_fraction": float(
                    sites["max_curtailment_fraction"].to_numpy(dtype=float)[i]
                ),
                "max_curtailment_duration_h": float(
                    sites["max_curtailment_duration_h"].to_numpy(dtype=float)[i]
                ),
                "annual_curtailment_limit": float(
                    sites["annual_curtailment_limit"].to_numpy(dtype=float)[i]
                ),
                "response_time_s": float(terms["response_time_s"][i]),
                "tariff_usd_per_mwh": float(tariff[i]),
                **stats,
                "revenue_usd": stats["expected_energy_mwh"] * float(tariff[i]),
            }
        )
    allocation = pd.DataFrame(rows).set_index("site_id")
    long_events = allocation.index[
        allocation["longest_event_h"] > allocation["max_curtailment_duration_h"] + 1e-9
    ]
    if len(long_events):
        notes.append(
            "The plan curtails some sites for longer at a stretch than they accept (the hourly "
            "plan bounds depth and "
            "annual energy, not event length; dispatch must stagger these): "
            + ", ".join(map(str, long_events))
            + "."
        )

    mc = scenario.plants["marginal_cost_usd_per_mwh"]
    extra_fuel = ((plant_out - base_out) * mc).sum(axis=0) * dt
    fuel_by_zone = (
        extra_fuel.groupby(scenario.plants["zone"]).sum().reindex(grid.zones, fill_value=0.0)
    )
    surplus_zone, surplus_national = _surplus(scenario, baseline)
    zone_rows = []
    for z in grid.zones:
        a = allocation[allocation["zone"] == z]
        energy = float(a["expected_energy_mwh"].sum())
        surplus = (
            float(surplus_zone[z])
            if surplus_zone is not None and z in surplus_zone.index
            else np.nan
        )
        zone_rows.append(
            {
                "zone": z,
                "sites": int((a["allocated_mw"] > 0).sum()),
                "allocated_mw": float(a["allocated_mw"].sum()),
                "firm_mw": float(a["firm_mw"].sum()),
                "interruptible_mw": float(a["interruptible_mw"].sum()),
                "energy_mwh": energy,
                "surplus_energy_mwh": surplus,
                "surplus_use": energy / surplus if surplus and surplus > 0 else np.nan,
                "revenue_usd": float(a["revenue_usd"].sum()),
                "fuel_cost_usd": float(fuel_by_zone[z]),
            }
        )
    zones = pd.DataFrame(zone_rows).set_index("zone")
    total_energy = float(zones["energy_mwh"].sum())
    zones.loc["national"] = {
        "sites": int(zones["sites"].sum()),
        "allocated_mw": float(zones["allocated_mw"].sum()),
        "firm_mw": float(zones["firm_mw"].sum()),
        "interruptible_mw": float(zones["interruptible_mw"].sum()),
        "energy_mwh": total_energy,
        "surplus_energy_mwh": surplus_national if surplus_national is not None else np.nan,
        "surplus_use": total_energy / surplus_national if surplus_national else np.nan,
        "revenue_usd": float(zones["revenue_usd"].sum()),
        "fuel_cost_usd": float(zones["fuel_cost_usd"].sum()),
    }
    zones["net_margin_usd"] = zones["revenue_usd"] - zones["fuel_cost_usd"]
    zones["sites"] = zones["sites"].astype(int)

    defaults = planning_defaults(scenario.name)
    net_margin = float(zones["net_margin_usd"].to_numpy(dtype=float)[-1])
    share = None
    if defaults.capacity_payments_pkr:
        share = (
            net_margin
            * annual
            * scenario.exchange_rate_pkr_per_usd
            / defaults.capacity_payments_pkr
        )
    national = {
        "allocated_mw": float(allocated.sum()),
        "firm_mw": float(firm.sum()),
        "interruptible_mw": float(intr.sum()),
        "energy_mwh": total_energy,
        "revenue_usd": float(zones["revenue_usd"].to_numpy(dtype=float)[-1]),
        "fuel_cost_usd": float(zones["fuel_cost_usd"].to_numpy(dtype=float)[-1]),
        "net_margin_usd": net_margin,
        "net_margin_usd_per_year": net_margin * annual,
        "capacity_payments_pkr": defaults.capacity_payments_pkr,
        "capacity_payments_year": defaults.capacity_payments_year,
        "capacity_payments_source": defaults.capacity_payments_source,
        "capacity_payments_offset_share": share,
        "objective_value": objective_value,
        "baseline_objective_value": -baseline.objective_usd,
        "baseline_fuel_cost_usd": float((base_out * mc).to_numpy().sum() * dt),
        "plan_fuel_cost_usd": float((plant_out * mc).to_numpy().sum() * dt),
        "exchange_rate_pkr_per_usd": scenario.exchange_rate_pkr_per_usd,
        "variables": int(model.nvars),
        "constraints": int(model.ncons),
        "solver_method": "HiGHS PDLP" if method == "pdlp" else "HiGHS simplex",
        **{f"solver_{k}": v for k, v in solution_quality(model).items()},
    }

    price_cols = {}
    for z in grid.zones:
        key = f"balance_{z}"
        if key in duals:
            price_cols[z] = np.abs(duals[key]) / dt
    prices = pd.DataFrame(price_cols, index=index)
    # in objective units per MW and interval, for the corridor limits (every zone needed)
    zone_price = prices[grid.zones].to_numpy() * dt if len(price_cols) == len(grid.zones) else None
    binding = _binding(
        grid,
        sites,
        duals,
        annual,
        options.objective,
        step_limit,
        flow.to_numpy(dtype=float) if len(grid.corridors) else None,
        zone_price,
        tolerance,
        subsidy_rows,
    )
    return PlanResult(
        scenario_name=scenario.name,
        objective=options.objective,
        cap_mw=options.cap_mw,
        min_sizes=options.min_sizes,
        step_limit_mw=step_limit,
        step_source=step_source,
        horizon_h=horizon_h,
        sites=sites,
        allocation=allocation,
        served_mw=served_df,
        plant_output_mw=plant_out,
        baseline_output_mw=base_out,
        flow_mw=flow,
        zone_price_usd_per_mwh=prices,
        zones=zones,
        binding=binding,
        national=national,
        reserve_shortfall_mw=pd.Series(baseline.reserve_short_mw, index=index, name="reserve_shortfall_mw"),
        timings_s=timings,
        notes=notes,
    )


def _surplus(scenario: Scenario, baseline: Baseline) -> tuple[pd.Series, float]:
    """Surplus energy per zone and nationally over the period [MWh], on the plan's baseline."""
    r = assess_surplus(scenario, tariff_usd_per_mwh=None, baseline=baseline)
    zone = r.zone_mw.sum(axis=0) * scenario.duration_h
    national = float(r.national_mw.sum() * scenario.duration_h)
    return zone, national


def _baseline_notes(baseline: Baseline) -> list[str]:
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


def _binding(
    grid: Grid,
    sites: pd.DataFrame,
    duals: dict[str, np.ndarray],
    annual: float,
    objective: str,
    step_limit: float | None,
    flow_mw: np.ndarray | None,
    zone_price: np.ndarray | None,
    tolerance: float,
    no_subsidy_rows: list[NoSubsidyRow],
) -> pd.DataFrame:
    unit = "USD/yr per MW" if objective == "margin" else "MWh/yr per MW"
    rows: list[dict[str, object]] = []

    def add(name: str, kind: str, values: np.ndarray) -> None:
        v = np.abs(np.nan_to_num(np.atleast_1d(values)))
        v = np.where(v > tolerance, v, 0.0)
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
                    f"{c['from_zone']}->{c['to_zone']}"
                    if label == "forward"
                    else f"{c['to_zone']}->{c['from_zone']}"
                )
                add(f"corridor {cid} {arrow}", "corridor", d[:, j])
    if "national_cap" in duals:
        add("national cap", "cap", duals["national_cap"])
    step_duals = [np.nan_to_num(v) for k, v in duals.items() if _is_step_row(k)]
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
            add(f"request of site {sid}", "site request", duals["request"][j])
    table = pd.DataFrame(
        rows, columns=["constraint", "kind", "hours_binding", "worth_per_year", "unit"]
    )
    return table.sort_values("worth_per_year", ascending=False, ignore_index=True)
