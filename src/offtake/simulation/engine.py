"""Drive the dispatch core through a simulated year, interval by interval.

Timeline of one interval ``t``:

1. The control room knows the scheduled value of every zone set at ``t`` (the assessment's
   cuts, brought to the step), which units were out in ``t-1`` and the demand forecast error
   of ``t-1`` (from telemetry), and the emergencies declared now with the loss they bring.
   Its forecast for ``t`` and the next steps is the schedule with those as extra demand
   (:mod:`offtake.simulation.region`), with the one-step error's standard deviation as
   uncertainty.
2. The dispatch core computes caps from that forecast (every zone set, the look-ahead for
   slow sites) and the sites' last metered draw.
   Sites whose annual curtailment or event-length limit is used up
   (:class:`offtake.dispatch.terms.TermsUsage`) are served first.
3. Sites follow their caps by ramping linearly from their draw to the new cap over their
   actual response time (contracted x a drawn factor): the contract's response time is the
   time to reach a new cap (``docs/formats.md``), so a site that follows its caps is at its
   cap once that time has passed (:func:`ramp_draw`). One site ignores its cap. The real
   region of ``t`` is the schedule with this interval's outages, demand error and emergencies.
4. Metering applies :mod:`offtake.dispatch.compliance`, the rule the live driver uses. A
   flagged site's draw is reserved in the budgets, its licence suspended, and it is
   disconnected after a delay, or at once when an emergency covers its zone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from offtake.dispatch import Contracts, Dispatcher, DispatchPolicy, GridState, SiteState
from offtake.dispatch.compliance import ComplianceMonitor, ComplianceRule
from offtake.dispatch.deliverable import SetProjection
from offtake.dispatch.terms import TermsUsage
from offtake.errors import InputError
from offtake.scenario import Scenario
from offtake.simulation.region import Forecasts, ScheduledSets, Trouble
from offtake.simulation.trouble import (
    Emergency,
    Outage,
    TroubleParams,
    demand_error_mw,
    draw_emergencies,
    draw_outages,
    to_steps,
)

__all__ = ["SimulationResult", "ramp_draw", "simulate", "zone_served"]

F64 = NDArray[np.float64]
#: Power below which a difference is treated as zero [MW].
TOL_MW = 1e-3
#: Steps whose forecasts are made in one vectorised block.
_BLOCK = 512


@dataclass
class SimulationResult:
    """Everything a simulated year produced, per interval.

    Attributes
    ----------
    index
        Interval starts, aware UTC.
    step_s
        Interval length [s].
    contracts
        The sites.
    seed
        Seed of the random streams.
    cap_mw, reason, draw_mw
        Cap, reason code and metered mean draw per interval and site, shape (T, n).
    real_surplus_mw, forecast_mw, scheduled_mw
        Real, forecast and scheduled (assessed) stand-alone surplus per interval and zone
        [MW]: the least value of the zone sets holding the zone
        (:mod:`offtake.simulation.region`).
    national_real_mw
        Real national surplus per interval [MW] (the set of all zones), or None; never
        below a zone's.
    deferred_mw
        Curtailment deferred by the stagger per interval [MW].
    emergency_zone
        Zone under emergency per interval, shape (T, Z).
    new_outage_zone
        Zone where a unit tripped in that interval, shape (T, Z).
    outages, emergencies
        The trouble drawn.
    ignoring_site
        Index of the site that ignores its cap, or None.
    flagged_step, disconnected_step
        Interval in which each site was flagged / disconnected (-1 if never), shape (n,).
    bound_hindsight_mwh
        Energy the sites could have taken with perfect knowledge of the real region,
        at the step and without ramp or stagger limits [MWh].
    policy, params
        Settings used.
    lookahead_mw
        Power held back by the look-ahead for slow sites per interval [MW].
    joint_excess_mw, joint_set
        Largest excess of metered load over a zone set's real value per interval [MW] (not
        positive when the load was deliverable) and the row of ``set_member`` it was on.
    set_member
        The zone sets, Boolean matrix (sets, zones).
    """

    index: pd.DatetimeIndex
    step_s: float
    contracts: Contracts
    seed: int
    cap_mw: F64
    reason: NDArray[np.int8]
    draw_mw: F64
    real_surplus_mw: F64
    forecast_mw: F64
    scheduled_mw: F64
    national_real_mw: F64 | None
    deferred_mw: F64
    emergency_zone: NDArray[np.bool_]
    new_outage_zone: NDArray[np.bool_]
    outages: list[Outage]
    emergencies: list[Emergency]
    ignoring_site: int | None
    flagged_step: NDArray[np.int64]
    disconnected_step: NDArray[np.int64]
    bound_hindsight_mwh: float
    policy: DispatchPolicy
    params: TroubleParams
    zone_ids: list[str] = field(default_factory=list)
    lookahead_mw: F64 = field(default_factory=lambda: np.zeros(0))
    joint_excess_mw: F64 = field(default_factory=lambda: np.zeros(0))
    joint_set: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    set_member: NDArray[np.bool_] = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))
    sigma_mw: F64 = field(default_factory=lambda: np.zeros((0, 0)))
    trouble: Trouble | None = None

    @property
    def step_h(self) -> float:
        """Interval length [h]."""
        return self.step_s / 3600.0


def simulate(
    scenario: Scenario,
    contracts: Contracts,
    zone_surplus_mw: pd.DataFrame,
    *,
    national_surplus_mw: pd.Series | None = None,
    sets: ScheduledSets | None = None,
    step_s: float = 300.0,
    seed: int = 0,
    policy: DispatchPolicy | None = None,
    params: TroubleParams | None = None,
    ignoring_site: str | None = "auto",
    interpolate: bool = True,
    progress: Callable[[float], None] | None = None,
) -> SimulationResult:
    """Run the dispatch core through the scenario's period at the given step.

    Parameters
    ----------
    scenario
        The scenario: index, demand, plants and availability.
    contracts
        The sites and their contracts (from ``allocation.csv``).
    zone_surplus_mw
        Surplus per scenario interval and zone (``assess_surplus(scenario).zone_mw``) [MW].
    national_surplus_mw
        National joint surplus per scenario interval [MW], or None for no national limit.
    sets
        The value of every zone set per scenario interval
        (:func:`offtake.surplus.assess.set_surplus`), or None to use each zone alone and the
        nation (``zone_surplus_mw`` and ``national_surplus_mw``).
    step_s
        Simulation and dispatch step [s]; must divide the scenario's resolution.
    seed
        Seed of every random stream.
    policy
        Dispatch policy; the sourced default (with the scenario's largest unit and tariff)
        if None.
    params
        Trouble parameters; the sourced defaults if None.
    ignoring_site
        Id of the site that ignores its cap, ``"auto"`` to draw one (a miner if any), or
        None for none.
    interpolate
        Interpolate the surplus between scenario intervals (else hold it).
    progress
        Called with the share done, now and then.

    Returns
    -------
    SimulationResult
        Per-interval caps, draws, surpluses and the trouble drawn.
    """
    zone_ids = scenario.zone_ids
    if list(contracts.zone_ids) != zone_ids:
        raise InputError("the allocation's zones are not the scenario's", field="zone")
    resolution = scenario.resolution_s
    if step_s <= 0 or resolution % step_s != 0:
        raise InputError(
            f"step of {step_s:g} s does not divide the scenario's {resolution} s interval",
            field="step",
        )
    missing = [z for z in zone_ids if z not in zone_surplus_mw.columns]
    if missing:
        raise InputError(f"zone surplus has no column for {', '.join(missing)}", field="zone_surplus_mw")
    if len(zone_surplus_mw) != len(scenario.index):
        raise InputError(
            f"zone surplus has {len(zone_surplus_mw)} rows, the scenario {len(scenario.index)}",
            field="zone_surplus_mw",
        )
    params = params or TroubleParams.default()
    tariff = scenario.default_tariff_usd_per_mwh
    if policy is None:
        largest = scenario.reserve.largest_unit_mw if scenario.reserve.hold_largest_unit else None
        policy = DispatchPolicy.default(interval_s=step_s, largest_unit_mw=largest, reference_tariff_usd_per_mwh=tariff)
    elif policy.interval_s != step_s:
        policy = replace(policy, interval_s=float(step_s))
    rng = np.random.default_rng(seed)
    per = int(resolution // step_s)
    n_steps = len(scenario.index) * per
    n, n_zones = contracts.n_sites, len(zone_ids)
    step_h = step_s / 3600.0
    index = pd.date_range(scenario.index[0], periods=n_steps, freq=pd.Timedelta(seconds=step_s))

    # Trouble, drawn in bulk.
    demand = to_steps(scenario.demand_mw[zone_ids], per, interpolate=False)
    error = demand_error_mw(demand, step_s, params, rng)
    loss, outages = draw_outages(scenario, n_steps, per, step_s, tariff, params, rng)
    site_zones = sorted({zone_ids[z] for z in contracts.zone_index})
    emergencies = draw_emergencies(n_steps, step_s, zone_ids, site_zones, params, rng)
    factor = rng.uniform(*params.response_factor, size=n)
    ignoring = _pick_ignoring(contracts, ignoring_site, rng)

    zone_sev = np.zeros((n_steps, n_zones))
    national_sev = np.zeros(n_steps)
    emergency_zone = np.zeros((n_steps, n_zones), dtype=bool)
    emergency_national = np.zeros(n_steps, dtype=bool)
    zone_pos = {z: i for i, z in enumerate(zone_ids)}
    for event in emergencies:
        span = slice(event.start, event.end)
        if event.zone is None:
            national_sev[span] = np.maximum(national_sev[span], event.severity)
            emergency_zone[span, :] = True
            emergency_national[span] = True
        else:
            z = zone_pos[event.zone]
            zone_sev[span, z] = np.maximum(zone_sev[span, z], event.severity)
            emergency_zone[span, z] = True
    new_outage_zone = np.zeros((n_steps, n_zones), dtype=bool)
    for outage in outages:
        new_outage_zone[outage.start, zone_pos[outage.zone]] = True
    if sets is None:
        national_hourly = None if national_surplus_mw is None else national_surplus_mw.to_numpy(dtype=float)
        sets = ScheduledSets.from_zone_and_national(zone_surplus_mw[zone_ids].to_numpy(dtype=float), national_hourly)
    elif sets.member.shape[1] != n_zones or sets.values_mw.shape[0] != len(scenario.index):
        raise InputError(
            f"zone sets cover {sets.member.shape[1]} zones and {sets.values_mw.shape[0]} intervals, "
            f"the scenario {n_zones} and {len(scenario.index)}",
            field="sets",
        )
    phi = params.step_persistence(step_s)
    sigma = params.demand_error_rel_sigma * demand * math.sqrt(1.0 - phi * phi)
    national_sigma = np.sqrt((sigma * sigma).sum(axis=1))
    trouble = Trouble(sets, per, interpolate, loss, error, phi, zone_sev, national_sev)

    # The year, interval by interval.
    used = np.zeros(n_zones, dtype=bool)
    used[contracts.zone_index] = True
    projection = SetProjection.build(sets.member, used)
    dispatcher = Dispatcher(contracts, policy, sets=projection.member)
    horizon = dispatcher.horizon
    alloc = contracts.allocated_mw
    state = SiteState.initial(contracts, policy)
    ramp_s = contracts.response_time_s * factor
    rate = np.zeros(n)
    last_goal = np.full(n, -1.0)
    rule = ComplianceRule(
        params.detection_tolerance_mw,
        params.detection_tolerance_share,
        params.detection_response_tolerance,
        params.detection_consecutive,
    )
    monitor = ComplianceMonitor(alloc, contracts.response_time_s, step_s, rule)
    delay_steps = max(1, round(params.disconnect_delay_h * 3600.0 / step_s))
    usage = TermsUsage(contracts, step_s, n_steps * step_h)

    cap_out = np.empty((n_steps, n))
    reason_out = np.empty((n_steps, n), dtype=np.int8)
    draw_out = np.empty((n_steps, n))
    forecast = np.empty((n_steps, n_zones))
    deferred = np.zeros(n_steps)
    lookahead = np.zeros(n_steps)
    flagged_step = np.full(n, -1, dtype=np.int64)
    disconnected_step = np.full(n, -1, dtype=np.int64)
    ignores = np.zeros(n, dtype=bool)
    if ignoring is not None:
        ignores[ignoring] = True
    connected = np.ones(n, dtype=bool)
    end_draw = np.zeros(n)
    grid = GridState(np.zeros(n_zones), sigma[0])
    any_emergency_zone: NDArray[np.bool_] = np.asarray(emergency_zone.any(axis=1))
    report_every = max(1, n_steps // 20)
    block = Forecasts.empty()
    for t in range(n_steps):
        if t >= block.stop:
            block = trouble.forecasts(t, min(n_steps, t + _BLOCK), horizon, projection)
            forecast[block.start : block.stop] = block.zone[:, 0]
            if t == 0:
                end_draw = _warm_start(contracts, policy, projection, block, sigma[0])
                state.last_draw_mw = end_draw
        k = t - block.start
        grid.surplus_forecast_mw = block.zone[k, 0]
        grid.cut_mw = block.cut[k, 0]
        grid.surplus_sigma_mw = sigma[t]
        if block.national is not None:
            grid.national_limit_mw = float(block.national[k, 0])
            grid.national_sigma_mw = float(national_sigma[t])
        if horizon:
            grid.ahead_surplus_mw = block.zone[k, 1:]
            grid.ahead_cut_mw = block.cut[k, 1:]
            grid.ahead_national_mw = None if block.national is None else block.national[k, 1:]
        grid.emergency_national = bool(emergency_national[t])
        grid.emergency_zone = emergency_zone[t] if any_emergency_zone[t] else None
        state.last_draw_mw = end_draw
        state.protected = usage.protected()
        result = dispatcher.step(grid, state)
        cap = result.cap_mw
        usage.observe(cap, result.reason)
        goal = np.where(ignores, alloc, np.minimum(cap, alloc))
        goal *= connected
        start_draw = end_draw
        rate = np.where(np.abs(goal - last_goal) > TOL_MW, np.abs(goal - start_draw) / np.maximum(ramp_s, 1e-9), rate)
        last_goal = goal
        mean_draw, end_draw = ramp_draw(start_draw, goal, rate, step_s)
        if not connected.all():
            mean_draw *= connected
            end_draw *= connected
        # Metering: the same rule as the live driver (offtake.dispatch.compliance).
        newly = monitor.observe(cap, start_draw, mean_draw)
        if newly.any():
            flagged_step[newly] = t
            state.licence_active = state.licence_active & ~newly
        flagged = monitor.flagged
        if flagged.any():
            due = flagged & connected & (t - flagged_step >= delay_steps)
            if any_emergency_zone[t]:  # in an emergency a flagged site goes at once
                due |= flagged & connected & emergency_zone[t][contracts.zone_index]
            if due.any():
                connected &= ~due
                disconnected_step[due] = t
                end_draw = end_draw * connected
            state.uncontrolled_mw = np.where(flagged & connected, end_draw, 0.0)
        cap_out[t] = cap
        reason_out[t] = result.reason
        draw_out[t] = mean_draw
        deferred[t] = result.deferred_mw
        lookahead[t] = result.lookahead_mw
        if progress is not None and t % report_every == 0:
            progress(t / n_steps)
    if progress is not None:
        progress(1.0)

    real = trouble.real(n_steps, zone_served(contracts, draw_out, n_zones), alloc, contracts.zone_index)
    return SimulationResult(
        index=index,
        step_s=float(step_s),
        contracts=contracts,
        seed=seed,
        cap_mw=cap_out,
        reason=reason_out,
        draw_mw=draw_out,
        real_surplus_mw=real.zone,
        forecast_mw=forecast,
        scheduled_mw=real.scheduled,
        national_real_mw=real.national,
        deferred_mw=deferred,
        emergency_zone=emergency_zone,
        new_outage_zone=new_outage_zone,
        outages=outages,
        emergencies=emergencies,
        ignoring_site=ignoring,
        flagged_step=flagged_step,
        disconnected_step=disconnected_step,
        bound_hindsight_mwh=float(real.bound_mw.sum() * step_h),
        policy=policy,
        params=params,
        zone_ids=list(zone_ids),
        lookahead_mw=lookahead,
        joint_excess_mw=real.joint_excess,
        joint_set=real.joint_set,
        set_member=sets.member,
        sigma_mw=sigma,
        trouble=trouble,
    )


def _pick_ignoring(contracts: Contracts, choice: str | None, rng: np.random.Generator) -> int | None:
    if choice is None or contracts.n_sites == 0:
        return None
    if choice != "auto":
        if choice not in contracts.site_ids:
            raise InputError(f"no site '{choice}' in the allocation", field="ignoring_site")
        return contracts.site_ids.index(choice)
    miners = np.flatnonzero(~contracts.is_ai & (contracts.allocated_mw > 0))
    pool = miners if miners.size else np.flatnonzero(contracts.allocated_mw > 0)
    if pool.size == 0:
        return None
    return int(pool[int(rng.integers(0, pool.size))])


def _warm_start(
    contracts: Contracts, policy: DispatchPolicy, projection: SetProjection, block: Forecasts, sigma: F64
) -> F64:
    """Draw at the start of the year: what the rules give with no ramp or stagger history."""
    free = replace(policy, contingency_limit_mw=1e12)
    state = SiteState.initial(contracts, free, draw_mw=contracts.allocated_mw)
    state.ramp_up_mw_per_min = np.full(contracts.n_sites, 1e12)
    national = None if block.national is None else float(block.national[0, 0])
    grid = GridState(block.zone[0, 0], sigma, national_limit_mw=national, cut_mw=block.cut[0, 0])
    return Dispatcher(contracts, free, sets=projection.member).step(grid, state).cap_mw.copy()


def ramp_draw(start_mw: F64, goal_mw: F64, rate_mw_per_s: F64, step_s: float) -> tuple[F64, F64]:
    """Mean and end draw of sites ramping linearly towards their goal over one interval [MW].

    Parameters
    ----------
    start_mw
        Draw at the start of the interval [MW].
    goal_mw
        What each site moves towards [MW].
    rate_mw_per_s
        Speed of the ramp [MW/s] (the gap when the goal was set over the response time).
    step_s
        Interval length [s].

    Returns
    -------
    tuple
        Mean draw over the interval and draw at its end [MW].
    """
    gap = goal_mw - start_mw
    with np.errstate(divide="ignore", invalid="ignore"):
        reach_s = np.where(rate_mw_per_s > 0.0, np.abs(gap) / rate_mw_per_s, 0.0)
    done = reach_s <= step_s * (1.0 + 1e-9)  # rounding: a ramp that ends with the interval is done
    # Reached within the interval: the ramp's triangle, then the goal; else still on the way.
    moved = np.sign(gap) * rate_mw_per_s * step_s
    end = np.where(done, goal_mw, start_mw + moved)
    mean = np.where(done, goal_mw - gap * reach_s / (2.0 * step_s), start_mw + moved / 2.0)
    return np.asarray(mean, dtype=float), np.asarray(end, dtype=float)


def zone_served(contracts: Contracts, draw_mw: F64, n_zones: int) -> F64:
    """Metered flexible load per interval and zone [MW], shape (T, Z)."""
    onehot = np.zeros((contracts.n_sites, n_zones))
    onehot[np.arange(contracts.n_sites), contracts.zone_index] = 1.0
    return np.asarray(draw_mw @ onehot, dtype=float)
