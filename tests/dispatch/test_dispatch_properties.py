"""Invariants of the dispatch core over random states (hypothesis)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from dispatch_helpers import make_contracts, zone_sums
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from offtake.dispatch import Contracts, Dispatcher, DispatchPolicy, GridState, Reason, SiteState
from offtake.dispatch.deliverable import SetProjection, set_sigma_mw
from offtake.surplus.network import ZoneCuts

TOL = 1e-6

#: One drawn dispatch case: contracts, policy, grid state and site state.
Case = tuple[Contracts, DispatchPolicy, GridState, SiteState]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n_zones = draw(st.integers(1, 4))
    n = draw(st.integers(1, 12))
    zones = [f"z{i}" for i in range(n_zones)]
    rows = []
    for i in range(n):
        ai = draw(st.booleans())
        alloc = draw(st.floats(0.0, 300.0))
        firm = draw(st.floats(0.0, 1.0)) * alloc if ai else 0.0
        rows.append(
            (
                f"s{i}",
                zones[draw(st.integers(0, n_zones - 1))],
                "ai" if ai else "mining",
                firm,
                alloc - firm,
                draw(st.floats(0.1, 0.5)) if ai else 1.0,
                draw(st.sampled_from([70.0, 80.0, 90.0])),
                draw(st.sampled_from(["pro_rata", "bid"])),
            )
        )
    contracts = make_contracts(rows, zones, draw(st.sampled_from([0.0, 30.0, 300.0, 900.0])))
    pol = DispatchPolicy(
        interval_s=draw(st.sampled_from([60.0, 300.0, 900.0])),
        safety_k=draw(st.floats(0.0, 4.0)),
        contingency_limit_mw=draw(st.floats(1.0, 1000.0)),
        ramp_up_fraction_per_min=draw(st.floats(0.001, 1.0)),
        reference_tariff_usd_per_mwh=80.0,
    )
    floats = st.floats(0.0, 2000.0)
    grid = GridState(
        surplus_forecast_mw=draw(arrays(np.float64, n_zones, elements=floats)),
        surplus_sigma_mw=draw(arrays(np.float64, n_zones, elements=st.floats(0.0, 50.0))),
        national_limit_mw=draw(st.one_of(st.none(), floats)),
        national_sigma_mw=draw(st.floats(0.0, 50.0)),
        emergency_national=draw(st.booleans()),
        emergency_zone=draw(st.one_of(st.none(), arrays(np.bool_, n_zones))),
    )
    state = SiteState(
        licence_active=draw(arrays(np.bool_, n)),
        last_draw_mw=draw(arrays(np.float64, n, elements=st.floats(0.0, 400.0))),
        ramp_up_mw_per_min=contracts.allocated_mw * pol.ramp_up_fraction_per_min,
    )
    return contracts, pol, grid, state


@settings(max_examples=300, deadline=None)
@given(cases())
def test_invariants_hold(case: Case) -> None:
    contracts, pol, grid, state = case
    r = Dispatcher(contracts, pol).step(grid, state)
    cap, target = r.cap_mw, r.target_mw
    alloc = contracts.allocated_mw
    draw = np.minimum(state.last_draw_mw, alloc)
    # Caps are finite, non-negative, never above allocation.
    assert np.all(np.isfinite(cap)) and np.all(cap >= -TOL)
    assert np.all(cap <= alloc + TOL)
    # Targets fit every zone's deliverable power less the margin, and the national limit.
    budget = np.maximum(grid.surplus_forecast_mw - pol.safety_k * grid.surplus_sigma_mw, 0.0)
    assert np.all(zone_sums(contracts, target) <= budget + TOL)
    if grid.national_limit_mw is not None:
        assert (
            target.sum()
            <= max(0.0, grid.national_limit_mw - pol.safety_k * grid.national_sigma_mw) + TOL
        )
    # The stagger only ever holds caps up, and what it holds up is reported.
    assert np.all(cap >= target - TOL)
    assert abs(float((cap - target).sum()) - r.deferred_mw) <= 1e-6 * max(1.0, r.deferred_mw)
    # Ramp-up: never above last draw plus the ramp room.
    assert np.all(cap <= draw + state.ramp_up_mw_per_min * pol.interval_min + TOL)
    # Suspended sites get zero.
    assert np.all(cap[~state.licence_active] == 0.0)
    assert np.all(r.reason[~state.licence_active] == Reason.SUSPENDED)
    # Emergencies: miners zero, AI at most its floor.
    em = np.zeros(contracts.n_sites, dtype=bool)
    if grid.emergency_national:
        em[:] = True
    elif grid.emergency_zone is not None:
        em = grid.emergency_zone[contracts.zone_index]
    assert np.all(cap[em & ~contracts.is_ai] == 0.0)
    assert np.all(cap[em & contracts.is_ai] <= contracts.floor_mw[em & contracts.is_ai] + TOL)
    # Routine drops (not emergency, not suspension) stay within the contingency limit.
    routine = ~em & state.licence_active
    assert np.maximum(draw - cap, 0.0)[routine].sum() <= pol.contingency_limit_mw + 1e-6
    # Pick-up stays within the contingency limit.
    assert np.maximum(cap - draw, 0.0).sum() <= pol.contingency_limit_mw + 1e-6


@settings(max_examples=200, deadline=None)
@given(cases())
def test_priority_order_within_a_zone(case: Case) -> None:
    """With no ramp, stagger or emergency, a lower class gets power only if higher ones are full."""
    contracts, pol, grid, state = case
    grid.emergency_national = False
    grid.emergency_zone = None
    grid.national_limit_mw = None
    state.licence_active[:] = True
    state.last_draw_mw = contracts.allocated_mw.copy()
    free = DispatchPolicy(pol.interval_s, pol.safety_k, 1e12, pol.ramp_up_fraction_per_min, 80.0)
    cap = Dispatcher(contracts, free).step(grid, state).cap_mw
    firm = np.minimum(contracts.firm_mw, contracts.allocated_mw)
    for z in range(contracts.n_zones):
        in_zone = contracts.zone_index == z
        ai, miner = in_zone & contracts.is_ai, in_zone & ~contracts.is_ai
        if np.any(cap[ai] > firm[ai] + TOL):  # AI flexible served: AI firm is full
            np.testing.assert_allclose(cap[ai], np.maximum(cap[ai], firm[ai]), atol=TOL)
        if np.any(cap[miner] > TOL):  # miners served: AI is full
            np.testing.assert_allclose(cap[ai], contracts.allocated_mw[ai], atol=1e-5)
        pro = miner & ~contracts.by_bid & (contracts.allocated_mw > 1.0)
        if pro.sum() > 1:  # pro-rata miners get the same share of their allocation
            share = cap[pro] / contracts.allocated_mw[pro]
            np.testing.assert_allclose(share, share[0], atol=1e-6)


@st.composite
def networks(draw: st.DrawFn, n_zones: int) -> tuple[np.ndarray, np.ndarray]:
    """A random zone network and the value of each zone set in one interval."""
    arcs = [
        (a, b, draw(st.floats(0.0, 500.0)))
        for a in range(n_zones)
        for b in range(n_zones)
        if a != b and draw(st.booleans())
    ]
    cuts = ZoneCuts.from_arcs(n_zones, arcs)
    zone_floats = arrays(np.float64, (1, n_zones), elements=st.floats(0.0, 800.0))
    values = cuts.set_values_mw(
        dispatchable_mw=draw(zone_floats),
        variable_mw=draw(zone_floats),
        must_run_mw=np.zeros((1, n_zones)),
        demand_mw=draw(zone_floats),
        pool_mw=np.array([draw(st.floats(0.0, 3000.0))]),
    )[0]
    return cuts.member, np.maximum(values, 0.0)


@settings(max_examples=150, deadline=None)
@given(cases(), st.data())
def test_no_step_leaves_the_deliverable_region(case: Case, data: st.DataObject) -> None:
    """Targets always fit every zone set; caps too, but for curtailment the stagger defers."""
    contracts, pol, grid, state = case
    member, values = data.draw(networks(contracts.n_zones))
    used = np.zeros(contracts.n_zones, dtype=bool)
    used[contracts.zone_index] = True
    projection = SetProjection.build(member, used)
    grid.cut_mw = projection.reduce(values)
    horizon = data.draw(st.integers(0, 3))
    if horizon:
        grid.ahead_surplus_mw = grid.surplus_forecast_mw * data.draw(
            arrays(np.float64, (horizon, 1), elements=st.floats(0.0, 1.5))
        )
        grid.ahead_cut_mw = grid.cut_mw * data.draw(
            arrays(np.float64, (horizon, 1), elements=st.floats(0.0, 1.5))
        )
    dispatcher = Dispatcher(contracts, pol, sets=projection.member)
    result = dispatcher.step(grid, state)
    matrix = projection.member.astype(float)
    limit = np.maximum(grid.cut_mw - pol.safety_k * set_sigma_mw(matrix, grid.surplus_sigma_mw), 0.0)
    assert np.all(matrix @ zone_sums(contracts, result.target_mw) <= limit + 1e-5)
    if result.deferred_mw == 0.0:
        assert np.all(matrix @ zone_sums(contracts, result.cap_mw) <= limit + 1e-5)
    # The look-ahead only ever lowers caps, and reports what it held back.
    grid.ahead_surplus_mw = grid.ahead_cut_mw = None
    plain = dispatcher.step(grid, state)
    assert np.all(result.target_mw <= plain.target_mw + 1e-6)
    assert result.lookahead_mw >= -1e-6


@settings(max_examples=100, deadline=None)
@given(cases(), st.data())
def test_joint_fill_leaves_nothing_deliverable_unserved(case: Case, data: st.DataObject) -> None:
    """A site short of its request sits in a zone set that is full (instant sites: no ramp room)."""
    contracts, pol, grid, state = case
    contracts = replace(contracts, response_time_s=np.zeros(contracts.n_sites))
    member, values = data.draw(networks(contracts.n_zones))
    projection = SetProjection.build(member, np.ones(contracts.n_zones, dtype=bool))
    free = DispatchPolicy(pol.interval_s, 0.0, 1e12, 1e6, 80.0)
    grid = GridState(np.full(contracts.n_zones, 1e9), np.zeros(contracts.n_zones), cut_mw=projection.reduce(values))
    state.licence_active[:] = True
    state.ramp_up_mw_per_min = np.full(contracts.n_sites, 1e9)
    result = Dispatcher(contracts, free, sets=projection.member).step(grid, state)
    loads = projection.member.astype(float) @ zone_sums(contracts, result.target_mw)
    assert grid.cut_mw is not None
    tight = loads >= grid.cut_mw - 1e-5
    short = result.target_mw < contracts.allocated_mw - 1e-5
    for zone in np.unique(contracts.zone_index[short]):
        assert np.any(tight & projection.member[:, zone])
