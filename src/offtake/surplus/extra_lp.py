"""The surplus as an explicit linear programme, for chosen intervals.

The same question as :mod:`offtake.surplus.network` answers by enumerating cuts, asked of
linopy and HiGHS directly: maximise the extra load in one zone (or in all zones together)
with existing demand met in every zone, corridors within their limits, the reserve kept,
must-run output taken, and units whose marginal cost is above the tariff producing no more
than in the least-cost baseline. It returns the full dispatch, so the invariants can be
checked, and it serves as the independent check of the cut enumeration.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from offtake.errors import OfftakeError
from offtake.scenario import Scenario
from offtake.surplus.baseline import Baseline, quiet_solver_output

__all__ = ["ExtraLoadDispatch", "max_extra_load"]


@dataclass(frozen=True)
class ExtraLoadDispatch:
    """Dispatch that serves the largest extra load.

    Attributes
    ----------
    intervals
        Positions of the intervals solved.
    extra_mw
        Extra load served per interval and zone [MW], shape (intervals, zones).
    generation_mw
        Output per interval and plant group [MW].
    flow_mw
        Net flow per interval and corridor, positive from ``from_zone`` to ``to_zone`` [MW].
    upper_mw
        The output limit each group had: availability, or the baseline output for groups above
        the tariff [MW].
    """

    intervals: np.ndarray
    extra_mw: np.ndarray
    generation_mw: np.ndarray
    flow_mw: np.ndarray
    upper_mw: np.ndarray


def max_extra_load(
    scenario: Scenario,
    baseline: Baseline,
    tariff_usd_per_mwh: float,
    intervals: np.ndarray,
    zone: str | None,
) -> ExtraLoadDispatch:
    """Solve the largest extra load for the given intervals.

    Parameters
    ----------
    scenario
        The scenario.
    baseline
        Its least-cost dispatch.
    tariff_usd_per_mwh
        Units above this marginal cost may not increase their output [USD/MWh].
    intervals
        Positions of the intervals to solve.
    zone
        Zone that takes the extra load, or ``None`` for all zones jointly.

    Returns
    -------
    ExtraLoadDispatch
        The optimal dispatch.
    """
    fleet = baseline.fleet
    idx = np.asarray(intervals, dtype=int)
    zones = scenario.zone_ids
    corridors = scenario.corridors
    t_coord = pd.RangeIndex(len(idx), name="t")
    g_coord = pd.Index(fleet.names, name="group")
    c_coord = pd.Index([c.id for c in corridors], name="corridor")

    available = fleet.available_mw[idx]
    g0 = baseline.generation_mw[idx]
    cheap = fleet.marginal_cost_usd_per_mwh <= tariff_usd_per_mwh
    upper = np.where(cheap, available, np.minimum(g0, available))
    lower = np.where(fleet.must_run, np.minimum(g0, upper), 0.0)

    m = linopy.Model()
    gen = m.add_variables(
        lower=xr.DataArray(lower, coords=[t_coord, g_coord]),
        upper=xr.DataArray(upper, coords=[t_coord, g_coord]),
        name="gen",
    )
    takers = zones if zone is None else [zone]
    if zone is not None and zone not in zones:
        raise OfftakeError(f"unknown zone '{zone}'")
    extra = m.add_variables(lower=0.0, coords=[t_coord, pd.Index(takers, name="zone")], name="extra")
    flow = None
    if corridors:
        ones = np.ones((len(idx), len(corridors)))
        flow = m.add_variables(
            lower=xr.DataArray(-ones * [c.reverse_mw for c in corridors], coords=[t_coord, c_coord]),
            upper=xr.DataArray(ones * [c.forward_mw for c in corridors], coords=[t_coord, c_coord]),
            name="flow",
        )
    demand = scenario.demand_mw.to_numpy()[idx]
    for zi, z in enumerate(zones):
        members = [fleet.names[g] for g in np.flatnonzero(fleet.zone_index == zi)]
        net = gen.sel(group=members).sum("group") if members else None
        if z in takers:
            term = -1 * extra.sel(zone=z)
            net = term if net is None else net + term
        if flow is not None:
            out_ids = [c.id for c in corridors if c.from_zone == z]
            in_ids = [c.id for c in corridors if c.to_zone == z]
            if out_ids:
                term = -1 * flow.sel(corridor=out_ids).sum("corridor")
                net = term if net is None else net + term
            if in_ids:
                term = flow.sel(corridor=in_ids).sum("corridor")
                net = term if net is None else net + term
        if net is None:
            continue
        m.add_constraints(net == xr.DataArray(demand[:, zi], coords=[t_coord]), name=f"balance_{zi}")
    reserve = scenario.reserve_requirement_mw().to_numpy()[idx]
    pool = available[:, fleet.dispatchable].sum(axis=1) - reserve
    disp = xr.DataArray(fleet.dispatchable.astype(float), coords=[g_coord])
    m.add_constraints((gen * disp).sum("group") <= xr.DataArray(pool, coords=[t_coord]), name="reserve")
    m.add_objective(-1 * extra.sum())
    logging.getLogger("linopy").setLevel(logging.WARNING)
    with quiet_solver_output():
        status, condition = m.solve(solver_name="highs", io_api="direct", output_flag=False, log_to_console=False)
    if status != "ok":
        raise OfftakeError(f"extra-load LP did not solve: {status} ({condition})")
    extra_full = np.zeros((len(idx), len(zones)))
    values = extra.solution.transpose("t", "zone").to_numpy()
    for k, z in enumerate(takers):
        extra_full[:, zones.index(z)] = values[:, k]
    flows = flow.solution.transpose("t", "corridor").to_numpy() if flow is not None else np.zeros((len(idx), 0))
    return ExtraLoadDispatch(
        intervals=idx,
        extra_mw=extra_full,
        generation_mw=gen.solution.transpose("t", "group").to_numpy(),
        flow_mw=flows,
        upper_mw=upper,
    )
