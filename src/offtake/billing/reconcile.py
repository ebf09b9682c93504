"""Each interval's metered draw against the cap that was in force.

A site's readings are grouped by interval (the meters of a site are summed); for each
interval the *allowed* energy is the time integral of the cap in force: the dispatched
cap (:mod:`offtake.ledger.caps`) where one is recorded, elsewhere the site's power limit
(allocation or contract in force). A site whose licence was not active gets 0.

Readings and caps come from the ledger itself, at a stated size (the bill records it), and
the ``reading`` and ``cap`` tables are checked against them over the same range: a period
whose tables disagree with the ledger is refused (:class:`~offtake.ledger.integrity.LedgerIntegrityError`).

Energy drawn while the site's licence was not active (absent, suspended, expired) was
drawn all the same: it is reconciled with allowed energy 0 and flagged as a *violation*
with the reason, carries no contract penalty, and bills leave it out of their lines.

Over-draw follows the contract: drawing up to ``allowed × (1 + overdraw_tolerance)`` is
within tolerance; beyond that the whole excess over ``allowed`` is over-draw, charged at
``overdraw_penalty_usd_per_mwh`` on top of the tariff. All energies are integer Wh; the
allowed energy is rounded down to whole Wh; penalties are kept exact (as fractions of a
micro-USD) until a bill rounds them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from sqlalchemy.orm import Session

from offtake.errors import NotFoundError
from offtake.identity.principal import Principal
from offtake.ledger.encoding import format_time
from offtake.ledger.ingest import MAX_INTERVAL
from offtake.ledger.integrity import (
    LedgerCap,
    LedgerReading,
    check_caps_projection,
    check_readings_projection,
    ledger_caps,
    ledger_readings,
)
from offtake.ledger.store import TreeHead, tree_head
from offtake.persistence.schema import Site
from offtake.registry.eligibility import SiteTimeline
from offtake.timeutil import require_aware
from offtake.units import WH_PER_MWH

__all__ = ["IntervalCheck", "Reconciliation", "allowed_energy_wh", "reconcile_site"]


@dataclass(frozen=True)
class IntervalCheck:
    """One interval of a site: metered energy against the energy the cap allowed.

    Parameters
    ----------
    interval_start, interval_end
        The interval.
    energy_wh
        Metered energy, all meters of the site [Wh].
    allowed_wh
        Energy the cap in force allowed [Wh].
    overdraw_wh
        Energy drawn above the cap, counted when beyond the tolerance [Wh].
    cap_source
        ``cap`` (dispatched), ``limit`` (allocation or contract), ``mixed`` or
        ``ineligible`` (no active licence).
    contract_id
        Contract in force at the interval start, if any.
    penalty_micro_usd
        Over-draw penalty, exact [micro-USD].
    ledger_seqs
        Ledger entries of the readings.
    violation
        Why the site was not allowed to draw at all (no active licence), if so.
    """

    interval_start: datetime
    interval_end: datetime
    energy_wh: int
    allowed_wh: int
    overdraw_wh: int
    cap_source: str
    contract_id: str | None
    penalty_micro_usd: Fraction
    ledger_seqs: tuple[int, ...]
    violation: str | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON form (MWh for reading, integers for checking)."""
        return {
            "interval_start": format_time(self.interval_start),
            "interval_end": format_time(self.interval_end),
            "energy_wh": self.energy_wh,
            "allowed_wh": self.allowed_wh,
            "overdraw_wh": self.overdraw_wh,
            "overdraw_mwh": self.overdraw_wh / WH_PER_MWH,
            "cap_source": self.cap_source,
            "contract_id": self.contract_id,
            "penalty_micro_usd": round(self.penalty_micro_usd),
            "ledger_seqs": list(self.ledger_seqs),
            "violation": self.violation,
        }


@dataclass
class Reconciliation:
    """All intervals of a site over a period, with totals."""

    site_id: str
    start: datetime
    end: datetime
    ledger: TreeHead
    intervals: list[IntervalCheck] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def violations(self) -> list[IntervalCheck]:
        """Intervals drawn without an active licence."""
        return [i for i in self.intervals if i.violation is not None]

    @property
    def energy_wh(self) -> int:
        """Total metered energy [Wh]."""
        return sum(i.energy_wh for i in self.intervals)

    @property
    def overdraw_wh(self) -> int:
        """Total over-draw [Wh]."""
        return sum(i.overdraw_wh for i in self.intervals)

    @property
    def penalty_micro_usd(self) -> int:
        """Total penalty, rounded half to even [micro-USD]."""
        return round(sum((i.penalty_micro_usd for i in self.intervals), Fraction(0)))

    def as_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "site_id": self.site_id,
            "start": format_time(self.start),
            "end": format_time(self.end),
            "energy_wh": self.energy_wh,
            "overdraw_wh": self.overdraw_wh,
            "overdraw_mwh": self.overdraw_wh / WH_PER_MWH,
            "penalty_micro_usd": self.penalty_micro_usd,
            "intervals_over_cap": sum(1 for i in self.intervals if i.overdraw_wh > 0),
            "violations": len(self.violations),
            "violation_wh": sum(i.energy_wh for i in self.violations),
            "ledger_size": self.ledger.size,
            "ledger_root": self.ledger.root.hex(),
            "intervals": [i.as_dict() for i in self.intervals],
            "warnings": self.warnings,
        }


def allowed_energy_wh(
    timeline: SiteTimeline, caps: Sequence[LedgerCap], start: datetime, end: datetime
) -> tuple[int, str]:
    """Energy the caps in force allowed over ``[start, end)`` [Wh], and where it came from.

    Parameters
    ----------
    timeline
        The site's licence, allocation and contract history.
    caps
        Dispatched caps of the site, sorted by start, that may overlap the interval.
    start, end
        The interval.
    """
    if timeline.ineligibility(start) is not None:
        return 0, "ineligible"
    watt_seconds = Fraction(0)
    cursor = start
    sources = set()
    for cap in caps:
        if cap.interval_start >= end:
            break
        if cap.interval_end <= cursor:
            continue
        if cap.interval_start > cursor:
            gap_end = min(cap.interval_start, end)
            watt_seconds += timeline.limit_w(cursor) * Fraction((gap_end - cursor).total_seconds())
            sources.add("limit")
            cursor = gap_end
        overlap_end = min(cap.interval_end, end)
        if overlap_end > cursor:
            watt_seconds += cap.cap_w * Fraction((overlap_end - cursor).total_seconds())
            sources.add("cap")
            cursor = overlap_end
        if cursor >= end:
            break
    if cursor < end:
        watt_seconds += timeline.limit_w(cursor) * Fraction((end - cursor).total_seconds())
        sources.add("limit")
    source = sources.pop() if len(sources) == 1 else "mixed"
    return int(watt_seconds / 3600), source


def _ledger_rows(
    session: Session, site_id: str, start: datetime, end: datetime, size: int
) -> tuple[list[LedgerReading], list[LedgerCap]]:
    """Return the site's readings starting in ``[start, end)`` and the caps that may overlap them."""
    readings = ledger_readings(session, [site_id], start, end, size=size)
    check_readings_projection(session, readings, [site_id], start, end, size=size)
    if not readings:
        return readings, []
    last_end = max(r.interval_end for r in readings)
    caps = ledger_caps(session, [site_id], start - MAX_INTERVAL, last_end, size=size)
    check_caps_projection(session, caps, [site_id], start - MAX_INTERVAL, last_end, size=size)
    caps = sorted((c for c in caps if c.interval_end > start), key=lambda c: c.interval_start)
    return readings, caps


def reconcile_site(
    session: Session,
    principal: Principal,
    site_id: str,
    start: datetime,
    end: datetime,
    *,
    at: TreeHead | None = None,
) -> Reconciliation:
    """Reconcile a site's readings whose interval starts in ``[start, end)``.

    Parameters
    ----------
    session
        Open session (read only).
    principal
        Caller (needs ``readings:read``; an operator only for its own sites).
    site_id
        The site.
    start, end
        The period (aware).
    at
        The ledger state to reconcile (its first ``at.size`` entries); default: now.

    Raises
    ------
    LedgerIntegrityError
        The ledger or its reading or cap tables were altered (HTTP 409), naming the entry.
    """
    principal.require_scope("readings:read")
    start = require_aware(start, field="start")
    end = require_aware(end, field="end")
    site = session.get(Site, site_id)
    if site is None:
        raise NotFoundError(f"site '{site_id}' does not exist")
    principal.require_site(site_id, site.operator_id)
    head = at or tree_head(session)
    readings, caps = _ledger_rows(session, site_id, start, end, head.size)
    groups: dict[tuple[datetime, datetime], list[LedgerReading]] = defaultdict(list)
    for reading in readings:
        groups[(reading.interval_start, reading.interval_end)].append(reading)
    result = Reconciliation(site_id, start, end, head)
    timeline = SiteTimeline(session, site)
    previous_end: datetime | None = None
    cap_index = 0
    for (s, e), members in sorted(groups.items()):
        if previous_end is not None and s < previous_end:
            result.warnings.append(
                f"interval {format_time(s)} overlaps the previous one: the site's meters report on "
                "different intervals, so their sum is checked per interval"
            )
        previous_end = e if previous_end is None else max(previous_end, e)
        while cap_index < len(caps) and caps[cap_index].interval_end <= s:
            cap_index += 1
        result.intervals.append(_check_interval(timeline, caps[cap_index:], s, e, members))
    if result.violations:
        result.warnings.append(
            f"{len(result.violations)} interval(s), {sum(i.energy_wh for i in result.violations)} Wh, "
            "drawn without an active licence: a violation for the regulator, not billed at the contract rate"
        )
    return result


def _check_interval(
    timeline: SiteTimeline, caps: Sequence[LedgerCap], s: datetime, e: datetime, members: list[LedgerReading]
) -> IntervalCheck:
    allowed_wh, source = allowed_energy_wh(timeline, caps, s, e)
    energy_wh = sum(r.energy_wh for r in members)
    contract = timeline.contract(s)
    violation = timeline.ineligibility(s)
    overdraw_wh = 0
    penalty = Fraction(0)
    tolerance_bp = contract.overdraw_tolerance_bp if contract is not None else 0
    if energy_wh * 10_000 > allowed_wh * (10_000 + tolerance_bp):
        overdraw_wh = energy_wh - allowed_wh
        if contract is not None and violation is None:
            penalty = Fraction(overdraw_wh * contract.overdraw_penalty_micro_usd_per_mwh, WH_PER_MWH)
    return IntervalCheck(
        interval_start=s,
        interval_end=e,
        energy_wh=energy_wh,
        allowed_wh=allowed_wh,
        overdraw_wh=overdraw_wh,
        cap_source=source,
        contract_id=contract.id if contract is not None else None,
        penalty_micro_usd=penalty,
        ledger_seqs=tuple(sorted(r.seq for r in members)),
        violation=violation,
    )
