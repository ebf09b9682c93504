"""Physical and clock bounds on readings: every reading is bounded by the site's physics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from platform_fixtures import T0, World

from offtake.billing.reconcile import reconcile_site
from offtake.ledger import IngestResult, MeterReading, ReadingsRejected, ingest_readings
from offtake.ledger.bounds import load_bounds
from offtake.persistence.db import session_scope
from offtake.registry import sites

H = timedelta(hours=1)


def ingest(world: World, reading: MeterReading, now: datetime | None = None) -> IngestResult:
    with session_scope(world.factory) as s:
        return ingest_readings(s, world.grid, [reading], now=now)


def refused(world: World, reading: MeterReading, now: datetime | None = None) -> tuple[str, str]:
    with pytest.raises(ReadingsRejected) as info:
        ingest(world, reading, now)
    return info.value.field or "", info.value.problems[0].message


def add_site(world: World, site_id: str, connection_mw: float | None, licence_id: str | None = "L1") -> None:
    with session_scope(world.factory) as s:
        sites.create_site(
            s,
            world.grid,
            site_id=site_id,
            operator_id="op1",
            zone="LESCO",
            kind="mining",
            licence_id=licence_id,
            connection_mw=connection_mw,
        )


def test_the_bounds_come_from_a_data_file_with_sources() -> None:
    bounds = load_bounds()
    assert bounds.max_power_factor >= 1 and bounds.clock_skew >= timedelta(0)
    assert bounds.earliest_start.tzinfo is not None


def test_a_site_with_no_connection_capacity_draws_nothing(world: World) -> None:
    add_site(world, "Z0", 0)
    field, message = refused(world, MeterReading("Z0", "m", T0, T0 + H, 1))
    assert field == "readings[0].energy_wh" and "impossible" in message
    assert ingest(world, MeterReading("Z0", "m", T0, T0 + H, 0)).accepted == 1


def test_a_site_with_neither_capacity_nor_contract_is_refused_by_name(world: World) -> None:
    add_site(world, "Z1", None)
    field, message = refused(world, MeterReading("Z1", "m", T0, T0 + H, 2**63 - 1))
    assert field == "readings[0].site_id" and "nothing bounds" in message


@pytest.mark.parametrize("energy_wh", [2**63 - 1, 2**63, 10**30])
def test_huge_energies_are_refused_not_crashed(world: World, energy_wh: int) -> None:
    field, _message = refused(world, MeterReading("S1", "m1", T0, T0 + H, energy_wh))
    assert field == "readings[0].energy_wh"


def test_the_bound_is_the_tolerance_times_the_connection(world: World) -> None:
    factor = load_bounds().max_power_factor
    bound = int(factor * 50_000_000)  # S1: 50 MW for one hour
    assert refused(world, MeterReading("S1", "m1", T0, T0 + H, bound + 1))[0] == "readings[0].energy_wh"
    assert ingest(world, MeterReading("S1", "m1", T0, T0 + H, bound)).accepted == 1


def test_readings_from_the_future_are_refused_beyond_the_clock_skew(world: World) -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    skew = load_bounds().clock_skew
    end = now + skew
    assert ingest(world, MeterReading("S1", "m1", end - H, end, 1), now).accepted == 1
    field, message = refused(world, MeterReading("S1", "m1", end, end + timedelta(seconds=1), 1), now)
    assert field == "readings[0].interval_end" and "future" in message
    far = datetime(9999, 1, 1, tzinfo=UTC)
    assert refused(world, MeterReading("S1", "m1", far, far + H, 1))[0] == "readings[0].interval_end"


@pytest.mark.parametrize(
    "start",
    [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=5))),  # overflows when converted to UTC
    ],
)
def test_readings_before_the_programme_are_refused(world: World, start: datetime) -> None:
    field, message = refused(world, MeterReading("S1", "m1", start, start + H, 1))
    assert field == "readings[0].interval_start"
    assert "earliest" in message or "range" in message


def test_readings_of_unlicensed_sites_are_accepted_and_flagged(world: World) -> None:
    add_site(world, "U1", 5, licence_id=None)
    assert ingest(world, MeterReading("U1", "m", T0, T0 + H, 1_000_000)).accepted == 1
    with world.factory() as s:
        rec = reconcile_site(s, world.regulator, "U1", T0, T0 + H)
    assert [i.violation for i in rec.intervals] == ["no licence attached"]
    assert rec.as_dict()["violation_wh"] == 1_000_000 and rec.penalty_micro_usd == 0
