"""Certificates on the platform database: issue, transfer, split, retire, and every double claim refused."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from platform_fixtures import T0, World, principal
from sqlalchemy import select

from offtake.certificates import (
    ShareTable,
    get_certificate,
    issue_certificates,
    list_holdings,
    list_retirements,
    load_book,
    load_rules,
    retire_certificate,
    transfer_certificate,
)
from offtake.certificates.book import ISSUE, split_reading
from offtake.errors import ConflictError, InputError, NotFoundError, NotVisibleError, PermissionDenied
from offtake.identity.principal import SYSTEM
from offtake.ledger import MeterReading, ingest_readings
from offtake.ledger.encoding import decode_entry
from offtake.persistence.db import session_scope
from offtake.persistence.schema import LedgerEntry
from offtake.registry import sites

H = timedelta(hours=1)
NOW = T0 + timedelta(days=3)
PPM = 1_000_000
#: Shares of zone LESCO in the first three hours of T0's day [ppm].
SHARES = ShareTable(
    {
        ("LESCO", T0): {"solar_pv": 400_000, "hydro": 250_000},
        ("LESCO", T0 + H): {"solar_pv": 123_457},
        ("LESCO", T0 + 2 * H): {},
        ("LESCO", T0 + 3 * H): {"wind": 100_000},
    },
    "test shares",
)


def ingest(world: World, *readings: tuple[str, datetime, datetime, int]) -> list[int]:
    with session_scope(world.factory) as s:
        result = ingest_readings(
            s, world.grid, [MeterReading(site, "M1", a, b, wh) for site, a, b, wh in readings], now=NOW
        )
        return [item.seq for item in result.items]


def issue(world: World, start: datetime = T0, end: datetime = T0 + 3 * H, *, new_only: bool = False) -> list[str]:
    with session_scope(world.factory) as s:
        issued = issue_certificates(s, world.grid, "S1", start, end, SHARES, new_only=new_only, now=NOW)
        return [c.id for c in issued.certificates]


def holdings(world: World, who: str) -> dict[str, int]:
    with world.factory() as s:
        return {h.certificate.id: h.volume_wh for h in list_holdings(s, SYSTEM, holder=who)}


@pytest.fixture
def metered(world: World) -> World:
    """S1 drew 10 MWh in hour 0 and 7,000,001 Wh in hour 1; 5 MWh in hour 2 (no renewables)."""
    ingest(
        world,
        ("S1", T0, T0 + H, 10_000_000),
        ("S1", T0 + H, T0 + 2 * H, 7_000_001),
        ("S1", T0 + 2 * H, T0 + 3 * H, 5_000_000),
    )
    return world


def test_issue_certifies_the_renewable_share_of_each_hour(metered: World) -> None:
    ids = issue(metered)
    with metered.factory() as s:
        book = load_book(s)
        certs = [book.certificates[i] for i in ids]
        entry = s.execute(select(LedgerEntry).where(LedgerEntry.kind == ISSUE)).scalar_one()
        body = decode_entry(entry.data)
    assert [(c.start, c.technology, c.volume_wh) for c in certs] == [
        (T0, "hydro", 10_000_000 * 250_000 // PPM),
        (T0, "solar_pv", 10_000_000 * 400_000 // PPM),
        (T0 + H, "solar_pv", 7_000_001 * 123_457 // PPM),
    ]
    first = certs[0]
    assert (first.site, first.operator, first.zone, first.end, first.consumption_wh) == (
        "S1",
        "op1",
        "LESCO",
        T0 + H,
        10_000_000,
    )
    assert all(len(c.readings) == 1 for c in certs)
    assert len(body["readings"]) == 3  # the hour without renewables is consumed too
    assert body["standard"] == load_rules().standard
    assert holdings(metered, "op1") == {c.id: c.volume_wh for c in certs}
    assert holdings(metered, "op2") == {}


def test_a_reading_across_hours_is_split_in_whole_wh(world: World) -> None:
    ingest(world, ("S1", T0 + H / 2, T0 + 3 * H / 2, 1_000_001))
    issue(world, T0, T0 + H)
    with world.factory() as s:
        certs = list(load_book(s).certificates.values())
    by_hour = {(c.start, c.technology): c.consumption_wh for c in certs}
    assert by_hour[(T0, "solar_pv")] == 500_000
    assert by_hour[(T0 + H, "solar_pv")] == 500_001
    assert sum(wh for _, wh in split_reading(T0 + H / 3, T0 + 7 * H / 3, 7, H)) == 7


def test_double_issuance_is_refused_and_new_readings_only_are_issued(metered: World) -> None:
    first = issue(metered)
    with pytest.raises(ConflictError, match="double issuance"):
        issue(metered)
    with pytest.raises(InputError, match="no reading left"):
        issue(metered, new_only=True)
    [late] = ingest(metered, ("S1", T0 + 3 * H, T0 + 4 * H, 2_000_000))
    with pytest.raises(ConflictError, match="double issuance"):
        issue(metered, T0, T0 + 4 * H)
    [added] = issue(metered, T0, T0 + 4 * H, new_only=True)
    with metered.factory() as s:
        cert = load_book(s).certificates[added]
    assert (cert.start, cert.technology, cert.volume_wh, cert.readings) == (T0 + 3 * H, "wind", 200_000, (late,))
    assert set(holdings(metered, "op1")) == {*first, added}
    ingest(metered, ("S1", T0 - H, T0, 1))
    with pytest.raises(InputError, match="no renewable share for zone 'LESCO'"):
        issue(metered, T0 - H, T0 + 4 * H, new_only=True)


def test_transfer_splits_and_retire_cancels(metered: World) -> None:
    cid = issue(metered)[1]  # solar in hour 0: 4,000,000 Wh
    with session_scope(metered.factory) as s:
        transfer_certificate(s, metered.op1, cid, "op1", "op2", 1_500_000, now=NOW)
    assert holdings(metered, "op1")[cid] == 2_500_000
    assert holdings(metered, "op2") == {cid: 1_500_000}
    with session_scope(metered.factory) as s:
        retire_certificate(
            s,
            metered.op2,
            cid,
            "op2",
            1_500_000,
            beneficiary="AI campus op2",
            claim="hourly-matched July 2025",
            now=NOW,
        )
    assert holdings(metered, "op2") == {}
    with metered.factory() as s:
        retired = list_retirements(s, metered.op2)
        assert [(r.certificate, r.volume_wh, r.beneficiary) for r in retired] == [(cid, 1_500_000, "AI campus op2")]
        assert list_retirements(s, metered.op1) == []
        book = load_book(s)
    issued = book.certificates[cid].volume_wh
    assert sum(wh for (c, _), wh in book.holdings.items() if c == cid) + book.retired_wh[cid] == issued


def test_double_retirement_and_transfer_after_retirement_are_refused(metered: World) -> None:
    cid = issue(metered)[0]
    with session_scope(metered.factory) as s:
        volume = load_book(s).certificates[cid].volume_wh
        retire_certificate(s, metered.op1, cid, "op1", volume, beneficiary="op1", claim="claim A", now=NOW)
    for attempt in ("retire", "transfer"):
        with session_scope(metered.factory) as s, pytest.raises(ConflictError) as caught:
            if attempt == "retire":
                retire_certificate(s, metered.op1, cid, "op1", volume, beneficiary="op1", claim="claim B", now=NOW)
            else:
                transfer_certificate(s, metered.op1, cid, "op1", "op2", 1, now=NOW)
        assert cid in caught.value.message and "double claim" in caught.value.message
        assert f"{volume} Wh retired" in caught.value.message


def test_a_transferred_away_volume_cannot_be_moved_again(metered: World) -> None:
    cid = issue(metered)[0]
    with session_scope(metered.factory) as s:
        volume = load_book(s).certificates[cid].volume_wh
        transfer_certificate(s, metered.op1, cid, "op1", "op2", volume, now=NOW)
    with session_scope(metered.factory) as s, pytest.raises(ConflictError, match=f"{cid}: 'op1' retires 1 Wh"):
        retire_certificate(s, metered.op1, cid, "op1", 1, beneficiary="op1", claim="again", now=NOW)


def test_someone_elses_certificates_cannot_be_moved(metered: World) -> None:
    cid = issue(metered)[0]
    with session_scope(metered.factory) as s, pytest.raises(NotVisibleError):
        transfer_certificate(s, metered.op2, cid, "op1", "op2", 1, now=NOW)
    # one it never held reads like an unknown id; once it has held some, it learns it holds 0 Wh
    with session_scope(metered.factory) as s, pytest.raises(NotVisibleError, match=f"certificate '{cid}' does not"):
        transfer_certificate(s, metered.op2, cid, "op2", "op1", 1, now=NOW)
    with session_scope(metered.factory) as s:
        transfer_certificate(s, metered.op1, cid, "op1", "op2", 1, now=NOW)
        transfer_certificate(s, metered.op2, cid, "op2", "op1", 1, now=NOW)
    with session_scope(metered.factory) as s, pytest.raises(ConflictError, match="'op2' transfers 1 Wh but holds 0"):
        transfer_certificate(s, metered.op2, cid, "op2", "op1", 1, now=NOW)
    for who in (metered.grid, metered.regulator):
        with session_scope(metered.factory) as s, pytest.raises(PermissionDenied):
            retire_certificate(s, who, cid, "op1", 1, beneficiary="x", claim="y", now=NOW)
    with metered.factory() as s, pytest.raises(NotVisibleError):
        list_holdings(s, metered.op2, holder="op1")
    with session_scope(metered.factory) as s, pytest.raises(PermissionDenied):
        issue_certificates(s, metered.op1, "S1", T0, T0 + H, SHARES, now=NOW)


def test_a_certificate_is_visible_to_every_operator_that_held_it_and_only_its_part(metered: World) -> None:
    cid = issue(metered)[0]
    with metered.factory() as s:
        total = get_certificate(s, metered.op1, cid).held_wh
        with pytest.raises(NotVisibleError, match=f"certificate '{cid}' does not exist"):
            get_certificate(s, metered.op2, cid)
    with session_scope(metered.factory) as s:
        transfer_certificate(s, metered.op1, cid, "op1", "op2", total, now=NOW)  # all of it
        retire_certificate(s, metered.op2, cid, "op2", 1, beneficiary="b", claim="c", now=NOW)
    with metered.factory() as s:
        sold = get_certificate(s, metered.op1, cid)  # op1 sold it all: still its history, nobody else's part
        assert sold.holdings == [] and sold.retirements == []
        bought = get_certificate(s, metered.op2, cid)
        assert [(h.holder, h.volume_wh) for h in bought.holdings] == [("op2", total - 1)] and bought.retired_wh == 1
        everything = get_certificate(s, metered.regulator, cid)
        assert everything.held_wh + everything.retired_wh == total
        with pytest.raises(NotFoundError, match="certificate 'GC-999-0' does not exist"):
            get_certificate(s, metered.regulator, "GC-999-0")
        with pytest.raises(PermissionDenied):
            get_certificate(s, principal("ven", "v1", "op1", "S1"), cid)


def test_hostile_moves_are_refused(metered: World) -> None:
    cid = issue(metered)[0]
    with session_scope(metered.factory) as s:
        sites.create_operator(s, metered.regulator, "op3", "Unlicensed")
    cases: list[tuple[type[Exception], str, str, str, object]] = [
        (ConflictError, cid, "op1", "op3", 1),  # recipient holds no licence
        (NotFoundError, cid, "op1", "nobody", 1),
        (NotFoundError, "GC-999-0", "op1", "op2", 1),
        (InputError, cid, "op1", "op2", 0),
        (InputError, cid, "op1", "op2", -5),
        (InputError, cid, "op1", "op2", 1.5),
        (InputError, cid, "op1", "op1", 1),
    ]
    for error, certificate, source, target, volume in cases:
        with session_scope(metered.factory) as s, pytest.raises(error):
            transfer_certificate(s, SYSTEM, certificate, source, target, volume, now=NOW)  # type: ignore[arg-type]
    with session_scope(metered.factory) as s, pytest.raises(InputError, match="claim"):
        retire_certificate(s, metered.op1, cid, "op1", 1, beneficiary="op1", claim="  ", now=NOW)
    with session_scope(metered.factory) as s, pytest.raises(InputError, match="at most 2000"):
        retire_certificate(s, metered.op1, cid, "op1", 1, beneficiary="op1", claim="x" * 2001, now=NOW)
    assert sum(holdings(metered, "op1").values()) == sum(
        c.volume_wh for c in load_book(metered.factory()).certificates.values()
    )


def test_an_unlicensed_site_operator_gets_no_certificates(world: World) -> None:
    with session_scope(world.factory) as s:
        sites.create_operator(s, world.regulator, "op3", "Unlicensed")
        sites.create_site(s, world.grid, site_id="S3", operator_id="op3", zone="LESCO", kind="mining", connection_mw=5)
    ingest(world, ("S3", T0, T0 + H, 1000))
    with session_scope(world.factory) as s, pytest.raises(ConflictError, match="no active licence"):
        issue_certificates(s, world.grid, "S3", T0, T0 + H, SHARES, now=NOW)
    with session_scope(world.factory) as s, pytest.raises(NotFoundError):
        issue_certificates(s, world.grid, "nowhere", T0, T0 + H, SHARES, now=NOW)
    with session_scope(world.factory) as s, pytest.raises(InputError, match="not after"):
        issue_certificates(s, world.grid, "S1", T0, T0, SHARES, now=NOW)


def test_a_forged_issuance_in_the_database_is_refused(metered: World) -> None:
    """An issuance entry rewritten in place (bytes and leaf hash) no longer replays."""
    import hashlib
    import json

    issue(metered)
    with session_scope(metered.factory) as s:
        entry = s.execute(select(LedgerEntry).where(LedgerEntry.kind == ISSUE)).scalar_one()
        body = json.loads(entry.data)
        body["certificates"][0]["volume_wh"] *= 2
        entry.data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        entry.leaf_hash = hashlib.sha256(b"\x00" + entry.data).digest()
    with metered.factory() as s, pytest.raises(ConflictError, match="over-claim"):
        list_holdings(s, principal("regulator", "reg2"))


def test_a_rolled_back_write_leaves_no_trace_in_the_book(metered: World) -> None:
    """The replay kept between writes holds only committed entries."""
    cid = issue(metered)[0]
    before = holdings(metered, "op1")
    with pytest.raises(RuntimeError, match="abort"), session_scope(metered.factory) as s:
        transfer_certificate(s, metered.op1, cid, "op1", "op2", before[cid], now=NOW)
        assert {h.holder for h in list_holdings(s, SYSTEM) if h.certificate.id == cid} == {"op2"}
        raise RuntimeError("abort")
    assert holdings(metered, "op1") == before and holdings(metered, "op2") == {}
    with session_scope(metered.factory) as s:
        transfer_certificate(s, metered.op1, cid, "op1", "op2", before[cid], now=NOW)
    assert holdings(metered, "op2") == {cid: before[cid]}
