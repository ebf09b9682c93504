"""Drive the dispatch core through a simulated year, interval by interval.

Timeline of one interval ``t``:

1. The control room knows the scheduled surplus of ``t`` (the assessment, brought to the
   step), which units were out in ``t-1`` and the demand forecast error of ``t-1`` (from
   telemetry). Its forecast is ``S[t] - outage_loss[t-1] - phi * error[t-1]``, with the
   one-step error's standard deviation as uncertainty. Emergencies are signalled at once.
2. The dispatch core computes caps from that forecast and the sites' last metered draw.
3. Sites follow their caps with a first-order lag (time constant = their actual response
   time); one site ignores its cap. The real surplus of ``t`` is the scheduled one less this
   interval's outages and demand error (and an emergency's loss).
4. Metering compares each site's mean draw with what its cap and contracted response time
   allow. A site over-drawing for several intervals in a row is flagged: its draw is then
   reserved in the zone budget, its licence suspended, and it is disconnected after a delay.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from offtake.dispatch import Contracts, Dispatcher, DispatchPolicy, GridState, SiteState
from offtake.errors import InputError
from offtake.scenario import Scenario
from offtake.simulation.trouble import (
    Emergency,
    Outage,
    TroubleParams,
    demand_error_mw,
    draw_emergencies,
    draw_outages,
    to_steps,
)

__all__ = ["SimulationResult", "simulate"]

F64 = NDArray[np.float64]
#: Power below which a difference is treated as zero [MW].
TOL_MW = 1e-3


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
        Real, forecast and scheduled (assessed) surplus per interval and zone [MW].
    national_real_mw
        Real national surplus per interval [MW], or None.
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
        Energy the sites could have taken with perfect knowledge of the real surplus,
        at the step and without ramp or stagger limits [MWh].
    policy, params
        Settings used.
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
        raise InputError(
            f"zone surplus has no column for {', '.join(missing)}", field="zone_surplus_mw"
        )
    if len(zone_surplus_mw) != len(scenario.index):
        raise InputError(
            f"zone surplus has {len(zone_surplus_mw)} rows, the scenario {len(scenario.index)}",
            field="zone_surplus_mw",
        )
    params = params or TroubleParams.default()
    tariff = scenario.default_tariff_usd_per_mwh
    if policy is None:
        largest = scenario.reserve.largest_unit_mw if scenario.reserve.hold_largest_unit else None
        policy = DispatchPolicy.default(
            interval_s=step_s, largest_unit_mw=largest, reference_tariff_usd_per_mwh=tariff
        )
    elif policy.interval_s != step_s:
        policy = replace(policy, interval_s=float(step_s))
    rng = np.random.default_rng(seed)
    per = int(resolution // step_s)
    n_steps = len(scenario.index) * per
    n, n_zones = contracts.n_sites, len(zone_ids)
    step_h = step_s / 3600.0
    index = pd.date_range(scenario.index[0], periods=n_steps, freq=pd.Timedelta(seconds=step_s))

    # Trouble, drawn in bulk.
    scheduled = np.maximum(to_steps(zone_surplus_mw[zone_ids], per, interpolate=interpolate), 0.0)
    demand = to_steps(scenario.demand_mw[zone_ids], per, interpolate=False)
    error = demand_error_mw(demand, step_s, params, rng)
    loss, outages = draw_outages(scenario, n_steps, per, step_s, tariff, params, rng)
    site_zones = sorted({zone_ids[z] for z in contracts.zone_index})
    emergencies = draw_emergencies(n_steps, step_s, zone_ids, site_zones, params, rng)
    factor = rng.uniform(*params.response_factor, size=n)
    ignoring = _pick_ignoring(contracts, ignoring_site, rng)

    severity = np.zeros((n_steps, n_zones))
    emergency_zone = np.zeros((n_steps, n_zones), dtype=bool)
    emergency_national = np.zeros(n_steps, dtype=bool)
    zone_pos = {z: i for i, z in enumerate(zone_ids)}
    for event in emergencies:
        cols = slice(None) if event.zone is None else zone_pos[event.zone]
        severity[event.start : event.end, cols] = np.maximum(
            severity[event.start : event.end, cols], event.severity
        )
        emergency_zone[event.start : event.end, cols] = True
        if event.zone is None:
            emergency_national[event.start : event.end] = True
    new_outage_zone = np.zeros((n_steps, n_zones), dtype=bool)
    for outage in outages:
        new_outage_zone[outage.start, zone_pos[outage.zone]] = True

    real = np.where(scheduled > 0.0, np.maximum(scheduled - loss - error, 0.0), 0.0) * (
        1.0 - severity
    )
    phi = params.step_persistence(step_s)
    forecast = scheduled.copy()
    forecast[1:] -= loss[:-1] + phi * error[:-1]
    forecast[scheduled <= 0.0] = 0.0  # the schedule says the zone has nothing to give
    sigma = params.demand_error_rel_sigma * demand * math.sqrt(1.0 - phi * phi)
    national_real = national_forecast = national_sigma = None
    if national_surplus_mw is not None:
        nat = to_steps(national_surplus_mw.to_frame(), per, interpolate=interpolate)[:, 0]
        nat = np.maximum(nat, 0.0)
        national_real = np.maximum(nat - loss.sum(axis=1) - error.sum(axis=1), 0.0)
        zone_loss = (
            np.where(scheduled > 0.0, np.maximum(scheduled - loss - error, 0.0), 0.0) * severity
        ).sum(axis=1)
        national_real = np.maximum(national_real - zone_loss, 0.0)
        national_forecast = nat.copy()
        national_forecast[1:] -= loss[:-1].sum(axis=1) + phi * error[:-1].sum(axis=1)
        national_sigma = np.sqrt((sigma * sigma).sum(axis=1))

    # The year, interval by interval.
    dispatcher = Dispatcher(contracts, policy)
    alloc = contracts.allocated_mw
    state = SiteState.initial(contracts, policy)
    state.last_draw_mw = _warm_start(contracts, policy, forecast[0], sigma[0])
    tau_actual = np.maximum(contracts.response_time_s * factor, 1e-3)
    a_act = np.exp(-step_s / tau_actual)
    b_act = (tau_actual / step_s) * (1.0 - a_act)
    tau_contract = np.maximum(contracts.response_time_s, 1e-3)
    b_con = (tau_contract / step_s) * (1.0 - np.exp(-step_s / tau_contract))
    tolerance = np.maximum(params.detection_tolerance_mw, params.detection_tolerance_share * alloc)
    delay_steps = max(1, round(params.disconnect_delay_h * 3600.0 / step_s))

    cap_out = np.empty((n_steps, n))
    reason_out = np.empty((n_steps, n), dtype=np.int8)
    draw_out = np.empty((n_steps, n))
    deferred = np.zeros(n_steps)
    flagged_step = np.full(n, -1, dtype=np.int64)
    disconnected_step = np.full(n, -1, dtype=np.int64)
    ignores = np.zeros(n, dtype=bool)
    if ignoring is not None:
        ignores[ignoring] = True
    connected = np.ones(n, dtype=bool)
    flagged = np.zeros(n, dtype=bool)
    streak = np.zeros(n, dtype=np.int64)
    end_draw = state.last_draw_mw.copy()
    grid = GridState(forecast[0], sigma[0])
    any_emergency_zone: NDArray[np.bool_] = np.asarray(emergency_zone.any(axis=1))
    report_every = max(1, n_steps // 20)
    for t in range(n_steps):
        grid.surplus_forecast_mw = forecast[t]
        grid.surplus_sigma_mw = sigma[t]
        if national_forecast is not None and national_sigma is not None:
            grid.national_limit_mw = float(national_forecast[t])
            grid.national_sigma_mw = float(national_sigma[t])
        grid.emergency_national = bool(emergency_national[t])
        grid.emergency_zone = emergency_zone[t] if any_emergency_zone[t] else None
        state.last_draw_mw = end_draw
        result = dispatcher.step(grid, state)
        cap = result.cap_mw
        goal = np.where(ignores, alloc, np.minimum(cap, alloc))
        goal *= connected
        start_draw = end_draw
        mean_draw = goal + (start_draw - goal) * b_act
        end_draw = goal + (start_draw - goal) * a_act
        if not connected.all():
            mean_draw *= connected
            end_draw *= connected
        # Metering: over-draw beyond what the contracted response time allows.
        allowed = np.maximum(cap + (start_draw - cap) * b_con, cap)
        over = (mean_draw - allowed) > tolerance
        streak = np.where(over, streak + 1, 0)
        if (streak >= params.detection_consecutive).any():
            newly = (streak >= params.detection_consecutive) & ~flagged
            if newly.any():
                flagged |= newly
                flagged_step[newly] = t
                state.licence_active = state.licence_active & ~newly
        if flagged.any():
            due = flagged & connected & (t - flagged_step >= delay_steps)
            if due.any():
                connected &= ~due
                disconnected_step[due] = t
            state.uncontrolled_mw = np.where(flagged & connected, end_draw, 0.0)
        cap_out[t] = cap
        reason_out[t] = result.reason
        draw_out[t] = mean_draw
        deferred[t] = result.deferred_mw
        if progress is not None and t % report_every == 0:
            progress(t / n_steps)
    if progress is not None:
        progress(1.0)

    # Hindsight bound: each zone's real surplus, capped by the zone's allocation.
    zone_alloc = np.bincount(contracts.zone_index, weights=alloc, minlength=n_zones)
    served_bound = np.minimum(real, zone_alloc[None, :])
    if national_real is not None:
        total = served_bound.sum(axis=1)
        scale = np.where(total > national_real, national_real / np.maximum(total, TOL_MW), 1.0)
        served_bound *= scale[:, None]
    return SimulationResult(
        index=index,
        step_s=float(step_s),
        contracts=contracts,
        seed=seed,
        cap_mw=cap_out,
        reason=reason_out,
        draw_mw=draw_out,
        real_surplus_mw=real,
        forecast_mw=forecast,
        scheduled_mw=scheduled,
        national_real_mw=national_real,
        deferred_mw=deferred,
        emergency_zone=emergency_zone,
        new_outage_zone=new_outage_zone,
        outages=outages,
        emergencies=emergencies,
        ignoring_site=ignoring,
        flagged_step=flagged_step,
        disconnected_step=disconnected_step,
        bound_hindsight_mwh=float(served_bound.sum() * step_h),
        policy=policy,
        params=params,
        zone_ids=list(zone_ids),
    )


def _pick_ignoring(
    contracts: Contracts, choice: str | None, rng: np.random.Generator
) -> int | None:
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


def _warm_start(contracts: Contracts, policy: DispatchPolicy, forecast: F64, sigma: F64) -> F64:
    """Draw at the start of the year: what the rules give with no ramp or stagger history."""
    free = replace(policy, contingency_limit_mw=1e12)
    state = SiteState.initial(contracts, free, draw_mw=contracts.allocated_mw)
    state.ramp_up_mw_per_min = np.full(contracts.n_sites, 1e12)
    return Dispatcher(contracts, free).step(GridState(forecast, sigma), state).cap_mw.copy()
