"""The allocation model: one linopy optimisation over the whole scenario period.

Variables, constraints and objective follow the way PyPSA writes a linear optimal power
flow, in a zonal transport model:

* ``gen[time, group]`` output of dispatchable plant groups [MW], ``0 <= gen <= available``.
  Plants of one zone with the same marginal cost and the same reserve role are merged into
  one group (an exact reduction of the LP); must-run plants produce their available output
  and enter the zone balance as a constant.
* ``flow[time, corridor]`` transfer from the corridor's ``from`` zone to its ``to`` zone [MW],
  ``-reverse_mw <= flow <= forward_mw`` as variable bounds; the shadow price of a limit is the
  price difference across the corridor (see :func:`corridor_shadow_prices`).
* ``firm[site]``, ``interruptible[site]`` the two tranches of a site's allocation [MW];
  ``served[time, site]`` the load served [MW]; ``drop[time, site]`` the fall of served load
  from the previous interval [MW]; ``build[site]`` (binary, with minimum sizes only).

Constraints (names as in the linopy model):

* ``balance_<zone>``: generation + imports - exports = demand + served sites, every interval.
* ``reserve``: the national reserve requirement is held as headroom on dispatchable,
  non-variable plants.
* ``request``: allocation <= the site's requested MW.
* ``firm_share``: the firm tranche is the share of the allocation the site's terms never let
  the grid curtail, ``firm = (1 - max_curtailment_fraction) x allocation``. This is the
  curtailment-depth term: ``served >= (1 - max_curtailment_fraction) x allocation``.
* ``firm``: the firm tranche is served in every interval, ``served >= firm`` (only for sites
  with a firm tranche, ``max_curtailment_fraction < 1``).
* ``served_max``: ``served <= firm + interruptible``.
* ``annual_curtailment``: curtailed energy over the period <= the site's annual limit times
  its allocated energy over the period.
* ``national_cap``: the sum of allocations <= the programme cap.
* ``step_drop_<k>`` and ``step_<k>``: the sum over sites of the drop of served load between
  two consecutive intervals <= the contingency limit, added by :func:`add_step_rows` for the
  intervals where a solution without them breaks it (omitted when it can never bind).
* ``min_size_low`` / ``min_size_high``: with minimum sizes, each site gets nothing or at
  least its smallest useful size (a MILP).
* ``no_subsidy_<k>``: see below.

No subsidy. A site's energy may only come from units whose marginal cost is at or below its
tariff. The model first solves the least-cost dispatch without any site (the *baseline*,
``g0``). Then, for every site tariff ``tau`` (sorted) and interval, the extra output of units
dearer than ``tau`` must be no more than what sites paying more than ``tau`` take::

    sum_{g: mc_g > tau} (gen_g - g0_g)  <=  sum_{s: tariff_s > tau} served_s

Because each site may use exactly the units at or below its tariff and these sets are nested,
these inequalities are, by Hall's theorem, the exact condition for the extra generation to be
shared out among the sites without any of them taking energy dearer than its tariff. For the
highest tariff the right-hand side is empty: units dearer than every tariff never run more
than in the baseline. The objective (tariff x served - fuel cost) values energy at the
tariff, so serving at a loss is also never chosen; the constraint makes the rule hold in
every interval, including those where a firm tranche must be served, and under the
energy objective, which does not see costs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from offtake.errors import InputError, OfftakeError
from offtake.scenario import Scenario

__all__ = [
    "Grid",
    "PlanOptions",
    "SolveError",
    "add_step_rows",
    "build_model",
    "corridor_shadow_prices",
    "grid_from_scenario",
    "solution_quality",
    "solve_model",
    "step_can_bind",
    "step_excess_mw",
]

Objective = Literal["margin", "energy"]
Method = Literal["auto", "simplex", "pdlp"]

#: With ``method="auto"``, plans of at least this many intervals are solved with PDLP, shorter
#: ones with dual simplex [-].
PDLP_FROM_INTERVALS = 1000

#: PDLP stops at this relative primal-dual gap (and the same relative feasibility) [-].
PDLP_TOLERANCE = 1e-7

#: A first-order solution is accepted when HiGHS measures its relative primal-dual objective
#: error and its largest relative primal infeasibility at or below this [-].
PDLP_ACCEPT = 1e-5

#: Penalty on baseline reserve shortfall, as a multiple of the dearest marginal cost; any
#: redispatch saves less than the dearest cost per MWh, so the baseline holds all the
#: reserve it can before it saves fuel [-].
SHORTFALL_PENALTY_FACTOR = 100.0


class SolveError(OfftakeError):
    """The optimisation found no plan (infeasible or failed)."""


@dataclass(frozen=True)
class PlanOptions:
    """Choices of one planning run.

    Parameters
    ----------
    cap_mw
        National programme cap on the sum of allocations [MW].
    objective
        ``margin``: maximise tariff revenue minus fuel cost [USD]; ``energy``: maximise the
        energy served to sites [MWh], then the margin among plans serving that energy.
    min_sizes
        Enforce each site's ``min_size_mw`` with a binary choice (MILP).
    max_curtailment_step_mw
        Largest simultaneous curtailment step [MW]; None takes the sourced default of the
        scenario's planning data file, else the scenario's largest unit.
    no_subsidy
        Enforce the no-subsidy rule (on by default; off only to study its cost).
    method
        ``simplex``: HiGHS dual simplex, an exact vertex with exact shadow prices; ``pdlp``:
        HiGHS's first-order PDLP, to a relative primal-dual gap of ``PDLP_TOLERANCE`` (the
        allocation and energy to that accuracy, shadow prices approximate); ``auto``: PDLP
        for plans of ``PDLP_FROM_INTERVALS`` intervals or more, simplex below and for MILPs.
    solver_options
        Extra options passed to HiGHS.
    """

    cap_mw: float
    objective: Objective = "margin"
    min_sizes: bool = False
    max_curtailment_step_mw: float | None = None
    no_subsidy: bool = True
    method: Method = "auto"
    solver_options: dict[str, float | int | str] = field(default_factory=dict)

    def resolved_method(self, n_intervals: int) -> Literal["simplex", "pdlp"]:
        """Return the LP method used for a plan of ``n_intervals`` intervals."""
        if self.min_sizes:
            return "simplex"  # integer choices need branch and bound on simplex
        if self.method == "auto":
            return "pdlp" if n_intervals >= PDLP_FROM_INTERVALS else "simplex"
        return self.method

    def __post_init__(self) -> None:
        if not np.isfinite(self.cap_mw) or self.cap_mw < 0:
            raise InputError(f"must be a number >= 0 [MW], got {self.cap_mw}", field="cap_mw")
        if self.objective not in ("margin", "energy"):
            raise InputError(
                f"must be 'margin' or 'energy', got '{self.objective}'", field="objective"
            )
        if self.method not in ("auto", "simplex", "pdlp"):
            raise InputError(
                f"must be 'auto', 'simplex' or 'pdlp', got '{self.method}'", field="method"
            )
        if self.method == "pdlp" and self.min_sizes:
            raise InputError(
                "minimum sizes make the plan a MILP, which PDLP cannot solve; use 'simplex'",
                field="method",
            )
        step = self.max_curtailment_step_mw
        if step is not None and (not np.isfinite(step) or step < 0):
            raise InputError(
                f"must be a number >= 0 [MW], got {step}", field="max_curtailment_step_mw"
            )


@dataclass(frozen=True)
class Grid:
    """The scenario reduced to what the optimisation needs.

    Attributes
    ----------
    zones
        Zone ids.
    duration_h
        Length of one interval [h].
    groups
        Plant groups (index: group id) with columns ``zone``, ``marginal_cost_usd_per_mwh``
        and ``reserve`` (counts for reserve).
    group_available_mw
        Available capacity per interval and group [MW], shape (time, group).
    plant_group
        Group of each plant that is not must-run.
    must_run_mw
        Output of must-run plants per interval and zone [MW], shape (time, zone).
    net_demand_mw
        Demand minus must-run output per interval and zone [MW], shape (time, zone).
    reserve_mw
        National reserve requirement per interval [MW].
    corridors
        Corridors (index: id) with ``from_zone``, ``to_zone``, ``forward_mw``, ``reverse_mw``.
    """

    zones: list[str]
    duration_h: float
    groups: pd.DataFrame
    group_available_mw: np.ndarray
    plant_group: pd.Series
    must_run_mw: np.ndarray
    net_demand_mw: np.ndarray
    reserve_mw: np.ndarray
    corridors: pd.DataFrame

    @property
    def n_intervals(self) -> int:
        """Number of intervals."""
        return int(self.net_demand_mw.shape[0])


def grid_from_scenario(scenario: Scenario) -> Grid:
    """Merge plants into groups: the grid as the optimisation sees it.

    Parameters
    ----------
    scenario
        The validated scenario.

    Returns
    -------
    Grid
        The reduced grid.

    """
    plants = scenario.plants
    available = scenario.available_mw
    zones = scenario.zone_ids
    must = plants["must_run"].to_numpy(dtype=bool)
    reserve_role = ~plants["variable"].to_numpy(dtype=bool)
    keys = [
        f"{z}|{c:g}|{'reserve' if r else 'variable'}"
        for z, c, r in zip(
            plants["zone"], plants["marginal_cost_usd_per_mwh"], reserve_role, strict=True
        )
    ]
    plant_group = pd.Series(keys, index=plants.index, name="group")[~must]
    group_ids = list(dict.fromkeys(plant_group.tolist()))
    first = plants.loc[~must].groupby(plant_group).first()
    groups = pd.DataFrame(
        {
            "zone": first.loc[group_ids, "zone"].to_numpy(),
            "marginal_cost_usd_per_mwh": first.loc[group_ids, "marginal_cost_usd_per_mwh"].to_numpy(
                dtype=float
            ),
            "reserve": [g.endswith("|reserve") for g in group_ids],
        },
        index=pd.Index(group_ids, name="group"),
    )
    group_avail = (
        available.loc[:, ~must]
        .T.groupby(plant_group)
        .sum()
        .T.reindex(columns=group_ids)
        .to_numpy(dtype=float)
    )
    must_zone = (
        available.loc[:, must]
        .T.groupby(plants.loc[must, "zone"])
        .sum()
        .T.reindex(columns=zones, fill_value=0.0)
    )
    must_run = (
        must_zone.to_numpy(dtype=float)
        if len(must_zone.columns)
        else np.zeros((len(scenario.index), len(zones)))
    )
    net_demand = scenario.demand_mw[zones].to_numpy(dtype=float) - must_run
    reserve = scenario.reserve_requirement_mw().to_numpy(dtype=float)
    corridors = pd.DataFrame(
        {
            "from_zone": [c.from_zone for c in scenario.corridors],
            "to_zone": [c.to_zone for c in scenario.corridors],
            "forward_mw": [c.forward_mw for c in scenario.corridors],
            "reverse_mw": [c.reverse_mw for c in scenario.corridors],
        },
        index=pd.Index([c.id for c in scenario.corridors], name="corridor"),
    )
    return Grid(
        zones=zones,
        duration_h=scenario.duration_h,
        groups=groups,
        group_available_mw=group_avail,
        plant_group=plant_group,
        must_run_mw=must_run,
        net_demand_mw=net_demand,
        reserve_mw=reserve,
        corridors=corridors,
    )


def build_model(
    grid: Grid,
    sites: pd.DataFrame | None = None,
    options: PlanOptions | None = None,
    *,
    baseline_gen_mw: np.ndarray | None = None,
    fixed_build: pd.Series | None = None,
    reserve_mw: np.ndarray | None = None,
    unserved_mw: np.ndarray | None = None,
) -> linopy.Model:
    """Build the linopy model of the grid, with or without sites.

    Parameters
    ----------
    grid
        The reduced grid.
    sites
        Candidate sites (as returned by :func:`offtake.planning.read_sites`); None builds the
        baseline: least-cost dispatch with no site.
    options
        Planning choices; needed when ``sites`` is given.
    baseline_gen_mw
        Baseline output per interval and group [MW], needed for the no-subsidy rule.
    fixed_build
        Per site, True or False: fix the minimum-size choices (to read duals after a MILP).
    reserve_mw
        Reserve to hold per interval [MW]; None holds ``grid.reserve_mw``. With sites, pass
        the requirement less the baseline's unavoidable shortfall, so that the plan never
        takes reserve the grid would hold without it and never asks for reserve it cannot.
    unserved_mw
        Demand the grid cannot serve even without sites, per interval and zone [MW] (from
        the baseline); it is taken out of the demand the plan must meet, so that sites
        never take power from a zone that is already short.

    Returns
    -------
    linopy.Model
        The model; its objective is maximised. The baseline (no sites) has a variable
        ``reserve_shortfall[time]`` [MW] and a variable ``unserved[time, zone]`` [MW], both
        penalised far above any fuel cost, for intervals where the grid cannot hold its full
        reserve or meet all demand; they are zero whenever the grid can.
    """
    m = linopy.Model(force_dim_names=True)
    n_t = grid.n_intervals
    time = pd.RangeIndex(n_t, name="time")
    group_ix = grid.groups.index
    dt = grid.duration_h
    gen = m.add_variables(
        lower=0.0, upper=xr.DataArray(grid.group_available_mw, coords=[time, group_ix]), name="gen"
    )
    flow = None
    if len(grid.corridors):
        corr_ix = grid.corridors.index
        fwd = grid.corridors["forward_mw"].to_numpy(dtype=float)
        rev = grid.corridors["reverse_mw"].to_numpy(dtype=float)
        flow = m.add_variables(
            lower=xr.DataArray(np.broadcast_to(-rev, (n_t, len(corr_ix))), coords=[time, corr_ix]),
            upper=xr.DataArray(np.broadcast_to(fwd, (n_t, len(corr_ix))), coords=[time, corr_ix]),
            name="flow",
        )

    served = None
    if sites is not None:
        if options is None:
            raise ValueError("options are needed when sites are given")
        served = _add_sites(m, grid, sites, options, time, fixed_build)

    if sites is None:
        unserved = m.add_variables(
            lower=0.0,
            upper=xr.DataArray(
                np.clip(grid.net_demand_mw, 0.0, None),
                coords=[time, pd.Index(grid.zones, name="zone")],
            ),
            name="unserved",
        )
    for zi, zone in enumerate(grid.zones):
        parts: list[linopy.LinearExpression | linopy.Variable] = []
        in_zone = group_ix[grid.groups["zone"].to_numpy() == zone]
        if len(in_zone):
            parts.append(gen.sel(group=in_zone).sum("group"))
        if flow is not None:
            to_z = grid.corridors.index[grid.corridors["to_zone"].to_numpy() == zone]
            from_z = grid.corridors.index[grid.corridors["from_zone"].to_numpy() == zone]
            if len(to_z):
                parts.append(flow.sel(corridor=to_z).sum("corridor"))
            if len(from_z):
                parts.append(-flow.sel(corridor=from_z).sum("corridor"))
        if served is not None and sites is not None:
            site_z = sites.index[sites["zone"].to_numpy() == zone]
            if len(site_z):
                parts.append(-served.sel(site=site_z).sum("site"))
        net = grid.net_demand_mw[:, zi] - (unserved_mw[:, zi] if unserved_mw is not None else 0.0)
        if sites is None:
            parts.append(unserved.sel(zone=zone))
        rhs = xr.DataArray(net, coords=[time])
        if not parts:
            if np.abs(net).max() > 1e-6:
                raise SolveError(
                    f"zone {zone} has demand but no plant, corridor or must-run supply"
                )
            continue
        expr = parts[0]
        for part in parts[1:]:
            expr = expr + part
        m.add_constraints(expr == rhs, name=f"balance_{zone}")

    reserve_groups = group_ix[grid.groups["reserve"].to_numpy(dtype=bool)]
    requirement = grid.reserve_mw if reserve_mw is None else reserve_mw
    cost = xr.DataArray(
        grid.groups["marginal_cost_usd_per_mwh"].to_numpy(dtype=float) * dt, coords=[group_ix]
    )
    fuel = (gen * cost).sum()
    shortfall = None
    if requirement.max() > 0:
        headroom = grid.group_available_mw[:, grid.groups["reserve"].to_numpy(dtype=bool)].sum(
            axis=1
        )
        lhs = gen.sel(group=reserve_groups).sum("group") if len(reserve_groups) else None
        if sites is None:
            shortfall = m.add_variables(
                lower=0.0, upper=xr.DataArray(requirement, coords=[time]), name="reserve_shortfall"
            )
            lhs = -shortfall if lhs is None else lhs - shortfall
        if lhs is not None:
            m.add_constraints(
                lhs <= xr.DataArray(headroom - requirement, coords=[time]), name="reserve"
            )
    if served is None or sites is None or options is None:
        penalty = SHORTFALL_PENALTY_FACTOR * (
            float(
                np.max(grid.groups["marginal_cost_usd_per_mwh"].to_numpy(dtype=float), initial=0.0)
            )
            + 1.0
        )
        objective = -fuel - (unserved * (SHORTFALL_PENALTY_FACTOR * penalty * dt)).sum()
        if shortfall is not None:
            objective = objective - (shortfall * (penalty * dt)).sum()
        m.add_objective(objective, sense="max")
        return m
    if options.no_subsidy:
        if baseline_gen_mw is None:
            raise ValueError("the no-subsidy rule needs the baseline dispatch")
        _add_no_subsidy(m, grid, sites, gen, served, baseline_gen_mw, time)
    if options.objective == "margin":
        tariff = xr.DataArray(
            sites["tariff_usd_per_mwh"].to_numpy(dtype=float) * dt,
            coords=[pd.Index(sites.index, name="site")],
        )
        m.add_objective((served * tariff).sum() - fuel, sense="max")
    else:
        m.add_objective((served * dt).sum(), sense="max")
    return m


def _add_sites(
    m: linopy.Model,
    grid: Grid,
    sites: pd.DataFrame,
    options: PlanOptions,
    time: pd.RangeIndex,
    fixed_build: pd.Series | None,
) -> linopy.Variable:
    site_ix = pd.Index(sites.index, name="site")
    requested = sites["requested_mw"].to_numpy(dtype=float)
    frac = sites["max_curtailment_fraction"].to_numpy(dtype=float)
    limit = sites["annual_curtailment_limit"].to_numpy(dtype=float)
    minimum = sites["min_size_mw"].to_numpy(dtype=float)
    upper = requested.copy()
    if fixed_build is not None:
        upper = np.where(
            fixed_build.reindex(site_ix).fillna(False).to_numpy(dtype=bool), upper, 0.0
        )

    def da(values: np.ndarray) -> xr.DataArray:
        return xr.DataArray(values, coords=[site_ix])

    firm = m.add_variables(lower=0.0, upper=da(upper), coords=[site_ix], name="firm")
    interruptible = m.add_variables(
        lower=0.0, upper=da(upper), coords=[site_ix], name="interruptible"
    )
    served = m.add_variables(
        lower=0.0,
        upper=xr.DataArray(
            np.broadcast_to(upper, (len(time), len(site_ix))), coords=[time, site_ix]
        ),
        name="served",
    )
    allocation = firm + interruptible
    m.add_constraints(allocation <= da(upper), name="request")
    m.add_constraints(da(frac) * firm - da(1.0 - frac) * interruptible == 0.0, name="firm_share")
    n_t = len(time)
    has_firm = frac < 1.0
    if has_firm.any():
        m.add_constraints(
            served - firm >= 0.0,
            name="firm",
            mask=xr.DataArray(np.broadcast_to(has_firm, (n_t, len(site_ix))), coords=[time, site_ix]),
        )
    m.add_constraints(served - allocation <= 0.0, name="served_max")
    horizon_h = n_t * grid.duration_h
    m.add_constraints(
        (served * grid.duration_h).sum("time") - da((1.0 - limit) * horizon_h) * allocation >= 0.0,
        name="annual_curtailment",
    )
    m.add_constraints(allocation.sum() <= options.cap_mw, name="national_cap")

    if options.min_sizes:
        sized = site_ix[minimum > 0]
        if fixed_build is not None:
            built = fixed_build.reindex(sized).fillna(False).to_numpy(dtype=bool)
            low = xr.DataArray(np.where(built, minimum[minimum > 0], 0.0), coords=[sized])
            m.add_constraints(allocation.sel(site=sized) >= low, name="min_size_low")
        elif len(sized):
            build = m.add_variables(binary=True, coords=[sized], name="build")
            low = xr.DataArray(minimum[minimum > 0], coords=[sized])
            high = xr.DataArray(requested[minimum > 0], coords=[sized])
            m.add_constraints(allocation.sel(site=sized) - low * build >= 0.0, name="min_size_low")
            m.add_constraints(
                allocation.sel(site=sized) - high * build <= 0.0, name="min_size_high"
            )

    return served


def step_can_bind(
    sites: pd.DataFrame, options: PlanOptions, step_limit_mw: float | None, n_intervals: int
) -> bool:
    """Whether the sites could ever drop more than the step limit between two intervals.

    Parameters
    ----------
    sites
        Candidate sites.
    options
        Planning choices (the cap bounds the sum of allocations).
    step_limit_mw
        Contingency limit on the simultaneous curtailment step [MW]; None for no limit.
    n_intervals
        Number of intervals of the plan.

    Returns
    -------
    bool
        False when the step rows can be left out: no limit, a single interval, or a limit
        above the deepest curtailment the sites' terms and the cap allow.
    """
    if step_limit_mw is None or n_intervals < 2:
        return False
    requested = sites["requested_mw"].to_numpy(dtype=float)
    frac = sites["max_curtailment_fraction"].to_numpy(dtype=float)
    return min(float(np.sum(requested * frac)), options.cap_mw) > step_limit_mw


def step_excess_mw(served_mw: np.ndarray, step_limit_mw: float) -> np.ndarray:
    """How far each interval's simultaneous curtailment step exceeds the limit.

    Parameters
    ----------
    served_mw
        Served load per interval and site [MW], shape (time, site).
    step_limit_mw
        Contingency limit on the sum over sites of the drop from the previous interval [MW].

    Returns
    -------
    numpy.ndarray
        Excess per interval [MW] (0 where the limit holds; the first interval has none).
    """
    drop = np.clip(served_mw[:-1] - served_mw[1:], 0.0, None).sum(axis=1)
    return np.concatenate([[0.0], np.clip(drop - step_limit_mw, 0.0, None)])


def add_step_rows(
    m: linopy.Model, intervals: np.ndarray, step_limit_mw: float, round_no: int
) -> None:
    """Add the curtailment-step limit for the given intervals.

    For each interval ``t`` in ``intervals`` (``t >= 1``), ``drop[t, site] >= served[t-1, site]
    - served[t, site]`` and ``sum_site drop[t, site] <= step_limit_mw``. The planner adds these
    rows only where a solution without them breaks the limit (a relaxation whose optimum,
    once it keeps the limit everywhere, is the optimum with every row present).

    Parameters
    ----------
    m
        A model built by :func:`build_model` with sites.
    intervals
        Positions of the intervals to limit.
    step_limit_mw
        Contingency limit [MW].
    round_no
        Suffix of the new names: ``drop_<k>``, ``step_drop_<k>``, ``step_<k>``.
    """
    served = m.variables["served"]
    time = served.indexes["time"]
    sites = served.indexes["site"]
    rows = np.asarray(intervals, dtype=int)
    rows = rows[rows >= 1]
    if not len(rows):
        return
    at = np.zeros(len(time), dtype=bool)
    at[rows] = True
    at_time = xr.DataArray(at, coords=[time])
    at_cell = xr.DataArray(np.repeat(at[:, None], len(sites), axis=1), coords=[time, sites])
    drop = m.add_variables(lower=0.0, coords=[time, sites], name=f"drop_{round_no}", mask=at_cell)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the first interval has no previous one (never limited)
        m.add_constraints(
            drop + served - served.shift(time=1) >= 0.0, name=f"step_drop_{round_no}", mask=at_cell
        )
    m.add_constraints(drop.sum("site") <= step_limit_mw, name=f"step_{round_no}", mask=at_time)


def corridor_shadow_prices(
    grid: Grid, flow_mw: np.ndarray, zone_price: np.ndarray, tolerance_mw: float = 1e-3
) -> tuple[np.ndarray, np.ndarray]:
    """Shadow prices of the corridor limits, read from the zone prices.

    A corridor limit is a bound on its flow variable; by the optimality conditions its
    shadow price is the price difference across the corridor when the flow sits at the
    limit, and zero otherwise.

    Parameters
    ----------
    grid
        The reduced grid.
    flow_mw
        Flow per interval and corridor [MW], shape (time, corridor).
    zone_price
        Price of each zone's balance per interval, in objective units per MW (the dual of
        ``balance_<zone>``, sign as in the objective's sense), shape (time, zone).
    tolerance_mw
        A flow this close to its limit counts as at the limit [MW].

    Returns
    -------
    tuple of numpy.ndarray
        Forward and reverse shadow prices, shape (time, corridor), >= 0.
    """
    pos = {z: i for i, z in enumerate(grid.zones)}
    frm = np.array([pos[z] for z in grid.corridors["from_zone"]], dtype=int)
    to = np.array([pos[z] for z in grid.corridors["to_zone"]], dtype=int)
    fwd = grid.corridors["forward_mw"].to_numpy(dtype=float)
    rev = grid.corridors["reverse_mw"].to_numpy(dtype=float)
    gain = zone_price[:, to] - zone_price[:, frm]
    at_fwd = flow_mw >= fwd - tolerance_mw - 1e-9 * fwd
    at_rev = flow_mw <= -rev + tolerance_mw + 1e-9 * rev
    forward = np.where(at_fwd, np.clip(gain, 0.0, None), 0.0)
    reverse = np.where(at_rev, np.clip(-gain, 0.0, None), 0.0)
    return forward, reverse


def _add_no_subsidy(
    m: linopy.Model,
    grid: Grid,
    sites: pd.DataFrame,
    gen: linopy.Variable,
    served: linopy.Variable,
    baseline_gen_mw: np.ndarray,
    time: pd.RangeIndex,
) -> None:
    cost = grid.groups["marginal_cost_usd_per_mwh"].to_numpy(dtype=float)
    tariffs = sites["tariff_usd_per_mwh"].to_numpy(dtype=float)
    # Tariffs with the same set of dearer units give constraints with the same left-hand side;
    # the highest such tariff has the fewest payers on the right, so it implies the others.
    # One constraint per distinct set of dearer units is therefore exact.
    strongest: dict[bytes, float] = {}
    for tau in sorted(set(tariffs.tolist())):
        dear = cost > tau
        if dear.any():
            strongest[dear.tobytes()] = tau
    for k, tau in enumerate(sorted(strongest.values())):
        dear = cost > tau
        payers = sites.index[tariffs > tau]
        lhs = gen.sel(group=grid.groups.index[dear]).sum("group")
        if len(payers):
            lhs = lhs - served.sel(site=payers).sum("site")
        rhs = xr.DataArray(baseline_gen_mw[:, dear].sum(axis=1), coords=[time])
        m.add_constraints(lhs <= rhs, name=f"no_subsidy_{k}")


def solve_model(
    m: linopy.Model,
    options: dict[str, float | int | str] | None = None,
    *,
    what: str = "plan",
    method: Literal["simplex", "pdlp"] = "simplex",
) -> float:
    """Solve with HiGHS and return the objective value.

    Parameters
    ----------
    m
        The model.
    options
        HiGHS options.
    what
        Name of the problem for error messages.
    method
        ``simplex`` (HiGHS chooses; dual simplex for these LPs) or ``pdlp`` (first order,
        without presolve so that the duals stay those PDLP computed). HiGHS marks a PDLP
        result "unknown" when its dual is less accurate than the simplex tolerances; it is
        accepted when the relative primal-dual objective error and primal infeasibility are
        within ``PDLP_ACCEPT`` (see :func:`solution_quality`).

    Returns
    -------
    float
        Optimal objective value.

    Raises
    ------
    SolveError
        If no optimum is found.
    """
    opts: dict[str, Any] = {"output_flag": False}
    if method == "pdlp":
        opts.update(solver="pdlp", presolve="off", pdlp_optimality_tolerance=PDLP_TOLERANCE)
    opts.update(options or {})
    linopy_log = logging.getLogger("linopy")
    level = linopy_log.level
    if method == "pdlp":  # linopy warns that the status is "unknown"; judged below instead
        linopy_log.setLevel(logging.ERROR)
    try:
        with _solver_chatter_to_stderr():
            status, condition = m.solve(solver_name="highs", io_api="direct", **opts)
    finally:
        linopy_log.setLevel(level)
    accepted = condition == "optimal"
    if method == "pdlp" and status == "ok" and condition == "unknown":
        quality = solution_quality(m)
        accepted = (
            quality["objective_error_rel"] <= PDLP_ACCEPT
            and quality["primal_infeasibility_rel"] <= PDLP_ACCEPT
        )
    if status != "ok" or not accepted:
        hint = ""
        if condition in ("infeasible", "infeasible_or_unbounded"):
            hint = (
                ": demand, reserve and corridor limits cannot all be met in some interval"
                if what == "baseline"
                else ": the constraints admit no plan"
            )
        elif method == "pdlp":
            hint = " (PDLP did not reach the required accuracy; try method 'simplex')"
        raise SolveError(f"{what}: the solver ended with status {status}, {condition}{hint}")
    value = m.objective.value
    if value is None:
        raise SolveError(f"{what}: the solver returned no objective value")
    return float(value)


def solution_quality(m: linopy.Model) -> dict[str, float]:
    """Accuracy of the last solve as HiGHS measures it.

    Parameters
    ----------
    m
        A model solved by :func:`solve_model`.

    Returns
    -------
    dict
        ``objective_error_rel`` (relative gap between primal and dual objective [-]),
        ``primal_infeasibility_rel`` and ``dual_infeasibility_rel`` (largest relative
        violations [-]); NaN where HiGHS reports none.
    """
    info = m.solver_model.getInfo() if m.solver_model is not None else None

    def value(name: str) -> float:
        v = float(getattr(info, name, float("nan"))) if info is not None else float("nan")
        return v if np.isfinite(v) and v >= 0 else float("nan")

    return {
        "objective_error_rel": value("primal_dual_objective_error"),
        "primal_infeasibility_rel": value("max_relative_primal_infeasibility"),
        "dual_infeasibility_rel": value("max_relative_dual_infeasibility"),
    }


@contextlib.contextmanager
def _solver_chatter_to_stderr() -> Iterator[None]:
    """Send what the solver prints on standard output to standard error.

    HiGHS prints its banner from C++ straight to file descriptor 1; a command's standard
    output is kept for its results.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (embedded use)
        yield
        return
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
