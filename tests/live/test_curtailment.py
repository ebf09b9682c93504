"""Curtailment used against a contract's limits, measured from the dispatched caps (real database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from platform_fixtures import World, principal
from sqlalchemy.orm import Session

from offtake.errors import NotVisibleError
from offtake.live.curtailment import curtailment_used
from offtake.live.records import DispatchCap, DispatchRound
from offtake.persistence.db import session_scope
from offtake.registry.contracts import create_contract

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
STEP = timedelta(minutes=5)


def _caps(
    s: Session, start: datetime, caps_mw: dict[str, list[float]], alloc_mw: float, step: timedelta = STEP
) -> None:
    """Record one round per interval from ``start`` with each site's caps [MW] (sites of op1 and op2)."""
    for k in range(max(len(c) for c in caps_mw.values())):
        at = start + step * k
        rnd = DispatchRound(interval_start=at, interval_end=at + STEP, computed_at=at, by_client="grid", feed="test",
                            sites=1, deferred_w=0, detail={}, ledger_seq=0)  # fmt: skip
        s.add(rnd)
        s.flush()
        for site_id, caps in caps_mw.items():
            if k >= len(caps):
                continue
            cap = DispatchCap(
                round_id=rnd.id, site_id=site_id, operator_id="op1" if site_id == "S1" else "op2", zone="LESCO",
                kind="mining", interval_start=at, interval_end=at + STEP, cap_w=round(caps[k] * 1e6),
                reason="test", target_w=0, allocation_w=round(alloc_mw * 1e6), floor_w=0, last_draw_w=0,
                draw_source="cap", note="", ledger_seq=0,
            )  # fmt: skip
            s.add(cap)


def test_curtailed_energy_depth_and_longest_event_against_the_contract(world: World) -> None:
    with session_scope(world.factory) as s:
        create_contract(
            s, world.grid, site_id="S1", valid_from=NOW - timedelta(days=30), tariff_usd_per_mwh=80, firm_mw=10,
            interruptible_mw=30, max_curtailment_fraction=1.0, max_curtailment_duration_h=4,
            annual_curtailment_limit=0.05, response_time_s=30, overdraw_tolerance_fraction=0.02,
            overdraw_penalty_usd_per_mwh=100, exchange_rate_pkr_per_usd=280,
        )  # fmt: skip
        # 40 MW allocated: full, 3 curtailed intervals (to 10, 0, 20 MW), full, 1 curtailed (30 MW)
        # another site's caps are not counted
        _caps(s, NOW - timedelta(hours=1), {"S1": [40, 10, 0, 20, 40, 30], "S2": [0, 0]}, 40.0)
    with world.factory() as s:
        use = curtailment_used(s, world.op1, "S1", NOW)
    shortfall_mw = 30 + 40 + 20 + 10
    assert use.curtailed_mwh == pytest.approx(shortfall_mw * 5 / 60)
    assert use.terms_from.startswith("contract ") and use.allocation_mw == 40
    assert use.budget_mwh == pytest.approx(0.05 * 40 * 8760)
    assert use.share_of_budget == pytest.approx(use.curtailed_mwh / use.budget_mwh)
    assert use.deepest == pytest.approx(1.0) and use.max_fraction == 1.0
    assert use.longest_h == pytest.approx(15 / 60) and use.max_duration_h == 4
    assert use.intervals == 6


def test_an_emergency_round_cuts_the_interval_short_and_another_operator_cannot_look(world: World) -> None:
    with session_scope(world.factory) as s:
        _caps(s, NOW - timedelta(hours=1), {"S1": [50, 50]}, 50.0, step=timedelta(minutes=2))  # 2nd starts early
        _caps(s, NOW - timedelta(hours=1, minutes=-2, seconds=-30), {"S1": [0]}, 50.0)  # emergency, 30 s later
        _caps(s, NOW - timedelta(days=400), {"S1": [0]}, 50.0)  # older than a year
    with world.factory() as s:
        use = curtailment_used(s, world.regulator, "S1", NOW)
        assert use.curtailed_mwh == pytest.approx(50 * 5 / 60)  # the emergency cap, for its 5 minutes
        assert use.intervals == 3
        assert use.terms_from == "none" and use.budget_mwh == 0 and use.share_of_budget is None
        with pytest.raises(NotVisibleError):
            curtailment_used(s, principal("operator", "c-op2", "op2"), "S1", NOW)
