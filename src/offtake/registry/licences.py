"""Licences and their lifecycle: applied → approved → active ⇄ suspended, → revoked.

| from | to | who |
|---|---|---|
| (new) | applied | the operator itself (``licences:apply``) or the regulator |
| applied | approved, revoked (refused) | regulator |
| approved | active, revoked | regulator |
| active | suspended, revoked | regulator |
| suspended | active, revoked | regulator |

Each change is a :class:`~offtake.persistence.schema.LicenceEvent` (from, to, when, by whom,
why), an audit event and a ledger entry. The state at any past instant is rebuilt from the
events, so reconciliation knows whether a site was licensed when it drew power.

A licence's ``limits`` (``max_mw``, ``max_energy_mwh``: they override its kind's) are the
regulator's terms, never the applicant's: an operator's application may not carry them;
the regulator sets them when filing, at approval, or later with
:func:`amend_licence_limits`, each change audited with the old and new values.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from offtake.errors import ConflictError, InputError, NotFoundError
from offtake.identity.principal import Principal
from offtake.ledger.audit import record_change
from offtake.persistence.schema import Licence, LicenceEvent, LicenceKind, Operator
from offtake.timeutil import require_aware

__all__ = [
    "LICENCE_STATES",
    "TRANSITIONS",
    "amend_licence_limits",
    "apply_for_licence",
    "get_licence",
    "licence_active_at",
    "licence_events",
    "licence_state_at",
    "list_licences",
    "transition_licence",
]

#: Every licence state.
LICENCE_STATES = ("applied", "approved", "active", "suspended", "revoked")

#: Allowed state changes.
TRANSITIONS: dict[str, frozenset[str]] = {
    "applied": frozenset({"approved", "revoked"}),
    "approved": frozenset({"active", "revoked"}),
    "active": frozenset({"suspended", "revoked"}),
    "suspended": frozenset({"active", "revoked"}),
    "revoked": frozenset(),
}


def _now(at: datetime | None, field: str = "at") -> datetime:
    return datetime.now(UTC) if at is None else require_aware(at, field=field)


def _checked_limits(limits: dict[str, Any] | None) -> dict[str, Any]:
    """Return a copy of ``limits`` whose enforced caps are non-negative numbers."""
    if limits is not None and not isinstance(limits, dict):
        raise InputError('limits must be an object such as {"max_mw": 10}', field="limits")
    checked = dict(limits or {})
    for key in ("max_mw", "max_energy_mwh"):
        value = checked.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf")
        ):
            raise InputError(f"{key} must be a non-negative number", field=f"limits.{key}")
    return checked


def apply_for_licence(
    session: Session,
    principal: Principal,
    *,
    operator_id: str,
    kind_id: str,
    licence_id: str | None = None,
    reference: str = "",
    limits: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Licence:
    """File a licence application (state ``applied``).

    Operators may apply for themselves; the regulator may file for any operator. Only the
    regulator may give ``limits``: an operator's application carrying them is refused.
    """
    at = _now(at)
    if principal.has_scope("licences:write"):
        pass
    elif principal.has_scope("licences:apply"):
        principal.require_operator(operator_id, f"operator '{operator_id}'")
        if limits:
            raise InputError(
                "limits are the regulator's terms, set at approval; leave them out of the application",
                field="limits",
            )
    else:
        principal.require_scope("licences:apply")
    if session.get(Operator, operator_id) is None:
        raise InputError(f"operator '{operator_id}' is not registered", field="operator_id")
    kind = session.get(LicenceKind, kind_id)
    if kind is None:
        raise InputError(f"licence kind '{kind_id}' does not exist", field="kind_id")
    limits = _checked_limits(limits)
    licence_id = licence_id or f"LIC-{secrets.token_hex(4).upper()}"
    if session.get(Licence, licence_id) is not None:
        raise ConflictError(f"licence '{licence_id}' already exists", field="id")
    licence = Licence(
        id=licence_id,
        operator_id=operator_id,
        kind_id=kind_id,
        state="applied",
        limits=limits,
        reference=reference,
        created_at=at,
    )
    session.add(licence)
    session.add(
        LicenceEvent(
            licence_id=licence_id,
            from_state=None,
            to_state="applied",
            at=at,
            by_client=principal.client_id,
            reason="application filed",
        )
    )
    session.flush()
    record_change(
        session,
        principal,
        "licence.apply",
        "licence",
        licence_id,
        {"operator_id": operator_id, "kind_id": kind_id, "reference": reference, "limits": limits},
        operator_id=operator_id,
        at=at,
    )
    return licence


def get_licence(session: Session, principal: Principal, licence_id: str) -> Licence:
    """Return a licence the caller may see."""
    principal.require_scope("registry:read")
    licence = session.get(Licence, licence_id)
    if licence is None:
        raise NotFoundError(f"licence '{licence_id}' does not exist")
    principal.require_operator(licence.operator_id, f"licence '{licence_id}'")
    return licence


def list_licences(session: Session, principal: Principal, *, operator_id: str | None = None) -> list[Licence]:
    """Licences the caller may see, optionally of one operator."""
    principal.require_scope("registry:read")
    query = select(Licence).order_by(Licence.id)
    if principal.is_operator_bound:
        query = query.where(Licence.operator_id == principal.operator_id)
    if operator_id is not None:
        query = query.where(Licence.operator_id == operator_id)
    return list(session.execute(query).scalars())


def transition_licence(
    session: Session,
    principal: Principal,
    licence_id: str,
    to_state: str,
    *,
    reason: str = "",
    at: datetime | None = None,
    valid_until: datetime | None = None,
    limits: dict[str, Any] | None = None,
) -> Licence:
    """Move a licence to ``to_state`` if the lifecycle allows it (regulator only).

    Activating a licence for the first time starts its validity at ``at``; a time-limited
    kind (``max_term_days``) ends it after the term, and ``valid_until`` cannot go past it.
    ``limits``, given only with ``approved``, replace the licence's limits (recorded in the
    same audit event).
    """
    principal.require_scope("licences:write")
    at = _now(at)
    if limits is not None and to_state != "approved":
        raise InputError(
            "limits are set at approval; to change them later, amend the licence's limits",
            field="limits",
        )
    if to_state not in LICENCE_STATES:
        raise InputError(
            f"unknown state '{to_state}'; expected one of {', '.join(LICENCE_STATES)}",
            field="to_state",
        )
    licence = session.get(Licence, licence_id)
    if licence is None:
        raise NotFoundError(f"licence '{licence_id}' does not exist")
    if to_state not in TRANSITIONS[licence.state]:
        allowed = ", ".join(sorted(TRANSITIONS[licence.state])) or "none (final)"
        raise ConflictError(
            f"licence '{licence_id}' is {licence.state}; it cannot become {to_state} (allowed: {allowed})",
            field="to_state",
        )
    last = session.execute(
        select(LicenceEvent.at).where(LicenceEvent.licence_id == licence_id).order_by(LicenceEvent.at.desc()).limit(1)
    ).scalar_one()
    if at < last:
        raise InputError(
            f"the change at {at.isoformat()} is earlier than the last change at {last.isoformat()}",
            field="at",
        )
    if to_state == "active":
        kind = session.get(LicenceKind, licence.kind_id)
        if licence.valid_from is None:
            licence.valid_from = at
        term_end = None
        if kind is not None and kind.max_term_days is not None:
            term_end = licence.valid_from + timedelta(days=kind.max_term_days)
        if valid_until is not None:
            valid_until = require_aware(valid_until, field="valid_until")
            if valid_until <= licence.valid_from:
                raise InputError("valid_until must be after the licence starts", field="valid_until")
            if term_end is not None and valid_until > term_end:
                raise InputError(
                    f"a {licence.kind_id} licence lasts at most "
                    f"{kind.max_term_days if kind else 0} days "
                    f"(until {term_end.isoformat()})",
                    field="valid_until",
                )
            licence.valid_until = valid_until
        elif licence.valid_until is None:
            licence.valid_until = term_end
    elif valid_until is not None:
        raise InputError("valid_until is set only when a licence becomes active", field="valid_until")
    from_state = licence.state
    old_limits = dict(licence.limits or {})
    if limits is not None:
        licence.limits = _checked_limits(limits)
    licence.state = to_state
    session.add(
        LicenceEvent(
            licence_id=licence_id,
            from_state=from_state,
            to_state=to_state,
            at=at,
            by_client=principal.client_id,
            reason=reason,
        )
    )
    session.flush()
    record_change(
        session,
        principal,
        "licence.transition",
        "licence",
        licence_id,
        {
            "from_state": from_state,
            "to_state": to_state,
            "reason": reason,
            "valid_from": licence.valid_from,
            "valid_until": licence.valid_until,
            **({"from_limits": old_limits, "limits": licence.limits} if limits is not None else {}),
        },
        operator_id=licence.operator_id,
        at=at,
    )
    return licence


def amend_licence_limits(
    session: Session,
    principal: Principal,
    licence_id: str,
    limits: dict[str, Any],
    *,
    reason: str,
    at: datetime | None = None,
) -> Licence:
    """Replace a licence's limits (regulator only), audited with the old and new values.

    Parameters
    ----------
    session
        Open session; the caller commits.
    principal
        The regulator (``licences:write``).
    licence_id
        The licence.
    limits
        The new limits, e.g. ``{"max_mw": 10}``; ``{}`` falls back to the kind's.
    reason
        Why, for the record (required).
    at
        When (default now).

    Returns
    -------
    Licence
        The amended licence.
    """
    principal.require_scope("licences:write")
    at = _now(at)
    if not reason.strip():
        raise InputError("say why the limits change", field="reason")
    new = _checked_limits(limits)
    licence = session.get(Licence, licence_id)
    if licence is None:
        raise NotFoundError(f"licence '{licence_id}' does not exist")
    if licence.state == "revoked":
        raise ConflictError(f"licence '{licence_id}' is revoked; its limits no longer change", field="limits")
    old = dict(licence.limits or {})
    licence.limits = new
    session.flush()
    record_change(
        session,
        principal,
        "licence.limits",
        "licence",
        licence_id,
        {"from_limits": old, "limits": new, "reason": reason.strip()},
        operator_id=licence.operator_id,
        at=at,
    )
    return licence


def licence_events(session: Session, licence_id: str) -> list[LicenceEvent]:
    """State changes of a licence, oldest first."""
    query = select(LicenceEvent).where(LicenceEvent.licence_id == licence_id).order_by(LicenceEvent.at, LicenceEvent.id)
    return list(session.execute(query).scalars())


def licence_state_at(session: Session, licence_id: str, at: datetime) -> str | None:
    """State of a licence at instant ``at`` (``None`` before it was applied for)."""
    at = require_aware(at, field="at")
    state = session.execute(
        select(LicenceEvent.to_state)
        .where(LicenceEvent.licence_id == licence_id, LicenceEvent.at <= at)
        .order_by(LicenceEvent.at.desc(), LicenceEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return state


def licence_active_at(licence: Licence, events: list[LicenceEvent], at: datetime) -> bool:
    """Whether ``licence`` was active at ``at``, from its (ordered) events and validity."""
    state = None
    for event in events:
        if event.at <= at:
            state = event.to_state
        else:
            break
    if state != "active":
        return False
    if licence.valid_from is not None and at < licence.valid_from:
        return False
    return not (licence.valid_until is not None and at >= licence.valid_until)
