"""A tampered database or export is found and located, on SQLite and PostgreSQL.

Each case changes the database (or an export) the way someone with write access could:
edits, removals, swaps, truncation at and between checkpoints, header and checkpoint-line
edits, rollback and fork, and edits of the projection tables (readings, caps). Each must
be refused or reported, naming the row, entry or line.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from platform_fixtures import T0, World
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from offtake.billing.bills import issue_bill, monthly_bill
from offtake.billing.reconcile import reconcile_site
from offtake.billing.verify import verify_bill
from offtake.ledger import CapRecord, MeterReading, ReadingsConflict, ingest_readings, merkle, record_caps
from offtake.ledger.export import export_ledger, verify_export
from offtake.ledger.integrity import LedgerIntegrityError
from offtake.ledger.signing import Signer
from offtake.ledger.store import entries, get_entry, inclusion_proof, make_checkpoint, tree_head
from offtake.ledger.witness import CheckpointLog, LedgerForkError, check_witnessed, read_known_checkpoints
from offtake.persistence.db import session_scope
from offtake.persistence.schema import Cap, Checkpoint, LedgerEntry, LedgerHead, MerkleNode, Reading
from offtake.registry import contracts

H = timedelta(hours=1)
MWH = 1_000_000


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    signer = Signer.generate()
    signer.witness = CheckpointLog(tmp_path / "data" / "ledger-checkpoints.log")
    return signer


@pytest.fixture
def metered(world: World, signer: Signer) -> World:
    """A contract, 24 hourly readings and 2 caps of S1 in July 2025, and two witnessed checkpoints."""
    with session_scope(world.factory) as s:
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
        record_caps(s, world.grid, [CapRecord.from_mw("S1", T0 + i * H, T0 + (i + 1) * H, 30) for i in range(2)])
        ingest_readings(
            s, world.grid, [MeterReading("S1", "m1", T0 + i * H, T0 + (i + 1) * H, 20 * MWH) for i in range(12)]
        )
    with session_scope(world.factory) as s:
        assert make_checkpoint(s, signer) is not None
        ingest_readings(
            s, world.grid, [MeterReading("S1", "m1", T0 + i * H, T0 + (i + 1) * H, 20 * MWH + i) for i in range(12, 24)]
        )
    with session_scope(world.factory) as s:
        assert make_checkpoint(s, signer) is not None
    return world


def seq_of(factory: sessionmaker[Session], hour: int) -> int:
    with factory() as s:
        return int(s.execute(select(Reading.ledger_seq).where(Reading.interval_start == T0 + hour * H)).scalar_one())


def bill_error(world: World) -> LedgerIntegrityError:
    with world.factory() as s, pytest.raises(LedgerIntegrityError) as info:
        monthly_bill(s, world.regulator, "S1", "2025-07")
    with world.factory() as s, pytest.raises(LedgerIntegrityError):
        reconcile_site(s, world.regulator, "S1", T0, T0 + 24 * H)
    return info.value


# ------------------------------------------------------------------ projection tables


def test_an_edited_reading_row_is_refused_naming_row_and_entry(metered: World) -> None:
    seq = seq_of(metered.factory, 5)
    with session_scope(metered.factory) as s:
        s.execute(update(Reading).where(Reading.ledger_seq == seq).values(energy_wh=1))
    error = bill_error(metered)
    assert error.seq == seq and f"ledger entry {seq}" in error.message and "energy_wh is 1" in error.message


def test_a_deleted_reading_row_is_refused_and_cannot_be_contradicted(metered: World) -> None:
    seq = seq_of(metered.factory, 7)
    with session_scope(metered.factory) as s:
        s.execute(delete(Reading).where(Reading.ledger_seq == seq))
    error = bill_error(metered)
    assert error.seq == seq and "lacks the row" in error.message
    # the duplicate and conflict checks rest on the ledger: the contradicting reading is refused
    with session_scope(metered.factory) as s, pytest.raises(ReadingsConflict) as info:
        ingest_readings(s, metered.grid, [MeterReading("S1", "m1", T0 + 7 * H, T0 + 8 * H, 1)])
    assert f"ledger entry {seq}" in info.value.problems[0].message


def test_an_added_reading_row_is_refused(metered: World) -> None:
    with metered.factory() as s:
        cap_seq = s.execute(select(Cap.ledger_seq)).scalars().first()
    with session_scope(metered.factory) as s:
        s.add(
            Reading(
                site_id="S1",
                meter_id="m9",
                interval_start=T0,
                interval_end=T0 + H,
                energy_wh=MWH,
                recorded_at=T0,
                by_client="x",
                ledger_seq=cap_seq,
            )
        )
    error = bill_error(metered)
    assert error.seq == cap_seq and "holds no such reading" in error.message


def test_edited_and_deleted_cap_rows_are_refused(metered: World) -> None:
    with metered.factory() as s:
        first, second = s.execute(select(Cap.ledger_seq).order_by(Cap.interval_start)).scalars().all()
    with session_scope(metered.factory) as s:
        s.execute(update(Cap).where(Cap.ledger_seq == first).values(cap_w=10**12))
    error = bill_error(metered)
    assert error.seq == first and "cap_w" in error.message
    with session_scope(metered.factory) as s:
        s.execute(update(Cap).where(Cap.ledger_seq == first).values(cap_w=30 * MWH))
        s.execute(delete(Cap).where(Cap.ledger_seq == second))
    assert bill_error(metered).seq == second


# ------------------------------------------------------------------ ledger entries


def test_an_edited_entry_is_refused_before_it_is_served_or_billed(metered: World) -> None:
    seq = seq_of(metered.factory, 3)
    with session_scope(metered.factory) as s:
        data = s.execute(select(LedgerEntry.data).where(LedgerEntry.seq == seq)).scalar_one()
        s.execute(
            update(LedgerEntry)
            .where(LedgerEntry.seq == seq)
            .values(data=data.replace(b'"energy_wh":', b'"energy_wh":9'))
        )
    with metered.factory() as s:
        for call in (
            lambda: get_entry(s, seq),
            lambda: entries(s, 0, 100),
            lambda: inclusion_proof(s, seq),
            lambda: monthly_bill(s, metered.regulator, "S1", "2025-07"),
        ):
            with pytest.raises(LedgerIntegrityError, match=f"ledger entry {seq}"):
                call()


def test_an_entry_rewritten_with_its_leaf_hash_is_found_by_proofs_and_export(
    metered: World, signer: Signer, tmp_path: Path
) -> None:
    seq = seq_of(metered.factory, 2)
    with session_scope(metered.factory) as s:
        data = s.execute(select(LedgerEntry.data).where(LedgerEntry.seq == seq)).scalar_one()
        forged = data.replace(b'"energy_wh":20000000', b'"energy_wh":10000000')
        assert forged != data
        s.execute(
            update(LedgerEntry).where(LedgerEntry.seq == seq).values(data=forged, leaf_hash=merkle.leaf_hash(forged))
        )
    with metered.factory() as s:
        with pytest.raises(LedgerIntegrityError, match=f"ledger entry {seq}"):
            inclusion_proof(s, seq)
        with pytest.raises(LedgerIntegrityError, match=r"entries 0\.\.") as info:
            export_ledger(s, tmp_path / "x.txt", signer)
    assert info.value.seq == 0 and not (tmp_path / "x.txt").exists()


def test_swapped_entries_are_located(metered: World) -> None:
    a, b = seq_of(metered.factory, 4), seq_of(metered.factory, 5)
    with session_scope(metered.factory) as s:
        rows = {
            r.seq: (r.data, r.leaf_hash)
            for r in s.execute(select(LedgerEntry).where(LedgerEntry.seq.in_((a, b)))).scalars()
        }
        for seq, other in ((a, b), (b, a)):
            s.execute(
                update(LedgerEntry).where(LedgerEntry.seq == seq).values(data=rows[other][0], leaf_hash=rows[other][1])
            )
    with metered.factory() as s, pytest.raises(LedgerIntegrityError, match=f"ledger entry {a}"):
        monthly_bill(s, metered.regulator, "S1", "2025-07")


def test_a_removed_entry_is_located(metered: World, signer: Signer, tmp_path: Path) -> None:
    seq = seq_of(metered.factory, 9)
    with session_scope(metered.factory) as s:
        s.execute(delete(LedgerEntry).where(LedgerEntry.seq == seq))
    with metered.factory() as s:
        with pytest.raises(LedgerIntegrityError, match=f"ledger entry {seq} is missing"):
            get_entry(s, seq)
        with pytest.raises(LedgerIntegrityError, match=f"lacks ledger entry {seq}"):
            export_ledger(s, tmp_path / "x.txt", signer)
        with pytest.raises(LedgerIntegrityError, match=f"{seq}"):  # its reading row names it
            monthly_bill(s, metered.regulator, "S1", "2025-07")


def test_a_moved_entry_key_is_found(metered: World) -> None:
    seq = seq_of(metered.factory, 11)
    with session_scope(metered.factory) as s:
        s.execute(update(LedgerEntry).where(LedgerEntry.seq == seq).values(site_id="S2"))
    assert bill_error(metered).seq == seq  # the S1 reading row names an entry S1 no longer finds
    with metered.factory() as s, pytest.raises(LedgerIntegrityError, match="index columns"):
        reconcile_site(s, metered.regulator, "S2", T0, T0 + 24 * H)


# ------------------------------------------------------------------ rollback and fork


def rollback(factory: sessionmaker[Session], size: int) -> None:
    """Put the database back to its first ``size`` entries, as a restored backup would."""
    with session_scope(factory) as s:
        nodes = s.execute(select(MerkleNode.level, MerkleNode.index)).all()
        for level, index in nodes:
            if (index + 1) << level > size:
                s.execute(delete(MerkleNode).where(MerkleNode.level == level, MerkleNode.index == index))
        s.execute(delete(LedgerEntry).where(LedgerEntry.seq >= size))
        s.execute(delete(Reading).where(Reading.ledger_seq >= size))
        s.execute(delete(Cap).where(Cap.ledger_seq >= size))
        s.execute(delete(Checkpoint).where(Checkpoint.size > size))
        s.execute(update(LedgerHead).values(size=size))


def test_rollback_and_fork_are_refused_at_start_and_before_signing(metered: World, signer: Signer) -> None:
    assert signer.witness is not None
    log = signer.witness.all()
    assert [c.size for c in log] == sorted(c.size for c in log) and len(log) == 2
    first, last = log
    rollback(metered.factory, first.size)
    with pytest.raises(
        LedgerForkError, match=rf"holds {first.size} entries .*ledger-checkpoints.log:2.* covers {last.size}"
    ):
        check_witnessed(metered.factory, signer)
    # the ledger grows again along another history: a fork of the same size or larger
    with session_scope(metered.factory) as s:
        ingest_readings(
            s, metered.grid, [MeterReading("S1", "m1", T0 + i * H, T0 + (i + 1) * H, 7) for i in range(12, 30)]
        )
    with session_scope(metered.factory) as s:
        assert tree_head(s).size > last.size
        with pytest.raises(LedgerForkError, match="rewritten or forked; refusing to sign"):
            make_checkpoint(s, signer)
        assert s.execute(select(Checkpoint.size).order_by(Checkpoint.size.desc())).scalars().first() == first.size
    assert len(signer.witness.all()) == 2  # nothing signed


def test_an_export_of_a_rolled_back_database_is_refused_or_caught_by_known_checkpoints(
    metered: World, signer: Signer, tmp_path: Path
) -> None:
    assert signer.witness is not None
    known_file = signer.witness.path
    first, last = signer.witness.all()
    rollback(metered.factory, first.size)
    with metered.factory() as s, pytest.raises(LedgerForkError):
        export_ledger(s, tmp_path / "x.txt", signer)  # the server's own log refuses it
    # a server that lost its log exports it; the regulator's copy of the checkpoints catches it
    blind = Signer(signer._key)
    with metered.factory() as s:
        export_ledger(s, tmp_path / "x.txt", blind)
    assert verify_export(tmp_path / "x.txt", signer.public_key).ok
    known = read_known_checkpoints(str(known_file))
    report = verify_export(tmp_path / "x.txt", signer.public_key, known=known)
    assert [(f.kind, f.first_seq, f.last_seq) for f in report.findings] == [("rollback", first.size, last.size - 1)]
    # and after a fork, the root at the known size differs
    with session_scope(metered.factory) as s:
        ingest_readings(
            s, metered.grid, [MeterReading("S1", "m1", T0 + i * H, T0 + (i + 1) * H, 7) for i in range(12, 30)]
        )
    with metered.factory() as s:
        export_ledger(s, tmp_path / "y.txt", blind)
    report = verify_export(tmp_path / "y.txt", signer.public_key, known=known)
    assert [(f.kind, f.first_seq, f.last_seq) for f in report.findings] == [("fork", 0, last.size - 1)]
    assert report.findings[0].line is not None


# ------------------------------------------------------------------ export files


@pytest.fixture
def export_lines(metered: World, signer: Signer, tmp_path: Path) -> tuple[Path, list[str]]:
    path = tmp_path / "ledger.txt"
    with metered.factory() as s:
        export_ledger(s, path, signer, checkpoint_every=8)
    return path, path.read_text().splitlines(keepends=True)


def findings(path: Path, lines: list[str], signer: Signer) -> list[tuple[str, int | None]]:
    path.write_text("".join(lines))
    return [(f.kind, f.line) for f in verify_export(path, signer.public_key).findings]


def test_header_and_checkpoint_line_edits_break_the_trailer(
    export_lines: tuple[Path, list[str]], signer: Signer
) -> None:
    path, lines = export_lines
    assert findings(path, lines, signer) == []
    trailer = len(lines)
    header = lines[0].replace('"exported_at":"', '"exported_at":"1')
    assert findings(path, [header, *lines[1:]], signer) == [("signature", trailer)]
    c = next(i for i, line in enumerate(lines) if line.startswith("C\t") and '"origin":"export"' in line)
    edited = [*lines[:c], lines[c].replace('"origin":"export"', '"origin":"ledger"'), *lines[c + 1 :]]
    assert findings(path, edited, signer) == [("signature", trailer)]


def test_truncation_at_and_between_checkpoints(export_lines: tuple[Path, list[str]], signer: Signer) -> None:
    path, lines = export_lines
    c = max(i for i, line in enumerate(lines) if line.startswith("C\t"))
    # cut right after a signed checkpoint
    assert findings(path, lines[: c + 1], signer) == [("truncated", c + 1)]
    # ... and the checkpoint made into a trailer, the header's size edited to match
    body = json.loads(lines[c][2:])
    header = json.loads(lines[0].split("\t", 2)[2])
    header["size"] = body["size"]
    first = "\t".join([*lines[0].split("\t", 2)[:2], json.dumps(header, sort_keys=True, separators=(",", ":"))]) + "\n"
    forged = [first, *lines[1:c], "T" + lines[c][1:]]
    assert findings(path, forged, signer) == [("signature", c + 1)]
    # cut between checkpoints
    e = c - 2
    assert lines[e].startswith("E\t")
    assert findings(path, lines[:e], signer)[0][0] == "truncated"


def test_a_bill_verifies_offline_and_a_doctored_one_does_not(metered: World, signer: Signer, tmp_path: Path) -> None:
    export = tmp_path / "l.txt"
    with session_scope(metered.factory) as s:
        bill = issue_bill(s, metered.grid, "S1", "2025-07").content
    with metered.factory() as s:
        export_ledger(s, export, signer)
    check = verify_bill(bill, export, signer.public_key)
    assert check.ok, check.problems
    assert check.readings == 24 and check.issued_entry is not None and bill["lines"]
    assert check.energy_wh == bill["energy_wh"] + bill["unbilled_wh"] + bill["violation_wh"]

    def problems(**changes: object) -> list[str]:
        return verify_bill(dict(bill, **changes), export, signer.public_key).problems

    assert any("accounts for" in p for p in problems(energy_wh=bill["energy_wh"] - 1))
    assert any("root" in p for p in problems(ledger={"size": bill["ledger"]["size"], "root": "00" * 32}))
    assert any("fewer than" in p for p in problems(ledger={"size": 10**6, "root": bill["ledger"]["root"]}))
    line = dict(bill["lines"][0], energy_micro_usd=bill["lines"][0]["energy_micro_usd"] + 1)
    found = problems(lines=[line])
    assert any("lines[0].energy_micro_usd" in p for p in found)
    assert any("holds another 2025-07 bill" in p for p in found)  # no longer the ledgered bill
