"""What each console page shows, read through the domain functions as the viewer's principal.

Nothing here decides anything: it gathers what the registry, the live dispatch records, the
ledger and billing already hold, and converts units for display (MW, MWh, USD, PKR, Pakistan
time).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from offtake.billing.bills import monthly_bill
from offtake.identity.principal import Principal
from offtake.ledger import store as ledger_store
from offtake.live.curtailment import CurtailmentUse, curtailment_used
from offtake.live.records import effective_end, list_dispatch_caps, list_emergencies, list_rounds
from offtake.persistence.schema import DispatchRound, GridEmergency, LedgerEntry, Licence, Reading, Site
from offtake.registry.licences import list_licences
from offtake.registry.sites import list_sites
from offtake.timeutil import DISPLAY_TIMEZONE
from offtake.units import MICRO_USD_PER_USD, PAISA_PER_PKR, S_PER_H, W_PER_MW, WH_PER_MWH

__all__ = [
    "ControlRoom",
    "OperatorView",
    "RegulatorView",
    "change_marker",
    "control_room",
    "local_time",
    "operator_view",
    "regulator_view",
]

#: Time zone of every time the console shows.
DISPLAY_ZONE = ZoneInfo(DISPLAY_TIMEZONE)


def local_time(value: datetime | None) -> str:
    """Show an instant in Pakistan time, e.g. ``2025-01-06 17:05 PKT``; empty for None."""
    if value is None:
        return ""
    return value.astimezone(DISPLAY_ZONE).strftime("%Y-%m-%d %H:%M PKT")


def _mw(watts: int | None) -> float:
    return 0.0 if watts is None else watts / W_PER_MW


@dataclass
class ZoneRow:
    """One zone of the control-room picture [MW]."""

    zone: str
    budget_mw: float
    caps_mw: float = 0.0
    draw_mw: float = 0.0
    sites: int = 0
    emergency: bool = False


@dataclass
class SiteRow:
    """One site as the control room sees it in the latest round."""

    site_id: str
    operator_id: str
    zone: str
    kind: str
    allocation_mw: float
    cap_mw: float
    last_draw_mw: float
    reason: str
    licence_state: str
    note: str


@dataclass
class ControlRoom:
    """The national picture of the latest dispatch round."""

    interval: str = ""
    zones: list[ZoneRow] = field(default_factory=list)
    sites: list[SiteRow] = field(default_factory=list)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    emergencies: list[dict[str, Any]] = field(default_factory=list)
    national: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)


def control_room(session: Session, principal: Principal, now: datetime) -> ControlRoom:
    """Gather the control-room picture: zones, sites, recent rounds and emergencies in force."""
    view = ControlRoom()
    rounds = list_rounds(session, principal, limit=12)
    emergencies = [e for e in list_emergencies(session, principal) if effective_end(e) > now]
    view.emergencies = [_emergency_row(e) for e in emergencies]
    if not rounds:
        return view
    latest = rounds[0]
    view.interval = f"{local_time(latest.interval_start)} – {local_time(latest.interval_end)[11:]}"
    caps = list_dispatch_caps(session, principal, since=latest.interval_start, until=latest.interval_end)
    licence_state = _licence_states(session)
    zones = {z: ZoneRow(z, _mw(w)) for z, w in sorted(latest.detail.get("zone_budget_w", {}).items())}
    for e in emergencies:
        for z in zones.values():
            z.emergency = z.emergency or e.zone in (None, z.zone)
    sites = {s.id: s for s in session.scalars(select(Site))}
    for cap in caps:
        row = zones.setdefault(cap.zone, ZoneRow(cap.zone, 0.0))
        row.caps_mw += _mw(cap.cap_w)
        row.draw_mw += _mw(cap.last_draw_w)
        row.sites += 1
        site = sites.get(cap.site_id)
        view.sites.append(
            SiteRow(
                cap.site_id,
                cap.operator_id,
                cap.zone,
                cap.kind,
                _mw(cap.allocation_w),
                _mw(cap.cap_w),
                _mw(cap.last_draw_w),
                cap.reason,
                licence_state.get(site.licence_id or "", "none") if site else "unknown",
                cap.note,
            )
        )
    view.zones = list(zones.values())
    view.reasons = dict(Counter(s.reason for s in view.sites))
    view.national = {
        "budget_mw": sum(z.budget_mw for z in view.zones),
        "caps_mw": sum(z.caps_mw for z in view.zones),
        "draw_mw": sum(z.draw_mw for z in view.zones),
    }
    view.rounds = [_round_row(r) for r in rounds]
    return view


def _licence_states(session: Session) -> dict[str, str]:
    return {lic.id: lic.state for lic in session.scalars(select(Licence))}


def _round_row(r: DispatchRound) -> dict[str, Any]:
    return {
        "interval": local_time(r.interval_start),
        "sites": r.sites,
        "deferred_mw": _mw(r.deferred_w),
        "emergencies": len(r.detail.get("emergencies", [])),
        "notes": "; ".join(str(n) for n in r.detail.get("notes", [])),
        "published": "yes" if r.published_at else ("failed" if r.publish_error else "no"),
    }


def _emergency_row(e: GridEmergency) -> dict[str, Any]:
    return {
        "id": e.id,
        "scope": "national" if e.zone is None else e.zone,
        "message": e.message,
        "starts": local_time(e.starts_at),
        "ends": local_time(effective_end(e)),
        "declared_by": e.declared_by,
        "sites": len(e.site_ids or []),
    }


def change_marker(session: Session) -> str:
    """Return a short text that changes whenever a dispatch round or an emergency is recorded or cleared."""
    rounds = session.execute(select(func.max(DispatchRound.id), func.max(DispatchRound.published_at))).one()
    emergencies = session.execute(
        select(func.count(GridEmergency.id), func.max(GridEmergency.cleared_at), func.max(GridEmergency.starts_at))
    ).one()
    return "|".join(str(v) for v in (*rounds, *emergencies))


@dataclass
class RegulatorView:
    """Licences with their lifecycle, and the ledger's head and latest signed checkpoint."""

    licences: list[Licence]
    ledger_size: int
    ledger_root: str
    checkpoint: dict[str, Any] | None
    entries_by_kind: dict[str, int]
    sites: list[Site]
    key_id: str = ""


def regulator_view(session: Session, principal: Principal) -> RegulatorView:
    """Gather the regulator's page."""
    head = ledger_store.tree_head(session)
    latest = ledger_store.latest_checkpoint(session)
    checkpoint = None
    if latest is not None:
        checkpoint = {
            "size": latest.size,
            "root": latest.root.hex(),
            "signed": local_time(latest.signed_at),
            "key_id": latest.key_id,
        }
    kinds = dict(session.execute(select(LedgerEntry.kind, func.count()).group_by(LedgerEntry.kind)).all())
    return RegulatorView(
        licences=list_licences(session, principal),
        ledger_size=head.size,
        ledger_root=head.root.hex(),
        checkpoint=checkpoint,
        entries_by_kind={str(k): int(v) for k, v in kinds.items()},
        sites=list_sites(session, principal),
    )


@dataclass
class OperatorView:
    """An operator's own sites: caps now and ahead, metered draw, curtailment, licences and bills."""

    sites: list[Site]
    caps: dict[str, list[dict[str, Any]]]
    readings: dict[str, list[dict[str, Any]]]
    licences: list[Licence]
    curtailment: dict[str, CurtailmentUse] = field(default_factory=dict)


#: How far back the operator's cap table reaches.
CAPS_BACK = timedelta(hours=1)


def _when(start: datetime, end: datetime, now: datetime) -> str:
    return "ahead" if start > now else ("now" if end > now else "past")


def operator_view(
    session: Session, principal: Principal, now: datetime, *, readings_per_site: int = 12
) -> OperatorView:
    """Gather an operator's page (only what the principal may see): caps from an hour ago to the last dispatched."""
    own = list_sites(session, principal)
    caps: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for cap in reversed(list_dispatch_caps(session, principal, since=now - CAPS_BACK, until=now + CAPS_BACK)):
        caps[cap.site_id].append(
            {
                "interval": local_time(cap.interval_start),
                "when": _when(cap.interval_start, cap.interval_end, now),
                "ends": local_time(cap.interval_end)[11:],
                "cap_mw": _mw(cap.cap_w),
                "last_draw_mw": _mw(cap.last_draw_w),
                "reason": cap.reason,
            }
        )
    readings: dict[str, list[dict[str, Any]]] = {}
    for site in own:
        rows = session.scalars(
            select(Reading)
            .where(Reading.site_id == site.id)
            .order_by(Reading.interval_start.desc())
            .limit(readings_per_site)
        )
        readings[site.id] = [
            {
                "start": local_time(r.interval_start),
                "meter": r.meter_id,
                "energy_mwh": r.energy_wh / WH_PER_MWH,
                "mean_mw": r.energy_wh / WH_PER_MWH / ((r.interval_end - r.interval_start).total_seconds() / S_PER_H),
            }
            for r in rows
        ]
    curtailment = {site.id: curtailment_used(session, principal, site.id, now) for site in own}
    return OperatorView(own, dict(caps), readings, list_licences(session, principal), curtailment)


def bill_view(session: Session, principal: Principal, site_id: str, month: str) -> dict[str, Any]:
    """Gather a site's bill for a month in Pakistan time, money in USD and PKR."""
    bill = monthly_bill(session, principal, site_id, month, tz=str(DISPLAY_ZONE))
    paisa = bill.total_paisa
    return {
        "site_id": bill.site_id,
        "month": bill.month,
        "energy_mwh": bill.energy_wh / WH_PER_MWH,
        "overdraw_mwh": bill.overdraw_wh / WH_PER_MWH,
        "total_usd": bill.total_micro_usd / MICRO_USD_PER_USD,
        "total_pkr": None if paisa is None else paisa / PAISA_PER_PKR,
        "warnings": bill.warnings,
        "lines": len(bill.lines),
    }
