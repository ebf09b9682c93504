"""The fleet plan, property-tested: never above the budget, soft curtailment first, staggered restarts."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from offtake.agent.plan import MachineView, plan_fleet


@st.composite
def machines(draw: st.DrawFn) -> list[MachineView]:
    n = draw(st.integers(0, 30))
    out = []
    for i in range(n):
        max_w = draw(st.floats(500, 5000))
        min_w = draw(st.floats(0.3, 1.0)) * max_w
        standby = draw(st.floats(0, 0.05)) * min_w
        measured = draw(st.one_of(st.none(), st.floats(0, max_w)))
        out.append(MachineView(f"m{i:02d}", min_w, max_w, standby, draw(st.booleans()), draw(st.booleans()),
                               draw(st.booleans()), measured))  # fmt: skip
    return out


@settings(max_examples=300, deadline=None)
@given(machines(), st.floats(0, 200_000), st.floats(0, 2000), st.floats(0, 20_000))
def test_plan_never_exceeds_the_budget_when_the_fixed_draw_fits(
    fleet: list[MachineView], cap_w: float, headroom_w: float, max_start_w: float
) -> None:
    plan = plan_fleet(cap_w, fleet, headroom_w=headroom_w, max_start_w=max_start_w)
    fixed = sum(m.fixed_draw_w() for m in fleet if not m.controllable)
    standby = sum(m.standby_w for m in fleet if m.controllable)
    assert plan.fixed_w == fixed
    assert plan.feasible == (fixed + standby <= plan.budget_w)
    if plan.feasible:
        assert plan.planned_w <= plan.budget_w + 1e-6
    assert set(plan.targets) == {m.id for m in fleet if m.controllable}
    started = 0.0
    for m in fleet:
        if not m.controllable:
            continue
        t = plan.targets[m.id]
        if t.run and t.power_w is not None:
            assert m.power_target and math.ceil(m.min_w) <= t.power_w <= max(math.ceil(m.min_w), math.floor(m.max_w))
        if t.run and not m.power_target:
            assert t.power_w is None
        if t.run and not m.running:
            started += m.max_w
    assert started <= max_start_w + 1e-6


@settings(max_examples=200, deadline=None)
@given(machines(), st.floats(0, 100_000), st.floats(0, 100_000))
def test_a_higher_cap_never_plans_less_draw(fleet: list[MachineView], a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert plan_fleet(low, fleet).planned_w <= plan_fleet(high, fleet).planned_w + 1e-6


def _m(i: int, power_target: bool, *, running: bool = True, controllable: bool = True) -> MachineView:
    return MachineView(f"m{i}", 1736, 3472, 20, power_target, controllable, running, 3472)


def test_soft_curtailment_comes_before_stops() -> None:
    fleet = [_m(0, True), _m(1, True), _m(2, False)]
    # turning the tunable machines down is enough: nothing stops
    soft = plan_fleet(3 * 3472 - 2000, fleet)
    assert all(t.run for t in soft.targets.values())
    assert all((soft.targets[f"m{i}"].power_w or 0) < 3472 for i in (0, 1))
    # when it is not, the machine without a power target stops first, the others run at their floor or above
    hard = plan_fleet(6000, fleet)
    assert hard.targets["m2"].run is False
    assert all(hard.targets[f"m{i}"].run for i in (0, 1))
    # room for everything at full: nothing is stopped and targets are the rating
    full = plan_fleet(3 * 3472, fleet)
    assert all(t.run for t in full.targets.values())
    assert full.targets["m0"].power_w == 3472


def test_unreachable_machines_count_and_a_zero_cap_stops_everything() -> None:
    fleet = [_m(0, True), _m(1, True, controllable=False)]
    plan = plan_fleet(4000, fleet)
    assert plan.fixed_w == 3472
    assert plan.targets["m0"].run is False  # 4000 - 3472 - 20 left: below the 1736 W floor
    zero = plan_fleet(0, fleet)
    assert not zero.feasible and all(not t.run for t in zero.targets.values())


def test_restarts_are_staggered() -> None:
    fleet = [_m(i, True, running=False) for i in range(5)]
    plan = plan_fleet(10**6, fleet, max_start_w=2 * 3472)
    assert sum(t.run for t in plan.targets.values()) == 2
    assert len(plan.deferred) == 3
    assert sum(t.run for t in plan_fleet(10**6, fleet, max_start_w=0).targets.values()) == 0
