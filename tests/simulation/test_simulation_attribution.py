"""Intervals outside the real region: a drop the forecast showed is dispatch's, news is not.

Hand-made one-zone years with one slow AI site (600 s contracted, planned at twice that: four
intervals of 300 s) that lags behind its caps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from dispatch_helpers import make_contracts

from offtake.dispatch import DispatchPolicy, Reason
from offtake.simulation import compute_kpis
from offtake.simulation.engine import SimulationResult
from offtake.simulation.kpis import EXCEEDANCE_CAUSES, UNFORESEEN_CAUSES
from offtake.simulation.region import ScheduledSets, Trouble
from offtake.simulation.trouble import TroubleParams

STEP_S = 300.0
STEPS = 10
UNFORESEEN_LAG = EXCEEDANCE_CAUSES[3]


def year(
    schedule: np.ndarray, loss: np.ndarray, draw: np.ndarray, cap: np.ndarray, error: np.ndarray | None = None
) -> SimulationResult:
    """A one-zone year of ``STEPS`` intervals: schedule, outage loss, draw, caps, demand error [MW]."""
    contracts = make_contracts([("ai-slow", "a", "ai", 100.0, 0.0, 0.5, 80.0, "pro_rata")], ["a"], 600.0)
    policy = DispatchPolicy(interval_s=STEP_S, safety_k=0.0, response_time_tolerance=1.0)
    sets = ScheduledSets(np.ones((1, 1), dtype=bool), schedule[:, None].astype(float))
    zeros = np.zeros((STEPS, 1))
    err = zeros if error is None else error[:, None].astype(float)
    trouble = Trouble(sets, 1, False, loss[:, None].astype(float), err, 0.9, zeros, np.zeros(STEPS))
    draw2, cap2 = draw[:, None].astype(float), cap[:, None].astype(float)
    real = trouble.real(STEPS, draw2, contracts.allocated_mw, contracts.zone_index)
    new_outage = np.zeros((STEPS, 1), dtype=bool)
    new_outage[1:, 0] = np.diff(loss) > 0
    return SimulationResult(
        index=pd.date_range("2025-01-01", periods=STEPS, freq="5min", tz="UTC"),
        step_s=STEP_S,
        contracts=contracts,
        seed=0,
        cap_mw=cap2,
        reason=np.full((STEPS, 1), Reason.ZONE_LIMIT, dtype=np.int8),
        draw_mw=draw2,
        real_surplus_mw=real.zone,
        forecast_mw=real.scheduled,
        scheduled_mw=real.scheduled,
        national_real_mw=real.national,
        deferred_mw=np.zeros(STEPS),
        emergency_zone=np.zeros((STEPS, 1), dtype=bool),
        new_outage_zone=new_outage,
        outages=[],
        emergencies=[],
        ignoring_site=None,
        flagged_step=np.full(1, -1, dtype=np.int64),
        disconnected_step=np.full(1, -1, dtype=np.int64),
        bound_hindsight_mwh=float(real.bound_mw.sum() * STEP_S / 3600.0),
        policy=policy,
        params=TroubleParams.default(),
        zone_ids=["a"],
        lookahead_mw=np.zeros(STEPS),
        joint_excess_mw=real.joint_excess,
        joint_set=real.joint_set,
        set_member=sets.member,
        sigma_mw=np.zeros((STEPS, 1)),
        trouble=trouble,
    )


def intervals(result: SimulationResult) -> dict[str, int]:
    causes = compute_kpis(result)["safety"]["by_cause"]
    return {name: int(c["intervals"]) for name, c in causes.items() if c["intervals"]}


# The site lags: from step 4 on its cap is 0 and it still draws 30, 20, 10, 5, 2, 1 MW.
LAGGING = np.array([100, 100, 100, 100, 30, 20, 10, 5, 2, 1], dtype=float)
CUT = np.array([100, 100, 100, 100, 0, 0, 0, 0, 0, 0], dtype=float)


def test_a_drop_the_forecast_showed_is_dispatch_lag() -> None:
    # The schedule itself falls to 0 at step 4: the forecast made four intervals before had it.
    schedule = np.array([100, 100, 100, 100, 0, 0, 0, 0, 0, 0], dtype=float)
    result = year(schedule, np.zeros(STEPS), LAGGING, CUT)
    assert intervals(result) == {"site response lag": 6}


def test_a_unit_trip_inside_the_response_time_is_unforeseen_and_bounded() -> None:
    # A unit trips in step 3 and stays out: the dispatcher learns of it at step 4.
    loss = np.array([0, 0, 0, 100, 100, 100, 100, 100, 100, 100], dtype=float)
    draw = np.array([100, 100, 100, 100, 30, 20, 10, 5, 2, 1], dtype=float)
    result = year(np.full(STEPS, 100.0), loss, draw, CUT)
    got = intervals(result)
    # Step 3: the trip itself. Steps 4-7: the forecast made four intervals before (steps 0-3,
    # before the news) held the load: unforeseen. Step 8 and on: the trip was in the forecast
    # one response time before, so the lag is dispatch's own.
    assert got == {"unit trip within the interval": 1, UNFORESEEN_LAG: 4, "site response lag": 2}
    lag = compute_kpis(result)["safety"]["unforeseen_lag"]
    assert lag["longest_run_s"] <= lag["bound_s"] == 4 * STEP_S
    assert set(UNFORESEEN_CAUSES) == {
        "site ignoring its cap",
        "emergency onset",
        "unit trip within the interval",
        UNFORESEEN_LAG,
        "forecast error beyond margin",
    }


def test_load_above_the_forecast_is_dispatch_not_forecast_error() -> None:
    # No lag: the caps themselves were above a schedule that was at 50 all along.
    schedule = np.full(STEPS, 50.0)
    full = np.full(STEPS, 100.0)
    assert intervals(year(schedule, np.zeros(STEPS), full, full)) == {"load above the forecast region": STEPS}
    # The same load within the forecast, the real value below it by a trip the interval held.
    loss = np.zeros(STEPS)
    loss[5] = 80.0
    under = np.full(STEPS, 40.0)
    got = intervals(year(schedule, loss, under, under))
    assert got == {"unit trip within the interval": 1}
    # A demand error beyond the margin in step 5 alone: the load was within the forecast.
    error = np.zeros(STEPS)
    error[5] = 30.0
    assert intervals(year(schedule, np.zeros(STEPS), under, under, error)) == {"forecast error beyond margin": 1}
