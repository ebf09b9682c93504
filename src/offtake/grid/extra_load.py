"""The surplus as an explicit linear programme, for chosen intervals.

The same question as :mod:`offtake.surplus.network` answers by enumerating cuts, asked of
linopy and HiGHS directly on the grid model of :mod:`offtake.grid.model`: maximise the extra
load in one zone (or in all zones together) with existing demand met in every zone,
corridors within their limits, the reserve kept, must-run output taken, and units whose
marginal cost is above the tariff producing no more than in the least-cost baseline. Where
the baseline spills must-run output no demand or corridor can take, the LP may spill as
much, and no more (the one rule of :mod:`offtake.grid.baseline`); so it answers in every
hour where the baseline meets demand and reserve. It returns the full dispatch, so the
invariants can be checked, and it serves as the independent check of the cut enumeration.
"""

from __future__ import annotations

from dataclasses import dataclass

import linopy
import numpy as np
import pandas as pd

from offtake.errors import OfftakeError
from offtake.grid.baseline import Baseline
from offtake.grid.model import add_grid
from offtake.grid.solve import solve_model
from offtake.scenario import Scenario

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
    spilled_mw
        Must-run output spilled per interval and zone [MW], at most the baseline's spill.
    """

    intervals: np.ndarray
    extra_mw: np.ndarray
    generation_mw: np.ndarray
    flow_mw: np.ndarray
    upper_mw: np.ndarray
    spilled_mw: np.ndarray


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
        The scenario (the grid is ``baseline.grid``).
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
    grid = baseline.grid
    idx = np.asarray(intervals, dtype=int)
    zones = grid.zones
    if zone is not None and zone not in zones:
        raise OfftakeError(f"unknown zone '{zone}'")
    takers = zones if zone is None else [zone]
    fleet = grid.fleet
    available = fleet.available_mw[idx]
    cheap = fleet.marginal_cost_usd_per_mwh <= tariff_usd_per_mwh
    upper = np.where(cheap, available, np.minimum(baseline.generation_mw[idx], available))
    spill_bound = baseline.spilled_mw[idx]
    time = pd.RangeIndex(len(idx), name="time")
    m = linopy.Model(force_dim_names=True)
    extra = m.add_variables(lower=0.0, coords=[time, pd.Index(takers, name="zone")], name="extra")
    v = add_grid(
        m,
        grid,
        idx,
        extra_load={z: extra.sel(zone=z) for z in takers},
        gen_upper_mw=upper[:, fleet.free],
        spill_mw=spill_bound if spill_bound.any() else None,
    )
    m.add_objective(-1 * extra.sum())
    solve_model(m, what="extra-load LP", quiet=True)
    extra_full = np.zeros((len(idx), len(zones)))
    values = extra.solution.transpose("time", "zone").to_numpy()
    for k, z in enumerate(takers):
        extra_full[:, zones.index(z)] = values[:, k]
    spilled = (
        v.spill.solution.transpose("time", "zone").to_numpy() if v.spill is not None else np.zeros_like(spill_bound)
    )
    flows = v.flow.solution.transpose("time", "corridor").to_numpy() if v.flow is not None else np.zeros((len(idx), 0))
    return ExtraLoadDispatch(
        intervals=idx,
        extra_mw=extra_full,
        generation_mw=grid.full_generation_mw(v.gen.solution.transpose("time", "group").to_numpy(), idx),
        flow_mw=flows,
        upper_mw=upper,
        spilled_mw=spilled,
    )
