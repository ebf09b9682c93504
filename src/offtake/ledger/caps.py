"""Power caps in force per site and dispatch interval: stored, ledgered, looked up.

The dispatch core records every cap it sends with :func:`record_caps`; reconciliation
compares each reading with the caps in force over its interval. Where no cap is recorded,
the site's power limit applies (allocation or contract in force, 0 without an active
licence; see :mod:`offtake.registry.eligibility`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from offtake.errors import InputError
from offtake.identity.principal import Principal
from offtake.ledger.encoding import format_time
from offtake.ledger.ingest import (
    MAX_BATCH,
    MAX_INTERVAL,
    Problem,
    ReadingsConflict,
    ReadingsRejected,
    check_interval,
)
from offtake.ledger.integrity import ledger_caps
from offtake.ledger.store import open_appender
from offtake.persistence.schema import Cap, Site
from offtake.units import W_PER_MW, validate_id

__all__ = ["CapRecord", "CapsResult", "caps_between", "record_caps"]


@dataclass(frozen=True)
class CapRecord:
    """The most a site may draw over one dispatch interval.

    Parameters
    ----------
    site_id
        Registered site.
    interval_start, interval_end
        The dispatch interval (aware).
    cap_w
        The cap [W], an integer >= 0. Use :meth:`from_mw` to build one from MW.
    """

    site_id: str
    interval_start: datetime
    interval_end: datetime
    cap_w: int

    @classmethod
    def from_mw(cls, site_id: str, interval_start: datetime, interval_end: datetime, cap_mw: float) -> CapRecord:
        """Build a cap from a value in MW (rounded to whole watts)."""
        return cls(site_id, interval_start, interval_end, round(cap_mw * W_PER_MW))


@dataclass(frozen=True)
class CapsResult:
    """Outcome of :func:`record_caps`."""

    accepted: int
    duplicates: int
    ledger_size: int
    seqs: list[int]


def record_caps(
    session: Session,
    principal: Principal,
    caps: Iterable[CapRecord],
    *,
    now: datetime | None = None,
) -> CapsResult:
    """Store caps (grid operator / dispatch core), ledgering each new one.

    The same cap twice is stored once; another value for the same site and start is
    refused (409); overlapping intervals of one site are refused (422). The caller commits.
    """
    principal.require_scope("caps:write")
    batch = list(caps)
    if not batch:
        raise InputError("no caps given", field="caps")
    if len(batch) > MAX_BATCH:
        raise InputError(f"{len(batch)} caps in one batch; send at most {MAX_BATCH}", field="caps")
    now = now or datetime.now(UTC)
    problems: list[Problem] = []
    intervals = []
    for i, c in enumerate(batch):
        try:
            validate_id(c.site_id, "site_id")
        except InputError as exc:
            problems.append(Problem(i, "site_id", exc.message))
        if isinstance(c.cap_w, bool) or not isinstance(c.cap_w, int) or c.cap_w < 0:
            problems.append(Problem(i, "cap_w", f"cap must be an integer >= 0 W, got {c.cap_w!r}"))
        intervals.append(check_interval(i, c.interval_start, c.interval_end, problems))
    if problems:
        raise ReadingsRejected(problems, noun="caps")
    appender = open_appender(session)
    site_ids = sorted({c.site_id for c in batch})
    sites = {s.id: s for s in session.execute(select(Site).where(Site.id.in_(site_ids))).scalars()}
    for i, c in enumerate(batch):
        if c.site_id not in sites:
            problems.append(Problem(i, "site_id", f"site '{c.site_id}' is not registered"))
    if problems:
        raise ReadingsRejected(problems, noun="caps")
    lo = min(iv[0] for iv in intervals if iv)
    hi = max(iv[1] for iv in intervals if iv)
    stored: dict[str, list[tuple[datetime, datetime, int, int]]] = defaultdict(list)
    # the caps in the ledger itself, not in its projection table
    for row in ledger_caps(session, site_ids, lo - MAX_INTERVAL, hi, end_after=lo):
        stored[row.site_id].append((row.interval_start, row.interval_end, row.cap_w, row.seq))
    conflicts: list[Problem] = []
    seqs: list[int] = [-1] * len(batch)
    new: list[int] = []
    spans: dict[str, list[tuple[datetime, datetime, int]]] = defaultdict(list)
    for i, c in enumerate(batch):
        start, end = intervals[i]  # type: ignore[misc]
        same = [s for s in stored[c.site_id] if s[0] == start]
        if same:
            s = same[0]
            if s[1] == end and s[2] == c.cap_w:
                seqs[i] = s[3]
            else:
                conflicts.append(
                    Problem(
                        i,
                        "cap_w",
                        f"site '{c.site_id}' already has a cap of {s[2]} W "
                        f"from {format_time(start)} "
                        f"to {format_time(s[1])} (ledger entry {s[3]}); refusing {c.cap_w} W",
                    )
                )
            continue
        problems.extend(
            Problem(
                i,
                "interval_start",
                f"overlaps the stored cap from {format_time(s[0])} to {format_time(s[1])}",
            )
            for s in stored[c.site_id]
            if s[0] < end and start < s[1]
        )
        for other_start, other_end, j in spans[c.site_id]:
            if other_start < end and start < other_end:
                if (other_start, other_end) == (start, end) and batch[j].cap_w == c.cap_w:
                    seqs[i] = -2 - j
                    break
                problems.append(Problem(i, "interval_start", f"overlaps caps[{j}] of the same site"))
        else:
            spans[c.site_id].append((start, end, i))
            new.append(i)
    if problems:
        raise ReadingsRejected(problems, noun="caps")
    if conflicts:
        raise ReadingsConflict(conflicts, noun="caps")
    rows = []
    for i in new:
        c = batch[i]
        start, end = intervals[i]  # type: ignore[misc]
        operator_id = sites[c.site_id].operator_id
        seqs[i] = appender.add(
            "cap",
            {
                "site": c.site_id,
                "start": format_time(start),
                "end": format_time(end),
                "cap_w": c.cap_w,
                "operator": operator_id,
            },
            by=principal.client_id,
            at=now,
            operator_id=operator_id,
            key=(c.site_id, start, end),
        )
        rows.append(
            {
                "site_id": c.site_id,
                "interval_start": start,
                "interval_end": end,
                "cap_w": c.cap_w,
                "recorded_at": now,
                "by_client": principal.client_id,
                "ledger_seq": seqs[i],
            }
        )
    for i, seq in enumerate(seqs):
        if seq <= -2:
            seqs[i] = seqs[-2 - seq]
    head = appender.flush()
    if rows:
        session.execute(insert(Cap), rows)
    return CapsResult(accepted=len(rows), duplicates=len(batch) - len(rows), ledger_size=head.size, seqs=seqs)


def caps_between(session: Session, site_id: str, start: datetime, end: datetime) -> list[Cap]:
    """Caps of ``site_id`` overlapping ``[start, end)``, by start."""
    query = (
        select(Cap)
        .where(Cap.site_id == site_id, Cap.interval_start < end, Cap.interval_end > start)
        .order_by(Cap.interval_start)
    )
    return list(session.execute(query).scalars())
