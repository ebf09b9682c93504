"""The zonal grid model: the data and the linopy rows every optimisation of offtake shares.

One transport model, written once and reused by the least-cost baseline
(:mod:`offtake.grid.baseline`), the extra-load LP that cross-checks the surplus
(:mod:`offtake.grid.extra_load`), the allocation model of the planner
(:func:`offtake.planning.model.build_model`) and the no-subsidy check
(:mod:`offtake.grid.subsidy`):

* ``gen[time, group]``: output of the plant groups that are not must-run [MW],
  ``minimum <= gen <= available`` (or a lower upper bound given by the caller), where
  ``minimum`` is the contractual minimum off-take of the group (a minimum loading per
  interval, 0 for most groups; see :attr:`offtake.grid.fleet.Fleet.min_output_mw`). Must-run
  groups produce their available output and enter each zone balance as a constant.
* ``flow[time, corridor]``: transfer from the corridor's ``from`` zone to its ``to`` zone [MW],
  ``-reverse_mw <= flow <= forward_mw`` as variable bounds.
* ``balance_<zone>``: generation + imports - exports - extra load + unserved - spill
  = demand - must-run output, every interval.
* ``reserve``: the reserve requirement is held as headroom on dispatchable groups (neither
  variable nor must-run), less any shortfall.
* Slacks, each present only when the caller gives its upper bound [MW]: ``unserved[time,
  zone]`` (demand not met), ``spill[time, zone]`` (must-run output not absorbed) and
  ``reserve_shortfall[time]``. The baseline leaves them free and prices them (see
  :mod:`offtake.grid.baseline`); the planner bounds them by what the baseline needed, so a plan
  never sheds demand, spills or takes reserve that the grid would not without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from offtake.errors import OfftakeError
from offtake.grid.fleet import Fleet
from offtake.scenario import Scenario

__all__ = ["Grid", "GridVariables", "add_grid", "corridor_shadow_prices"]

#: Expression or variable of extra load per zone, dims (time,) [MW].
ExtraLoad = Mapping[str, "linopy.LinearExpression | linopy.Variable"]


@dataclass(frozen=True)
class Grid:
    """A scenario as the optimisations see it: zones, plant groups, demand, reserve, corridors.

    Attributes
    ----------
    zones
        Zone ids.
    duration_h
        Length of one interval [h].
    fleet
        Plant groups.
    demand_mw
        Existing demand per interval and zone [MW], shape (time, zone).
    must_run_mw
        Output of must-run groups per interval and zone [MW], shape (time, zone).
    reserve_mw
        Reserve requirement per interval [MW].
    corridors
        Corridors (index: id) with ``from_zone``, ``to_zone``, ``forward_mw``, ``reverse_mw``.
    """

    zones: list[str]
    duration_h: float
    fleet: Fleet
    demand_mw: np.ndarray
    must_run_mw: np.ndarray
    reserve_mw: np.ndarray
    corridors: pd.DataFrame

    @classmethod
    def from_scenario(cls, scenario: Scenario, fleet: Fleet | None = None) -> Grid:
        """Reduce ``scenario`` to the grid model (plant groups from ``fleet`` if given)."""
        fleet = fleet or Fleet.from_scenario(scenario)
        zones = scenario.zone_ids
        must_run = np.zeros((len(scenario.index), len(zones)))
        for g in np.flatnonzero(fleet.must_run):
            must_run[:, fleet.zone_index[g]] += fleet.available_mw[:, g]
        corridors = pd.DataFrame(
            {
                "from_zone": [c.from_zone for c in scenario.corridors],
                "to_zone": [c.to_zone for c in scenario.corridors],
                "forward_mw": [float(c.forward_mw) for c in scenario.corridors],
                "reverse_mw": [float(c.reverse_mw) for c in scenario.corridors],
            },
            index=pd.Index([c.id for c in scenario.corridors], name="corridor"),
        )
        return cls(
            zones=list(zones),
            duration_h=scenario.duration_h,
            fleet=fleet,
            demand_mw=scenario.demand_mw[zones].to_numpy(dtype=float),
            must_run_mw=must_run,
            reserve_mw=scenario.reserve_requirement_mw().to_numpy(dtype=float),
            corridors=corridors,
        )

    @property
    def n_intervals(self) -> int:
        """Number of intervals."""
        return int(self.demand_mw.shape[0])

    @property
    def groups(self) -> pd.Index:
        """Labels of the groups the dispatch chooses (not must-run): the ``group`` coordinate."""
        names = [n for n, free in zip(self.fleet.names, self.fleet.free, strict=True) if free]
        return pd.Index(names, name="group")

    @property
    def group_cost_usd_per_mwh(self) -> np.ndarray:
        """Marginal cost of each group in :attr:`groups` [USD/MWh]."""
        return np.asarray(self.fleet.marginal_cost_usd_per_mwh[self.fleet.free])

    @property
    def group_available_mw(self) -> np.ndarray:
        """Available capacity of the groups in :attr:`groups` [MW], shape (time, group)."""
        return np.asarray(self.fleet.available_mw[:, self.fleet.free])

    @property
    def group_min_output_mw(self) -> np.ndarray:
        """Contractual minimum output of the groups in :attr:`groups` [MW], shape (time, group)."""
        return np.asarray(self.fleet.min_output_mw[:, self.fleet.free])

    @property
    def group_reserve(self) -> np.ndarray:
        """True for groups in :attr:`groups` that hold reserve (not variable)."""
        return np.asarray(self.fleet.dispatchable[self.fleet.free])

    @property
    def group_zone(self) -> np.ndarray:
        """Zone id of each group in :attr:`groups`."""
        return np.asarray([self.zones[i] for i in self.fleet.zone_index[self.fleet.free]])

    def full_generation_mw(self, group_mw: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Output of every fleet group: ``group_mw`` for :attr:`groups`, availability for must-run.

        Parameters
        ----------
        group_mw
            Output of the groups in :attr:`groups` [MW], shape (time, group).
        rows
            Interval positions of ``group_mw``; all intervals if None.
        """
        avail = self.fleet.available_mw if rows is None else self.fleet.available_mw[rows]
        out = avail.copy()
        out[:, self.fleet.free] = group_mw
        return out


@dataclass(frozen=True)
class GridVariables:
    """The grid part of a linopy model, as :func:`add_grid` built it.

    Attributes
    ----------
    gen, flow, unserved, spill, shortfall
        The variables (None where absent).
    fuel_cost_usd
        Fuel cost of ``gen`` over the intervals [USD] (must-run output is a constant, left out).
    """

    gen: linopy.Variable
    flow: linopy.Variable | None
    unserved: linopy.Variable | None
    spill: linopy.Variable | None
    shortfall: linopy.Variable | None
    fuel_cost_usd: linopy.LinearExpression


def add_grid(
    m: linopy.Model,
    grid: Grid,
    rows: np.ndarray | None = None,
    *,
    extra_load: ExtraLoad | None = None,
    gen_upper_mw: np.ndarray | None = None,
    unserved_mw: np.ndarray | None = None,
    spill_mw: np.ndarray | None = None,
    shortfall_mw: np.ndarray | None = None,
    reserve_mw: np.ndarray | None = None,
) -> GridVariables:
    """Add plants, corridors, zone balances and the reserve row to ``m``.

    Parameters
    ----------
    m
        The model (dimension ``time`` = ``range(len(rows))``).
    grid
        The grid.
    rows
        Interval positions to model; all if None.
    extra_load
        Extra load per zone (sites, or the extra load of the surplus LP), dims (time,) [MW].
    gen_upper_mw
        Upper bound of ``gen`` [MW], shape (time, group); availability if None. The lower
        bound is the groups' contractual minimum output, never above this upper bound.
    unserved_mw, spill_mw
        Upper bounds of the demand and must-run slacks [MW], shape (time, zone); no slack
        if None (``numpy.inf`` for an unbounded one).
    shortfall_mw
        Upper bound of the reserve shortfall [MW], shape (time,); no slack if None.
    reserve_mw
        Reserve to hold [MW], shape (time,); the grid's requirement if None.

    Returns
    -------
    GridVariables
        The variables and the fuel cost.
    """
    rows = np.arange(grid.n_intervals) if rows is None else np.asarray(rows, dtype=int)
    time = pd.RangeIndex(len(rows), name="time")
    zone_ix = pd.Index(grid.zones, name="zone")
    available = grid.group_available_mw[rows]
    upper = available if gen_upper_mw is None else gen_upper_mw
    lower = np.minimum(grid.group_min_output_mw[rows], upper)
    gen = m.add_variables(
        lower=xr.DataArray(lower, coords=[time, grid.groups]),
        upper=xr.DataArray(upper, coords=[time, grid.groups]),
        name="gen",
    )
    flow = _add_flow(m, grid, time)

    def slack(bound: np.ndarray | None, name: str) -> linopy.Variable | None:
        if bound is None:
            return None
        upper = xr.DataArray(bound, coords=[time, zone_ix]) if bound.ndim == 2 else xr.DataArray(bound, coords=[time])
        return m.add_variables(lower=0.0, upper=upper, name=name)

    unserved = slack(unserved_mw, "unserved")
    spill = slack(spill_mw, "spill")
    shortfall = slack(shortfall_mw, "reserve_shortfall")
    _add_balances(m, grid, rows, time, gen, flow, extra_load or {}, unserved, spill)
    requirement = grid.reserve_mw[rows] if reserve_mw is None else reserve_mw
    _add_reserve(m, grid, time, available, gen, shortfall, requirement)
    cost = xr.DataArray(grid.group_cost_usd_per_mwh * grid.duration_h, coords=[grid.groups])
    return GridVariables(gen, flow, unserved, spill, shortfall, (gen * cost).sum())


def _add_flow(m: linopy.Model, grid: Grid, time: pd.RangeIndex) -> linopy.Variable | None:
    if not len(grid.corridors):
        return None
    corr = grid.corridors.index
    shape = (len(time), len(corr))
    fwd = grid.corridors["forward_mw"].to_numpy(dtype=float)
    rev = grid.corridors["reverse_mw"].to_numpy(dtype=float)
    return m.add_variables(
        lower=xr.DataArray(np.broadcast_to(-rev, shape), coords=[time, corr]),
        upper=xr.DataArray(np.broadcast_to(fwd, shape), coords=[time, corr]),
        name="flow",
    )


def _add_balances(
    m: linopy.Model,
    grid: Grid,
    rows: np.ndarray,
    time: pd.RangeIndex,
    gen: linopy.Variable,
    flow: linopy.Variable | None,
    extra_load: ExtraLoad,
    unserved: linopy.Variable | None,
    spill: linopy.Variable | None,
) -> None:
    group_zone = grid.group_zone
    for zi, zone in enumerate(grid.zones):
        parts: list[linopy.LinearExpression | linopy.Variable] = []
        in_zone = grid.groups[group_zone == zone]
        if len(in_zone):
            parts.append(gen.sel(group=in_zone).sum("group"))
        if flow is not None:
            to_z = grid.corridors.index[grid.corridors["to_zone"].to_numpy() == zone]
            from_z = grid.corridors.index[grid.corridors["from_zone"].to_numpy() == zone]
            if len(to_z):
                parts.append(flow.sel(corridor=to_z).sum("corridor"))
            if len(from_z):
                parts.append(-flow.sel(corridor=from_z).sum("corridor"))
        if zone in extra_load:
            parts.append(-1 * extra_load[zone])
        if unserved is not None:
            parts.append(unserved.sel(zone=zone))
        if spill is not None:
            parts.append(-1 * spill.sel(zone=zone))
        net = grid.demand_mw[rows, zi] - grid.must_run_mw[rows, zi]
        if not parts:
            if np.abs(net).max(initial=0.0) > 1e-6:
                raise OfftakeError(f"zone {zone} has demand but no plant, corridor or must-run supply")
            continue
        expr = parts[0]
        for part in parts[1:]:
            expr = expr + part
        m.add_constraints(expr == xr.DataArray(net, coords=[time]), name=f"balance_{zone}")


def _add_reserve(
    m: linopy.Model,
    grid: Grid,
    time: pd.RangeIndex,
    available: np.ndarray,
    gen: linopy.Variable,
    shortfall: linopy.Variable | None,
    requirement: np.ndarray,
) -> None:
    if requirement.max(initial=0.0) <= 0:
        return
    holders = grid.groups[grid.group_reserve]
    headroom = available[:, grid.group_reserve].sum(axis=1)
    lhs: linopy.LinearExpression | linopy.Variable | None = (
        gen.sel(group=holders).sum("group") if len(holders) else None
    )
    if shortfall is not None:
        lhs = -1 * shortfall if lhs is None else lhs - shortfall
    if lhs is None:
        if (requirement > headroom + 1e-9).any():
            raise OfftakeError("the grid has no dispatchable plant to hold the reserve")
        return
    m.add_constraints(lhs <= xr.DataArray(headroom - requirement, coords=[time]), name="reserve")


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
        The grid.
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
