"""The single ingest path: duplicates, conflicts, refusals, access, atomic batches, ledger."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from platform_fixtures import T0, World, principal
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from offtake.errors import InputError, OfftakeError, PermissionDenied
from offtake.identity.principal import Principal
from offtake.ledger import (
    IngestResult,
    MeterReading,
    ReadingsConflict,
    ReadingsRejected,
    ingest_many,
    ingest_readings,
    merkle,
    store,
)
from offtake.ledger.encoding import decode_entry
from offtake.persistence.db import session_scope, writer_lock
from offtake.persistence.group_commit import GroupCommit
from offtake.persistence.schema import LedgerEntry, Reading

H = timedelta(hours=1)


def r(
    site: str = "S1",
    start: datetime = T0,
    hours: float = 1,
    wh: int = 40_000_000,
    meter: str = "m1",
) -> MeterReading:
    return MeterReading(site, meter, start, start + timedelta(hours=hours), wh)


def count(world: World, model: type) -> int:
    with world.factory() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def ingest(world: World, who: Principal, readings: Iterable[MeterReading]) -> IngestResult:
    with session_scope(world.factory) as s:
        return ingest_readings(s, who, readings)


def test_accepts_then_deduplicates_and_ledgers(world: World) -> None:
    before = count(world, LedgerEntry)
    res = ingest(world, world.op1, [r(start=T0 + i * H) for i in range(3)])
    assert (res.accepted, res.duplicates) == (3, 0)
    assert [i.seq for i in res.items] == [before, before + 1, before + 2]
    again = ingest(world, world.op1, [r(start=T0 + H), r(start=T0 + 3 * H)])
    assert [i.status for i in again.items] == ["duplicate", "accepted"]
    assert again.items[0].seq == before + 1
    assert count(world, Reading) == 4
    with world.factory() as s:
        entry = store.get_entry(s, before)
        body = decode_entry(entry.data)
        assert body == {
            "seq": before,
            "kind": "reading",
            "site": "S1",
            "meter": "m1",
            "start": "2025-07-01T00:00:00Z",
            "end": "2025-07-01T01:00:00Z",
            "energy_wh": 40_000_000,
            "operator": "op1",
            "by": "c-op1",
            "at": body["at"],
        }
        assert entry.leaf_hash == merkle.leaf_hash(entry.data)


def test_same_reading_twice_in_one_batch_is_stored_once(world: World) -> None:
    res = ingest(world, world.grid, [r(), r()])
    assert [i.status for i in res.items] == ["accepted", "duplicate"]
    assert res.items[0].seq == res.items[1].seq
    assert count(world, Reading) == 1


def test_conflicting_reading_is_refused_with_the_reason(world: World) -> None:
    ingest(world, world.op1, [r()])
    with pytest.raises(ReadingsConflict) as info:
        ingest(world, world.op1, [r(wh=41_000_000)])
    assert "already has a reading" in str(info.value) and "40000000 Wh" in str(info.value)
    assert info.value.field == "readings[0].energy_wh"
    with pytest.raises(ReadingsConflict):
        ingest(world, world.op1, [r(hours=0.5, wh=10_000_000)])


@pytest.mark.parametrize(
    ("reading", "field", "words"),
    [
        (r(wh=-1), "energy_wh", ">= 0"),
        # A float where the type says int: the run-time check is what this case tests.
        (MeterReading("S1", "m1", T0, T0 + H, 1.5), "energy_wh", "integer"),  # type: ignore[arg-type]
        (
            MeterReading("S1", "m1", T0.replace(tzinfo=None), T0 + H, 1),
            "interval_start",
            "time zone",
        ),
        (MeterReading("S1", "m1", T0, T0, 1), "interval_end", "not after"),
        (r(site="nowhere"), "site_id", "not registered"),
        (r(wh=75_000_001), "energy_wh", "impossible"),
        (MeterReading("S1", "bad meter", T0, T0 + H, 1), "meter_id", "valid id"),
        (MeterReading("S1", "m1", T0, T0 + timedelta(days=32), 1), "interval_end", "longer than 31 days"),
    ],
)
def test_bad_readings_are_refused_naming_the_field(world: World, reading: MeterReading, field: str, words: str) -> None:
    with pytest.raises(ReadingsRejected) as info:
        ingest(world, world.grid, [r(start=T0 - 5 * H), reading])
    assert info.value.field == f"readings[1].{field}"
    assert words in info.value.problems[0].message
    assert count(world, Reading) == 0  # the whole batch is refused


def test_the_plausibility_bound_is_exactly_factor_times_connection(world: World) -> None:
    # S1 has 50 MW of connection: 1.5 x 50 MW x 1 h = 75 MWh is the most a reading may show.
    assert ingest(world, world.grid, [r(wh=75_000_000)]).accepted == 1


def test_overlaps_are_refused(world: World) -> None:
    ingest(world, world.op1, [r()])
    with pytest.raises(ReadingsRejected) as info:
        ingest(world, world.op1, [r(start=T0 + timedelta(minutes=30))])
    assert info.value.field == "readings[0].interval_start"
    assert "overlaps the stored reading" in str(info.value)
    with pytest.raises(ReadingsRejected) as info:
        ingest(world, world.op1, [r(start=T0 + 2 * H, hours=2), r(start=T0 + 3 * H)])
    assert "overlaps readings[0]" in str(info.value)
    # another meter of the same site may report the same interval
    assert ingest(world, world.op1, [r(meter="m2")]).accepted == 1


def test_operators_report_only_for_their_own_sites(world: World) -> None:
    with pytest.raises(PermissionDenied):
        ingest(world, world.op1, [r(site="S2")])
    with pytest.raises(PermissionDenied):
        ingest(world, world.op1, [r(site="unknown-site")])
    ven = principal("ven", "ven-s1", "op1", "S1")
    assert ingest(world, ven, [r()]).accepted == 1
    with pytest.raises(PermissionDenied):
        ingest(world, principal("ven", "ven-s1", "op1", "S1x"), [r(start=T0 + H)])
    with pytest.raises(PermissionDenied):
        ingest(world, world.regulator, [r(start=T0 + H)])
    assert count(world, Reading) == 1


def test_empty_batch_is_an_input_error(world: World) -> None:
    with pytest.raises(InputError):
        ingest(world, world.grid, [])


def test_times_are_stored_in_utc_from_any_offset(world: World) -> None:
    pkt = timezone(timedelta(hours=5))
    start = datetime(2025, 7, 1, 5, tzinfo=pkt)
    ingest(world, world.grid, [MeterReading("S1", "m1", start, start + H, 10)])
    with world.factory() as s:
        row = s.execute(select(Reading)).scalar_one()
    assert row.interval_start == T0 and row.interval_start.tzinfo is not None
    assert row.interval_start.utcoffset() == timedelta(0)


def test_ledger_proofs_from_the_database_verify(world: World) -> None:
    ingest(world, world.grid, [r(start=T0 + i * H, wh=1000 + i) for i in range(37)])
    with world.factory() as s:
        head = store.tree_head(s)
        rows = s.execute(select(LedgerEntry.data).order_by(LedgerEntry.seq)).scalars().all()
        assert head.root == merkle.root_from_leaf_hashes(merkle.leaf_hash(d) for d in rows)
        for seq in (0, 5, head.size - 1):
            proof = store.inclusion_proof(s, seq)
            assert merkle.verify_inclusion(
                bytes.fromhex(proof["leaf_hash"]),
                seq,
                head.size,
                [bytes.fromhex(p) for p in proof["path"]],
                head.root,
            )
        for first in (1, 7, 16, head.size):
            c = store.consistency_proof(s, first)
            assert merkle.verify_consistency(
                first,
                head.size,
                bytes.fromhex(c["first_root"]),
                head.root,
                [bytes.fromhex(p) for p in c["path"]],
            )
            assert store.tree_head(s, first).root.hex() == c["first_root"]


def test_concurrent_writers_get_gap_free_sequence_numbers(world: World) -> None:
    import threading

    errors: list[BaseException] = []

    def work(meter: str) -> None:
        try:
            for i in range(5):
                ingest(world, world.grid, [r(meter=meter, start=T0 + i * H, wh=1)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"m{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    with world.factory() as s:
        seqs = s.execute(select(LedgerEntry.seq).order_by(LedgerEntry.seq)).scalars().all()
        assert seqs == list(range(len(seqs)))
        head = store.tree_head(s)
        data = s.execute(select(LedgerEntry.data).order_by(LedgerEntry.seq)).scalars().all()
        assert head.root == merkle.root_from_leaf_hashes(merkle.leaf_hash(d) for d in data)
    assert count(world, Reading) == 20


def test_checkpoints_follow_the_cadence(world: World) -> None:
    from offtake.ledger.signing import Signer

    signer = Signer.generate()
    with session_scope(world.factory) as s:
        first = store.maybe_checkpoint(s, signer, every_entries=5, interval_s=3600, now=T0)
        assert first is not None and first.size == 10  # none yet: sign at once
        assert store.maybe_checkpoint(s, signer, every_entries=5, interval_s=3600, now=T0) is None
    ingest(world, world.grid, [r(start=T0 + i * H, wh=1) for i in range(4)])
    with session_scope(world.factory) as s:
        assert store.maybe_checkpoint(s, signer, every_entries=5, interval_s=3600, now=T0 + H / 2) is None
        late = store.maybe_checkpoint(s, signer, every_entries=5, interval_s=3600, now=T0 + 2 * H)
        assert late is not None and late.size == 14 and late.verify(signer.public_key)
    ingest(world, world.grid, [r(start=T0 + (10 + i) * H, wh=1) for i in range(5)])
    with session_scope(world.factory) as s:
        due = store.maybe_checkpoint(s, signer, every_entries=5, interval_s=3600, now=T0 + 2 * H)
        assert due is not None and due.size == 19
        assert [c.size for c in store.list_checkpoints(s)] == [10, 14, 19]


# ---------------------------------------------------------------------- deferred ledger writes


def _stored_tree_matches(world: World) -> None:
    """The stored entries, tree nodes and head agree, and the reading table mirrors the entries."""
    with world.factory() as s:
        head = store.tree_head(s)
        rows = s.execute(select(LedgerEntry.data).order_by(LedgerEntry.seq)).scalars().all()
        assert head.size == len(rows)
        assert head.root == merkle.root_from_leaf_hashes(merkle.leaf_hash(d) for d in rows)
        for seq in range(head.size):
            proof = store.inclusion_proof(s, seq)  # every stored node the proofs need is there
            assert proof["root"] == head.root.hex()
        readings = {
            (b["site"], b["meter"], b["start"], b["energy_wh"], e.seq)
            for e in s.execute(select(LedgerEntry).where(LedgerEntry.kind == "reading")).scalars()
            for b in [decode_entry(e.data)]
        }
        table = {
            (x.site_id, x.meter_id, x.interval_start.strftime("%Y-%m-%dT%H:%M:%SZ"), x.energy_wh, x.ledger_seq)
            for x in s.execute(select(Reading)).scalars()
        }
        assert table == readings


def test_deferred_writes_in_one_transaction_see_each_other_and_are_written_at_commit(world: World) -> None:
    before = count(world, LedgerEntry)
    with session_scope(world.factory) as s:
        first = ingest_readings(s, world.grid, [r(), r(start=T0 + H)], defer=True)
        assert [i.status for i in first.items] == ["accepted", "accepted"]
        assert first.ledger_size == before + 2
        # nothing is written yet: the next write of the transaction sees them all the same
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == before
        again = ingest_readings(s, world.grid, [r(start=T0 + H), r(start=T0 + 2 * H)], defer=True)
        assert [(i.status, i.seq) for i in again.items] == [("duplicate", before + 1), ("accepted", before + 2)]
        with pytest.raises(ReadingsConflict, match="already has a reading"):
            ingest_readings(s, world.grid, [r(wh=1)], defer=True)  # same start, other energy
        with pytest.raises(ReadingsRejected) as overlap:
            ingest_readings(s, world.grid, [r(start=T0 + H / 2)], defer=True)
        assert "overlaps" in overlap.value.problems[0].message
        # another site, and a later meter of the same site, are not confused with them
        other = ingest_readings(s, world.grid, [r(site="S2", wh=1000), r(meter="m2", wh=5)], defer=True)
        assert [i.status for i in other.items] == ["accepted", "accepted"]
    assert count(world, LedgerEntry) == before + 5
    assert count(world, Reading) == 5
    _stored_tree_matches(world)
    # once committed, the readings are the stored ones for every later check
    with pytest.raises(ReadingsConflict):
        ingest(world, world.grid, [r(start=T0 + 2 * H, wh=7)])


def test_a_writer_that_does_not_defer_finds_the_deferred_entries_written(world: World) -> None:
    before = count(world, LedgerEntry)
    with session_scope(world.factory) as s:
        ingest_readings(s, world.grid, [r()], defer=True)
        plain = ingest_readings(s, world.grid, [r(start=T0 + H)])  # flushes what was deferred first
        assert plain.items[0].seq == before + 1
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == before + 2
        appender = store.open_appender(s)
        assert not appender.pending and appender.unwritten_readings == []
        seq = appender.add("registry", {"change": "after"}, by="test", at=T0)
        appender.flush()
        assert seq == before + 2
    _stored_tree_matches(world)


def test_deferred_entries_are_lost_with_a_rollback_and_a_half_written_transaction_cannot_commit(
    world: World,
) -> None:
    before = count(world, LedgerEntry)
    with world.factory() as s:
        ingest_readings(s, world.grid, [r()], defer=True)
        s.rollback()
    assert count(world, LedgerEntry) == before and count(world, Reading) == 0
    with world.factory() as s:
        ingest_readings(s, world.grid, [r()], defer=True)
        store.open_appender(s, defer=True).add("registry", {"change": "half"}, by="test", at=T0)  # never finished
        with pytest.raises(RuntimeError, match="half-way"):
            s.commit()
        s.rollback()
    assert count(world, LedgerEntry) == before
    ingest(world, world.grid, [r()])  # the rolled-back readings were never stored
    _stored_tree_matches(world)


def test_a_group_commit_batch_checks_each_report_against_the_earlier_ones(world: World) -> None:
    engine = world.factory.kw["bind"]
    n = count(world, LedgerEntry)
    committer = GroupCommit(world.factory, lambda: writer_lock(engine))
    started, release = threading.Event(), threading.Event()

    def hold(session: Session) -> None:
        started.set()
        assert release.wait(20)

    def report(*readings: MeterReading) -> Any:
        return lambda session: ingest_readings(session, world.grid, readings, defer=True)

    try:
        committer.submit(hold)
        assert started.wait(20)
        batch = [
            committer.submit(report(r())),
            committer.submit(report(r(), r(start=T0 + H))),  # a retry of the first, and a new one
            committer.submit(report(r(site="S2", wh=1000))),
        ]
        release.set()
        results = [p.future.result(30) for p in batch]
        assert committer.commits == 2 and committer.writes == 4  # the held write, then the three together
        assert [[(i.status, i.seq) for i in res.items] for res in results] == [
            [("accepted", n)],
            [("duplicate", n), ("accepted", n + 1)],
            [("accepted", n + 2)],
        ]
        # a conflicting reading in a batch: refused alone, the others of its batch commit
        started.clear()
        release.clear()
        committer.submit(hold)
        assert started.wait(20)
        good = committer.submit(report(r(start=T0 + 2 * H)))
        bad = committer.submit(report(r(start=T0 + 2 * H, wh=5)))
        dup = committer.submit(report(r(start=T0 + 2 * H)))
        release.set()
        assert good.future.result(30).items[0].seq == n + 3
        with pytest.raises(ReadingsConflict):
            bad.future.result(30)
        assert dup.future.result(30).items[0].status == "duplicate"
    finally:
        committer.close()
    assert count(world, LedgerEntry) == n + 4 and count(world, Reading) == 4
    _stored_tree_matches(world)


def _random_requests(rng: random.Random, world: World) -> list[tuple[Principal, list[MeterReading]]]:
    """Batches from both operators and the grid: repeats, conflicts, overlaps, others' sites, impossible energy."""
    own = {world.op1: "S1", world.op2: "S2"}
    requests = []
    for _ in range(rng.randint(1, 7)):
        who = rng.choice([world.op1, world.op2, world.grid])
        batch = [
            r(
                site=own[who] if who in own and rng.random() < 0.85 else rng.choice(["S1", "S2"]),
                start=T0 + rng.randint(0, 3) * H / 2,
                hours=rng.choice([0.5, 0.5, 1.0]),
                wh=rng.choice([1_000, 1_000, 2_000, 10**12]),
                meter=rng.choice(["m1", "m1", "m2"]),
            )
            for _ in range(rng.randint(1, 3))
        ]
        requests.append((who, batch))
    return requests


def _outcome(result: IngestResult | Exception) -> Any:
    if isinstance(result, Exception):
        return type(result).__name__, str(result)
    return result.as_dict()


@pytest.mark.parametrize("seed", range(30))
def test_batches_ingested_together_meet_the_checks_they_would_meet_one_after_another(world: World, seed: int) -> None:
    """The peer: each batch ingested alone, in order, each in a savepoint that a refusal rolls back."""
    requests = _random_requests(random.Random(seed), world)
    with world.factory() as s:
        together = [_outcome(o) for o in ingest_many(s, requests, now=T0 + 10 * H)]
        stored_together = s.execute(select(LedgerEntry.data).order_by(LedgerEntry.seq)).scalars().all()
        s.rollback()
        alone = []
        for who, batch in requests:
            try:
                with s.begin_nested():
                    alone.append(_outcome(ingest_readings(s, who, batch, now=T0 + 10 * H)))
            except OfftakeError as exc:
                alone.append(_outcome(exc))
        stored_alone = s.execute(select(LedgerEntry.data).order_by(LedgerEntry.seq)).scalars().all()
        s.rollback()
    assert together == alone
    assert stored_together == stored_alone
