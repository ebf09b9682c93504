"""Joint deliverability and the look-ahead of the dispatch core."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from dispatch_helpers import make_contracts, policy, running, zone_sums

from offtake.dispatch import Dispatcher, GridState, Reason, SiteState
from offtake.dispatch.core import ramp_remaining
from offtake.dispatch.deliverable import SetProjection, joint_fill, zone_values_mw
from offtake.surplus.network import ZoneCuts

TOL = 1e-6


def _three_zone_network() -> tuple[np.ndarray, np.ndarray]:
    """Zones a, b, c: a and b hang off c through one 300 MW corridor (c -> a -> b).

    Each of a and b alone can take 300 MW, c can take 2,000 MW, the nation 2,000 MW; a and
    b together can take only the 300 MW of the corridor from c.
    """
    cuts = ZoneCuts.from_arcs(3, [(2, 0, 300.0), (0, 2, 0.0), (0, 1, 300.0), (1, 0, 300.0)])
    zeros = np.zeros((1, 3))
    values = cuts.set_values_mw(
        dispatchable_mw=np.array([[0.0, 0.0, 2000.0]]),
        variable_mw=zeros,
        must_run_mw=zeros,
        demand_mw=zeros,
        pool_mw=np.array([1e6]),
    )[0]
    return cuts.member, values


def test_hand_made_three_zone_case_stays_deliverable() -> None:
    member, values = _three_zone_network()
    zone = zone_values_mw(member, values)
    np.testing.assert_allclose(zone, [300.0, 300.0, 2000.0])
    national = float(values[member.all(axis=1)][0])
    rows = [
        ("mine-a", "a", "mining", 0.0, 300.0, 1.0, 80.0, "pro_rata"),
        ("mine-b", "b", "mining", 0.0, 300.0, 1.0, 80.0, "pro_rata"),
        ("mine-c", "c", "mining", 0.0, 200.0, 1.0, 80.0, "pro_rata"),
    ]
    contracts = make_contracts(rows, ["a", "b", "c"])
    pol = policy()
    state = running(contracts, pol)
    grid = GridState(zone, np.zeros(3), national_limit_mw=national)
    # Checked zone by zone and nationally only, every budget is met and 300 MW cannot be delivered.
    old = Dispatcher(contracts, pol).step(grid, state).cap_mw
    sums = zone_sums(contracts, old)
    assert np.all(sums <= zone + TOL) and sums.sum() <= national + TOL
    assert sums[0] + sums[1] - values[(member == [True, True, False]).all(axis=1)][0] > 299.0
    # With the zone sets, a and b share the corridor pro rata and c keeps its load.
    projection = SetProjection.build(member, np.ones(3, dtype=bool))
    dispatcher = Dispatcher(contracts, pol, sets=projection.member)
    grid.cut_mw = projection.reduce(values)
    result = dispatcher.step(grid, state)
    np.testing.assert_allclose(result.cap_mw, [150.0, 150.0, 200.0], atol=1e-6)
    assert list(result.reason) == [Reason.JOINT_LIMIT, Reason.JOINT_LIMIT, Reason.ALLOCATION]
    assert np.all(projection.member @ zone_sums(contracts, result.cap_mw) <= grid.cut_mw + TOL)


def test_joint_limit_serves_priority_across_zones() -> None:
    """An AI site in b is served before a miner in a when both sit behind the same corridor."""
    member, values = _three_zone_network()
    rows = [
        ("mine-a", "a", "mining", 0.0, 300.0, 1.0, 80.0, "pro_rata"),
        ("ai-b", "b", "ai", 200.0, 0.0, 0.3, 80.0, "pro_rata"),
    ]
    contracts = make_contracts(rows, ["a", "b", "c"])
    pol = policy()
    projection = SetProjection.build(member, np.ones(3, dtype=bool))
    grid = GridState(zone_values_mw(member, values), np.zeros(3), cut_mw=projection.reduce(values))
    cap = Dispatcher(contracts, pol, sets=projection.member).step(grid, running(contracts, pol)).cap_mw
    np.testing.assert_allclose(cap, [100.0, 200.0], atol=1e-6)


def test_projection_keeps_the_smallest_value_of_sets_seen_the_same() -> None:
    member, values = _three_zone_network()
    used = np.array([True, True, False])  # no site in c
    projection = SetProjection.build(member, used)
    reduced = projection.reduce(values)
    assert projection.n_sets == 3  # {a}, {b}, {a, b}
    for row, value in zip(projection.member, reduced, strict=True):
        same = (member & used) == row
        assert value == values[same.all(axis=1)].min()
    # Many intervals at once give the same as one at a time.
    stacked = np.stack([values, values * 0.5])
    np.testing.assert_allclose(projection.reduce(stacked), [reduced, reduced * 0.5])


def test_joint_fill_returns_none_when_everything_fits() -> None:
    member = np.array([[True, False], [False, True], [True, True]])
    request = np.array([[10.0, 5.0], [10.0, 0.0]])
    assert joint_fill(request, member.astype(float), member, np.array([100.0, 100.0, 100.0])) is None
    share = joint_fill(request, member.astype(float), member, np.array([100.0, 100.0, 20.0]))
    assert share is not None
    granted = (request * share).sum(axis=1)
    assert granted.sum() <= 20.0 + TOL
    np.testing.assert_allclose(share[:, 0], [1.0, 1.0])  # the first level fits whole
    np.testing.assert_allclose(share[0, 1], 0.0)  # nothing left for the second


def test_look_ahead_holds_slow_sites_to_the_coming_low() -> None:
    rows = [
        ("ai-slow", "a", "ai", 100.0, 100.0, 0.3, 80.0, "pro_rata"),
        ("mine-fast", "a", "mining", 0.0, 100.0, 1.0, 80.0, "pro_rata"),
    ]
    contracts = make_contracts(rows, ["a"])
    # 900 s planned at up to (1 + 0.5) x: 1,350 s, four and a half intervals of 300 s; the miner is instant.
    contracts = replace(contracts, response_time_s=np.array([900.0, 0.0]))
    pol = policy(response_time_tolerance=0.5)
    state = running(contracts, pol)
    ahead = np.array([[300.0], [120.0], [300.0]])  # a dip two intervals on
    grid = GridState(np.array([300.0]), np.zeros(1), ahead_surplus_mw=ahead)
    result = Dispatcher(contracts, pol).step(grid, state)
    # From 200 MW, the ramp begun now still has w of the drop to go over the dip's interval;
    # the cap is the one whose ramp averages 120 MW there.
    w = ramp_remaining(np.array([1350.0]), 300.0, 3)[0, 2]
    assert 0.0 < w < 1.0
    slow_cap = (120.0 - 200.0 * w) / (1.0 - w)
    np.testing.assert_allclose(result.cap_mw, [slow_cap, 100.0], atol=1e-6)
    mean_in_dip = slow_cap + (200.0 - slow_cap) * w
    assert abs(mean_in_dip - 120.0) < 1e-6
    assert result.reason[0] == Reason.LOOKAHEAD and result.reason[1] == Reason.ALLOCATION
    assert abs(result.lookahead_mw - (200.0 - slow_cap)) < 1e-6
    # A dip beyond the slow site's planned response time (five intervals) does not hold it.
    grid.ahead_surplus_mw = np.array([[300.0], [300.0], [300.0], [300.0], [300.0], [50.0]])
    result = Dispatcher(contracts, pol).step(grid, state)
    np.testing.assert_allclose(result.cap_mw, [200.0, 100.0], atol=1e-6)
    assert result.lookahead_mw == 0.0


def test_a_site_ramping_down_is_capped_so_its_mean_draw_fits() -> None:
    rows = [("ai-slow", "a", "ai", 100.0, 0.0, 0.3, 80.0, "pro_rata")]
    contracts = replace(make_contracts(rows, ["a"]), response_time_s=np.array([300.0]))
    pol = policy(response_time_tolerance=0.0)  # one interval to reach a new cap
    state = SiteState.initial(contracts, pol, np.array([100.0]))
    result = Dispatcher(contracts, pol).step(GridState(np.array([60.0]), np.zeros(1)), state)
    # Half the drop is still to go on average over the interval: c + (100 - c) / 2 = 60.
    np.testing.assert_allclose(result.cap_mw, [20.0], atol=1e-6)
    assert result.reason[0] == Reason.LOOKAHEAD


def test_fast_miners_make_room_for_a_slow_site_still_ramping_down() -> None:
    rows = [
        ("ai-slow", "a", "ai", 100.0, 0.0, 0.3, 80.0, "pro_rata"),
        ("mine-fast", "b", "mining", 0.0, 50.0, 1.0, 80.0, "pro_rata"),
    ]
    contracts = replace(make_contracts(rows, ["a", "b"]), response_time_s=np.array([600.0, 0.0]))
    pol = policy(response_time_tolerance=0.0)  # the AI site: two intervals; the miner at once
    drawing = np.array([100.0, 50.0])
    # Zone a falls to 40 MW, the nation to 100 MW.
    grid = GridState(np.array([40.0, 1000.0]), np.zeros(2), national_limit_mw=100.0)
    w0 = float(ramp_remaining(np.array([600.0]), 300.0, 1)[0, 0])  # 3/4 of the drop still to go
    instant = replace(contracts, response_time_s=np.zeros(2))
    plain = Dispatcher(instant, pol).step(grid, SiteState.initial(instant, pol, drawing))
    np.testing.assert_allclose(plain.cap_mw, [40.0, 50.0], atol=1e-6)
    # Those caps would leave the AI site drawing 40 + 60 w0 = 85 MW on average: 135 MW in a
    # 100 MW nation. The miner gives up what the AI site cannot shed in time.
    result = Dispatcher(contracts, pol).step(grid, SiteState.initial(contracts, pol, drawing))
    ai_mean = result.cap_mw[0] + (100.0 - result.cap_mw[0]) * w0
    assert ai_mean + result.cap_mw[1] <= 100.0 + 1e-6
    np.testing.assert_allclose(result.cap_mw, [0.0, 100.0 - 100.0 * w0], atol=1e-6)
    assert result.reason[1] == Reason.LOOKAHEAD
