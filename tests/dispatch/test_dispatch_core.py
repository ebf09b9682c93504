"""Each dispatch rule on hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest
from dispatch_helpers import make_contracts, policy, running, zone_sums
from numpy.typing import NDArray

from offtake.dispatch import Dispatcher, GridState, Reason

ZONES = ["a", "b"]
SITES = [
    ("ai-1", "a", "ai", 80.0, 20.0, 0.25, 80.0, "pro_rata"),  # floor 75
    ("mine-1", "a", "mining", 0.0, 100.0, 1.0, 80.0, "pro_rata"),
    ("mine-2", "a", "mining", 0.0, 50.0, 1.0, 80.0, "pro_rata"),
    ("mine-3", "b", "mining", 0.0, 60.0, 1.0, 80.0, "pro_rata"),
]


def grid(
    a: float,
    b: float,
    sigma: float = 0.0,
    *,
    national_limit_mw: float | None = None,
    emergency_national: bool = False,
    emergency_zone: NDArray[np.bool_] | None = None,
) -> GridState:
    return GridState(
        np.array([a, b]),
        np.array([sigma, sigma]),
        national_limit_mw=national_limit_mw,
        emergency_national=emergency_national,
        emergency_zone=emergency_zone,
    )


def test_plenty_gives_allocation() -> None:
    c = make_contracts(SITES, ZONES)
    r = Dispatcher(c, policy()).step(grid(1000, 1000), running(c, policy()))
    np.testing.assert_allclose(r.cap_mw, c.allocated_mw)
    assert (r.reason == Reason.ALLOCATION).all()


def test_priority_ai_firm_then_ai_flexible_then_miners_pro_rata() -> None:
    c = make_contracts(SITES, ZONES)
    d = Dispatcher(c, policy())
    # Zone a has 70 MW: all of it to the AI firm tranche (80 asked), nothing to miners.
    r = d.step(grid(70, 1000), running(c, policy()))
    np.testing.assert_allclose(r.cap_mw[:3], [70, 0, 0])
    # 95 MW: AI firm 80 + AI flexible 15, miners nothing.
    r = d.step(grid(95, 1000), running(c, policy()))
    np.testing.assert_allclose(r.cap_mw[:3], [95, 0, 0])
    # 175 MW: AI 100, then 75 shared pro rata by the miners (100 : 50).
    r = d.step(grid(175, 1000), running(c, policy()))
    np.testing.assert_allclose(r.cap_mw[:3], [100, 50, 25])
    assert list(r.reason[:3]) == [Reason.ALLOCATION, Reason.ZONE_LIMIT, Reason.ZONE_LIMIT]
    # Zone b is untouched by zone a's shortage.
    assert r.cap_mw[3] == pytest.approx(60)


def test_by_bid_serves_higher_bids_first() -> None:
    rows = [
        ("m-low", "a", "mining", 0.0, 100.0, 1.0, 75.0, "bid"),
        ("m-std", "a", "mining", 0.0, 100.0, 1.0, 80.0, "pro_rata"),
        ("m-high", "a", "mining", 0.0, 100.0, 1.0, 95.0, "bid"),
    ]
    c = make_contracts(rows, ["a"])
    r = Dispatcher(c, policy()).step(
        GridState(np.array([150.0]), np.zeros(1)), running(c, policy())
    )
    # High bid first (100), then the pro-rata site at the reference tariff (50), low bid last.
    np.testing.assert_allclose(r.cap_mw, [0, 50, 100])
    # The same sites all pro rata share equally.
    c2 = c.with_rule(False)
    r2 = Dispatcher(c2, policy()).step(
        GridState(np.array([150.0]), np.zeros(1)), running(c2, policy())
    )
    np.testing.assert_allclose(r2.cap_mw, [50, 50, 50])


def test_safety_margin_is_taken_off_the_zone() -> None:
    c = make_contracts(SITES, ZONES)
    pol = policy(safety_k=3.0)
    r = Dispatcher(c, pol).step(grid(200, 1000, sigma=10.0), running(c, pol))
    assert zone_sums(c, r.cap_mw)[0] == pytest.approx(170.0)
    assert r.zone_budget_mw[0] == pytest.approx(170.0)


def test_national_limit_cuts_by_priority_across_zones() -> None:
    c = make_contracts(SITES, ZONES)
    r = Dispatcher(c, policy()).step(
        grid(1000, 1000, national_limit_mw=130.0), running(c, policy())
    )
    # AI 100 first, then 30 over 210 MW of miners in both zones pro rata.
    np.testing.assert_allclose(r.cap_mw, [100, 100 * 30 / 210, 50 * 30 / 210, 60 * 30 / 210])
    assert r.reason[1] == Reason.NATIONAL_LIMIT
    assert r.cap_mw.sum() == pytest.approx(130.0)


def test_ramp_up_limit_from_last_draw() -> None:
    c = make_contracts(SITES, ZONES)
    pol = policy(ramp_up_fraction_per_min=0.01)  # 1 % of allocation per minute, 5 % per step
    state = running(c, pol, share=0.0)
    r = Dispatcher(c, pol).step(grid(1000, 1000), state)
    np.testing.assert_allclose(r.cap_mw, 0.05 * c.allocated_mw)
    assert (r.reason == Reason.RAMP_LIMIT).all()
    # From a draw of 40 MW the AI site may reach 45 MW.
    state.last_draw_mw = np.array([40.0, 0.0, 0.0, 0.0])
    r = Dispatcher(c, pol).step(grid(1000, 1000), state)
    assert r.cap_mw[0] == pytest.approx(45.0)


def test_stagger_limits_the_drop_per_step_and_defers_the_rest() -> None:
    c = make_contracts(SITES, ZONES)
    pol = policy(contingency_limit_mw=60.0)
    d = Dispatcher(c, pol)
    state = running(c, pol)
    # Zone a falls to 100 MW: miners in a must drop 150 MW; only 60 may go this step.
    r = d.step(grid(100, 1000), state)
    drop = state.last_draw_mw - r.cap_mw
    assert drop.sum() == pytest.approx(60.0)
    assert r.deferred_mw == pytest.approx(90.0)
    assert (r.reason[1:3] == Reason.STAGGER).all()
    # The remainder goes over the next steps, never more than 60 MW a step.
    for _ in range(3):
        state.last_draw_mw = r.cap_mw
        r = d.step(grid(100, 1000), state)
        assert (state.last_draw_mw - r.cap_mw).sum() <= 60.0 + 1e-9
    np.testing.assert_allclose(r.cap_mw[:3], [100, 0, 0], atol=1e-9)
    assert r.deferred_mw == 0.0


def test_pickup_is_limited_like_the_drop() -> None:
    c = make_contracts(SITES, ZONES)
    pol = policy(contingency_limit_mw=50.0)
    r = Dispatcher(c, pol).step(grid(1000, 1000), running(c, pol, share=0.0))
    assert r.cap_mw.sum() == pytest.approx(50.0)
    assert (r.reason == Reason.RAMP_LIMIT).all()


def test_emergency_acts_at_once_despite_the_stagger() -> None:
    c = make_contracts(SITES, ZONES)
    pol = policy(contingency_limit_mw=10.0)
    r = Dispatcher(c, pol).step(grid(1000, 1000, emergency_national=True), running(c, pol))
    np.testing.assert_allclose(r.cap_mw, [75.0, 0.0, 0.0, 0.0])
    assert r.reason[0] == Reason.CONTRACT_FLOOR
    assert (r.reason[1:] == Reason.EMERGENCY).all()


def test_zone_emergency_touches_only_its_zone() -> None:
    c = make_contracts(SITES, ZONES)
    r = Dispatcher(c, policy()).step(
        grid(1000, 1000, emergency_zone=np.array([False, True])), running(c, policy())
    )
    np.testing.assert_allclose(r.cap_mw, [100, 100, 50, 0])
    assert r.reason[3] == Reason.EMERGENCY


def test_emergency_never_raises_a_cap() -> None:
    c = make_contracts(SITES, ZONES)
    state = running(c, policy(), share=0.5)  # AI drawing 50, below its floor of 75
    r = Dispatcher(c, policy()).step(grid(1000, 1000, emergency_national=True), state)
    assert r.cap_mw[0] == pytest.approx(50.0)


def test_suspended_licence_gets_zero_even_under_the_stagger() -> None:
    c = make_contracts(SITES, ZONES)
    pol = policy(contingency_limit_mw=1.0)
    state = running(c, pol)
    state.licence_active = np.array([True, False, True, True])
    r = Dispatcher(c, pol).step(grid(1000, 1000), state)
    assert r.cap_mw[1] == 0.0
    assert r.reason[1] == Reason.SUSPENDED
    np.testing.assert_allclose(r.cap_mw[[0, 2, 3]], c.allocated_mw[[0, 2, 3]])


def test_uncontrolled_draw_is_reserved_in_the_zone() -> None:
    c = make_contracts(SITES, ZONES)
    state = running(c, policy())
    state.licence_active = np.array([True, False, True, True])
    state.uncontrolled_mw = np.array([0.0, 100.0, 0.0, 0.0])
    r = Dispatcher(c, policy()).step(grid(200, 1000), state)
    # 200 - 100 uncontrolled = 100 left: all to the AI site.
    np.testing.assert_allclose(r.cap_mw[:3], [100, 0, 0])


def test_validate_names_the_bad_field() -> None:
    from offtake.errors import InputError

    c = make_contracts(SITES, ZONES)
    d = Dispatcher(c, policy())
    with pytest.raises(InputError, match="surplus_forecast_mw"):
        d.validate(GridState(np.array([1.0]), np.zeros(2)), running(c, policy()))
