"""What the regulator's violations page shows, each with its evidence.

- **Over-draw**: intervals whose metered energy passed the cap in force beyond the contract's
  tolerance, from the reconciliation of each site's readings against the ledger
  (:func:`offtake.billing.reconcile.reconcile_site`).
- **Drawn without an active licence**: intervals the reconciliation marks as violations.
- **Ignoring caps**: sites the live driver flagged (audit ``dispatch.cap_ignored``) and flagged
  sites ordered off the grid in an emergency (``dispatch.disconnect_ordered``), with the
  intervals the rule saw.

Every row names the ledger entries that hold its evidence; the page links each to its
inclusion proof. Nothing here decides anything: the rules are those of billing and of the
live driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from offtake.api.console.views import local_time
from offtake.billing.reconcile import IntervalCheck, reconcile_site
from offtake.errors import OfftakeError
from offtake.identity.principal import Principal
from offtake.ledger.encoding import parse_time
from offtake.live.compliance import DISCONNECT_ACTION, FLAG_ACTION
from offtake.persistence.schema import AuditEvent
from offtake.registry.sites import list_sites
from offtake.units import MICRO_USD_PER_USD, W_PER_MW, WH_PER_MWH

__all__ = ["ViolationsView", "violations_view"]

#: Longest period the page reconciles at once [days].
MAX_DAYS = 31


@dataclass
class ViolationsView:
    """Over-draw, unlicensed draw and cap-ignoring flags over a period, with evidence."""

    start: str
    end: str
    days: int
    sites_checked: int = 0
    overdraw: list[dict[str, Any]] = field(default_factory=list)
    unlicensed: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _interval_row(site_id: str, operator_id: str, check: IntervalCheck) -> dict[str, Any]:
    return {
        "site_id": site_id,
        "operator_id": operator_id,
        "interval": f"{local_time(check.interval_start)} – {local_time(check.interval_end)[11:]}",
        "energy_mwh": check.energy_wh / WH_PER_MWH,
        "allowed_mwh": check.allowed_wh / WH_PER_MWH,
        "over_mwh": check.overdraw_wh / WH_PER_MWH,
        "penalty_usd": round(check.penalty_micro_usd) / MICRO_USD_PER_USD,
        "cap_source": check.cap_source,
        "contract_id": check.contract_id or "",
        "reason": check.violation or "",
        "seqs": list(check.ledger_seqs),
    }


def _flag_row(event: AuditEvent) -> dict[str, Any]:
    detail = event.detail or {}
    intervals = []
    for row in detail.get("intervals", []):
        try:
            start = local_time(parse_time(str(row["interval_start"])))
            values = [int(row[k]) / W_PER_MW for k in ("cap_w", "mean_draw_w", "allowed_w")]
        except (KeyError, TypeError, ValueError):
            continue  # an event written by an older rule: shown with its ledger entry only
        intervals.append({"start": start, "cap_mw": values[0], "draw_mw": values[1], "allowed_mw": values[2]})
    return {
        "site_id": event.object_id,
        "operator_id": event.operator_id or "",
        "action": "ignoring caps" if event.action == FLAG_ACTION else "ordered off in an emergency",
        "at": local_time(event.at),
        "by": event.client_id,
        "seq": event.ledger_seq,
        "intervals": intervals,
        "emergencies": ", ".join(str(e) for e in detail.get("emergencies", [])),
    }


def violations_view(session: Session, principal: Principal, now: datetime, days: int) -> ViolationsView:
    """Gather the violations of the last ``days`` days (1 to :data:`MAX_DAYS`) before ``now``."""
    days = max(1, min(MAX_DAYS, days))
    start = now - timedelta(days=days)
    view = ViolationsView(local_time(start), local_time(now), days)
    for site in list_sites(session, principal):
        try:
            checked = reconcile_site(session, principal, site.id, start, now)
        except OfftakeError as exc:
            view.problems.append(f"{site.id}: {exc}")
            continue
        view.sites_checked += 1
        for check in checked.intervals:
            if check.violation is not None:
                view.unlicensed.append(_interval_row(site.id, site.operator_id, check))
            elif check.overdraw_wh > 0:
                view.overdraw.append(_interval_row(site.id, site.operator_id, check))
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action.in_((FLAG_ACTION, DISCONNECT_ACTION)), AuditEvent.object_type == "site")
        .order_by(AuditEvent.id.desc())
    )
    view.flags = [_flag_row(e) for e in events]
    return view
