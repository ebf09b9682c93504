"""Least-cost dispatch of the existing demand: the one baseline surplus and plans are measured against.

One linear programme per block of intervals on the grid model of :mod:`offtake.grid.model`:
plant groups within availability, must-run groups at availability, corridor flows within
their limits per direction, demand met in every zone, reserve held on dispatchable groups.
``offtake assess`` and ``offtake plan`` solve it once per run and share it.

Must-run and slack treatment (the one rule of offtake):

* Must-run groups produce their available output; it enters each zone balance as a constant.
  Output that no demand and no corridor can take is *spilled* (``spill[time, zone]``).
* Demand that the grid cannot serve is *unserved* (``unserved[time, zone]``); reserve it
  cannot hold is *short* (``reserve_shortfall[time]``).
* The slacks are priced far above any fuel cost, in a fixed order: unserved demand
  (``UNSERVED_PENALTY_FACTOR`` times the reserve penalty) before reserve, and reserve and spill
  at ``SLACK_PENALTY_FACTOR`` times (the dearest marginal cost + 1 USD/MWh). So the baseline
  meets all the demand it can, then holds all the reserve it can, and only then saves fuel;
  every slack is zero whenever the grid can do without it. They are modelling devices, not
  economic values, and the result reports them so nothing fails silently.
* A tiny cost on the size of corridor flows (``FLOW_TIEBREAK_USD_PER_MWH``) removes loop flows.
* A plan (and the no-subsidy check) keeps the baseline's slacks: it never sheds demand, takes
  reserve or spills more than the baseline does, and it may absorb what the baseline spills.
"""

from __future__ import annotations

from dataclasses import dataclass

import linopy
import numpy as np

from offtake.grid.fleet import Fleet
from offtake.grid.model import Grid, add_grid
from offtake.grid.solve import solve_model
from offtake.scenario import Scenario

__all__ = ["Baseline", "least_cost_dispatch", "slack_penalties_usd_per_mwh"]

#: Reserve and spill penalty as a multiple of (dearest marginal cost + 1 USD/MWh) [-].
SLACK_PENALTY_FACTOR = 100.0
#: Unserved-demand penalty as a multiple of the reserve penalty [-].
UNSERVED_PENALTY_FACTOR = 100.0
#: Tiny cost on the size of every corridor flow: among dispatches of equal fuel cost it
#: picks the one without loop flows around meshed corridors [USD/MWh].
FLOW_TIEBREAK_USD_PER_MWH = 1e-3
#: Intervals per LP block: a quarter of a year of hours (measured fastest with linopy).
DEFAULT_BLOCK_INTERVALS = 2190
#: Slack below which the baseline counts as needing none [MW].
SLACK_TOLERANCE_MW = 1e-6


def slack_penalties_usd_per_mwh(grid: Grid) -> tuple[float, float]:
    """Penalties of the baseline's slacks: unserved demand, and reserve or spill [USD/MWh]."""
    dearest = float(np.max(grid.fleet.marginal_cost_usd_per_mwh, initial=0.0))
    reserve = SLACK_PENALTY_FACTOR * (dearest + 1.0)
    return UNSERVED_PENALTY_FACTOR * reserve, reserve


@dataclass(frozen=True)
class Baseline:
    """Result of the least-cost dispatch.

    Attributes
    ----------
    grid
        The grid dispatched.
    fleet
        Its plant groups (``grid.fleet``).
    generation_mw
        Output per interval and fleet group, must-run included [MW], shape (intervals, groups).
    flow_mw
        Net flow per interval and corridor, positive from ``from_zone`` to ``to_zone`` [MW].
    unserved_mw, spilled_mw
        Demand not met and must-run output spilled, per interval and zone [MW] (0 below
        ``SLACK_TOLERANCE_MW``).
    reserve_short_mw
        Reserve shortfall per interval [MW].
    zone_price_usd_per_mwh
        Dual of each zone's balance: the marginal cost of one more MWh there [USD/MWh].
    fuel_cost_usd
        Total fuel cost over the period, must-run output included [USD].
    objective_usd
        Fuel cost of the groups the dispatch chooses plus the slack penalties and the flow
        tie-break [USD].
    """

    grid: Grid
    generation_mw: np.ndarray
    flow_mw: np.ndarray
    unserved_mw: np.ndarray
    spilled_mw: np.ndarray
    reserve_short_mw: np.ndarray
    zone_price_usd_per_mwh: np.ndarray
    fuel_cost_usd: float
    objective_usd: float

    @property
    def fleet(self) -> Fleet:
        """The plant groups dispatched."""
        return self.grid.fleet

    @property
    def group_generation_mw(self) -> np.ndarray:
        """Output of the groups the dispatch chooses (``grid.groups``) [MW]."""
        return np.asarray(self.generation_mw[:, self.fleet.free])

    @property
    def short(self) -> np.ndarray:
        """True in intervals where the grid cannot meet all demand or hold all its reserve."""
        return np.asarray((self.unserved_mw.sum(axis=1) + self.reserve_short_mw) > 0)


def least_cost_dispatch(
    scenario: Scenario,
    fleet: Fleet | None = None,
    block_intervals: int = DEFAULT_BLOCK_INTERVALS,
    *,
    grid: Grid | None = None,
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
    grid
        The grid model of ``scenario``, if already built.

    Returns
    -------
    Baseline
        Dispatch, flows, slacks and zone prices.
    """
    grid = grid or Grid.from_scenario(scenario, fleet)
    n_t = grid.n_intervals
    parts = [_solve_block(grid, np.arange(lo, min(lo + block_intervals, n_t))) for lo in range(0, n_t, block_intervals)]
    generation = np.concatenate([p[0] for p in parts])

    def clean(k: int) -> np.ndarray:
        values = np.concatenate([p[k] for p in parts])
        return np.where(values > SLACK_TOLERANCE_MW, values, 0.0)

    return Baseline(
        grid=grid,
        generation_mw=generation,
        flow_mw=np.concatenate([p[1] for p in parts]),
        unserved_mw=clean(2),
        spilled_mw=clean(3),
        reserve_short_mw=clean(4),
        zone_price_usd_per_mwh=np.concatenate([p[5] for p in parts]),
        fuel_cost_usd=float((generation * grid.fleet.marginal_cost_usd_per_mwh).sum() * grid.duration_h),
        objective_usd=float(sum(p[6] for p in parts)),
    )


def _solve_block(
    grid: Grid, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Solve the least-cost dispatch for the intervals ``rows``."""
    n_t, n_z = len(rows), len(grid.zones)
    unbounded = np.full((n_t, n_z), np.inf)
    m = linopy.Model(force_dim_names=True)
    v = add_grid(m, grid, rows, unserved_mw=unbounded, spill_mw=unbounded, shortfall_mw=np.full(n_t, np.inf))
    assert v.unserved is not None and v.spill is not None and v.shortfall is not None
    unserved_pen, reserve_pen = slack_penalties_usd_per_mwh(grid)
    dt = grid.duration_h
    objective = (
        v.fuel_cost_usd
        + (unserved_pen * dt) * v.unserved.sum()
        + (reserve_pen * dt) * (v.spill.sum() + v.shortfall.sum())
    )
    if v.flow is not None:
        size = m.add_variables(lower=0.0, coords=v.flow.coords, name="flow_size")
        m.add_constraints(size - v.flow >= 0.0, name="flow_size_fwd")
        m.add_constraints(size + v.flow >= 0.0, name="flow_size_rev")
        objective = objective + (FLOW_TIEBREAK_USD_PER_MWH * dt) * size.sum()
    m.add_objective(objective)
    value = solve_model(m, {"presolve": "off"}, what="baseline", quiet=True)
    flows = v.flow.solution.transpose("time", "corridor").to_numpy() if v.flow is not None else np.zeros((n_t, 0))
    prices = np.zeros((n_t, n_z))
    for zi, zone in enumerate(grid.zones):
        name = f"balance_{zone}"
        if name in m.constraints:
            prices[:, zi] = m.constraints[name].dual.to_numpy() / dt
    return (
        grid.full_generation_mw(v.gen.solution.transpose("time", "group").to_numpy(), rows),
        flows,
        v.unserved.solution.transpose("time", "zone").to_numpy(),
        v.spill.solution.transpose("time", "zone").to_numpy(),
        v.shortfall.solution.to_numpy(),
        prices,
        value,
    )
