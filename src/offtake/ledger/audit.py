"""Audit trail: every registry write recorded with who, when and what, and ledgered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from offtake.identity.principal import Principal
from offtake.ledger.encoding import jsonable
from offtake.ledger.store import open_appender
from offtake.persistence.schema import AuditEvent

__all__ = ["list_audit", "record_change"]


def record_change(
    session: Session,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: str,
    detail: dict[str, Any],
    *,
    operator_id: str | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Record a write in the audit log and append it to the ledger.

    Parameters
    ----------
    session
        Open session; the caller commits.
    principal
        Who made the change.
    action
        What was done, e.g. ``licence.transition`` or ``site.create``.
    object_type, object_id
        What was changed.
    detail
        The new values (JSON; integers for quantities).
    operator_id
        The operator the change concerns, if any.
    at
        When (default now).

    Returns
    -------
    AuditEvent
        The stored event, with its ledger sequence number.
    """
    at = at or datetime.now(UTC)
    detail = jsonable(detail)
    appender = open_appender(session)
    seq = appender.add(
        "registry",
        {
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "role": principal.role,
            "operator": operator_id,
            "detail": detail,
        },
        by=principal.client_id,
        at=at,
        operator_id=operator_id,
    )
    appender.flush()
    event = AuditEvent(
        at=at,
        client_id=principal.client_id,
        role=principal.role,
        operator_id=operator_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
        ledger_seq=seq,
    )
    session.add(event)
    session.flush()
    return event


def list_audit(
    session: Session,
    principal: Principal,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    limit: int = 500,
) -> list[AuditEvent]:
    """Audit events the caller may see, newest first."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if principal.is_operator_bound:
        query = query.where(AuditEvent.operator_id == principal.operator_id)
    if object_type is not None:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == object_id)
    return list(session.execute(query).scalars())
