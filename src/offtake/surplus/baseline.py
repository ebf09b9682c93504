"""Least-cost dispatch of the existing demand: the baseline the surplus is measured against.

One linear programme over all intervals, built with linopy and solved with HiGHS: plant-group
output within availability (must-run groups at availability), corridor flows within their
limits per direction, demand met in every zone, and reserve held on dispatchable groups.
Slack variables with large penalties keep the problem solvable when the data cannot meet
demand or absorb must-run output, and the result reports them, so nothing fails silently.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from offtake.errors import OfftakeError
from offtake.scenario import Scenario
from offtake.surplus.fleet import Fleet

__all__ = ["Baseline", "least_cost_dispatch", "quiet_solver_output"]

#: Penalty on unserved demand, spilled must-run output and reserve shortfall [USD/MWh].
#: A modelling device that makes the LP always solvable, not an economic value.
SLACK_PENALTY_USD_PER_MWH = 10_000.0
#: Tiny cost on corridor flow that removes circular flows from the optimum [USD/MWh].
FLOW_TIEBREAK_USD_PER_MWH = 1e-3
#: Intervals per LP block: a quarter of a year of hours (measured fastest with linopy).
DEFAULT_BLOCK_INTERVALS = 2190


@contextlib.contextmanager
def quiet_solver_output() -> Iterator[None]:
    """Silence what the solver library prints to the process's standard output.

    HiGHS writes its banner from C code, below Python's ``sys.stdout``, so the file
    descriptor itself is pointed at the null device for the duration.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


@dataclass(frozen=True)
class Baseline:
    """Result of the least-cost dispatch.

    Attributes
    ----------
    fleet
        The plant groups dispatched.
    generation_mw
        Output per interval and group [MW], shape (intervals, groups).
    flow_mw
        Net flow per interval and corridor, positive from ``from_zone`` to ``to_zone`` [MW].
    unserved_mw, spilled_mw
        Demand not met and must-run output spilled, per interval and zone [MW].
    reserve_short_mw
        Reserve shortfall per interval [MW].
    zone_price_usd_per_mwh
        Dual of each zone's balance: the marginal cost of one more MWh there [USD/MWh].
    fuel_cost_usd
        Total fuel cost over the period [USD].
    """

    fleet: Fleet
    generation_mw: np.ndarray
    flow_mw: np.ndarray
    unserved_mw: np.ndarray
    spilled_mw: np.ndarray
    reserve_short_mw: np.ndarray
    zone_price_usd_per_mwh: np.ndarray
    fuel_cost_usd: float


def least_cost_dispatch(
    scenario: Scenario, fleet: Fleet | None = None, block_intervals: int = DEFAULT_BLOCK_INTERVALS
) -> Baseline:
    """Dispatch the existing demand at least fuel cost.

    Intervals are independent (no storage or ramp limits couple them), so the year is
    solved in blocks, which is exact and much faster than one large LP.

    Parameters
    ----------
    scenario
        The scenario to dispatch.
    fleet
        Plant groups, computed from ``scenario`` if not given.
    block_intervals
        Intervals per LP.

    Returns
    -------
    Baseline
        Dispatch, flows, slacks and zone prices.
    """
    fleet = fleet or Fleet.from_scenario(scenario)
    n_t = len(scenario.index)
    demand = scenario.demand_mw.to_numpy()
    reserve = scenario.reserve_requirement_mw().to_numpy()
    parts = [
        _solve_block(scenario, fleet, demand, reserve, np.arange(lo, min(lo + block_intervals, n_t)))
        for lo in range(0, n_t, block_intervals)
    ]
    generation = np.concatenate([p[0] for p in parts])
    return Baseline(
        fleet=fleet,
        generation_mw=generation,
        flow_mw=np.concatenate([p[1] for p in parts]),
        unserved_mw=np.concatenate([p[2] for p in parts]),
        spilled_mw=np.concatenate([p[3] for p in parts]),
        reserve_short_mw=np.concatenate([p[4] for p in parts]),
        zone_price_usd_per_mwh=np.concatenate([p[5] for p in parts]),
        fuel_cost_usd=float((generation * fleet.marginal_cost_usd_per_mwh).sum() * scenario.duration_h),
    )


def _solve_block(
    scenario: Scenario, fleet: Fleet, demand_all: np.ndarray, reserve_all: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Solve the least-cost dispatch for the intervals ``rows``."""
    n_t = len(rows)
    zones = scenario.zone_ids
    n_z = len(zones)
    demand = demand_all[rows]
    reserve = reserve_all[rows]
    corridors = scenario.corridors

    t_coord = pd.RangeIndex(n_t, name="t")
    g_coord = pd.Index(fleet.names, name="group")
    z_coord = pd.Index(zones, name="zone")
    c_coord = pd.Index([c.id for c in corridors], name="corridor")

    available = xr.DataArray(fleet.available_mw[rows], coords=[t_coord, g_coord])
    lower = available * xr.DataArray(fleet.must_run.astype(float), coords=[g_coord])

    m = linopy.Model()
    gen = m.add_variables(lower=lower, upper=available, name="gen")
    slack_coords: list[pd.Index] = [t_coord, z_coord]
    unserved = m.add_variables(lower=0.0, coords=slack_coords, name="unserved")
    spill = m.add_variables(lower=0.0, coords=slack_coords, name="spill")
    short = m.add_variables(lower=0.0, coords=[pd.Index(t_coord)], name="reserve_short")

    flow = None
    if corridors:
        fwd_cap = xr.DataArray([c.forward_mw for c in corridors], coords=[c_coord])
        rev_cap = xr.DataArray([c.reverse_mw for c in corridors], coords=[c_coord])
        ones = xr.DataArray(np.ones((n_t, len(corridors))), coords=[t_coord, c_coord])
        fwd = m.add_variables(lower=0.0, upper=ones * fwd_cap, name="flow_fwd")
        rev = m.add_variables(lower=0.0, upper=ones * rev_cap, name="flow_rev")
        flow = fwd - rev
    for zi, zone in enumerate(zones):
        members = [fleet.names[g] for g in np.flatnonzero(fleet.zone_index == zi)]
        net = unserved.sel(zone=zone) - spill.sel(zone=zone)
        if members:
            net = net + gen.sel(group=members).sum("group")
        if flow is not None:
            out_ids = [c.id for c in corridors if c.from_zone == zone]
            in_ids = [c.id for c in corridors if c.to_zone == zone]
            if out_ids:
                net = net - flow.sel(corridor=out_ids).sum("corridor")
            if in_ids:
                net = net + flow.sel(corridor=in_ids).sum("corridor")
        m.add_constraints(net == xr.DataArray(demand[:, zi], coords=[t_coord]), name=f"balance_{zi}")

    disp = xr.DataArray(fleet.dispatchable.astype(float), coords=[g_coord])
    disp_avail = fleet.available_mw[rows][:, fleet.dispatchable].sum(axis=1)
    m.add_constraints(
        (gen * disp).sum("group") - short <= xr.DataArray(disp_avail - reserve, coords=[t_coord]), name="reserve"
    )

    cost = xr.DataArray(fleet.marginal_cost_usd_per_mwh, coords=[g_coord])
    objective = (gen * cost).sum() + SLACK_PENALTY_USD_PER_MWH * (unserved.sum() + spill.sum() + short.sum())
    if corridors:
        objective = objective + FLOW_TIEBREAK_USD_PER_MWH * (fwd.sum() + rev.sum())
    m.add_objective(objective)

    logging.getLogger("linopy").setLevel(logging.WARNING)
    with quiet_solver_output():
        status, condition = m.solve(
            solver_name="highs", io_api="direct", output_flag=False, log_to_console=False, presolve="off"
        )
    if status != "ok":
        raise OfftakeError(f"baseline dispatch did not solve: {status} ({condition})")

    generation = gen.solution.transpose("t", "group").to_numpy()
    flows = (fwd.solution - rev.solution).transpose("t", "corridor").to_numpy() if corridors else np.zeros((n_t, 0))
    duals = np.column_stack([m.constraints[f"balance_{zi}"].dual.to_numpy() for zi in range(n_z)])
    return (
        generation,
        flows,
        unserved.solution.transpose("t", "zone").to_numpy(),
        spill.solution.transpose("t", "zone").to_numpy(),
        short.solution.to_numpy(),
        duals,
    )
