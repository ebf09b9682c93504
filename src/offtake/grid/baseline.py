"""Least-cost dispatch of the existing demand: the one baseline surplus and plans are measured against.

One linear programme per block of intervals on the grid model of :mod:`offtake.grid.model`:
plant groups within availability, must-run groups at availability, corridor flows within
their limits per direction, demand met in every zone, reserve held on dispatchable groups.
``offtake assess`` and ``offtake plan`` solve it once per run and share it.

Must-run and slack treatment (the one rule of offtake):

* Must-run groups produce their available output; it enters each zone balance as a constant.
  Groups under a minimum off-take (a take-or-pay fuel contract, :attr:`Fleet.min_output_mw`)
  produce at least that minimum in every interval. Output that no demand and no corridor can
  take is *spilled* (``spill[time, zone]``).
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

When marginal costs change (a fuel-price sensitivity), :func:`redispatch` re-solves only the
intervals whose dispatch may change. The baseline LP is a minimum-cost flow (sources, a
reserve-limited pool of dispatchable groups, zones, corridors, slacks), and every cycle of its
residual network raises one group and lowers another, or involves a slack whose penalty
dwarfs any fuel cost. So the old dispatch stays optimal in an interval unless some group ``i``
turns cheaper than ``j`` (within the flow tie-break) while ``i`` has room to rise and ``j``
produces more than its contractual minimum; only such intervals are solved again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import linopy
import numpy as np

from offtake.grid.fleet import Fleet
from offtake.grid.model import Grid, add_grid
from offtake.grid.solve import solve_model
from offtake.scenario import Scenario

__all__ = [
    "Baseline",
    "displacing_pairs",
    "hops_margin_usd_per_mwh",
    "least_cost_dispatch",
    "redispatch",
    "slack_penalties_usd_per_mwh",
]

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


def redispatch(
    baseline: Baseline, cost_usd_per_mwh: np.ndarray, block_intervals: int = DEFAULT_BLOCK_INTERVALS
) -> tuple[Baseline, np.ndarray]:
    """Dispatch at new marginal costs least-cost, re-solving only the intervals that may change.

    The slack penalties stay those of ``baseline`` (they are modelling devices, far above
    any fuel cost), so the re-solved intervals rank the slacks as before.

    Parameters
    ----------
    baseline
        The least-cost dispatch at the old costs.
    cost_usd_per_mwh
        New marginal cost of every fleet group [USD/MWh], shape (groups,).
    block_intervals
        Intervals per LP.

    Returns
    -------
    baseline : Baseline
        Dispatch at the new costs, on a grid whose fleet has the new costs. Zone prices are
        the re-solved ones where intervals were solved again, the old ones elsewhere.
    resolved : numpy.ndarray
        True for the intervals solved again.
    """
    old = baseline.fleet
    cost = np.asarray(cost_usd_per_mwh, dtype=float)
    if cost.shape != old.marginal_cost_usd_per_mwh.shape or not np.isfinite(cost).all():
        raise ValueError(f"expected {len(old.names)} finite marginal costs, got shape {cost.shape}")
    grid = replace(baseline.grid, fleet=replace(old, marginal_cost_usd_per_mwh=cost))
    resolved = _intervals_to_resolve(baseline, cost)
    rows = np.flatnonzero(resolved)
    generation = baseline.generation_mw.copy()
    flow = baseline.flow_mw.copy()
    slacks = [baseline.unserved_mw.copy(), baseline.spilled_mw.copy(), baseline.reserve_short_mw.copy()]
    prices = baseline.zone_price_usd_per_mwh.copy()
    penalties = slack_penalties_usd_per_mwh(baseline.grid)
    for lo in range(0, len(rows), block_intervals):
        block = rows[lo : lo + block_intervals]
        part = _solve_block(grid, block, penalties)
        generation[block], flow[block], prices[block] = part[0], part[1], part[5]
        for k, values in enumerate(part[2:5]):
            slacks[k][block] = np.where(values > SLACK_TOLERANCE_MW, values, 0.0)
    free = grid.fleet.free
    dt = grid.duration_h
    objective = dt * (
        float((generation[:, free] * cost[free]).sum())
        + penalties[0] * float(slacks[0].sum())
        + penalties[1] * float(slacks[1].sum() + slacks[2].sum())
        + FLOW_TIEBREAK_USD_PER_MWH * float(np.abs(flow).sum())
    )
    result = Baseline(
        grid=grid,
        generation_mw=generation,
        flow_mw=flow,
        unserved_mw=slacks[0],
        spilled_mw=slacks[1],
        reserve_short_mw=slacks[2],
        zone_price_usd_per_mwh=prices,
        fuel_cost_usd=float((generation * cost).sum() * dt),
        objective_usd=objective,
    )
    return result, resolved


def hops_margin_usd_per_mwh(grid: Grid) -> float:
    """Most the flow tie-break adds to the cost of one cycle of the dispatch [USD/MWh]."""
    return FLOW_TIEBREAK_USD_PER_MWH * (len(grid.corridors) + 1)


def displacing_pairs(grid: Grid, cost_usd_per_mwh: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of groups ``(i, j)`` where ``i`` may now displace ``j`` (fleet positions).

    ``i`` and ``j`` are groups the dispatch chooses (not must-run); ``i`` turned cheaper
    relative to ``j``, was not clearly cheaper before and is not clearly dearer now ("clearly":
    by more than the flow tie-break a cycle can carry). Any other pair keeps the sign of every
    cycle that raises one and lowers the other.
    """
    free = np.flatnonzero(grid.fleet.free)
    old = grid.fleet.marginal_cost_usd_per_mwh[free]
    new = np.asarray(cost_usd_per_mwh, dtype=float)[free]
    gap_old = old[:, None] - old[None, :]
    gap_new = new[:, None] - new[None, :]
    hops = hops_margin_usd_per_mwh(grid)
    risky = (gap_new < gap_old) & (gap_new < hops) & (gap_old >= -hops)
    return [(int(free[i]), int(free[j])) for i, j in zip(*np.nonzero(risky), strict=True)]


def _intervals_to_resolve(baseline: Baseline, cost: np.ndarray) -> np.ndarray:
    """Intervals where a group turned cheaper than another could displace it (see the module note)."""
    gen = baseline.generation_mw
    room = gen < baseline.fleet.available_mw - SLACK_TOLERANCE_MW
    running = gen > baseline.fleet.min_output_mw + SLACK_TOLERANCE_MW
    out = np.zeros(gen.shape[0], dtype=bool)
    for i, j in displacing_pairs(baseline.grid, cost):
        out |= room[:, i] & running[:, j]
    return out


def _solve_block(
    grid: Grid, rows: np.ndarray, penalties: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Solve the least-cost dispatch for the intervals ``rows`` (slack penalties of ``grid`` if not given)."""
    n_t, n_z = len(rows), len(grid.zones)
    unbounded = np.full((n_t, n_z), np.inf)
    m = linopy.Model(force_dim_names=True)
    v = add_grid(m, grid, rows, unserved_mw=unbounded, spill_mw=unbounded, shortfall_mw=np.full(n_t, np.inf))
    assert v.unserved is not None and v.spill is not None and v.shortfall is not None
    unserved_pen, reserve_pen = penalties or slack_penalties_usd_per_mwh(grid)
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
