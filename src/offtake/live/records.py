"""What live dispatch decided and why: rounds, per-site caps with their reason, emergencies.

The caps themselves are stored and ledgered by :func:`offtake.ledger.record_caps` (so
reconciliation and bills use them); these tables keep, next to each cap, the rule that set
it and the inputs it was set from, and the grid emergencies the control room declared.
Each round and each emergency change is also an audit event and a ledger entry.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from offtake.errors import ConflictError, InputError, NotFoundError
from offtake.identity.principal import Principal
from offtake.ledger.audit import record_change
from offtake.ledger.encoding import format_time
from offtake.persistence.schema import DispatchCap, DispatchRound, GridEmergency, Site
from offtake.timeutil import require_aware
from offtake.units import validate_id

__all__ = [
    "DispatchCap",
    "DispatchRound",
    "GridEmergency",
    "clear_emergency",
    "effective_end",
    "emergencies_overlapping",
    "emergencies_seen_by",
    "emergency_as_dict",
    "list_dispatch_caps",
    "list_emergencies",
    "list_rounds",
    "record_emergency",
]

_ID = 64
#: Longest emergency the control room may declare in one go [s]; declare again to extend.
MAX_EMERGENCY_S = 7 * 86_400


def effective_end(emergency: GridEmergency) -> datetime:
    """When an emergency stops: its planned end, or when it was cleared if earlier."""
    if emergency.cleared_at is not None and emergency.cleared_at < emergency.ends_at:
        return emergency.cleared_at
    return emergency.ends_at


def emergency_as_dict(emergency: GridEmergency, site_ids: list[str] | None = None) -> dict[str, Any]:
    """JSON form of an emergency; ``site_ids`` replaces its affected sites (a reader's own)."""
    return {
        "id": emergency.id,
        "zone": emergency.zone,
        "scope": "national" if emergency.zone is None else "zone",
        "message": emergency.message,
        "starts_at": format_time(emergency.starts_at),
        "ends_at": format_time(effective_end(emergency)),
        "declared_by": emergency.declared_by,
        "cleared_at": None if emergency.cleared_at is None else format_time(emergency.cleared_at),
        "cleared_by": emergency.cleared_by,
        "site_ids": list(emergency.site_ids or []) if site_ids is None else site_ids,
        "vtn_event_ids": list(emergency.vtn_event_ids or []),
    }


def _require_control_room(principal: Principal) -> None:
    from offtake.errors import PermissionDenied

    if principal.role not in ("grid_operator", "system"):
        raise PermissionDenied(
            f"client '{principal.client_id}' ({principal.role}) may not declare or clear grid "
            "emergencies; the control room (grid_operator) does"
        )
    principal.require_scope("caps:write")


def record_emergency(
    session: Session,
    principal: Principal,
    *,
    zone: str | None,
    message: str,
    starts_at: datetime,
    duration: timedelta,
    zones: tuple[str, ...] | None = None,
) -> GridEmergency:
    """Record a grid emergency (control room only), in the audit log and the ledger.

    Parameters
    ----------
    session
        Open session; the caller commits.
    principal
        Who declares (``grid_operator``).
    zone
        Zone under emergency, or None for a national emergency.
    message
        Why, as the sites will read it.
    starts_at
        When it starts (aware).
    duration
        How long it lasts unless cleared earlier.
    zones
        Known zones; when given, ``zone`` must be one of them.

    Returns
    -------
    GridEmergency
        The stored emergency.
    """
    _require_control_room(principal)
    starts_at = require_aware(starts_at, field="starts_at")
    if zone is not None:
        validate_id(zone, "zone")
        if zones is not None and zone not in zones:
            raise InputError(f"unknown zone '{zone}'; expected one of {', '.join(zones)}", field="zone")
    if not message.strip():
        raise InputError("an emergency needs a message for the sites", field="message")
    seconds = duration.total_seconds()
    if not 0 < seconds <= MAX_EMERGENCY_S:
        raise InputError(f"duration must be between 1 s and {MAX_EMERGENCY_S} s, got {seconds:g} s", field="duration_s")
    emergency = GridEmergency(
        id=f"EM-{secrets.token_hex(4).upper()}",
        zone=zone,
        message=message.strip()[:500],
        starts_at=starts_at,
        ends_at=starts_at + duration,
        declared_by=principal.client_id,
        site_ids=[],
        vtn_event_ids=[],
    )
    session.add(emergency)
    session.flush()
    record_change(
        session,
        principal,
        "emergency.declare",
        "emergency",
        emergency.id,
        {
            "zone": zone,
            "message": emergency.message,
            "starts_at": emergency.starts_at,
            "ends_at": emergency.ends_at,
        },
        at=starts_at,
    )
    return emergency


def clear_emergency(session: Session, principal: Principal, emergency_id: str, *, at: datetime) -> GridEmergency:
    """Clear an emergency from ``at`` (control room only); recorded like every write."""
    _require_control_room(principal)
    at = require_aware(at, field="at")
    emergency = session.get(GridEmergency, emergency_id)
    if emergency is None:
        raise NotFoundError(f"emergency '{emergency_id}' does not exist")
    if emergency.cleared_at is not None:
        raise ConflictError(
            f"emergency '{emergency_id}' was cleared at {format_time(emergency.cleared_at)}", field="id"
        )
    if at >= emergency.ends_at:
        raise ConflictError(f"emergency '{emergency_id}' ended at {format_time(emergency.ends_at)}", field="id")
    emergency.cleared_at = max(at, emergency.starts_at)
    emergency.cleared_by = principal.client_id
    session.flush()
    record_change(
        session,
        principal,
        "emergency.clear",
        "emergency",
        emergency.id,
        {"zone": emergency.zone, "cleared_at": emergency.cleared_at},
        at=at,
    )
    return emergency


def emergencies_overlapping(session: Session, start: datetime, end: datetime) -> list[GridEmergency]:
    """Emergencies in force at any instant of ``[start, end)``."""
    query = (
        select(GridEmergency)
        .where(
            GridEmergency.starts_at < end,
            GridEmergency.ends_at > start,
            or_(GridEmergency.cleared_at.is_(None), GridEmergency.cleared_at > start),
        )
        .order_by(GridEmergency.starts_at)
    )
    return [e for e in session.execute(query).scalars() if effective_end(e) > start]


def list_emergencies(session: Session, principal: Principal, *, since: datetime | None = None) -> list[GridEmergency]:
    """Emergencies ending after ``since`` (all if None), newest first; every role may read them."""
    principal.require_scope("caps:read")
    query = select(GridEmergency).order_by(GridEmergency.starts_at.desc())
    if since is not None:
        query = query.where(GridEmergency.ends_at > require_aware(since, field="since"))
    return list(session.execute(query).scalars())


def emergencies_seen_by(
    session: Session, principal: Principal, *, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Emergencies as ``principal`` may see them (JSON form), newest first.

    Every role reads every emergency (zone, message, times), but the affected sites only
    where they are its own: an operator sees its sites, a VEN its one site, the control room
    and the regulator all of them.
    """
    emergencies = list_emergencies(session, principal, since=since)
    if not principal.is_operator_bound:
        return [emergency_as_dict(e) for e in emergencies]
    named = sorted({site_id for e in emergencies for site_id in e.site_ids or []})
    owners = dict(session.execute(select(Site.id, Site.operator_id).where(Site.id.in_(named))).tuples().all())
    return [
        emergency_as_dict(
            e,
            [s for s in e.site_ids or [] if s in owners and principal.may_access_site(s, owners[s])],
        )
        for e in emergencies
    ]


def list_dispatch_caps(
    session: Session,
    principal: Principal,
    *,
    site_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 10_000,
) -> list[DispatchCap]:
    """Dispatched caps with their reasons, oldest first; an operator sees its own sites only.

    Parameters
    ----------
    session
        Open session.
    principal
        Caller (needs ``caps:read``).
    site_id
        One site, or all the caller may see.
    since, until
        Caps whose interval starts in ``[since, until)``; by default those of the latest round.
    limit
        Most rows returned.
    """
    principal.require_scope("caps:read")
    query = select(DispatchCap)
    if site_id is not None:
        site = session.get(Site, site_id)
        if site is None:
            raise NotFoundError(f"site '{site_id}' does not exist")
        principal.require_site(site_id, site.operator_id)
        query = query.where(DispatchCap.site_id == site_id)
    elif principal.role == "ven":
        query = query.where(DispatchCap.site_id == principal.site_id)
    elif principal.is_operator_bound:
        query = query.where(DispatchCap.operator_id == principal.operator_id)
    if since is None and until is None:
        newest = select(DispatchRound.interval_start).order_by(DispatchRound.interval_start.desc()).limit(1)
        latest = session.execute(newest).scalar()
        if latest is None:
            return []
        since = latest
    if since is not None:
        query = query.where(DispatchCap.interval_start >= require_aware(since, field="since"))
    if until is not None:
        query = query.where(DispatchCap.interval_start < require_aware(until, field="until"))
    query = query.order_by(DispatchCap.interval_start, DispatchCap.site_id).limit(limit)
    return list(session.execute(query).scalars())


def list_rounds(
    session: Session, principal: Principal, *, since: datetime | None = None, limit: int = 288
) -> list[DispatchRound]:
    """Dispatch rounds, newest first (grid operator and regulator: they show every zone)."""
    from offtake.errors import PermissionDenied

    principal.require_scope("caps:read")
    if principal.is_operator_bound:
        raise PermissionDenied(
            f"client '{principal.client_id}' ({principal.role}) may read its own sites' caps "
            "(GET /dispatch/caps), not whole dispatch rounds"
        )
    query = select(DispatchRound).order_by(DispatchRound.interval_start.desc()).limit(limit)
    if since is not None:
        query = query.where(DispatchRound.interval_start >= require_aware(since, field="since"))
    return list(session.execute(query).scalars())
