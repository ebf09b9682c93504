"""Licence kinds: loaded from ``data/licence_kinds.toml`` and extendable by the regulator."""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from offtake.errors import ConflictError, InputError
from offtake.identity.principal import Principal
from offtake.ledger.audit import record_change
from offtake.persistence.schema import LicenceKind
from offtake.units import SITE_KINDS

__all__ = ["SITE_KINDS", "create_licence_kind", "list_licence_kinds", "seed_licence_kinds"]


def _bundled() -> list[dict[str, Any]]:
    text = resources.files("offtake.data").joinpath("licence_kinds.toml").read_text("utf-8")
    kinds = tomllib.loads(text).get("kind", [])
    if not isinstance(kinds, list):
        raise InputError("expected [[kind]] tables", file="licence_kinds.toml", field="kind")
    return kinds


def _validate(spec: dict[str, Any], where: str | None = None) -> dict[str, Any]:
    kind_id = str(spec.get("id", "")).strip()
    if not kind_id:
        raise InputError("a licence kind needs an id", file=where, field="id")
    site_kinds = spec.get("site_kinds", [])
    if not isinstance(site_kinds, list) or any(k not in SITE_KINDS for k in site_kinds):
        raise InputError(
            f"site_kinds must list some of {', '.join(SITE_KINDS)}, got {site_kinds!r}",
            file=where,
            field="site_kinds",
        )
    term = spec.get("max_term_days")
    if term is not None and (not isinstance(term, int) or isinstance(term, bool) or term <= 0):
        raise InputError("max_term_days must be a positive integer", file=where, field="max_term_days")
    limits = spec.get("limits", {}) or {}
    if not isinstance(limits, dict):
        raise InputError("limits must be a table of caps", file=where, field="limits")
    for key in ("max_mw", "max_energy_mwh"):
        value = limits.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise InputError(f"{key} must be a non-negative number", file=where, field=f"limits.{key}")
    return {
        "id": kind_id,
        "name": str(spec.get("name", kind_id)),
        "description": str(spec.get("description", "")),
        "site_kinds": list(site_kinds),
        "max_term_days": term,
        "limits": dict(limits),
        "source": str(spec.get("source", "")),
    }


def seed_licence_kinds(session: Session) -> int:
    """Insert the bundled licence kinds that are not in the database yet.

    Returns
    -------
    int
        Number of kinds added.
    """
    existing = set(session.execute(select(LicenceKind.id)).scalars())
    added = 0
    for spec in _bundled():
        values = _validate(spec, "licence_kinds.toml")
        if values["id"] not in existing:
            session.add(LicenceKind(**values))
            added += 1
    session.flush()
    return added


def create_licence_kind(session: Session, principal: Principal, spec: dict[str, Any]) -> LicenceKind:
    """Add a licence kind (regulator only): a new kind needs no code change."""
    principal.require_scope("licences:write")
    values = _validate(spec)
    if session.get(LicenceKind, values["id"]) is not None:
        raise ConflictError(f"licence kind '{values['id']}' already exists", field="id")
    kind = LicenceKind(**values)
    session.add(kind)
    session.flush()
    record_change(session, principal, "licence_kind.create", "licence_kind", kind.id, values)
    return kind


def list_licence_kinds(session: Session) -> list[LicenceKind]:
    """Every licence kind, by id."""
    return list(session.execute(select(LicenceKind).order_by(LicenceKind.id)).scalars())
