"""Off-take contracts: tariff, firm and interruptible MW, curtailment terms and penalties.

Money is stored exactly: tariffs and penalty rates in micro-USD per MWh, the exchange rate
in micro-PKR per USD. Values typed as decimals are converted through their decimal text,
so ``82.07`` USD/MWh is stored as ``82_070_000`` micro-USD/MWh exactly.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from offtake.errors import ConflictError, InputError, NotFoundError
from offtake.identity.principal import Principal
from offtake.ledger.audit import record_change
from offtake.persistence.schema import Contract, Site
from offtake.timeutil import require_aware
from offtake.units import MICRO_USD_PER_USD, mw_to_w, validate_id

__all__ = [
    "contract_in_force",
    "create_contract",
    "fraction",
    "get_contract",
    "list_contracts",
    "to_micro",
]


def to_micro(value: float | int | str | Decimal, field: str) -> int:
    """Convert a decimal amount to millionths, exactly, refusing negatives.

    Examples
    --------
    >>> to_micro(82.07, "tariff_usd_per_mwh")
    82070000
    """
    if isinstance(value, bool):
        raise InputError(f"expected a number, got {value!r}", field=field)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InputError(f"'{value}' is not a number", field=field) from None
    if not amount.is_finite() or amount < 0:
        raise InputError(f"must be a finite number >= 0, got {value}", field=field)
    micro = amount * MICRO_USD_PER_USD
    if micro != micro.to_integral_value():
        raise InputError(f"{value} has more than 6 decimal places", field=field)
    return int(micro)


def fraction(value: float, field: str, *, upper: float = 1.0) -> float:
    """Check a number in ``[0, upper]``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= upper:
        raise InputError(f"must be a number between 0 and {upper}, got {value!r}", field=field)
    return float(value)


def _non_negative(value: float, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise InputError(f"must be a number >= 0, got {value!r}", field=field)
    return float(value)


def create_contract(
    session: Session,
    principal: Principal,
    *,
    site_id: str,
    valid_from: datetime,
    tariff_usd_per_mwh: float | str,
    firm_mw: float,
    interruptible_mw: float,
    max_curtailment_fraction: float,
    max_curtailment_duration_h: float,
    annual_curtailment_limit: float,
    response_time_s: float,
    overdraw_tolerance_fraction: float,
    overdraw_penalty_usd_per_mwh: float | str,
    exchange_rate_pkr_per_usd: float | str,
    valid_until: datetime | None = None,
    contract_id: str | None = None,
) -> Contract:
    """Sign a contract for a site (grid operator). Contracts of a site may not overlap in time.

    Parameters
    ----------
    tariff_usd_per_mwh
        Price of each MWh drawn within the cap [USD/MWh].
    firm_mw, interruptible_mw
        The two tranches [MW].
    max_curtailment_fraction, max_curtailment_duration_h, annual_curtailment_limit, response_time_s
        Curtailment terms, as in ``allocation.csv``.
    overdraw_tolerance_fraction
        Share of the cap drawn above it without penalty (meter and control tolerance) [-].
    overdraw_penalty_usd_per_mwh
        Penalty per MWh drawn above the cap and its tolerance, on top of the tariff [USD/MWh].
    exchange_rate_pkr_per_usd
        Rate used to state bills in PKR [PKR/USD].
    """
    principal.require_scope("registry:write")
    site = session.get(Site, site_id)
    if site is None:
        raise InputError(f"site '{site_id}' is not registered", field="site_id")
    valid_from = require_aware(valid_from, field="valid_from")
    if valid_until is not None:
        valid_until = require_aware(valid_until, field="valid_until")
        if valid_until <= valid_from:
            raise InputError("valid_until must be after valid_from", field="valid_until")
    contract_id = validate_id(contract_id, "id") if contract_id else f"CT-{secrets.token_hex(4).upper()}"
    if session.get(Contract, contract_id) is not None:
        raise ConflictError(f"contract '{contract_id}' already exists", field="id")
    rate = to_micro(exchange_rate_pkr_per_usd, "exchange_rate_pkr_per_usd")
    if rate == 0:
        raise InputError("the exchange rate must be positive", field="exchange_rate_pkr_per_usd")
    for other in session.execute(select(Contract).where(Contract.site_id == site_id)).scalars():
        other_end = other.valid_until
        if (valid_until is None or other.valid_from < valid_until) and (other_end is None or valid_from < other_end):
            raise ConflictError(
                f"site '{site_id}' already has contract '{other.id}' from "
                f"{other.valid_from.isoformat()} to "
                f"{other_end.isoformat() if other_end else 'open end'}",
                field="valid_from",
            )
    values: dict[str, Any] = {
        "site_id": site_id,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "tariff_micro_usd_per_mwh": to_micro(tariff_usd_per_mwh, "tariff_usd_per_mwh"),
        "firm_w": mw_to_w(firm_mw, "firm_mw"),
        "interruptible_w": mw_to_w(interruptible_mw, "interruptible_mw"),
        "max_curtailment_fraction": fraction(max_curtailment_fraction, "max_curtailment_fraction"),
        "max_curtailment_duration_h": _non_negative(max_curtailment_duration_h, "max_curtailment_duration_h"),
        "annual_curtailment_limit": fraction(annual_curtailment_limit, "annual_curtailment_limit"),
        "response_time_s": _non_negative(response_time_s, "response_time_s"),
        "overdraw_tolerance_bp": round(fraction(overdraw_tolerance_fraction, "overdraw_tolerance_fraction") * 10_000),
        "overdraw_penalty_micro_usd_per_mwh": to_micro(overdraw_penalty_usd_per_mwh, "overdraw_penalty_usd_per_mwh"),
        "exchange_rate_micro_pkr_per_usd": rate,
    }
    contract = Contract(id=contract_id, created_at=datetime.now(UTC), **values)
    session.add(contract)
    session.flush()
    record_change(
        session,
        principal,
        "contract.create",
        "contract",
        contract_id,
        values,
        operator_id=site.operator_id,
    )
    return contract


def list_contracts(session: Session, principal: Principal, *, site_id: str | None = None) -> list[Contract]:
    """Contracts the caller may see."""
    principal.require_scope("registry:read")
    query = select(Contract).join(Site, Site.id == Contract.site_id).order_by(Contract.id)
    if principal.is_operator_bound:
        query = query.where(Site.operator_id == principal.operator_id)
    if site_id is not None:
        query = query.where(Contract.site_id == site_id)
    return list(session.execute(query).scalars())


def get_contract(session: Session, principal: Principal, contract_id: str) -> Contract:
    """Return a contract the caller may see."""
    principal.require_scope("registry:read")
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise NotFoundError(f"contract '{contract_id}' does not exist")
    site = session.get(Site, contract.site_id)
    principal.require_operator(site.operator_id if site else None, f"contract '{contract_id}'")
    return contract


def contract_in_force(session: Session, site_id: str, at: datetime) -> Contract | None:
    """Return the contract of ``site_id`` in force at ``at``, if any."""
    at = require_aware(at, field="at")
    query = (
        select(Contract)
        .where(Contract.site_id == site_id, Contract.valid_from <= at)
        .order_by(Contract.valid_from.desc())
    )
    for contract in session.execute(query).scalars():
        if contract.valid_until is None or at < contract.valid_until:
            return contract
    return None
