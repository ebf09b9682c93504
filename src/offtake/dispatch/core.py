"""The dispatch core: a power cap for every site in one interval, and the rule that set it.

The same core runs under two drivers: the live clock of the server and the simulated year.
All work per interval is array arithmetic over sites; grouping by zone and the priority
order are precomputed once from the contracts.

Rules, in the order they act
----------------------------
1. A suspended licence gets zero; so does a site outside its contract's dates (its drop is
   staggered like routine curtailment, rule 5).
2. A site may not ask for more than its allocation, nor pick up faster than its ramp-up
   limit from its last metered draw.
3. In each zone the caps sum to at most what the zone can deliver: the surplus forecast less
   ``safety_k`` standard deviations of its error, less the draw of sites known to ignore
   their caps. The zone's deliverable power is shared out in priority order: AI firm
   tranches, AI interruptible tranches, mining firm tranches, mining interruptible tranches.
   Within a tranche class sites share pro rata; sites whose contract says ``bid`` are ranked
   by their bid against the reference tariff. An optional national limit is applied the
   same way across zones. A site whose annual curtailment limit, or whose longest event, is
   used up (``SiteState.protected``) is served right after the AI firm tranches, ahead of
   every other tranche: the floor first, then the contract's curtailment limits, then the
   priority order; the deliverable region above them all.
4. An emergency (national or per zone) takes miners to zero and AI data centres to their
   contracted floor at once; it never raises a cap.
Look-ahead and ramps (between rules 3 and 4): a site reaches a new cap within its planned
   response time, contracted x ``(1 + response_time_tolerance)`` (the slowest answer the
   compliance rule counts as obedient), moving linearly. A site is held so that its ramp fits
   its share of each coming interval within that time, and the present interval's budgets
   keep room for what sites still ramping down draw above their caps: the fill is redone on
   mean draws, so faster, lower-ranked sites give up what slower ones cannot shed in time.
   Both report ``lookahead``.
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
from offtake.dispatch.deliverable import joint_fill, set_sigma_mw
from offtake.dispatch.policy import DispatchPolicy
from offtake.errors import InputError

__all__ = ["DispatchResult", "Dispatcher", "GridState", "Reason", "SiteState", "ramp_remaining"]

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
    JOINT_LIMIT = 8
    """Cut so that every set of zones stays within what the network can bring into it."""
    LOOKAHEAD = 9
    """Held so that its ramp fits the coming intervals' forecast within its response time, or
    to leave room in this interval for sites still ramping down to their caps."""
    OUT_OF_CONTRACT = 10
    """Outside its contract's dates (not yet started, or ended): zero."""
    CURTAILMENT_LIMIT = 11
    """Annual curtailment or event-length limit used up: served right after the AI firm tranches,
    within the deliverable region (an emergency still curtails it)."""


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
    cut_mw
        Forecast of the most extra load each zone set of the dispatcher
        (:attr:`Dispatcher.sets`) can take together [MW], shape (sets,), or None to check
        zones and the nation only. The safety margin of a set is ``safety_k`` x the root sum
        of squares of its zones' sigmas.
    ahead_surplus_mw
        Forecast surplus per zone for the next intervals [MW], shape (horizon, zones), or
        None. A site whose planned response time spans ``h`` intervals is held so that its
        ramp down keeps within its share of each of the next ``h`` intervals.
    ahead_cut_mw
        The same for the zone sets [MW], shape (horizon, sets), or None.
    ahead_national_mw
        The same for the national limit [MW], shape (horizon,), or None.
    """

    surplus_forecast_mw: F64
    surplus_sigma_mw: F64
    national_limit_mw: float | None = None
    national_sigma_mw: float = 0.0
    emergency_national: bool = False
    emergency_zone: B | None = None
    cut_mw: F64 | None = None
    ahead_surplus_mw: F64 | None = None
    ahead_cut_mw: F64 | None = None
    ahead_national_mw: F64 | None = None


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
    in_contract
        False where the interval lies outside the site's contract dates, shape (sites,), or
        None for all within. Such a site gets zero (reason ``out_of_contract``); the drop is
        staggered like routine curtailment.
    protected
        True where the site's annual curtailment limit or its longest event is used up
        (:class:`offtake.dispatch.terms.TermsUsage`), shape (sites,), or None for none. Such
        a site is served right after the AI firm tranches, ahead of every other tranche,
        still within the deliverable region; an emergency still curtails it.
    """

    licence_active: B
    last_draw_mw: F64
    ramp_up_mw_per_min: F64
    uncontrolled_mw: F64 | None = None
    in_contract: B | None = None
    protected: B | None = None

    @classmethod
    def initial(cls, contracts: Contracts, policy: DispatchPolicy, draw_mw: F64 | None = None) -> SiteState:
        """All licences active, default ramp limits, and the given (or zero) draw."""
        n = contracts.n_sites
        return cls(
            licence_active=np.ones(n, dtype=bool),
            last_draw_mw=np.zeros(n) if draw_mw is None else np.asarray(draw_mw, dtype=float).copy(),
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
    lookahead_mw
        Power held back by the look-ahead for slow sites, summed over sites [MW].
    """

    cap_mw: F64
    reason: NDArray[np.int8]
    target_mw: F64
    zone_budget_mw: F64
    deferred_mw: float
    lookahead_mw: float = 0.0


@dataclass
class _Budgets:
    """What may be granted in one interval after margins and uncontrolled draw [MW]."""

    zone: F64
    national: float | None
    cut: F64 | None


class Dispatcher:
    """Compute caps for every site, one interval at a time.

    Parameters
    ----------
    contracts
        Allocations and contract terms.
    policy
        Safety margin, contingency and ramp limits, interval length.
    sets
        Zone sets whose summed load is limited (the network's cuts, projected onto the
        zones that host sites: :class:`offtake.dispatch.deliverable.SetProjection`),
        Boolean matrix (sets, zones), or None. :attr:`GridState.cut_mw` gives their limits.
    """

    def __init__(self, contracts: Contracts, policy: DispatchPolicy, sets: B | None = None) -> None:
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
        bid = np.where(contracts.by_bid, contracts.tariff_usd_per_mwh, policy.reference_tariff_usd_per_mwh)
        bid2 = np.concatenate([bid, bid])
        # Each tranche has a level as it stands and one for when its site is protected
        # (SiteState.protected: curtailment limits used up). Group 0: AI firm tranches, first
        # whatever happens (the floor is the contract's hardest term); group 1: the other
        # tranches of protected sites; group 2: the rest. Within a group, the tier and bid order.
        firm_ai = tier == 0
        group = np.concatenate([np.where(firm_ai, 0, 2), np.where(firm_ai, 0, 1)])
        level2 = _levels(group, np.concatenate([tier, tier]), np.concatenate([bid2, bid2]))
        level = level2[: 2 * n]
        self._protected_level = level2[2 * n :]
        self._levels = int(level2.max()) + 1 if n else 1
        zone2 = np.concatenate([self._zone, self._zone])
        self._zl = zone2 * self._levels + level
        self._level = level
        self._keys = (self._zl, self._level)
        self._protected_zl = zone2 * self._levels + self._protected_level
        self._buf = np.empty(2 * n)
        self.sets: B | None = None
        self._matrix: F64 | None = None
        self._set_alloc = np.zeros(0)
        if sets is not None:
            member = np.asarray(sets, dtype=bool)
            if member.ndim != 2 or member.shape[1] != z:
                raise InputError(f"zone sets must have shape (sets, {z}), got {member.shape}", field="sets")
            self.sets = member
            self._matrix = member.astype(float)
            zone_alloc = np.bincount(self._zone, weights=self._alloc, minlength=z).astype(float)
            self._set_alloc = self._matrix @ zone_alloc
        # Look-ahead: a site reaches a new cap within its planned response time (contracted x
        # (1 + tolerance)), moving linearly; w[i, j] is the share of a drop begun now still to
        # go, on average over the j-th interval from now (ramp_remaining).
        ramp_s = contracts.response_time_s * (1.0 + policy.response_time_tolerance)
        steps = np.ceil(ramp_s / policy.interval_s - 1e-9)
        self._horizon = np.where(self._alloc > 0.0, np.maximum(steps, 0.0), 0.0).astype(np.int64)
        self._horizons = [int(h) for h in np.unique(self._horizon) if h > 0]
        self._remaining = ramp_remaining(ramp_s, policy.interval_s, max(self._horizons, default=0) + 1)

    @property
    def horizon(self) -> int:
        """Intervals of forecast the look-ahead uses: the longest response time, in intervals."""
        return max(self._horizons, default=0)

    def step(self, grid: GridState, sites: SiteState) -> DispatchResult:
        """Caps for one interval.

        Parameters
        ----------
        grid
            Surplus forecast and uncertainty per zone and zone set, national limit,
            emergencies, and the forecast of the next intervals.
        sites
            Licence state, last metered draw and ramp limits of every site.

        Returns
        -------
        DispatchResult
            Cap and reason per site.
        """
        n = self._n
        alloc = self._alloc
        policy = self.policy
        active = sites.licence_active
        draw = np.clip(sites.last_draw_mw, 0.0, alloc)
        # Rule 2: allocation and ramp-up.
        request = np.minimum(alloc, draw + sites.ramp_up_mw_per_min * policy.interval_min)
        request *= active
        if sites.in_contract is not None:
            request *= sites.in_contract
        keys = self._priority_keys(sites.protected)
        demand = self._buf
        np.minimum(request, self._firm, out=demand[:n])
        np.subtract(request, demand[:n], out=demand[n:])
        # Rule 3: zone budgets, national limit and zone sets, each in priority order.
        uncontrolled = None
        if sites.uncontrolled_mw is not None:
            uncontrolled = np.bincount(self._zone, weights=sites.uncontrolled_mw, minlength=self._z).astype(float)
        margin = None
        if grid.cut_mw is not None and self._matrix is not None:
            margin = policy.safety_k * set_sigma_mw(self._matrix, grid.surplus_sigma_mw)
            if uncontrolled is not None:
                margin = margin + self._matrix @ uncontrolled
        budgets = self._budgets(
            grid.surplus_forecast_mw, grid.national_limit_mw, grid.cut_mw, grid, uncontrolled, margin
        )
        target, zone_cut, national_cut, joint_cut = self._allocate(demand, request, budgets, keys)
        # Look-ahead: slow sites capped to the lowest forecast over their response time.
        before = target
        target = self._look_ahead(grid, draw, demand, request, budgets, uncontrolled, margin, target, keys)
        # Room for what sites still ramping down draw above their caps in this interval.
        target = self._ramp_room(draw, demand, request, budgets, target, keys)
        held = before - target
        lookahead = float(held.sum())
        look_cut = held > EPS_MW
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
        bound = zone_cut
        for mask, code in ((national_cut, Reason.NATIONAL_LIMIT), (joint_cut, Reason.JOINT_LIMIT)):
            if mask is not None:
                reason[mask] = code
                bound = bound | mask
        ramp_bound = (request < alloc - EPS_MW) & ~bound
        outside = None
        if sites.in_contract is not None and not sites.in_contract.all():
            outside = ~sites.in_contract
            ramp_bound &= sites.in_contract
        if sites.protected is not None and sites.protected.any() and bound.any():
            # Served in full while others were cut: the contract's limit set the cap.
            reason[sites.protected & ~bound & (target >= request - EPS_MW)] = Reason.CURTAILMENT_LIMIT
        if pickup_cut is not None:
            ramp_bound |= pickup_cut
        reason[ramp_bound] = Reason.RAMP_LIMIT
        reason[look_cut] = Reason.LOOKAHEAD
        if outside is not None:
            reason[outside] = Reason.OUT_OF_CONTRACT
        reason[cap > target + EPS_MW] = Reason.STAGGER
        if emergency is not None and floor_bound is not None:
            reason[emergency & self._miner] = Reason.EMERGENCY
            reason[floor_bound] = Reason.CONTRACT_FLOOR
        reason[~active] = Reason.SUSPENDED
        deferred = float((cap - target).sum()) if total_drop > limit else 0.0
        return DispatchResult(cap, reason, target, budgets.zone, deferred, lookahead)

    def _budgets(
        self,
        zone_mw: F64,
        national_mw: float | None,
        cut_mw: F64 | None,
        grid: GridState,
        uncontrolled: F64 | None,
        cut_margin: F64 | None,
    ) -> _Budgets:
        """Forecasts less the safety margin and the draw of sites that ignore their caps.

        ``cut_margin`` is the zone sets' margin and reserved draw, computed once per interval.
        """
        k = self.policy.safety_k
        zone = zone_mw - k * grid.surplus_sigma_mw
        if uncontrolled is not None:
            zone = zone - uncontrolled
        national = None
        if national_mw is not None:
            national = national_mw - k * grid.national_sigma_mw
            if uncontrolled is not None:
                national -= float(uncontrolled.sum())
            national = max(0.0, national)
        cut = None
        if cut_mw is not None and cut_margin is not None:
            cut = np.maximum(cut_mw - cut_margin, 0.0)
        return _Budgets(np.maximum(zone, 0.0), national, cut)

    def _priority_keys(self, protected: B | None) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Zone-level and level keys of every tranche, protected sites moved ahead of the others."""
        if protected is None or not protected.any():
            return self._keys
        both = np.concatenate([protected, protected])
        return np.where(both, self._protected_zl, self._zl), np.where(both, self._protected_level, self._level)

    def _allocate(
        self,
        demand: F64,
        request: F64,
        budgets: _Budgets,
        keys: tuple[NDArray[np.int64], NDArray[np.int64]],
    ) -> tuple[F64, B, B | None, B | None]:
        """Priority fill within zone budgets, then the national limit, then the zone sets.

        Returns the target per site and which sites each stage cut.
        """
        n, z, lv = self._n, self._z, self._levels
        zl, level = keys
        fill = _priority_fill(demand, zl, budgets.zone, z, lv)
        target = fill[:n] + fill[n:]
        zone_cut = target < request - EPS_MW
        national_cut = joint_cut = None
        if budgets.national is not None:
            fill = _priority_fill(fill, level, np.array([budgets.national]), 1, lv)
            before, target = target, fill[:n] + fill[n:]
            national_cut = target < before - EPS_MW
        if budgets.cut is not None and self._matrix is not None and self.sets is not None:
            # Only sets whose limit is below the allocation they hold can bind.
            rows = budgets.cut < self._set_alloc - EPS_MW
            if not rows.any():
                return target, zone_cut, national_cut, joint_cut
            totals = np.bincount(zl, weights=fill, minlength=z * lv).reshape(z, lv).astype(float)
            share = joint_fill(totals, self._matrix[rows], self.sets[rows], budgets.cut[rows])
            if share is not None:
                fill = fill * share.ravel()[zl]
                before, target = target, fill[:n] + fill[n:]
                joint_cut = target < before - EPS_MW
        return target, zone_cut, national_cut, joint_cut

    def _fits(self, target: F64, budgets: _Budgets) -> bool:
        """Whether the load of ``target`` is within every budget (then a fill under them keeps it)."""
        load = np.bincount(self._zone, weights=target, minlength=self._z)
        if np.any(load > budgets.zone + EPS_MW):
            return False
        if budgets.national is not None and float(load.sum()) > budgets.national + EPS_MW:
            return False
        return not (
            budgets.cut is not None and self._matrix is not None and np.any(self._matrix @ load > budgets.cut + EPS_MW)
        )

    def _look_ahead(
        self,
        grid: GridState,
        draw: F64,
        demand: F64,
        request: F64,
        budgets: _Budgets,
        uncontrolled: F64 | None,
        cut_margin: F64 | None,
        target: F64,
        keys: tuple[NDArray[np.int64], NDArray[np.int64]],
    ) -> F64:
        """Hold each site so that its ramp keeps within its share of every coming interval.

        For the ``j``-th interval ahead within a site's planned response time, the site's share
        ``s`` is what the priority fill gives it under that interval's forecast; a site now at
        ``d`` above ``s`` that starts down now still draws ``c + (d - c) w_j`` on average there
        (``w_j`` from :func:`ramp_remaining`), so its cap is at most
        ``(s - d w_j) / (1 - w_j)``, and at most ``s`` in any case. Faster sites take the rest
        of what the present allows; they are held by the coming interval only.
        """
        ahead = grid.ahead_surplus_mw
        if ahead is None or not self._horizons or len(ahead) == 0:
            return target
        out = target
        for j in range(1, min(self._horizons[-1], len(ahead)) + 1):
            nat = None
            if grid.national_limit_mw is not None and grid.ahead_national_mw is not None:
                nat = float(grid.ahead_national_mw[j - 1])
            cut = grid.ahead_cut_mw[j - 1] if grid.ahead_cut_mw is not None else grid.cut_mw
            low = self._budgets(ahead[j - 1], nat, cut, grid, uncontrolled, cut_margin)
            w = self._remaining[:, j]
            slow = self._horizon >= j
            expected = np.where(slow, out + np.maximum(draw - out, 0.0) * w, out)
            if self._fits(expected, low):  # every ramp fits the interval: the caps stand
                continue
            share = self._allocate(demand, request, low, keys)[0]
            with np.errstate(divide="ignore", invalid="ignore"):
                ramped = np.where(draw > share, np.maximum((share - draw * w) / (1.0 - w), 0.0), share)
            out = np.where(slow, np.minimum(out, np.minimum(ramped, share)), out)
        return out

    def _ramp_room(
        self,
        draw: F64,
        demand: F64,
        request: F64,
        budgets: _Budgets,
        target: F64,
        keys: tuple[NDArray[np.int64], NDArray[np.int64]],
    ) -> F64:
        """Keep this interval's mean draw, ramps included, within the budgets.

        A site going from ``d`` to cap ``c`` draws ``w0 d + (1 - w0) c`` on average over the
        interval (``w0`` the share of the ramp still to go, :func:`ramp_remaining`). When the
        targets' mean draws do not fit, the fill is redone on that measure: the part
        ``w0 d`` is reserved first and the rest shared in priority order, so faster, lower
        ranked sites (miners) give up what slower ones (AI) cannot shed in time.
        """
        w = self._remaining[:, 0]
        mean = target + np.maximum(draw - target, 0.0) * w
        if self._fits(mean, budgets):
            return target
        reserve = np.bincount(self._zone, weights=draw * w, minlength=self._z).astype(float)
        national = None if budgets.national is None else max(0.0, budgets.national - float(reserve.sum()))
        cut = None
        if budgets.cut is not None and self._matrix is not None:
            cut = np.maximum(budgets.cut - self._matrix @ reserve, 0.0)
        room = _Budgets(np.maximum(budgets.zone - reserve, 0.0), national, cut)
        keep = np.concatenate([1.0 - w, 1.0 - w])
        fill = self._allocate(demand * keep, request, room, keys)[0]
        return np.asarray(np.minimum(target, fill / (1.0 - w)), dtype=float)

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
        if sites.in_contract is not None:
            shapes["in_contract"] = (sites.in_contract, n)
        if sites.protected is not None:
            shapes["protected"] = (sites.protected, n)
        if grid.cut_mw is not None:
            if self.sets is None:
                raise InputError("zone set limits given to a dispatcher without zone sets", field="cut_mw")
            shapes["cut_mw"] = (grid.cut_mw, len(self.sets))
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


def _levels(group: NDArray[np.int64], tier: NDArray[np.int64], bid: F64) -> NDArray[np.int64]:
    """Dense priority levels: by group, then tier, then highest bid first (ties share a level)."""
    order = np.lexsort((-bid, tier, group))
    keys = np.stack([group[order], tier[order], -bid[order]], axis=1)
    new_level = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        new_level[1:] = np.any(keys[1:] != keys[:-1], axis=1)
    level = np.empty(len(order), dtype=np.int64)
    level[order] = np.cumsum(new_level) - 1
    return level


def _priority_fill(demand: F64, key: NDArray[np.int64], budget: F64, groups: int, levels: int) -> F64:
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


def ramp_remaining(ramp_s: F64, interval_s: float, intervals: int) -> F64:
    """Share of a drop begun now still to go, on average over each coming interval [-].

    A site reaches a new cap in ``ramp_s``, moving linearly; over interval ``j`` (0 = the
    present one) the gap left averages ``w_j = (F((j + 1) T) - F(j T)) / T`` of the drop, with
    ``F(x) = x - x^2 / (2 R)`` up to ``R`` and ``R / 2`` beyond.

    Parameters
    ----------
    ramp_s
        Time each site takes to reach a new cap [s], shape (sites,).
    interval_s
        Interval length [s].
    intervals
        Number of intervals, from the present one.

    Returns
    -------
    numpy.ndarray
        Shape (sites, intervals).
    """
    r = np.maximum(np.asarray(ramp_s, dtype=float), 1e-9)[:, None]
    x = np.arange(intervals + 1, dtype=float)[None, :] * interval_s
    area = np.where(x < r, x - x * x / (2.0 * r), r / 2.0)
    return np.asarray(np.diff(area, axis=1) / interval_s, dtype=float)
