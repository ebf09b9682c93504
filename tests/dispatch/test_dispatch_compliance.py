"""Detection of sites that ignore their caps (offtake.dispatch.compliance)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from offtake.dispatch.compliance import ComplianceMonitor, ComplianceRule, allowed_draw_mw
from offtake.errors import InputError

STEP_S = 300.0


def follow(caps: np.ndarray, start: float, tau_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Start and mean draw per interval of a site following ``caps`` with a first-order lag."""
    a = np.exp(-STEP_S / tau_s)
    b = (tau_s / STEP_S) * (1.0 - a)
    starts, means = np.empty_like(caps), np.empty_like(caps)
    draw = start
    for t, cap in enumerate(caps):
        starts[t] = draw
        means[t] = cap + (draw - cap) * b
        draw = cap + (draw - cap) * a
    return starts, means


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.float64, 24, elements=st.floats(0.0, 200.0)),
    st.floats(1.0, 1200.0),
    st.floats(0.1, 2.0),
)
def test_a_slow_but_obedient_site_is_never_flagged(caps: np.ndarray, contract_s: float, factor: float) -> None:
    """Up to twice its contracted response time (the stated tolerance), a site that follows is never flagged."""
    rule = ComplianceRule.default()
    assert factor <= 1.0 + rule.response_time_tolerance
    monitor = ComplianceMonitor(np.array([200.0]), np.array([contract_s]), STEP_S, rule)
    starts, means = follow(caps, 200.0, contract_s * factor)
    for t in range(len(caps)):
        assert not monitor.observe(caps[t : t + 1], starts[t : t + 1], means[t : t + 1]).any()
    assert not monitor.flagged.any()


def test_a_site_ignoring_its_cap_is_flagged_after_the_stated_run() -> None:
    rule = ComplianceRule.default()
    monitor = ComplianceMonitor(np.array([150.0, 150.0]), np.array([30.0, 30.0]), STEP_S, rule)
    caps = np.array([20.0, 20.0])
    flagged_at = []
    for t in range(6):
        draw = np.array([150.0, 20.0])  # the first ignores its cap, the second follows it
        newly = monitor.observe(caps, draw, draw)
        flagged_at += [t] if newly[0] else []
        assert not newly[1]
    assert flagged_at == [rule.consecutive_intervals - 1]  # once, on the third interval in a row
    # One interval back under the allowance resets the run.
    fresh = ComplianceMonitor(np.array([150.0]), np.array([30.0]), STEP_S, rule)
    for level in (150.0, 150.0, 20.0, 150.0, 150.0):
        assert not fresh.observe(np.array([20.0]), np.array([level]), np.array([level])).any()


def test_allowance_follows_the_lag_and_never_falls_below_the_cap() -> None:
    allowed = allowed_draw_mw(np.array([0.0, 50.0]), np.array([100.0, 10.0]), np.array([300.0, 300.0]), 300.0, 0.0)
    assert allowed[0] == pytest.approx(100.0 * (1.0 - np.exp(-1.0)))
    assert allowed[1] == 50.0  # rising towards a higher cap: the cap itself
    with pytest.raises(InputError, match="consecutive_intervals"):
        ComplianceRule.default(consecutive_intervals=0)
