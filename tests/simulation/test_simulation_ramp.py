"""Sites in the simulated year ramp to each cap within their response time, and are never flagged."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from offtake.dispatch.compliance import ComplianceMonitor, ComplianceRule
from offtake.simulation.engine import ramp_draw

STEP_S = 300.0


def follow(goals: list[float], start: float, ramp_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, mean and end draw per interval of one site ramping to each goal (the engine's rule)."""
    draw, rate, last = np.array([start]), np.zeros(1), np.array([-1.0])
    starts, means, ends = [], [], []
    for g in goals:
        goal = np.array([g])
        rate = np.where(np.abs(goal - last) > 1e-3, np.abs(goal - draw) / ramp_s, rate)
        last = goal
        mean, end = ramp_draw(draw, goal, rate, STEP_S)
        starts.append(draw[0])
        means.append(mean[0])
        ends.append(end[0])
        draw = end
    return np.array(starts), np.array(means), np.array(ends)


def test_a_site_is_at_its_cap_once_its_response_time_has_passed() -> None:
    for ramp_s in (30.0, 300.0, 450.0, 900.0, 1350.0):
        _, mean, end = follow([0.0] * 8, 100.0, ramp_s)
        steps = math.ceil(ramp_s / STEP_S)
        assert end[steps - 1] == 0.0 and (end[: steps - 1] > 0.0).all()
        assert (mean[steps:] == 0.0).all()
        # Mean over the intervals of the ramp: its triangle, 100 MW x ramp / 2.
        assert abs(mean.sum() * STEP_S - 100.0 * ramp_s / 2.0) < 1e-6


def test_a_change_of_goal_restarts_the_ramp_from_where_the_site_is() -> None:
    _, _, end = follow([0.0, 100.0, 100.0, 100.0], 100.0, 600.0)
    assert end[0] == 50.0  # half way down after one interval of two
    assert end[1] == 75.0  # back up: 50 MW to go over 600 s
    assert end[2] == 100.0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0.0, 100.0), min_size=3, max_size=30),
    st.floats(0.0, 100.0),
    st.floats(1.0, 2000.0),
    st.floats(0.8, 2.0),
)
def test_an_obedient_ramping_site_is_never_flagged(
    goals: list[float], start: float, contracted_s: float, factor: float
) -> None:
    rule = ComplianceRule.default(tolerance_mw=0.0, tolerance_share=0.0, consecutive_intervals=1)
    assert rule.response_time_tolerance >= 1.0  # the envelope allows twice the contracted time
    starts, means, _ = follow(goals, start, contracted_s * factor)
    monitor = ComplianceMonitor(np.array([100.0]), np.array([contracted_s]), STEP_S, rule)
    for cap, s0, mean in zip(goals, starts, means, strict=True):
        monitor.observe(np.array([cap]), np.array([s0]), np.array([mean - 1e-9]))
        assert monitor.last_over_mw[0] <= 1e-6
    assert not monitor.flagged.any()
