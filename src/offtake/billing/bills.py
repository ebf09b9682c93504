"""Monthly bills per site: energy × tariff plus over-draw penalties, USD and PKR, exact.

Amounts are integers: micro-USD for dollars and paisa (1/100 PKR) for rupees. Each line
groups the intervals under one contract (or one allocation tariff when no contract was in
force): ``energy_micro_usd = round(energy_wh × tariff_micro_usd_per_mwh / 10^6)``,
``penalty_micro_usd = round(Σ overdraw_wh × penalty_micro_usd_per_mwh / 10^6)``, and
``total_paisa = round(total_micro_usd × rate_micro_pkr_per_usd / 10^10)`` with the line's
exchange rate; rounding is half to even, once per line. A reading belongs to the month (in
the billing time zone) in which its interval starts.

A bill is computed from the ledger's first ``ledger.size`` entries and names that size, the
Merkle root over them and a digest of the reading entries it counts
(:func:`readings_digest`), so anyone holding an export can check it offline
(:func:`offtake.billing.verify.verify_bill`). Energy drawn without an active licence is
listed under ``violations`` and left out of the lines: it is never billed at the contract
rate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from offtake.billing.reconcile import reconcile_site
from offtake.errors import ConflictError, InputError, NotFoundError
from offtake.identity.principal import Principal
from offtake.ledger.encoding import format_time
from offtake.ledger.store import TreeHead, open_appender
from offtake.persistence.schema import Bill, Site
from offtake.registry.eligibility import SiteTimeline
from offtake.units import WH_PER_MWH

__all__ = [
    "BillLine",
    "MonthlyBill",
    "issue_bill",
    "list_bills",
    "month_bounds",
    "monthly_bill",
    "readings_digest",
]


def readings_digest(seqs: Iterable[int]) -> str:
    """SHA-256 (hex) of the sorted ledger sequence numbers, as decimal text joined by commas."""
    return hashlib.sha256(",".join(str(seq) for seq in sorted(seqs)).encode("ascii")).hexdigest()


def month_bounds(month: str, tz: str = "UTC") -> tuple[datetime, datetime]:
    """UTC start and end of calendar month ``YYYY-MM`` in time zone ``tz``."""
    try:
        year_text, month_text = month.split("-")
        year, number = int(year_text), int(month_text)
        if not 1 <= number <= 12 or len(year_text) != 4:
            raise ValueError
    except ValueError:
        raise InputError(f"'{month}' is not a month; expected YYYY-MM", field="month") from None
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone '{tz}'", field="tz") from None
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass
class BillLine:
    """Energy and penalties under one contract (or allocation tariff)."""

    contract_id: str | None
    tariff_micro_usd_per_mwh: int
    exchange_rate_micro_pkr_per_usd: int | None
    energy_wh: int = 0
    overdraw_wh: int = 0
    penalty_exact: Fraction = Fraction(0)
    intervals: int = 0

    @property
    def energy_micro_usd(self) -> int:
        """Energy charge [micro-USD]."""
        return round(Fraction(self.energy_wh * self.tariff_micro_usd_per_mwh, WH_PER_MWH))

    @property
    def penalty_micro_usd(self) -> int:
        """Over-draw penalty [micro-USD]."""
        return round(self.penalty_exact)

    @property
    def total_micro_usd(self) -> int:
        """Energy charge plus penalty [micro-USD]."""
        return self.energy_micro_usd + self.penalty_micro_usd

    @property
    def total_paisa(self) -> int | None:
        """Line total in paisa at the line's exchange rate, if one is known."""
        if self.exchange_rate_micro_pkr_per_usd is None:
            return None
        return round(Fraction(self.total_micro_usd * self.exchange_rate_micro_pkr_per_usd, 10**10))

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "contract_id": self.contract_id,
            "intervals": self.intervals,
            "energy_wh": self.energy_wh,
            "tariff_micro_usd_per_mwh": self.tariff_micro_usd_per_mwh,
            "energy_micro_usd": self.energy_micro_usd,
            "overdraw_wh": self.overdraw_wh,
            "penalty_micro_usd": self.penalty_micro_usd,
            "total_micro_usd": self.total_micro_usd,
            "exchange_rate_micro_pkr_per_usd": self.exchange_rate_micro_pkr_per_usd,
            "total_paisa": self.total_paisa,
        }


@dataclass
class MonthlyBill:
    """A site's bill for one month."""

    site_id: str
    operator_id: str
    month: str
    timezone: str
    period_start: datetime
    period_end: datetime
    ledger: TreeHead
    lines: list[BillLine] = field(default_factory=list)
    unbilled_wh: int = 0
    warnings: list[str] = field(default_factory=list)
    reading_seqs: list[int] = field(default_factory=list)
    violations: dict[str, list[int]] = field(default_factory=dict)

    @property
    def energy_wh(self) -> int:
        """Billed energy [Wh]."""
        return sum(line.energy_wh for line in self.lines)

    @property
    def overdraw_wh(self) -> int:
        """Over-draw [Wh]."""
        return sum(line.overdraw_wh for line in self.lines)

    @property
    def energy_micro_usd(self) -> int:
        """Energy charges [micro-USD]."""
        return sum(line.energy_micro_usd for line in self.lines)

    @property
    def penalty_micro_usd(self) -> int:
        """Penalties [micro-USD]."""
        return sum(line.penalty_micro_usd for line in self.lines)

    @property
    def total_micro_usd(self) -> int:
        """Amount due [micro-USD]."""
        return sum(line.total_micro_usd for line in self.lines)

    @property
    def total_paisa(self) -> int | None:
        """Amount due [paisa], if every line has an exchange rate."""
        amounts = [line.total_paisa for line in self.lines]
        if any(a is None for a in amounts):
            return None
        return sum(a for a in amounts if a is not None)

    def as_dict(self) -> dict[str, Any]:
        """JSON form; ``total_usd`` and ``total_pkr`` are decimal text of the exact integers."""
        paisa = self.total_paisa
        return {
            "site_id": self.site_id,
            "operator_id": self.operator_id,
            "month": self.month,
            "timezone": self.timezone,
            "period_start": format_time(self.period_start),
            "period_end": format_time(self.period_end),
            "energy_wh": self.energy_wh,
            "overdraw_wh": self.overdraw_wh,
            "energy_micro_usd": self.energy_micro_usd,
            "penalty_micro_usd": self.penalty_micro_usd,
            "total_micro_usd": self.total_micro_usd,
            "total_paisa": paisa,
            "total_usd": _decimal(self.total_micro_usd, 6),
            "total_pkr": None if paisa is None else _decimal(paisa, 2),
            "unbilled_wh": self.unbilled_wh,
            "violation_wh": sum(wh for _n, wh in self.violations.values()),
            "violations": [
                {"reason": reason, "intervals": n, "energy_wh": wh}
                for reason, (n, wh) in sorted(self.violations.items())
            ],
            "lines": [line.as_dict() for line in self.lines],
            "ledger": {"size": self.ledger.size, "root": self.ledger.root.hex()},
            "readings": {"count": len(self.reading_seqs), "sha256": readings_digest(self.reading_seqs)},
            "warnings": self.warnings,
        }


def _decimal(amount: int, places: int) -> str:
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10**places)
    return f"{sign}{whole}.{part:0{places}d}"


def monthly_bill(session: Session, principal: Principal, site_id: str, month: str, *, tz: str = "UTC") -> MonthlyBill:
    """Compute a site's bill for ``month`` (``YYYY-MM``) from its reconciled readings.

    Parameters
    ----------
    session
        Open session (read only).
    principal
        Caller (needs ``bills:read``; an operator only for its own sites).
    site_id
        The site.
    month
        Calendar month, ``YYYY-MM``.
    tz
        Time zone whose calendar month is billed (e.g. ``Asia/Karachi``).
    """
    principal.require_scope("bills:read")
    site = session.get(Site, site_id)
    if site is None:
        raise NotFoundError(f"site '{site_id}' does not exist")
    principal.require_site(site_id, site.operator_id)
    start, end = month_bounds(month, tz)
    reader = Principal(
        principal.client_id,
        principal.role,
        principal.operator_id,
        principal.scopes | {"readings:read"},
        principal.site_id,
    )
    reconciliation = reconcile_site(session, reader, site_id, start, end)
    timeline = SiteTimeline(session, site)
    bill = MonthlyBill(
        site_id, site.operator_id, month, tz, start, end, reconciliation.ledger, warnings=list(reconciliation.warnings)
    )
    lines: dict[tuple[str | None, int], BillLine] = {}
    for interval in reconciliation.intervals:
        bill.reading_seqs.extend(interval.ledger_seqs)
        if interval.violation is not None:
            count, wh = bill.violations.get(interval.violation, [0, 0])
            bill.violations[interval.violation] = [count + 1, wh + interval.energy_wh]
            continue
        contract = timeline.contract(interval.interval_start)
        if contract is not None:
            key: tuple[str | None, int] = (contract.id, contract.tariff_micro_usd_per_mwh)
            rate: int | None = contract.exchange_rate_micro_pkr_per_usd
        else:
            allocation = timeline.allocation(interval.interval_start)
            if allocation is None:
                bill.unbilled_wh += interval.energy_wh
                continue
            key, rate = (None, allocation.tariff_micro_usd_per_mwh), None
        line = lines.get(key)
        if line is None:
            line = lines[key] = BillLine(key[0], key[1], rate)
        line.energy_wh += interval.energy_wh
        line.overdraw_wh += interval.overdraw_wh
        line.penalty_exact += interval.penalty_micro_usd
        line.intervals += 1
    bill.lines = list(lines.values())
    if bill.unbilled_wh:
        bill.warnings.append(
            f"{bill.unbilled_wh} Wh drawn with neither a contract nor an allocation in force: not billed"
        )
    if any(line.exchange_rate_micro_pkr_per_usd is None for line in bill.lines):
        bill.warnings.append("energy billed at an allocation tariff has no contract exchange rate: no PKR total")
    return bill


def issue_bill(
    session: Session,
    principal: Principal,
    site_id: str,
    month: str,
    *,
    tz: str = "UTC",
    now: datetime | None = None,
) -> Bill:
    """Fix a month's bill: store it and append it to the ledger (once per site and month)."""
    principal.require_scope("bills:write")
    existing = session.execute(select(Bill).where(Bill.site_id == site_id, Bill.month == month)).scalar_one_or_none()
    if existing is not None:
        raise ConflictError(
            f"the {month} bill of site '{site_id}' was issued at {format_time(existing.issued_at)} "
            f"(ledger entry {existing.ledger_seq})",
            field="month",
        )
    now = now or datetime.now(UTC)
    bill = monthly_bill(session, principal, site_id, month, tz=tz)
    if bill.period_end > now:
        raise InputError(f"the month {month} is not over yet", field="month")
    content = bill.as_dict()
    appender = open_appender(session)
    seq = appender.add(
        "bill",
        {k: v for k, v in content.items() if k != "warnings"},
        by=principal.client_id,
        at=now,
        operator_id=bill.operator_id,
    )
    appender.flush()
    row = Bill(
        site_id=site_id,
        month=month,
        issued_at=now,
        total_micro_usd=bill.total_micro_usd,
        total_paisa=bill.total_paisa if bill.total_paisa is not None else -1,
        content=content,
        ledger_seq=seq,
    )
    session.add(row)
    session.flush()
    return row


def list_bills(session: Session, principal: Principal, site_id: str) -> list[Bill]:
    """Issued bills of a site, newest month first."""
    principal.require_scope("bills:read")
    site = session.get(Site, site_id)
    if site is None:
        raise NotFoundError(f"site '{site_id}' does not exist")
    principal.require_site(site_id, site.operator_id)
    return list(session.execute(select(Bill).where(Bill.site_id == site_id).order_by(Bill.month.desc())).scalars())
