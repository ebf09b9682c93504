"""Readings and caps read from the ledger itself, and the tables that project them checked.

The ``reading`` and ``cap`` tables are projections of ledger entries, kept for listing and
for the queries of the live driver. Duplicate and conflict checks, reconciliation and bills
rest on the ledger: :func:`ledger_readings` and :func:`ledger_caps` find a site's entries
through the key columns of ``ledger_entry`` and check every entry they return against its
leaf hash and its key against its hashed bytes. :func:`check_readings_projection` and
:func:`check_caps_projection` compare a projection table with those entries over the same
range and refuse (:class:`LedgerIntegrityError`, HTTP 409) when a row was edited, removed or
added, naming the row and the entry.

What the database alone cannot show (an entry whose bytes, leaf hash and tree nodes were all
rewritten; a ledger rolled back to an earlier state) is caught against the signed
checkpoints: the witness log (:mod:`offtake.ledger.witness`) and an offline export.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from offtake.errors import ConflictError
from offtake.ledger.encoding import format_time, from_us, to_us
from offtake.persistence.schema import Cap, LedgerEntry, Reading

__all__ = [
    "LedgerCap",
    "LedgerIntegrityError",
    "LedgerReading",
    "check_caps_projection",
    "check_leaf",
    "check_readings_projection",
    "ledger_caps",
    "ledger_readings",
]


class LedgerIntegrityError(ConflictError):
    """The database disagrees with the ledger's hashes or signed checkpoints (HTTP 409).

    Parameters
    ----------
    message
        What disagrees, naming the table row and the ledger entry.
    seq
        The ledger entry concerned, if one is.
    """

    def __init__(self, message: str, *, seq: int | None = None) -> None:
        self.seq = seq
        super().__init__(message, field=None if seq is None else f"ledger[{seq}]")


def check_leaf(seq: int, data: bytes, leaf_hash: bytes) -> None:
    """Refuse an entry whose bytes do not hash to its stored leaf hash."""
    if hashlib.sha256(b"\x00" + data).digest() != leaf_hash:
        raise LedgerIntegrityError(
            f"ledger entry {seq}: its bytes do not match its leaf hash; the database was altered",
            seq=seq,
        )


@dataclass(frozen=True)
class LedgerReading:
    """A reading as its ledger entry holds it (times UTC, energy [Wh])."""

    seq: int
    site_id: str
    meter_id: str
    interval_start: datetime
    interval_end: datetime
    energy_wh: int
    operator_id: str | None


@dataclass(frozen=True)
class LedgerCap:
    """A cap as its ledger entry holds it (times UTC, cap [W])."""

    seq: int
    site_id: str
    interval_start: datetime
    interval_end: datetime
    cap_w: int


def _entries(
    session: Session,
    kind: str,
    site_ids: Sequence[str],
    start_from: datetime,
    start_before: datetime,
    end_after: datetime | None,
    size: int | None,
) -> list[tuple[int, dict[str, Any], datetime, datetime]]:
    entry = LedgerEntry
    columns = (entry.seq, entry.data, entry.leaf_hash, entry.site_id, entry.start_us, entry.end_us)
    query = select(*columns).where(
        entry.kind == kind,
        entry.site_id.in_(list(site_ids)),
        entry.start_us >= to_us(start_from),
        entry.start_us < to_us(start_before),
    )
    if end_after is not None:
        query = query.where(entry.end_us > to_us(end_after))
    if size is not None:
        query = query.where(entry.seq < size)
    out = []
    for seq, data, leaf, site, start_us, end_us in session.execute(query.order_by(entry.seq)).tuples():
        check_leaf(seq, data, leaf)
        start = None if start_us is None else from_us(start_us)
        end = None if end_us is None else from_us(end_us)
        body = json.loads(data)
        if (
            not isinstance(body, dict)
            or body.get("kind") != kind
            or body.get("seq") != seq
            or body.get("site") != site
            or start is None
            or end is None
            or body.get("start") != format_time(start)
            or body.get("end") != format_time(end)
        ):
            raise LedgerIntegrityError(
                f"ledger entry {seq}: its index columns (kind {kind}, site {site}, {_show(start)} to "
                f"{_show(end)}) disagree with its hashed bytes; the database was altered",
                seq=seq,
            )
        out.append((seq, body, start, end))
    return out


def ledger_readings(
    session: Session,
    site_ids: Sequence[str],
    start_from: datetime,
    start_before: datetime,
    *,
    end_after: datetime | None = None,
    size: int | None = None,
) -> list[LedgerReading]:
    """Return the readings in the ledger of ``site_ids`` starting in ``[start_from, start_before)``.

    Parameters
    ----------
    session
        Open session.
    site_ids
        The sites.
    start_from, start_before
        Bounds on the interval start, the first included (aware).
    end_after
        Only readings whose interval ends after this (aware), if given.
    size
        Only the first ``size`` entries of the ledger (the state a bill was computed at).

    Raises
    ------
    LedgerIntegrityError
        An entry does not match its leaf hash, or its index columns its bytes.
    """
    return [
        LedgerReading(
            seq,
            body["site"],
            body["meter"],
            start,
            end,
            int(body["energy_wh"]),
            body.get("operator"),
        )
        for seq, body, start, end in _entries(session, "reading", site_ids, start_from, start_before, end_after, size)
    ]


def ledger_caps(
    session: Session,
    site_ids: Sequence[str],
    start_from: datetime,
    start_before: datetime,
    *,
    end_after: datetime | None = None,
    size: int | None = None,
) -> list[LedgerCap]:
    """Return the caps in the ledger of ``site_ids`` starting in ``[start_from, start_before)``.

    See :func:`ledger_readings` for the parameters and the checks.
    """
    return [
        LedgerCap(seq, body["site"], start, end, int(body["cap_w"]))
        for seq, body, start, end in _entries(session, "cap", site_ids, start_from, start_before, end_after, size)
    ]


def _compare(
    table: str,
    rows: list[tuple[Any, ...]],
    wanted: dict[int, tuple[Any, ...]],
    fields: Sequence[str],
) -> None:
    """Compare projection rows ``(id, seq, *fields)`` with ledger values ``seq -> fields``."""
    seen: set[int] = set()
    for row_id, seq, *values in rows:
        expected = wanted.get(seq)
        if expected is None:
            raise LedgerIntegrityError(
                f"{table} row {row_id} names ledger entry {seq}, which holds no such {table} "
                "in this range: the row was added or altered",
                seq=seq,
            )
        for name, got, want in zip(fields, values, expected, strict=True):
            if got != want:
                raise LedgerIntegrityError(
                    f"{table} row {row_id} differs from ledger entry {seq}: {name} is "
                    f"{_show(got)} in the table and {_show(want)} in the ledger",
                    seq=seq,
                )
        seen.add(seq)
    missing = sorted(set(wanted) - seen)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise LedgerIntegrityError(
            f"the {table} table lacks the row of ledger entry {missing[0]}{more}: rows were deleted",
            seq=missing[0],
        )


def _show(value: Any) -> str:
    return format_time(value) if isinstance(value, datetime) else repr(value)


def check_readings_projection(
    session: Session,
    readings: Sequence[LedgerReading],
    site_ids: Sequence[str],
    start_from: datetime,
    start_before: datetime,
    *,
    size: int | None = None,
) -> None:
    """Refuse when the ``reading`` table disagrees with ``readings`` over the same range.

    ``readings`` are what :func:`ledger_readings` returned for the same sites, bounds and
    size (without ``end_after``).
    """
    query = select(
        Reading.id,
        Reading.ledger_seq,
        Reading.site_id,
        Reading.meter_id,
        Reading.interval_start,
        Reading.interval_end,
        Reading.energy_wh,
    ).where(
        Reading.site_id.in_(list(site_ids)),
        Reading.interval_start >= start_from,
        Reading.interval_start < start_before,
    )
    if size is not None:
        query = query.where(Reading.ledger_seq < size)
    wanted = {r.seq: (r.site_id, r.meter_id, r.interval_start, r.interval_end, r.energy_wh) for r in readings}
    fields = ("site_id", "meter_id", "interval_start", "interval_end", "energy_wh")
    _compare("reading", [tuple(row) for row in session.execute(query)], wanted, fields)


def check_caps_projection(
    session: Session,
    caps: Sequence[LedgerCap],
    site_ids: Sequence[str],
    start_from: datetime,
    start_before: datetime,
    *,
    size: int | None = None,
) -> None:
    """Refuse when the ``cap`` table disagrees with ``caps`` over the same range."""
    query = select(Cap.id, Cap.ledger_seq, Cap.site_id, Cap.interval_start, Cap.interval_end, Cap.cap_w).where(
        Cap.site_id.in_(list(site_ids)),
        Cap.interval_start >= start_from,
        Cap.interval_start < start_before,
    )
    if size is not None:
        query = query.where(Cap.ledger_seq < size)
    wanted = {c.seq: (c.site_id, c.interval_start, c.interval_end, c.cap_w) for c in caps}
    fields = ("site_id", "interval_start", "interval_end", "cap_w")
    _compare("cap", [tuple(row) for row in session.execute(query)], wanted, fields)
