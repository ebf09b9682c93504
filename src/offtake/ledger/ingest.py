"""The single ingest path for meter readings.

REST endpoints and OpenADR reports both call :func:`ingest_readings`, so every reading
meets one set of checks.

Checks, in order (a batch is accepted or refused as a whole):

1. shape: ``site_id`` and ``meter_id`` are ids; ``interval_start`` and ``interval_end`` are
   aware datetimes with end after start and at most :data:`MAX_INTERVAL` apart; ``energy_wh`` is an integer >= 0 → else
   :class:`ReadingsRejected` (422) naming ``readings[i].field``;
2. access: the caller holds ``readings:write`` and may act for the site → else
   :class:`~offtake.errors.PermissionDenied` (403);
3. the site is registered → else 422 on ``site_id``;
4. the energy is possible: at most ``max_power_factor`` times the site's connection
   capacity (or, when none is registered, the allocation or contract in force) over the
   interval → else 422 on ``energy_wh``. Draw above the cap but below this bound is
   accepted and priced as over-draw by reconciliation;
5. against stored readings of the same site and meter: the same interval with the same
   energy is a duplicate (stored once, reported with its ledger entry); the same start with
   another end or energy is a conflict → :class:`ReadingsConflict` (409) with the reason; an
   interval that overlaps another → 422 on ``interval_start``.

Accepted readings are appended to the ledger and stored in one transaction, which the
caller commits (before acknowledging).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from offtake.errors import ConflictError, InputError, OfftakeError, PermissionDenied
from offtake.identity.principal import Principal
from offtake.ledger.bounds import load_bounds
from offtake.ledger.encoding import format_time
from offtake.ledger.integrity import ledger_readings
from offtake.ledger.store import Appender, open_appender
from offtake.persistence.schema import Allocation, Contract, Site
from offtake.units import validate_id

__all__ = [
    "MAX_BATCH",
    "MAX_INTERVAL",
    "IngestResult",
    "ItemResult",
    "MeterReading",
    "Problem",
    "ReadingsConflict",
    "ReadingsRejected",
    "ingest_many",
    "ingest_readings",
]

_MICROSECOND = timedelta(microseconds=1)

#: Longest interval one reading (or cap) may cover: a monthly meter read at most [s].
MAX_INTERVAL = timedelta(days=31)

#: Largest number of readings in one batch.
MAX_BATCH = 100_000

#: Largest energy one reading may carry [Wh] (a signed 64-bit column).
_MAX_WH = 2**63 - 1


@dataclass(frozen=True)
class MeterReading:
    """Metered energy of one meter of a site over one interval.

    Parameters
    ----------
    site_id
        Registered site.
    meter_id
        The meter at the site (a site may have several).
    interval_start, interval_end
        The interval, aware datetimes (converted to UTC).
    energy_wh
        Energy drawn over the interval [Wh], an integer.
    """

    site_id: str
    meter_id: str
    interval_start: datetime
    interval_end: datetime
    energy_wh: int


@dataclass(frozen=True)
class Problem:
    """Why one reading of a batch was refused."""

    index: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"index": self.index, "field": self.field, "message": self.message}


class ReadingsRejected(InputError):
    """Some readings of a batch are invalid (HTTP 422); nothing of the batch was stored."""

    def __init__(self, problems: Sequence[Problem], *, noun: str = "readings") -> None:
        self.problems = list(problems)
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(first.message + more, field=f"{noun}[{first.index}].{first.field}")


class ReadingsConflict(ConflictError):
    """Some readings contradict readings already accepted (HTTP 409); nothing was stored."""

    def __init__(self, problems: Sequence[Problem], *, noun: str = "readings") -> None:
        self.problems = list(problems)
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(first.message + more, field=f"{noun}[{first.index}].{first.field}")


@dataclass(frozen=True)
class ItemResult:
    """Outcome of one reading: ``accepted`` or ``duplicate``, and its ledger entry."""

    index: int
    status: str
    seq: int


@dataclass
class IngestResult:
    """Outcome of a batch."""

    accepted: int
    duplicates: int
    ledger_size: int
    items: list[ItemResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "ledger_size": self.ledger_size,
            "items": [{"index": i.index, "status": i.status, "seq": i.seq} for i in self.items],
        }


def check_interval(index: int, start: object, end: object, problems: list[Problem]) -> tuple[datetime, datetime] | None:
    """Check an interval's bounds; return them in UTC or record problems."""
    ok = True
    for name, value in (("interval_start", start), ("interval_end", end)):
        if not isinstance(value, datetime):
            problems.append(Problem(index, name, f"expected an ISO 8601 time with offset, got {value!r}"))
            ok = False
        elif value.tzinfo is None or value.utcoffset() is None:
            problems.append(
                Problem(
                    index,
                    name,
                    f"naive time {value.isoformat()} has no time zone; add 'Z' or an offset",
                )
            )
            ok = False
    if not ok:
        return None
    assert isinstance(start, datetime) and isinstance(end, datetime)
    try:
        start_utc = start if start.tzinfo is UTC else start.astimezone(UTC)
        end_utc = end if end.tzinfo is UTC else end.astimezone(UTC)
    except OverflowError:
        problems.append(Problem(index, "interval_start", "the interval lies outside the range of UTC times"))
        return None
    earliest = load_bounds().earliest_start
    if start_utc < earliest:
        problems.append(
            Problem(
                index,
                "interval_start",
                f"interval_start {format_time(start_utc)} is before {format_time(earliest)}, "
                "the earliest the programme meters (offtake/data/metering.toml); check the meter's clock",
            )
        )
        return None
    if end_utc <= start_utc:
        problems.append(
            Problem(
                index,
                "interval_end",
                f"interval_end {format_time(end_utc)} is not after interval_start {format_time(start_utc)}",
            )
        )
        return None
    if end_utc - start_utc > MAX_INTERVAL:
        problems.append(
            Problem(index, "interval_end", f"the interval is longer than {MAX_INTERVAL.days} days; split it")
        )
        return None
    return start_utc, end_utc


def _check_shape(
    index: int, reading: MeterReading, problems: list[Problem], latest_end: datetime
) -> tuple[datetime, datetime] | None:
    before = len(problems)
    for name in ("site_id", "meter_id"):
        try:
            validate_id(getattr(reading, name), name)
        except InputError as exc:
            problems.append(Problem(index, name, exc.message))
    energy = reading.energy_wh
    if isinstance(energy, bool) or not isinstance(energy, int):
        problems.append(Problem(index, "energy_wh", f"energy_wh must be an integer number of Wh, got {energy!r}"))
    elif energy < 0:
        problems.append(Problem(index, "energy_wh", f"energy_wh must be >= 0, got {energy}"))
    elif energy > _MAX_WH:
        problems.append(Problem(index, "energy_wh", f"energy_wh must be at most {_MAX_WH}, got {energy}"))
    interval = check_interval(index, reading.interval_start, reading.interval_end, problems)
    if interval is not None and interval[1] > latest_end:
        problems.append(
            Problem(
                index,
                "interval_end",
                f"interval_end {format_time(interval[1])} is in the future (server time "
                f"{format_time(latest_end - load_bounds().clock_skew)}, clock skew allowed "
                f"{load_bounds().clock_skew.total_seconds():g} s); report an interval once it is over",
            )
        )
    return interval if len(problems) == before else None


def _basis_w(session: Session, sites: dict[str, Site]) -> dict[str, list[tuple[datetime, datetime | None, int]]]:
    """Per site without a connection capacity: (from, until, W) periods of allocation or contract, newest first."""
    basis: dict[str, list[tuple[datetime, datetime | None, int]]] = defaultdict(list)
    ids = [site_id for site_id, site in sites.items() if site.connection_w is None]
    if not ids:  # a connection capacity bounds every site: no allocation or contract is consulted
        return basis
    for a in session.execute(
        select(Allocation.site_id, Allocation.valid_from, Allocation.allocated_w)
        .where(Allocation.site_id.in_(ids))
        .order_by(Allocation.valid_from.desc(), Allocation.id.desc())
    ):
        basis[a.site_id].append((a.valid_from, None, a.allocated_w))
    contracts: dict[str, list[tuple[datetime, datetime | None, int]]] = defaultdict(list)
    for c in session.execute(
        select(
            Contract.site_id,
            Contract.valid_from,
            Contract.valid_until,
            Contract.firm_w,
            Contract.interruptible_w,
        )
        .where(Contract.site_id.in_(ids))
        .order_by(Contract.valid_from.desc())
    ):
        contracts[c.site_id].append((c.valid_from, c.valid_until, c.firm_w + c.interruptible_w))
    for site_id, periods in contracts.items():
        basis[site_id].extend(periods)
    return basis


def _limit_w(site: Site, periods: list[tuple[datetime, datetime | None, int]], at: datetime) -> int | None:
    if site.connection_w is not None:
        return site.connection_w
    for start, until, watts in periods:
        if start <= at and (until is None or at < until):
            return watts
    return None


def _check_power(
    batch: Sequence[MeterReading],
    intervals: Sequence[tuple[datetime, datetime] | None],
    sites: dict[str, Site],
    basis: dict[str, list[tuple[datetime, datetime | None, int]]],
    factor: Fraction,
) -> list[Problem]:
    """Refuse readings of unknown sites and readings above what the site can physically draw."""
    problems: list[Problem] = []
    factor_num, factor_den = factor.numerator, factor.denominator
    for i, r in enumerate(batch):
        site = sites.get(r.site_id)
        interval = intervals[i]
        assert interval is not None
        if site is None:
            problems.append(Problem(i, "site_id", f"site '{r.site_id}' is not registered"))
            continue
        limit = _limit_w(site, basis.get(r.site_id, []), interval[0])
        if limit is None:
            problems.append(
                Problem(
                    i,
                    "site_id",
                    f"site '{r.site_id}' has no connection capacity and no contract or allocation in force "
                    f"at {format_time(interval[0])}: nothing bounds what it can draw; register its "
                    "connection capacity",
                )
            )
            continue
        duration_us = (interval[1] - interval[0]) // _MICROSECOND
        # energy_wh > factor x limit_w x duration / 3600 s, in integers
        if r.energy_wh * 3_600_000_000 * factor_den > factor_num * limit * duration_us:
            bound_wh = factor_num * limit * duration_us // (factor_den * 3_600_000_000)
            problems.append(
                Problem(
                    i,
                    "energy_wh",
                    f"{r.energy_wh} Wh in {duration_us / 1e6:g} s is impossible for site '{r.site_id}' "
                    f"(at most {bound_wh} Wh: {float(factor):g} x {limit / 1e6:g} MW)",
                )
            )
    return problems


#: The sites of a batch, a statement built once (building one costs more than running it).
_SITES = select(Site).where(Site.id.in_(bindparam("ids", expanding=True)))
_Intervals = Sequence[tuple[datetime, datetime] | None]
#: Columns of the ``reading`` projection, in the order of the rows written.
_READING_COLUMNS = (
    "site_id",
    "meter_id",
    "interval_start",
    "interval_end",
    "energy_wh",
    "recorded_at",
    "by_client",
    "ledger_seq",
)
#: Stored readings by (site, meter): (start, end, Wh, ledger entry).
_Stored = dict[tuple[str, str], list[tuple[datetime, datetime, int, int]]]
#: Stored readings by (site, meter, start): (end, Wh, ledger entry).
_StoredKey = dict[tuple[str, str, datetime], tuple[datetime, int, int]]
#: New readings by (site, meter): (start, end, index in the batch).
_Fresh = dict[tuple[str, str], list[tuple[datetime, datetime, int]]]


#: Requests of one call whose intervals lie this close are checked with one query [-].
_WINDOW_GAP = timedelta(days=1)


@dataclass
class _Request:
    """One caller's batch in :func:`ingest_many`, its shape checked."""

    index: int
    principal: Principal
    batch: list[MeterReading]
    intervals: list[tuple[datetime, datetime]]
    site_ids: list[str]

    @property
    def first_start(self) -> datetime:
        return min(iv[0] for iv in self.intervals)

    @property
    def last_end(self) -> datetime:
        return max(iv[1] for iv in self.intervals)


def _windows(requests: Sequence[_Request]) -> list[tuple[list[str], datetime, datetime]]:
    """Merge the requests' spans that lie close: (sites, first start, last end) per query."""
    windows: list[tuple[set[str], datetime, datetime]] = []
    for request in sorted(requests, key=lambda r: r.first_start):
        if windows and request.first_start <= windows[-1][2] + _WINDOW_GAP:
            sites, start, end = windows[-1]
            windows[-1] = (sites | set(request.site_ids), start, max(end, request.last_end))
        else:
            windows.append((set(request.site_ids), request.first_start, request.last_end))
    return [(sorted(sites), start, end) for sites, start, end in windows]


def _stored_readings(
    session: Session,
    requests: Sequence[_Request],
    unwritten: Sequence[tuple[str, str, datetime, datetime, int, int]] = (),
) -> tuple[_Stored, _StoredKey]:
    """Return the readings in the ledger that the requests may repeat, contradict or overlap, by meter and by key.

    ``unwritten`` are readings accepted earlier in the same transaction whose entries are not
    written yet (:meth:`~offtake.ledger.store.Appender.defer`): they count as stored.
    """
    stored: _Stored = defaultdict(list)
    stored_key: _StoredKey = {}
    for site_ids, min_start, max_end in _windows(requests):
        # bounded below so the key index is used, not the whole history
        rows = [
            (row.site_id, row.meter_id, row.interval_start, row.interval_end, row.energy_wh, row.seq)
            for row in ledger_readings(session, site_ids, min_start - MAX_INTERVAL, max_end, end_after=min_start)
        ]
        sites = set(site_ids)
        rows += [u for u in unwritten if u[0] in sites and u[2] < max_end and u[3] > min_start]
        for row in rows:
            _note_stored(stored, stored_key, row)
    return stored, stored_key


def _note_stored(stored: _Stored, stored_key: _StoredKey, row: tuple[str, str, datetime, datetime, int, int]) -> None:
    site_id, meter_id, start, end, energy_wh, seq = row
    if (site_id, meter_id, start) in stored_key:
        return  # the same reading seen by two windows or both stored and unwritten
    stored[(site_id, meter_id)].append((start, end, energy_wh, seq))
    stored_key[(site_id, meter_id, start)] = (end, energy_wh, seq)


def _classify(
    batch: Sequence[MeterReading],
    intervals: _Intervals,
    stored_key: _StoredKey,
) -> tuple[list[tuple[str, int]], list[Problem], _Fresh]:
    """Mark each reading new, duplicate (of an entry) or same (as an earlier one); list conflicts."""
    conflicts: list[Problem] = []
    status: list[tuple[str, int]] = [("new", -1)] * len(batch)
    first_in_batch: dict[tuple[str, str, datetime], int] = {}
    fresh: _Fresh = defaultdict(list)
    for i, r in enumerate(batch):
        start, end = intervals[i]  # type: ignore[misc]
        key = (r.site_id, r.meter_id, start)
        known = stored_key.get(key)
        if known is not None:
            if known[0] == end and known[1] == r.energy_wh:
                status[i] = ("duplicate", known[2])
            else:
                conflicts.append(
                    Problem(
                        i,
                        "energy_wh" if known[0] == end else "interval_end",
                        f"site '{r.site_id}' meter '{r.meter_id}' already has a reading "
                        f"from {format_time(start)} "
                        f"to {format_time(known[0])} of {known[1]} Wh (ledger entry {known[2]}); "
                        f"refusing {r.energy_wh} Wh to {format_time(end)}",
                    )
                )
            continue
        earlier = first_in_batch.get(key)
        if earlier is not None:
            e = batch[earlier]
            if intervals[earlier] == (start, end) and e.energy_wh == r.energy_wh:
                status[i] = ("same", earlier)
            else:
                conflicts.append(
                    Problem(
                        i,
                        "energy_wh",
                        f"conflicts with readings[{earlier}] for the same meter and start",
                    )
                )
            continue
        first_in_batch[key] = i
        fresh[(r.site_id, r.meter_id)].append((start, end, i))

    return status, conflicts, fresh


def _overlaps(
    batch: Sequence[MeterReading],
    fresh: _Fresh,
    stored: _Stored,
) -> list[Problem]:
    """Problems of new readings whose interval overlaps another of the same meter."""
    problems: list[Problem] = []
    for pair, pair_items in fresh.items():
        spans = [(s, e, -1, seq) for s, e, _wh, seq in stored.get(pair, [])]
        spans += [(s, e, i, -1) for s, e, i in pair_items]
        spans.sort(key=lambda t: (t[0], t[1]))
        reach: tuple[datetime, datetime, int, int] | None = None
        for span in spans:
            if reach is not None and span[0] < reach[1] and (span[2] >= 0 or reach[2] >= 0):
                index = span[2] if span[2] >= 0 else reach[2]
                other = reach if index == span[2] else span
                what = f"readings[{other[2]}]" if other[2] >= 0 else f"the stored reading (ledger entry {other[3]})"
                problems.append(
                    Problem(
                        index,
                        "interval_start",
                        f"interval {format_time(batch[index].interval_start.astimezone(UTC))} to "
                        f"{format_time(batch[index].interval_end.astimezone(UTC))} overlaps {what} "
                        f"from {format_time(other[0])} to {format_time(other[1])} "
                        f"for site '{pair[0]}' meter '{pair[1]}'",
                    )
                )
            if reach is None or span[1] > reach[1]:
                reach = span
    return problems


def ingest_readings(
    session: Session,
    principal: Principal,
    readings: Iterable[MeterReading],
    *,
    max_power_factor: Fraction | None = None,
    now: datetime | None = None,
    defer: bool = False,
) -> IngestResult:
    """Check and store meter readings, appending each new one to the ledger.

    Parameters
    ----------
    session
        Open session. Nothing is committed here: commit before acknowledging, roll back
        on any exception (the ledger stays locked until the transaction ends).
    principal
        Who reports (needs ``readings:write``; operators and VENs only for their sites).
    readings
        The readings, single or batch (at most :data:`MAX_BATCH`).
    max_power_factor
        A reading shows at most this multiple of the site's power basis over its
        interval [-]; default from ``offtake/data/metering.toml``.
    now
        Recording time (default now).
    defer
        Leave the ledger write to the end of the transaction (just before it commits), so
        that the writes of one group commit are written together; a later call in the same
        transaction checks its readings against these as against stored ones. Only where
        nothing else in the transaction reads the ledger tables in between.

    Returns
    -------
    IngestResult
        Per reading: accepted or duplicate, and its ledger sequence number.

    Raises
    ------
    ReadingsRejected
        Invalid readings (422), each named by index and field.
    ReadingsConflict
        Readings that contradict stored ones (409), with the reason.
    PermissionDenied
        The caller may not report for a site (403).
    """
    (outcome,) = ingest_many(
        session, [(principal, readings)], max_power_factor=max_power_factor, now=now, defer=defer
    )
    if isinstance(outcome, OfftakeError):
        raise outcome
    return outcome


def ingest_many(
    session: Session,
    requests: Sequence[tuple[Principal, Iterable[MeterReading]]],
    *,
    max_power_factor: Fraction | None = None,
    now: datetime | None = None,
    defer: bool = False,
) -> list[IngestResult | OfftakeError]:
    """Check and store several callers' batches in one transaction, each accepted or refused alone.

    Each batch meets the checks of :func:`ingest_readings` as if it came after the ones
    before it; the ledger is locked once, and the sites, power bases and stored readings of
    all of them are read together (one query each), so the lock is held for a few statements
    however many batches there are.

    Parameters
    ----------
    session, max_power_factor, now, defer
        As for :func:`ingest_readings`.
    requests
        Per batch: who reports, and the readings.

    Returns
    -------
    list of IngestResult or OfftakeError
        Per batch, in order: its result, or the error that refused it (nothing of it stored).
    """
    now = now or datetime.now(UTC)
    outcomes: list[IngestResult | OfftakeError | None] = [None] * len(requests)
    checked: list[_Request] = []
    for index, (principal, readings) in enumerate(requests):
        try:
            checked.append(_shaped(index, principal, list(readings), now))
        except OfftakeError as exc:
            outcomes[index] = exc
    if checked:
        appender = open_appender(session, defer=defer)  # locks the ledger: checks below see a settled state
        all_sites = sorted({site_id for request in checked for site_id in request.site_ids})
        sites = {s.id: s for s in session.execute(_SITES, {"ids": all_sites}).scalars()}
        basis = _basis_w(session, sites)
        factor = Fraction(max_power_factor if max_power_factor is not None else load_bounds().max_power_factor)
        # Duplicates, conflicts and overlaps, within each batch, against the readings in the
        # ledger itself (not its projection table, which a tampered database could lack) and
        # against the batches accepted before it.
        stored = _stored_readings(session, checked, appender.unwritten_readings)
        rows: list[tuple[Any, ...]] = []
        for request in checked:
            try:
                outcomes[request.index] = _append(appender, request, (sites, basis, factor), stored, now, rows)
            except OfftakeError as exc:
                outcomes[request.index] = exc
        appender.write_after("reading", _READING_COLUMNS, rows)
        if defer:
            appender.unwritten_readings.extend((r[0], r[1], r[2], r[3], r[4], r[7]) for r in rows)
            appender.defer()
        else:
            appender.flush()
    return [outcome for outcome in outcomes if outcome is not None]


def _shaped(index: int, principal: Principal, batch: list[MeterReading], now: datetime) -> _Request:
    """Check a batch's scope, size and each reading's shape (no database)."""
    principal.require_scope("readings:write")
    if not batch:
        raise InputError("no readings given", field="readings")
    if len(batch) > MAX_BATCH:
        raise InputError(f"{len(batch)} readings in one batch; send at most {MAX_BATCH}", field="readings")
    problems: list[Problem] = []
    latest_end = now + load_bounds().clock_skew
    intervals = [_check_shape(i, r, problems, latest_end) for i, r in enumerate(batch)]
    if problems:
        raise ReadingsRejected(problems)
    site_ids = sorted({r.site_id for r in batch})
    return _Request(index, principal, batch, [iv for iv in intervals if iv is not None], site_ids)


_Bounds = tuple[dict[str, Site], dict[str, list[tuple[datetime, datetime | None, int]]], Fraction]


def _append(
    appender: Appender,
    request: _Request,
    bounds: _Bounds,
    stored: tuple[_Stored, _StoredKey],
    now: datetime,
    rows: list[tuple[Any, ...]],
) -> IngestResult:
    """Check one batch against the sites and what is stored, then add its new readings to the ledger.

    Its accepted readings are added to ``stored`` (later batches see them) and their rows to
    ``rows``. Raises before adding anything when the batch is refused.
    """
    sites, basis, factor = bounds
    principal, batch, intervals = request.principal, request.batch, request.intervals
    for site_id in request.site_ids:
        site = sites.get(site_id)
        if site is not None:
            principal.require_site(site_id, site.operator_id)
        elif principal.is_operator_bound:
            raise PermissionDenied(f"site '{site_id}' is not a site of operator '{principal.operator_id}'")
    problems = _check_power(batch, intervals, sites, basis, factor)
    if problems:
        raise ReadingsRejected(problems)
    status, conflicts, fresh = _classify(batch, intervals, stored[1])
    problems = _overlaps(batch, fresh, stored[0])
    if problems:
        raise ReadingsRejected(sorted(problems, key=lambda p: p.index))
    if conflicts:
        raise ReadingsConflict(conflicts)

    items: list[ItemResult] = []
    by = principal.client_id
    at_text = format_time(now)
    texts: dict[datetime, str] = {}
    accepted = 0
    for i, r in enumerate(batch):
        kind, ref = status[i]
        if kind == "duplicate":
            items.append(ItemResult(i, "duplicate", ref))
            continue
        if kind == "same":
            items.append(ItemResult(i, "duplicate", items[ref].seq))
            continue
        start, end = intervals[i]
        operator_id = sites[r.site_id].operator_id
        seq = appender.add(
            "reading",
            {
                "site": r.site_id,
                "meter": r.meter_id,
                "start": texts.get(start) or texts.setdefault(start, format_time(start)),
                "end": texts.get(end) or texts.setdefault(end, format_time(end)),
                "energy_wh": r.energy_wh,
                "operator": operator_id,
            },
            by=by,
            at=at_text,
            operator_id=operator_id,
            checked=True,
            key=(r.site_id, start, end),
        )
        rows.append((r.site_id, r.meter_id, start, end, r.energy_wh, now, by, seq))
        _note_stored(*stored, (r.site_id, r.meter_id, start, end, r.energy_wh, seq))
        items.append(ItemResult(i, "accepted", seq))
        accepted += 1
    return IngestResult(accepted=accepted, duplicates=len(batch) - accepted, ledger_size=appender.size, items=items)
