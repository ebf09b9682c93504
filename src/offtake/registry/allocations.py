"""Import the planner's ``allocation.csv`` (format in ``docs/formats.md``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from offtake.allocation import ALLOCATION_COLUMNS, parse_allocation
from offtake.errors import InputError
from offtake.identity.principal import Principal
from offtake.ledger.audit import record_change
from offtake.persistence.schema import Allocation, Operator, Site
from offtake.registry.contracts import to_micro
from offtake.registry.sites import create_site
from offtake.timeutil import require_aware
from offtake.units import W_PER_MW, validate_id

__all__ = ["ALLOCATION_COLUMNS", "ImportResult", "import_allocation", "list_allocations"]


@dataclass
class ImportResult:
    """What an import did."""

    import_id: str
    rows: int
    sites_created: list[str] = field(default_factory=list)
    allocated_mw: float = 0.0


def _parse(text: str, file: str) -> list[dict[str, Any]]:
    """Rows of an allocation file: the shared checks, then the registry's own (ids, exact tariff)."""
    table = parse_allocation(text, file=file)
    rows: list[dict[str, Any]] = []
    for index, record in enumerate(table.to_dict("records")):
        number = index + 2
        row: dict[str, Any] = {str(k): v for k, v in record.items()}
        try:
            validate_id(row["site_id"], "site_id")
            validate_id(row["operator"], "operator")
            validate_id(row["zone"], "zone")
        except InputError as exc:
            raise InputError(exc.message, file=file, line=number, field=exc.field) from None
        try:
            row["tariff_micro_usd_per_mwh"] = to_micro(row["tariff_usd_per_mwh"], "tariff_usd_per_mwh")
        except InputError as exc:
            raise InputError(exc.message, file=file, line=number, field="tariff_usd_per_mwh") from None
        row["curtailment_events"] = int(row["curtailment_events"])
        row["line"] = number
        rows.append(row)
    return rows


def import_allocation(
    session: Session,
    principal: Principal,
    source: str | Path,
    *,
    valid_from: datetime,
    text: str | None = None,
    create_sites: bool = True,
) -> ImportResult:
    """Import an allocation file; its rows are in force from ``valid_from``.

    Parameters
    ----------
    session
        Open session; the caller commits.
    principal
        Who imports (needs ``registry:write``).
    source
        Path of the file, or its name when ``text`` is given.
    valid_from
        When the allocation takes effect (aware).
    text
        The file's content, if already read (e.g. uploaded).
    create_sites
        Register sites that are not yet known; otherwise an unknown site is an error.

    Returns
    -------
    ImportResult
        Import id, number of rows, sites created.
    """
    principal.require_scope("registry:write")
    valid_from = require_aware(valid_from, field="valid_from")
    name = str(source)
    if text is None:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", file=name) from None
    rows = _parse(text, name)
    known = {site.id: site for site in session.execute(select(Site)).scalars()}
    _check_rows(session, rows, known, name, create_sites)  # every row before changing anything
    result = ImportResult(import_id=f"AL-{secrets.token_hex(4).upper()}", rows=len(rows))
    now = datetime.now(UTC)
    records: list[dict[str, Any]] = []
    for row in rows:
        if row["site_id"] not in known:
            create_site(
                session,
                principal,
                site_id=row["site_id"],
                operator_id=row["operator"],
                zone=row["zone"],
                kind=row["kind"],
                at=now,
            )
            result.sites_created.append(row["site_id"])
        records.append(_record(row, result.import_id, valid_from, name, now))
        result.allocated_mw += row["allocated_mw"]
    session.execute(insert(Allocation), records)
    audited = [{k: r[k] for k in ("site_id", "firm_w", "interruptible_w", "tariff_micro_usd_per_mwh")} for r in records]
    record_change(
        session,
        principal,
        "allocation.import",
        "allocation",
        result.import_id,
        {"file": Path(name).name, "valid_from": valid_from, "rows": audited},
        at=now,
    )
    return result


def _check_rows(
    session: Session, rows: list[dict[str, Any]], known: dict[str, Site], name: str, create_sites: bool
) -> None:
    """Refuse the file if a row names an unregistered operator or contradicts a registered site."""
    operators = set(session.execute(select(Operator.id)).scalars())
    for row in rows:
        where = {"file": name, "line": row["line"]}
        if row["operator"] not in operators:
            raise InputError(f"operator '{row['operator']}' is not registered", field="operator", **where)
        site = known.get(row["site_id"])
        if site is None:
            if not create_sites:
                raise InputError(f"site '{row['site_id']}' is not registered", field="site_id", **where)
            continue
        for column, value in (("operator", site.operator_id), ("zone", site.zone), ("kind", site.kind)):
            if row[column] != value:
                raise InputError(
                    f"site '{site.id}' is registered with {column} '{value}', the file says '{row[column]}'",
                    field=column,
                    **where,
                )


#: Columns copied from the file into each allocation row unchanged.
_COPIED = (
    "max_curtailment_fraction",
    "max_curtailment_duration_h",
    "annual_curtailment_limit",
    "response_time_s",
    "tariff_micro_usd_per_mwh",
    "expected_energy_mwh",
    "curtailed_hours",
    "curtailment_events",
    "mean_event_h",
)


def _record(row: dict[str, Any], import_id: str, valid_from: datetime, name: str, now: datetime) -> dict[str, Any]:
    """Build one ``allocation`` table row from a file row (power in whole watts)."""
    firm_w = round(row["firm_mw"] * W_PER_MW)
    interruptible_w = round(row["interruptible_mw"] * W_PER_MW)
    return {
        "import_id": import_id,
        "site_id": row["site_id"],
        "valid_from": valid_from,
        "firm_w": firm_w,
        "interruptible_w": interruptible_w,
        "allocated_w": firm_w + interruptible_w,
        **{c: row[c] for c in _COPIED},
        "source_file": name[-500:],
        "source_line": row["line"],
        "imported_at": now,
    }


def list_allocations(session: Session, principal: Principal, *, site_id: str | None = None) -> list[Allocation]:
    """Allocation rows the caller may see, newest first."""
    principal.require_scope("registry:read")
    query = (
        select(Allocation)
        .join(Site, Site.id == Allocation.site_id)
        .order_by(Allocation.valid_from.desc(), Allocation.id.desc())
    )
    if principal.is_operator_bound:
        query = query.where(Site.operator_id == principal.operator_id)
    if site_id is not None:
        query = query.where(Allocation.site_id == site_id)
    return list(session.execute(query).scalars())
