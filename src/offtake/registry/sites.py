"""Operators and sites."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from offtake.errors import ConflictError, InputError, NotFoundError, NotVisibleError
from offtake.identity.principal import Principal
from offtake.ledger.audit import record_change
from offtake.persistence.schema import Licence, LicenceKind, Operator, Site
from offtake.units import SITE_KINDS, mw_to_w, validate_id

__all__ = [
    "attach_licence",
    "create_operator",
    "create_site",
    "get_operator",
    "get_site",
    "list_operators",
    "list_sites",
    "mw_to_w",
    "require_sites_visible",
    "validate_id",
]


def create_operator(
    session: Session,
    principal: Principal,
    operator_id: str,
    name: str,
    *,
    at: datetime | None = None,
) -> Operator:
    """Register an operator (regulator or grid operator)."""
    if not (principal.has_scope("licences:write") or principal.has_scope("registry:write")):
        principal.require_scope("registry:write")
    validate_id(operator_id, "id")
    if not name.strip():
        raise InputError("an operator needs a name", field="name")
    if session.get(Operator, operator_id) is not None:
        raise ConflictError(f"operator '{operator_id}' already exists", field="id")
    at = at or datetime.now(UTC)
    operator = Operator(id=operator_id, name=name.strip(), created_at=at)
    session.add(operator)
    session.flush()
    record_change(
        session,
        principal,
        "operator.create",
        "operator",
        operator_id,
        {"name": operator.name},
        operator_id=operator_id,
        at=at,
    )
    return operator


def get_operator(session: Session, principal: Principal, operator_id: str) -> Operator:
    """Return an operator the caller may see."""
    principal.require_scope("registry:read")
    principal.require_operator(operator_id, f"operator '{operator_id}'")
    operator = session.get(Operator, operator_id)
    if operator is None:
        raise NotFoundError(f"operator '{operator_id}' does not exist")
    return operator


def list_operators(session: Session, principal: Principal) -> list[Operator]:
    """Operators the caller may see (an operator sees only itself)."""
    principal.require_scope("registry:read")
    query = select(Operator).order_by(Operator.id)
    if principal.is_operator_bound:
        query = query.where(Operator.id == principal.operator_id)
    return list(session.execute(query).scalars())


def _check_licence(session: Session, licence_id: str, operator_id: str, kind: str) -> None:
    licence = session.get(Licence, licence_id)
    if licence is None:
        raise InputError(f"licence '{licence_id}' does not exist", field="licence_id")
    if licence.operator_id != operator_id:
        raise InputError(
            f"licence '{licence_id}' belongs to operator '{licence.operator_id}', not '{operator_id}'",
            field="licence_id",
        )
    licence_kind = session.get(LicenceKind, licence.kind_id)
    if licence_kind is None or kind not in licence_kind.site_kinds:
        raise InputError(f"a {licence.kind_id} licence does not cover {kind} sites", field="licence_id")


def create_site(
    session: Session,
    principal: Principal,
    *,
    site_id: str,
    operator_id: str,
    zone: str,
    kind: str,
    name: str = "",
    licence_id: str | None = None,
    connection_mw: float | None = None,
    at: datetime | None = None,
) -> Site:
    """Register a site (grid operator).

    Parameters
    ----------
    connection_mw
        Physical connection capacity [MW]; readings above it are refused as impossible.
    """
    principal.require_scope("registry:write")
    validate_id(site_id, "id")
    validate_id(zone, "zone")
    if kind not in SITE_KINDS:
        raise InputError(f"kind must be one of {', '.join(SITE_KINDS)}, got '{kind}'", field="kind")
    if session.get(Operator, operator_id) is None:
        raise InputError(f"operator '{operator_id}' is not registered", field="operator_id")
    if session.get(Site, site_id) is not None:
        raise ConflictError(f"site '{site_id}' already exists", field="id")
    if licence_id is not None:
        _check_licence(session, licence_id, operator_id, kind)
    connection_w = None if connection_mw is None else mw_to_w(connection_mw, "connection_mw")
    at = at or datetime.now(UTC)
    site = Site(
        id=site_id,
        operator_id=operator_id,
        name=name,
        zone=zone,
        kind=kind,
        licence_id=licence_id,
        connection_w=connection_w,
        created_at=at,
    )
    session.add(site)
    session.flush()
    record_change(
        session,
        principal,
        "site.create",
        "site",
        site_id,
        {
            "operator_id": operator_id,
            "zone": zone,
            "kind": kind,
            "name": name,
            "licence_id": licence_id,
            "connection_w": connection_w,
        },
        operator_id=operator_id,
        at=at,
    )
    return site


def attach_licence(session: Session, principal: Principal, site_id: str, licence_id: str | None) -> Site:
    """Set the licence a site draws power under (``None`` detaches it)."""
    principal.require_scope("registry:write")
    site = session.get(Site, site_id)
    if site is None:
        raise NotFoundError(f"site '{site_id}' does not exist")
    if licence_id is not None:
        _check_licence(session, licence_id, site.operator_id, site.kind)
    previous = site.licence_id
    site.licence_id = licence_id
    session.flush()
    record_change(
        session,
        principal,
        "site.licence",
        "site",
        site_id,
        {"from_licence_id": previous, "licence_id": licence_id},
        operator_id=site.operator_id,
    )
    return site


def get_site(session: Session, principal: Principal, site_id: str) -> Site:
    """Return a site the caller may see."""
    if principal.role != "ven":
        principal.require_scope("registry:read")
    site = session.get(Site, site_id)
    if site is None:
        raise NotFoundError(f"site '{site_id}' does not exist")
    principal.require_site(site_id, site.operator_id)
    return site


def require_sites_visible(session: Session, principal: Principal, site_ids: Iterable[str]) -> None:
    """Refuse, for an operator or VEN, any site id it may not act for, known or not.

    A write that names sites (a batch of readings) must not tell a tenant whether another
    operator's site id exists: an unknown id and a foreign one both raise the same
    :class:`NotVisibleError`. Other callers pass; their unknown ids are found later.
    """
    if not principal.is_operator_bound:
        return
    wanted = sorted(set(site_ids))
    rows = session.execute(select(Site.id, Site.operator_id).where(Site.id.in_(wanted))).all()
    owners = {row.id: row.operator_id for row in rows}
    for site_id in wanted:
        if site_id not in owners or not principal.may_access_site(site_id, owners[site_id]):
            raise NotVisibleError(f"site '{site_id}'")


def list_sites(
    session: Session,
    principal: Principal,
    *,
    operator_id: str | None = None,
    zone: str | None = None,
) -> list[Site]:
    """Sites the caller may see, optionally filtered."""
    principal.require_scope("registry:read")
    query = select(Site).order_by(Site.id)
    if principal.is_operator_bound:
        query = query.where(Site.operator_id == principal.operator_id)
    if operator_id is not None:
        query = query.where(Site.operator_id == operator_id)
    if zone is not None:
        query = query.where(Site.zone == zone)
    return list(session.execute(query).scalars())
