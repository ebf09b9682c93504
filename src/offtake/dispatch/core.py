"""The dispatch core: a power cap for every site in one interval, and the rule that set it.

The same core runs under two drivers: the live clock of the server and the simulated year.
All work per interval is array arithmetic over sites; grouping by zone and the priority
order are precomputed once from the contracts.

Rules, in the order they act
----------------------------
1. A suspended licence gets zero.
2. A site may not ask for more than its allocation, nor pick up faster than its ramp-up
   limit from its last metered draw.
3. In each zone the caps sum to at most what the zone can deliver: the surplus forecast less
   ``safety_k`` standard deviations of its error, less the draw of sites known to ignore
   their caps. The zone's deliverable power is shared out in priority order: AI firm
   tranches, AI interruptible tranches, mining firm tranches, mining interruptible tranches.
   Within a tranche class sites share pro rata; sites whose contract says ``bid`` are ranked
   by their bid against the reference tariff. An optional national limit is applied the
   same way across zones.
4. An emergency (national or per zone) takes miners to zero and AI data centres to their
   contracted floor at once; it never raises a cap.
5. Routine curtailment is staggered: the load dropped in one step, summed over all sites,
   is at most the contingency limit. The rest is shed in the following intervals and
   reported as ``deferred_mw``. Load picked up in one step is limited the same way.
   Emergencies and suspensions are exempt: when the grid needs the load gone now, it goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from offtake.dispatch.contracts import Contracts
from offtake.dispatch.policy import DispatchPolicy
from offtake.errors import InputError

__all__ = ["DispatchResult", "Dispatcher", "GridState", "Reason", "SiteState"]

F64 = NDArray[np.float64]
B = NDArray[np.bool_]
#: Numerical slack when comparing powers [MW].
EPS_MW = 1e-6


class Reason(IntEnum):
    """Which rule set a site's cap (one code per site and interval)."""

    ALLOCATION = 0
    """Nothing bound: the cap is the site's allocation."""
    ZONE_LIMIT = 1
    """Cut to fit what the zone can deliver, less the safety margin."""
    NATIONAL_LIMIT = 2
    """Cut to fit the national limit."""
    RAMP_LIMIT = 3
    """Held back by the ramp-up limit of the site or of the fleet."""
    STAGGER = 4
    """Held above its target so the fleet drops no more than the contingency limit."""
    EMERGENCY = 5
    """A miner taken to zero by an emergency."""
    CONTRACT_FLOOR = 6
    """An AI data centre held at its contracted floor by an emergency."""
    SUSPENDED = 7
    """Licence suspended: zero."""


@dataclass
class GridState:
    """What the grid can give in one interval.

    Parameters
    ----------
    surplus_forecast_mw
        Forecast surplus per zone for the interval [MW], shape (zones,).
    surplus_sigma_mw
        Standard deviation of that forecast's error per zone [MW], shape (zones,).
    national_limit_mw
        Forecast national surplus [MW], or None for no national limit.
    national_sigma_mw
        Standard deviation of the national forecast's error [MW].
    emergency_national
        A national emergency is in force.
    emergency_zone
        Zones under an emergency, shape (zones,), or None for none.
    """

    surplus_forecast_mw: F64
    surplus_sigma_mw: F64
    national_limit_mw: float | None = None
    national_sigma_mw: float = 0.0
    emergency_national: bool = False
    emergency_zone: B | None = None


@dataclass
class SiteState:
    """What the dispatcher knows of each site at the start of an interval.

    Parameters
    ----------
    licence_active
        False where the licence is suspended, shape (sites,).
    last_draw_mw
        Last metered draw [MW], shape (sites,).
    ramp_up_mw_per_min
        Most the site may add per minute [MW/min], shape (sites,).
    uncontrolled_mw
        Draw expected whatever the cap, for sites known to ignore caps [MW], shape
        (sites,), or None. It is taken off the zone's deliverable power first.
    """

    licence_active: B
    last_draw_mw: F64
    ramp_up_mw_per_min: F64
    uncontrolled_mw: F64 | None = None

    @classmethod
    def initial(
        cls, contracts: Contracts, policy: DispatchPolicy, draw_mw: F64 | None = None
    ) -> SiteState:
        """All licences active, default ramp limits, and the given (or zero) draw."""
        n = contracts.n_sites
        return cls(
            licence_active=np.ones(n, dtype=bool),
            last_draw_mw=np.zeros(n)
            if draw_mw is None
            else np.asarray(draw_mw, dtype=float).copy(),
            ramp_up_mw_per_min=contracts.allocated_mw * policy.ramp_up_fraction_per_min,
        )


@dataclass
class DispatchResult:
    """Caps for one interval.

    Attributes
    ----------
    cap_mw
        Cap per site [MW].
    reason
        :class:`Reason` code per site (int8).
    target_mw
        Cap the rules would give without the stagger [MW]; ``cap_mw - target_mw`` is the
        curtailment deferred to later intervals.
    zone_budget_mw
        Deliverable power per zone after the safety margin [MW].
    deferred_mw
        Curtailment deferred by the stagger, summed over sites [MW].
    """

    cap_mw: F64
    reason: NDArray[np.int8]
    target_mw: F64
    zone_budget_mw: F64
    deferred_mw: float


class Dispatcher:
    """Compute caps for every site, one interval at a time.

    Parameters
    ----------
    contracts
        Allocations and contract terms.
    policy
        Safety margin, contingency and ramp limits, interval length.
    """

    def __init__(self, contracts: Contracts, policy: DispatchPolicy) -> None:
        self.contracts = contracts
        self.policy = policy
        n = contracts.n_sites
        z = contracts.n_zones
        self._n = n
        self._z = z
        self._alloc = contracts.allocated_mw
        self._firm = np.minimum(contracts.firm_mw, contracts.allocated_mw)
        self._floor = contracts.floor_mw
        self._ai = contracts.is_ai
        self._miner = ~contracts.is_ai
        self._zone = contracts.zone_index
        # Tranche entries: 0..n-1 firm tranches, n..2n-1 interruptible tranches.
        tier = np.concatenate([np.where(self._ai, 0, 2), np.where(self._ai, 1, 3)]).astype(np.int64)
        bid = np.where(
            contracts.by_bid, contracts.tariff_usd_per_mwh, policy.reference_tariff_usd_per_mwh
        )
        bid2 = np.concatenate([bid, bid])
        order = np.lexsort((-bid2, tier))
        level = np.empty(2 * n, dtype=np.int64)
        keys = np.stack([tier[order], -bid2[order]], axis=1)
        new_level = np.ones(2 * n, dtype=bool)
        if 2 * n > 1:
            new_level[1:] = np.any(keys[1:] != keys[:-1], axis=1)
        level[order] = np.cumsum(new_level) - 1
        self._levels = int(level.max()) + 1 if n else 1
        zone2 = np.concatenate([self._zone, self._zone])
        self._zl = zone2 * self._levels + level
        self._level = level
        self._buf = np.empty(2 * n)

    def step(self, grid: GridState, sites: SiteState) -> DispatchResult:
        """Caps for one interval.

        Parameters
        ----------
        grid
            Surplus forecast and uncertainty per zone, national limit, emergencies.
        sites
            Licence state, last metered draw and ramp limits of every site.

        Returns
        -------
        DispatchResult
            Cap and reason per site.
        """
        n, z, lv = self._n, self._z, self._levels
        alloc = self._alloc
        policy = self.policy
        active = sites.licence_active
        draw = np.clip(sites.last_draw_mw, 0.0, alloc)
        # Rule 2: allocation and ramp-up.
        request = np.minimum(alloc, draw + sites.ramp_up_mw_per_min * policy.interval_min)
        request *= active
        demand = self._buf
        np.minimum(request, self._firm, out=demand[:n])
        np.subtract(request, demand[:n], out=demand[n:])
        # Rule 3: zone budgets and priority fill.
        budget = grid.surplus_forecast_mw - policy.safety_k * grid.surplus_sigma_mw
        if sites.uncontrolled_mw is not None:
            budget = budget - np.bincount(self._zone, weights=sites.uncontrolled_mw, minlength=z)
        budget = np.maximum(budget, 0.0)
        fill = _priority_fill(demand, self._zl, budget, z, lv)
        zone_cut = (fill[:n] + fill[n:]) < request - EPS_MW
        national_cut = None
        if grid.national_limit_mw is not None:
            nat_budget = max(0.0, grid.national_limit_mw - policy.safety_k * grid.national_sigma_mw)
            if sites.uncontrolled_mw is not None:
                nat_budget = max(0.0, nat_budget - float(sites.uncontrolled_mw.sum()))
            before = fill[:n] + fill[n:]
            fill = _priority_fill(fill, self._level, np.array([nat_budget]), 1, lv)
            target = fill[:n] + fill[n:]
            national_cut = target < before - EPS_MW
        else:
            target = fill[:n] + fill[n:]
        # Rule 4: emergency.
        emergency = None
        if grid.emergency_national:
            emergency = np.ones(n, dtype=bool)
        elif grid.emergency_zone is not None and grid.emergency_zone.any():
            emergency = grid.emergency_zone[self._zone]
        floor_bound = None
        if emergency is not None:
            ai_em = emergency & self._ai
            floor_bound = ai_em & (target > self._floor + EPS_MW)
            target = np.where(emergency & self._miner, 0.0, target)
            target = np.where(ai_em, np.minimum(np.minimum(target, self._floor), draw), target)
            exempt = emergency | ~active
        else:
            exempt = ~active
        # Rule 5: limit pick-ups, then stagger drops, across the fleet.
        limit = policy.contingency_limit_mw
        rise = np.maximum(target - draw, 0.0)
        total_rise = float(rise.sum())
        pickup_cut = None
        if total_rise > limit:
            target = np.minimum(target, draw + rise * (limit / total_rise))
            pickup_cut = rise > EPS_MW
        drop = np.maximum(draw - target, 0.0)
        drop[exempt] = 0.0
        total_drop = float(drop.sum())
        cap = target
        if total_drop > limit:
            # Each dropping site sheds the same share of its drop; the rest is deferred.
            cap = target + drop * (1.0 - limit / total_drop)
        # Reasons, later rules overriding earlier ones.
        reason = np.zeros(n, dtype=np.int8)
        reason[zone_cut] = Reason.ZONE_LIMIT
        if national_cut is not None:
            reason[national_cut] = Reason.NATIONAL_LIMIT
        ramp_bound = (request < alloc - EPS_MW) & ~zone_cut
        if national_cut is not None:
            ramp_bound &= ~national_cut
        if pickup_cut is not None:
            ramp_bound |= pickup_cut
        reason[ramp_bound] = Reason.RAMP_LIMIT
        reason[cap > target + EPS_MW] = Reason.STAGGER
        if emergency is not None and floor_bound is not None:
            reason[emergency & self._miner] = Reason.EMERGENCY
            reason[floor_bound] = Reason.CONTRACT_FLOOR
        reason[~active] = Reason.SUSPENDED
        deferred = float((cap - target).sum()) if total_drop > limit else 0.0
        return DispatchResult(cap, reason, target, budget, deferred)

    def validate(self, grid: GridState, sites: SiteState) -> None:
        """Check array shapes and values of live inputs; raise :class:`InputError`.

        The simulator skips this on its hot path; the live driver calls it.
        """
        n, z = self._n, self._z
        shapes = {
            "surplus_forecast_mw": (grid.surplus_forecast_mw, z),
            "surplus_sigma_mw": (grid.surplus_sigma_mw, z),
            "licence_active": (sites.licence_active, n),
            "last_draw_mw": (sites.last_draw_mw, n),
            "ramp_up_mw_per_min": (sites.ramp_up_mw_per_min, n),
        }
        if grid.emergency_zone is not None:
            shapes["emergency_zone"] = (grid.emergency_zone, z)
        if sites.uncontrolled_mw is not None:
            shapes["uncontrolled_mw"] = (sites.uncontrolled_mw, n)
        for name, (values, size) in shapes.items():
            array = np.asarray(values)
            if array.shape != (size,):
                raise InputError(f"expected shape ({size},), got {array.shape}", field=name)
            if array.dtype != bool and not np.all(np.isfinite(array)):
                raise InputError("values must be finite", field=name)
        for name in ("surplus_sigma_mw",):
            if np.any(np.asarray(getattr(grid, name)) < 0):
                raise InputError("values must be non-negative", field=name)
        for name in ("last_draw_mw", "ramp_up_mw_per_min"):
            if np.any(np.asarray(getattr(sites, name)) < 0):
                raise InputError("values must be non-negative", field=name)


def _priority_fill(
    demand: F64, key: NDArray[np.int64], budget: F64, groups: int, levels: int
) -> F64:
    """Serve ``demand`` level by level within each group until the group's budget runs out.

    Entries in the same group and level share what is left pro rata.

    Parameters
    ----------
    demand
        Request per entry [MW].
    key
        ``group * levels + level`` per entry.
    budget
        Budget per group [MW], shape (groups,).
    groups, levels
        Number of groups and of priority levels.

    Returns
    -------
    numpy.ndarray
        Power granted per entry [MW].
    """
    total = np.bincount(key, weights=demand, minlength=groups * levels).reshape(groups, levels)
    before = np.cumsum(total, axis=1)
    before -= total
    room = budget[:, None] - before
    with np.errstate(all="ignore"):
        share = np.where(total > 0.0, room / total, 0.0)
    np.clip(share, 0.0, 1.0, out=share)
    return demand * share.ravel()[key]
