"""The allocation model: the grid model of :mod:`offtake.grid.model` with the sites added.

The grid part (``gen``, ``flow``, ``balance_<zone>``, ``reserve``) is built by
:func:`offtake.grid.add_grid`; the sites take power in the zone balances. Variables of the
sites, as PyPSA writes a linear optimal power flow:

* ``firm[site]``, ``interruptible[site]`` the two tranches of a site's allocation [MW];
  ``served[time, site]`` the load served [MW]; ``drop[time, site]`` the fall of served load
  from the previous interval [MW]; ``build[site]`` (binary, with minimum sizes only).

Constraints (names as in the linopy model):

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
* ``no_subsidy_<k>``: the rule of :mod:`offtake.grid.subsidy`, against the least-cost
  baseline of :mod:`offtake.grid.baseline`; the planner keeps which tariff each row was built
  for (:class:`offtake.grid.NoSubsidyRow`).

The baseline's slacks are kept: the plan meets the demand the baseline meets, holds the
reserve it holds, and may absorb must-run output it spills. The objective (tariff x served -
fuel cost) values energy at the tariff, so serving at a loss is also never chosen; the
no-subsidy rows make the rule hold in every interval, including those where a firm tranche
must be served, and under the energy objective, which does not see costs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from offtake.errors import InputError
from offtake.grid.baseline import Baseline
from offtake.grid.model import Grid, add_grid
from offtake.grid.solve import SolveError
from offtake.grid.subsidy import NoSubsidyRow, add_no_subsidy_rows
from offtake.planning.expansion import ExpansionCase, add_expansion

__all__ = [
    "PlanOptions",
    "SolveError",
    "add_step_rows",
    "build_model",
    "step_can_bind",
    "step_excess_mw",
]

Objective = Literal["margin", "energy"]
Method = Literal["auto", "simplex", "pdlp"]

#: With ``method="auto"``, plans of at least this many intervals are solved with PDLP, shorter
#: ones with dual simplex [-].
PDLP_FROM_INTERVALS = 1000


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
    event_length
        Keep each site's longest curtailment event within ``max_curtailment_duration_h`` by
        serving it in full inside over-long events and solving again (on by default; off, the
        plan only flags such sites, :mod:`offtake.planning.terms_check`).
    """

    cap_mw: float
    objective: Objective = "margin"
    min_sizes: bool = False
    max_curtailment_step_mw: float | None = None
    no_subsidy: bool = True
    method: Method = "auto"
    solver_options: dict[str, float | int | str] = field(default_factory=dict)
    event_length: bool = True

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
            raise InputError(f"must be 'margin' or 'energy', got '{self.objective}'", field="objective")
        if self.method not in ("auto", "simplex", "pdlp"):
            raise InputError(f"must be 'auto', 'simplex' or 'pdlp', got '{self.method}'", field="method")
        if self.method == "pdlp" and self.min_sizes:
            raise InputError(
                "minimum sizes make the plan a MILP, which PDLP cannot solve; use 'simplex'",
                field="method",
            )
        step = self.max_curtailment_step_mw
        if step is not None and (not np.isfinite(step) or step < 0):
            raise InputError(f"must be a number >= 0 [MW], got {step}", field="max_curtailment_step_mw")


def build_model(
    grid: Grid,
    sites: pd.DataFrame,
    options: PlanOptions,
    baseline: Baseline,
    *,
    fixed_build: pd.Series | None = None,
    expansion: ExpansionCase | None = None,
) -> tuple[linopy.Model, list[NoSubsidyRow]]:
    """Build the allocation model: the grid with the sites.

    Parameters
    ----------
    grid
        The grid model.
    sites
        Candidate sites (as returned by :func:`offtake.planning.read_sites`).
    options
        Planning choices.
    baseline
        Least-cost dispatch of existing demand: the no-subsidy rule's reference, and the
        slacks the plan keeps (it never asks for reserve the grid cannot hold, never takes
        power from a zone that is already short, and may absorb spilled must-run output).
    fixed_build
        Per site, True or False: fix the minimum-size choices (to read duals after a MILP).
    expansion
        New solar, wind and storage the off-take may build (:mod:`offtake.planning.expansion`;
        margin objective only): their output serves the sites of their zone, their cost is
        paid from the margin.

    Returns
    -------
    tuple
        The model (its objective is maximised) and the no-subsidy rows it holds (none when
        the rule is off).
    """
    m = linopy.Model(force_dim_names=True)
    time = pd.RangeIndex(grid.n_intervals, name="time")
    served = _add_sites(m, grid, sites, options, time, fixed_build)
    zones = sites["zone"].to_numpy()
    extra = {z: served.sel(site=sites.index[zones == z]).sum("site") for z in dict.fromkeys(zones)}
    if expansion is not None and options.objective != "margin":
        raise InputError("building new plants needs the margin objective (it weighs their cost)", field="objective")
    new = add_expansion(m, expansion, served, sites, grid.duration_h) if expansion is not None else None
    if new is not None:
        extra.update({z: extra[z] - injected for z, injected in new.injection.items()})
    v = add_grid(
        m,
        grid,
        extra_load=extra,
        unserved_mw=baseline.unserved_mw if baseline.unserved_mw.any() else None,
        spill_mw=baseline.spilled_mw if baseline.spilled_mw.any() else None,
        reserve_mw=grid.reserve_mw - baseline.reserve_short_mw,
    )
    rows: list[NoSubsidyRow] = []
    if options.no_subsidy:
        tariffs = pd.Series(sites["tariff_usd_per_mwh"].to_numpy(dtype=float), index=pd.Index(sites.index, name="site"))
        rows = add_no_subsidy_rows(m, grid, v.gen, served, tariffs, baseline.group_generation_mw)
    if options.objective == "margin":
        tariff = xr.DataArray(
            sites["tariff_usd_per_mwh"].to_numpy(dtype=float) * grid.duration_h,
            coords=[pd.Index(sites.index, name="site")],
        )
        cost = v.fuel_cost_usd if new is None else v.fuel_cost_usd + new.cost_usd
        m.add_objective((served * tariff).sum() - cost, sense="max")
    else:
        m.add_objective((served * grid.duration_h).sum(), sense="max")
    return m, rows


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
        upper = np.where(fixed_build.reindex(site_ix).fillna(False).to_numpy(dtype=bool), upper, 0.0)

    def da(values: np.ndarray) -> xr.DataArray:
        return xr.DataArray(values, coords=[site_ix])

    firm = m.add_variables(lower=0.0, upper=da(upper), coords=[site_ix], name="firm")
    interruptible = m.add_variables(lower=0.0, upper=da(upper), coords=[site_ix], name="interruptible")
    served = m.add_variables(
        lower=0.0,
        upper=xr.DataArray(np.broadcast_to(upper, (len(time), len(site_ix))), coords=[time, site_ix]),
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
            m.add_constraints(allocation.sel(site=sized) - high * build <= 0.0, name="min_size_high")

    return served


def step_can_bind(sites: pd.DataFrame, options: PlanOptions, step_limit_mw: float | None, n_intervals: int) -> bool:
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


def is_step_row(name: str) -> bool:
    """Whether a constraint of the model is a round of curtailment-step rows (``step_<n>``)."""
    return name.startswith("step_") and name[5:].isdigit()


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


def add_step_rows(m: linopy.Model, intervals: np.ndarray, step_limit_mw: float, round_no: int) -> None:
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
        m.add_constraints(drop + served - served.shift(time=1) >= 0.0, name=f"step_drop_{round_no}", mask=at_cell)
    m.add_constraints(drop.sum("site") <= step_limit_mw, name=f"step_{round_no}", mask=at_time)
