"""Reconciliation against caps and monthly bills, checked against amounts worked by hand."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest
from platform_fixtures import HEADER, T0, World

from offtake.billing.bills import BillLine, issue_bill, month_bounds, monthly_bill
from offtake.billing.reconcile import reconcile_site
from offtake.errors import ConflictError, InputError, PermissionDenied
from offtake.ledger import (
    CapRecord,
    MeterReading,
    ReadingsConflict,
    ingest_readings,
    record_caps,
    store,
)
from offtake.ledger.encoding import decode_entry
from offtake.persistence.db import session_scope
from offtake.registry import allocations, contracts, licences

H = timedelta(hours=1)
MWH = 1_000_000


@pytest.fixture
def billed(world: World) -> World:
    """S1: 40 MW allocation; contract at 70 USD/MWh, 2 % tolerance, 200 USD/MWh penalty."""
    csv = HEADER + "\nS1,op1,LESCO,mining,10,30,40,1,6,0.1,60,70,300000,200,40,5\n"
    with session_scope(world.factory) as s:
        allocations.import_allocation(s, world.grid, "allocation.csv", valid_from=T0, text=csv)
        contracts.create_contract(
            s,
            world.grid,
            site_id="S1",
            valid_from=T0,
            tariff_usd_per_mwh=70,
            firm_mw=10,
            interruptible_mw=30,
            max_curtailment_fraction=1,
            max_curtailment_duration_h=6,
            annual_curtailment_limit=0.1,
            response_time_s=60,
            overdraw_tolerance_fraction=0.02,
            overdraw_penalty_usd_per_mwh=200,
            exchange_rate_pkr_per_usd=280,
        )
        record_caps(
            s,
            world.grid,
            [
                CapRecord.from_mw("S1", T0 + 3 * H, T0 + 4 * H, 20),
                CapRecord.from_mw("S1", T0 + 4 * H, T0 + 4.5 * H, 30),
            ],
        )
        readings = [
            (0, "m1", 39.0),
            (1, "m1", 40.8),
            (2, "m1", 41.0),
            (3, "m1", 25.0),
            (4, "m1", 35.5),
            (5, "m1", 20.0),
            (5, "m2", 21.0),
        ]
        ingest_readings(
            s,
            world.op1,
            [MeterReading("S1", meter, T0 + h * H, T0 + (h + 1) * H, round(mwh * MWH)) for h, meter, mwh in readings],
        )
    return world


def test_each_interval_against_the_cap_in_force(billed: World) -> None:
    with billed.factory() as s:
        rec = reconcile_site(s, billed.op1, "S1", T0, T0 + 24 * H)
    rows = [(i.energy_wh, i.allowed_wh, i.overdraw_wh, i.cap_source, round(i.penalty_micro_usd)) for i in rec.intervals]
    assert rows == [
        (39 * MWH, 40 * MWH, 0, "limit", 0),
        (40_800_000, 40 * MWH, 0, "limit", 0),  # exactly at the 2 % tolerance
        (41 * MWH, 40 * MWH, MWH, "limit", 200_000_000),
        (25 * MWH, 20 * MWH, 5 * MWH, "cap", 1_000_000_000),
        (
            35_500_000,
            35 * MWH,
            0,
            "mixed",
            0,
        ),  # half an hour at 30 MW, half at the 40 MW allocation
        (41 * MWH, 40 * MWH, MWH, "limit", 200_000_000),  # two meters summed
    ]
    assert rec.overdraw_wh == 7 * MWH and rec.penalty_micro_usd == 1_400_000_000


def test_monthly_bill_in_usd_and_pkr(billed: World) -> None:
    with billed.factory() as s:
        bill = monthly_bill(s, billed.op1, "S1", "2025-07")
    # 222.3 MWh x 70 USD = 15,561 USD; penalties 7 MWh x 200 = 1,400 USD; x 280 PKR/USD
    assert bill.energy_wh == 222_300_000
    assert bill.energy_micro_usd == 15_561_000_000
    assert bill.penalty_micro_usd == 1_400_000_000
    assert bill.total_micro_usd == 16_961_000_000
    assert bill.total_paisa == 16_961 * 280 * 100
    assert bill.as_dict()["total_usd"] == "16961.000000" and bill.as_dict()["total_pkr"] == "4749080.00"
    with billed.factory() as s:
        assert monthly_bill(s, billed.op1, "S1", "2025-08").total_micro_usd == 0


def test_draw_without_an_active_licence_is_a_violation_not_billed_at_the_contract_rate(billed: World) -> None:
    with session_scope(billed.factory) as s:
        licences.transition_licence(s, billed.regulator, "L1", "suspended", at=T0 + 6 * H, reason="unpaid bill")
        ingest_readings(s, billed.op1, [MeterReading("S1", "m1", T0 + 6 * H, T0 + 7 * H, MWH)])  # accepted
    with billed.factory() as s:
        rec = reconcile_site(s, billed.op1, "S1", T0 + 6 * H, T0 + 7 * H)
        assert [(i.allowed_wh, i.overdraw_wh, i.cap_source) for i in rec.intervals] == [(0, MWH, "ineligible")]
        assert [i.violation for i in rec.intervals] == ["licence L1 was suspended"]
        assert rec.penalty_micro_usd == 0 and rec.as_dict()["violation_wh"] == MWH
        bill = monthly_bill(s, billed.op1, "S1", "2025-07")
    assert bill.total_micro_usd == 16_961_000_000  # the suspended hour is not in any line
    content = bill.as_dict()
    assert content["violation_wh"] == MWH
    assert content["violations"] == [{"reason": "licence L1 was suspended", "intervals": 1, "energy_wh": MWH}]
    assert content["readings"]["count"] == 8 and any("without an active licence" in w for w in bill.warnings)


def test_rounding_is_exact_half_even_once_per_line() -> None:
    line = BillLine("c", 82_070_000, 280_150_000, energy_wh=1, penalty_exact=Fraction(1, 2))
    assert line.energy_micro_usd == 82  # 82.07 micro-USD
    assert line.penalty_micro_usd == 0  # 0.5 rounds to even
    assert line.total_paisa == round(Fraction(82 * 280_150_000, 10**10))


def test_billing_month_follows_the_time_zone() -> None:
    start, end = month_bounds("2025-08", "Asia/Karachi")
    assert start.isoformat() == "2025-07-31T19:00:00+00:00" and end.isoformat() == "2025-08-31T19:00:00+00:00"
    with pytest.raises(InputError):
        month_bounds("2025-13")
    with pytest.raises(InputError):
        month_bounds("2025-01", "Mars/Olympus")


def test_issued_bills_are_fixed_and_ledgered_once(billed: World) -> None:
    with session_scope(billed.factory) as s:
        row = issue_bill(s, billed.grid, "S1", "2025-07")
        entry = decode_entry(store.get_entry(s, row.ledger_seq).data)
        assert entry["kind"] == "bill" and entry["total_micro_usd"] == 16_961_000_000
    with billed.factory() as s:
        with pytest.raises(ConflictError):
            issue_bill(s, billed.grid, "S1", "2025-07")
        with pytest.raises(PermissionDenied):
            issue_bill(s, billed.op1, "S1", "2025-06")
        with pytest.raises(PermissionDenied):
            monthly_bill(s, billed.op2, "S1", "2025-07")


def test_caps_are_idempotent_and_conflicts_refused(billed: World) -> None:
    with session_scope(billed.factory) as s:
        again = record_caps(s, billed.grid, [CapRecord.from_mw("S1", T0 + 3 * H, T0 + 4 * H, 20)])
        assert (again.accepted, again.duplicates) == (0, 1)
    with billed.factory() as s:
        with pytest.raises(ReadingsConflict):
            record_caps(s, billed.grid, [CapRecord.from_mw("S1", T0 + 3 * H, T0 + 4 * H, 25)])
        s.rollback()
        with pytest.raises(InputError, match="overlaps"):
            record_caps(s, billed.grid, [CapRecord.from_mw("S1", T0 + 3.5 * H, T0 + 5 * H, 25)])
        s.rollback()
        with pytest.raises(PermissionDenied):
            record_caps(s, billed.op1, [CapRecord.from_mw("S1", T0 + 9 * H, T0 + 10 * H, 25)])
