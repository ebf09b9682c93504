"""Joint deliverability and the look-ahead of the dispatch core."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from dispatch_helpers import make_contracts, policy, running, zone_sums

from offtake.dispatch import Dispatcher, GridState, Reason
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
    contracts = replace(contracts, response_time_s=np.array([900.0, 0.0]))  # 3 intervals, none
    pol = policy()
    state = running(contracts, pol)
    ahead = np.array([[300.0], [120.0], [300.0]])  # a dip two intervals on
    grid = GridState(np.array([300.0]), np.zeros(1), ahead_surplus_mw=ahead)
    result = Dispatcher(contracts, pol).step(grid, state)
    np.testing.assert_allclose(result.cap_mw, [120.0, 100.0], atol=1e-6)
    assert result.reason[0] == Reason.LOOKAHEAD and result.reason[1] == Reason.ALLOCATION
    assert abs(result.lookahead_mw - 80.0) < 1e-6
    # A dip beyond the slow site's response time does not hold it.
    grid.ahead_surplus_mw = np.array([[300.0], [300.0], [300.0], [50.0]])
    result = Dispatcher(contracts, pol).step(grid, state)
    np.testing.assert_allclose(result.cap_mw, [200.0, 100.0], atol=1e-6)
    assert result.lookahead_mw == 0.0
