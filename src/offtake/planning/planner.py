"""Run a plan: the least-cost baseline (shared with the surplus), the allocation model, results."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from offtake.dispatch.policy import contingency_limit
from offtake.grid.baseline import Baseline, least_cost_dispatch
from offtake.grid.model import Grid
from offtake.grid.solve import SolveError, solve_model
from offtake.planning.expansion import ExpansionCase
from offtake.planning.expansion_results import add_expansion_result, read_expansion
from offtake.planning.firm import FirmLimits, FirmMargin, add_firm_rows, firm_limits, firm_margin_for
from offtake.planning.model import (
    PlanOptions,
    add_step_rows,
    build_model,
    is_step_row,
    step_can_bind,
    step_excess_mw,
)
from offtake.planning.readout import Solved, baseline_notes, read_plan
from offtake.planning.results import PlanResult
from offtake.planning.terms_check import check_plan_terms, event_hold_mask
from offtake.scenario import Scenario

__all__ = ["plan", "resolve_step_limit"]

ProgressFn = Callable[[str], None]

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
    reserve = scenario.reserve
    return contingency_limit(reserve.largest_unit_mw if reserve.hold_largest_unit else None)


def plan(
    scenario: Scenario,
    sites: pd.DataFrame,
    options: PlanOptions,
    *,
    progress: ProgressFn | None = None,
    baseline: Baseline | None = None,
    firm_margin: FirmMargin | None = None,
    expansion: ExpansionCase | None = None,
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
    firm_margin
        Margin that keeps firm tranches within the firm deliverable surplus
        (:mod:`offtake.planning.firm`); the scenario's planning data file's if None (no such
        rows when the scenario has none).
    expansion
        New solar, wind and storage the off-take may build for its sites (see
        :func:`offtake.planning.expansion.expansion_case`); margin objective only.

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
    baseline = _baseline(scenario, baseline, say, timings)
    grid = baseline.grid
    step_limit, step_source = resolve_step_limit(scenario, options)
    t0 = time.perf_counter()
    say(
        f"building the allocation model: {len(sites)} sites, cap {options.cap_mw:,.0f} MW, "
        f"objective {options.objective}"
    )
    if expansion is not None:
        say(
            f"with expansion: {len(expansion.generators)} solar/wind candidates and "
            f"{len(expansion.stores)} battery zones"
        )
    model, rows = build_model(grid, sites, options, baseline, expansion=expansion)
    timings["build_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    firm = _firm_rows(model, scenario, baseline, sites, firm_margin or firm_margin_for(scenario.name), say)
    timings["firm_s"] = time.perf_counter() - t0
    limit = step_limit if step_can_bind(sites, options, step_limit, grid.n_intervals) else None
    t0 = time.perf_counter()
    objective_value, duals = _solve(model, grid, sites, options, limit, say)
    timings["solve_s"] = time.perf_counter() - t0
    if options.min_sizes and "build" in model.variables:
        t0 = time.perf_counter()
        duals = _duals_with_sizes_fixed(model, grid, sites, options, baseline, limit, say, firm, expansion)
        timings["duals_s"] = time.perf_counter() - t0
    say("reading results")
    solved = Solved(
        scenario,
        grid,
        sites,
        options,
        model,
        duals,
        baseline,
        rows,
        step_limit,
        step_source,
        objective_value,
        timings,
        baseline_notes(baseline) + ([firm[2]] if firm is not None else []),
    )
    result = read_plan(solved)
    if expansion is not None:
        add_expansion_result(result, read_expansion(expansion, model, sites, result.served_mw, grid.duration_h))
    result.terms = check_plan_terms(result, list(scenario.zone_ids))
    if result.terms.breaches:
        say(f"the planned dispatch breaks contract terms of {len(result.terms.sites_breaking_terms)} site(s)")
    return result


def _firm_rows(
    model: linopy.Model,
    scenario: Scenario,
    baseline: Baseline,
    sites: pd.DataFrame,
    margin: FirmMargin | None,
    say: ProgressFn,
) -> tuple[FirmLimits, list[str], str] | None:
    """Keep firm tranches within the firm deliverable surplus (:mod:`offtake.planning.firm`)."""
    if margin is None:
        return None
    zone_ids = list(scenario.zone_ids)
    limits = firm_limits(scenario, baseline, margin)
    added = add_firm_rows(model, sites, zone_ids, limits)
    national = limits.member.all(axis=1)
    note = (
        f"Firm tranches kept within the firm deliverable surplus of every zone set after a {margin.z:g}-sigma "
        f"margin for forced outages and demand forecast error ({margin.source or 'planning data'})"
        + (
            f" and what dispatch holds back ({margin.dispatch_holdback:.3g} sigma: safety_k x the one-step "
            "forecast error, data/dispatch/defaults.toml)"
            if margin.dispatch_holdback
            else ""
        )
        + f": {added} zone sets limited"
        + (f", nationally {float(limits.limit_mw[national][0]):,.0f} MW at most" if national.any() else "")
        + "."
    )
    say(note)
    return limits, zone_ids, note


def _baseline(scenario: Scenario, baseline: Baseline | None, say: ProgressFn, timings: dict[str, float]) -> Baseline:
    """Return the given least-cost dispatch, or solve that of ``scenario`` now (timed)."""
    if baseline is not None:
        return baseline
    grid = Grid.from_scenario(scenario)
    say(
        f"least-cost dispatch without sites: {grid.n_intervals} intervals, {len(grid.groups)} plant groups, "
        f"{len(grid.zones)} zones"
    )
    t0 = time.perf_counter()
    solved = least_cost_dispatch(scenario, grid=grid)
    timings["baseline_s"] = time.perf_counter() - t0
    return solved


def _solve(
    model: linopy.Model,
    grid: Grid,
    sites: pd.DataFrame,
    options: PlanOptions,
    limit: float | None,
    say: ProgressFn,
) -> tuple[float, dict[str, np.ndarray]]:
    """Solve the plan; return its objective value and the duals of its rows.

    With the energy objective a second solve picks, among plans serving that energy, the one of
    best margin; the duals are those of the energy objective.
    """
    kind = "MILP" if options.min_sizes and "build" in model.variables else "LP"
    method = options.resolved_method(grid.n_intervals)
    say(
        f"solving the {kind} with {'PDLP' if method == 'pdlp' else 'simplex'}: "
        f"{model.nvars:,} variables, {model.ncons:,} constraints"
    )
    value = _solve_keeping_step(model, options, method, limit, say)
    value = _keep_event_length(model, grid, sites, options, method, limit, say, value)
    duals = _duals(model)
    if options.objective != "energy":
        return value, duals
    say("energy objective: choosing the cheapest dispatch among plans serving that energy")
    served = model.variables["served"]
    model.add_constraints((served * grid.duration_h).sum() >= value * (1 - 1e-9) - 1e-6, name="energy_floor")
    tariff = sites["tariff_usd_per_mwh"].to_numpy(dtype=float) * grid.duration_h
    cost = grid.group_cost_usd_per_mwh * grid.duration_h
    margin = (served * _site_da(sites, tariff)).sum() - (model.variables["gen"] * _group_da(grid, cost)).sum()
    model.add_objective(margin, sense="max", overwrite=True)
    _solve_keeping_step(model, options, method, limit, say)
    return value, duals


def _duals_with_sizes_fixed(
    model: linopy.Model,
    grid: Grid,
    sites: pd.DataFrame,
    options: PlanOptions,
    baseline: Baseline,
    limit: float | None,
    say: ProgressFn,
    firm: tuple[FirmLimits, list[str], str] | None,
    expansion: ExpansionCase | None = None,
) -> dict[str, np.ndarray]:
    """Shadow prices of a MILP plan: the LP with the chosen sizes fixed, solved again."""
    built = pd.Series(model.solution["build"].to_series() > 0.5)
    say(f"reading shadow prices with the {int(built.sum())} sized sites fixed")
    fixed, _ = build_model(
        grid, sites, options, baseline, fixed_build=_fixed_choices(sites, built), expansion=expansion
    )
    if firm is not None:
        add_firm_rows(fixed, sites, firm[1], firm[0])
    _copy_step_rows(model, fixed, limit)
    for name in [str(n) for n in model.constraints if is_event_row(str(n))]:
        _add_event_rows(fixed, model.constraints[name].labels.to_numpy() >= 0, name)
    method = options.resolved_method(grid.n_intervals)
    _solve_keeping_step(fixed, options, method, limit, say, what="plan with fixed sizes")
    return _duals(fixed)


#: Most rounds of serving sites in full inside over-long curtailment events [-].
MAX_EVENT_ROUNDS = 10


def is_event_row(name: str) -> bool:
    """Whether a constraint of the model is a round of event-length rows (``event_<n>``)."""
    return name.startswith("event_") and name[6:].isdigit()


def _keep_event_length(
    model: linopy.Model,
    grid: Grid,
    sites: pd.DataFrame,
    options: PlanOptions,
    method: Literal["simplex", "pdlp"],
    limit: float | None,
    say: ProgressFn,
    value: float,
) -> float:
    """Break every curtailment event longer than its site accepts, and solve again.

    The longest event is not a linear term (it needs a binary per site and interval), so the
    plan is solved without it; where a site's event runs longer than its
    ``max_curtailment_duration_h``, every ``(L + 1)``-th interval of the event must serve the
    site in full (:func:`offtake.planning.terms_check.event_hold_mask`), and the plan is solved
    again, until none is too long or :data:`MAX_EVENT_ROUNDS` rounds have passed (what is left
    is flagged by :mod:`offtake.planning.terms_check`). A feasible heuristic, not the optimum
    with the term: which interval is held is chosen, not optimised.
    """
    if not options.event_length:
        return value
    limit_h = sites["max_curtailment_duration_h"].to_numpy(dtype=float)
    for round_no in range(MAX_EVENT_ROUNDS):
        served = model.solution["served"].transpose("time", "site").to_numpy()
        allocated = (model.solution["firm"] + model.solution["interruptible"]).to_numpy()
        hold = event_hold_mask(served, allocated, limit_h, grid.duration_h)
        if not hold.any():
            return value
        say(
            f"curtailment events longer than {int(hold.any(axis=0).sum())} site(s) accept: serving them in full in "
            f"{int(hold.sum())} interval(s) and solving again"
        )
        _add_event_rows(model, hold, f"event_{round_no}")
        value = _solve_keeping_step(model, options, method, limit, say)
    return value


def _add_event_rows(model: linopy.Model, hold: np.ndarray, name: str) -> None:
    """Serve each site its whole allocation in the intervals of ``hold`` (time x site)."""
    served = model.variables["served"]
    allocation = model.variables["firm"] + model.variables["interruptible"]
    mask = xr.DataArray(hold, coords=[served.indexes["time"], served.indexes["site"]])
    model.add_constraints(served - allocation >= 0.0, name=name, mask=mask)


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
    raise SolveError(f"{what}: the curtailment step limit still broken after {MAX_STEP_ROUNDS} rounds")


def _step_rows(model: linopy.Model) -> dict[int, np.ndarray]:
    """Step rows the model has: round number -> which intervals they limit."""
    return {
        int(str(name)[5:]): model.constraints[name].labels.to_numpy() >= 0
        for name in model.constraints
        if is_step_row(str(name))
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
