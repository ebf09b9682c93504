"""Typed answers of the REST API, so the OpenAPI document describes every answer.

Each route declares one of these as its response model; errors are the RFC 9457 problem
objects of :class:`Problem`, declared on every router through :data:`PROBLEM_RESPONSES`.
Times are RFC 3339 text in UTC; power in MW (``*_mw``), energy in Wh (``*_wh``) and money in
exact integer micro-units (``*_micro_usd``) beside decimal USD for reading.

Models built from a domain object's JSON form (bills, reconciliations, ledger answers) accept
fields they do not name, so a field the domain adds reaches the client at once.

Input bounds shared by the request models live here too: :data:`Instant` (an aware time in
years 1900-2999, so arithmetic on it cannot overflow) and the 64-bit integer bounds.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "INT64_MAX",
    "MAX_AMOUNT",
    "MAX_POWER_MW",
    "MAX_TERM_H",
    "MONTH_PATTERN",
    "PROBLEM_RESPONSES",
    "AllocationImportOut",
    "AllocationList",
    "AllocationOut",
    "Amount",
    "AuditEventOut",
    "AuditList",
    "BillList",
    "BillOut",
    "CapList",
    "CapOut",
    "CapsRecordedOut",
    "CheckpointList",
    "CheckpointOut",
    "ConsistencyProofOut",
    "ContractList",
    "ContractOut",
    "DispatchCapList",
    "DispatchCapOut",
    "EligibilityOut",
    "EligibleSiteOut",
    "EmergencyAnswer",
    "EmergencyList",
    "EmergencyOut",
    "Health",
    "InclusionProofOut",
    "Index",
    "IngestOut",
    "Instant",
    "IssuedBillOut",
    "LedgerEntryList",
    "LedgerEntryOut",
    "LedgerHead",
    "LicenceEventOut",
    "LicenceKindList",
    "LicenceKindOut",
    "LicenceList",
    "LicenceOut",
    "MonthlyBillOut",
    "OperatorList",
    "OperatorOut",
    "Problem",
    "PublicKeyOut",
    "ReadingList",
    "ReadingOut",
    "ReconciliationOut",
    "RoundList",
    "RoundOut",
    "SiteList",
    "SiteOut",
    "TokenOut",
]

#: Largest integer a database column (BIGINT) holds.
INT64_MAX = 2**63 - 1
#: Largest power a request may name [MW]: far above any national grid, so that its value in
#: W or Wh stays a 64-bit integer; a site's own physical bound is the domain's to check.
MAX_POWER_MW = 1_000_000.0
#: Earliest and latest year an API time may have; outside them date arithmetic overflows.
FIRST_YEAR, LAST_YEAR = 1900, 2999


def _in_range(value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"year {value.year} is out of range; give a time in years {FIRST_YEAR}-{LAST_YEAR}")
    return value


#: Largest amount of money per unit a request may name (USD/MWh, PKR/USD): its value in
#: millionths must stay a 64-bit integer.
MAX_AMOUNT = 1_000_000_000
#: Longest duration a contract term may name [h] (a leap year).
MAX_TERM_H = 366 * 24.0
#: A month ``YYYY-MM`` in years 1900-2999.
MONTH_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"


def _amount_in_range(value: float | str) -> float | str:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return value  # the domain names the field and says what was expected
    if amount.is_finite() and abs(amount) > MAX_AMOUNT:
        raise ValueError(f"{value} is out of range; at most {MAX_AMOUNT}")
    return value


#: An amount of money as a number or decimal text, at most :data:`MAX_AMOUNT`.
Amount = Annotated[float | Annotated[str, Field(max_length=40)], AfterValidator(_amount_in_range)]

#: An aware time (with offset) in years 1900-2999.
Instant = Annotated[AwareDatetime, AfterValidator(_in_range)]
#: A non-negative integer a database column holds (ids, sizes, sequence numbers).
Index = Annotated[int, Field(ge=0, le=INT64_MAX)]


class _Out(BaseModel):
    """An answer object; fields the domain adds pass through."""

    model_config = ConfigDict(extra="allow")


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, and in which field."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


#: The header of every 401 answer (RFC 6750 §3).
CHALLENGE_HEADER: dict[str, Any] = {
    "WWW-Authenticate": {
        "description": 'Bearer realm="offtake", with error="invalid_token" and error_description for a '
        'refused token; Basic realm="offtake" for a client refused at a token endpoint',
        "schema": {"type": "string"},
    }
}

_PROBLEM = {
    "model": Problem,
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}

#: Error answers every route may give, as FastAPI ``responses=``.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_PROBLEM, "description": "Malformed body (not JSON, non-finite number, nested too deeply)"},
    401: {**_PROBLEM, "description": "Missing, invalid or expired bearer token", "headers": CHALLENGE_HEADER},
    403: {**_PROBLEM, "description": "The caller may not do this"},
    404: {**_PROBLEM, "description": "No such object, or not visible to the caller"},
    405: {**_PROBLEM, "description": "Method not allowed"},
    409: {**_PROBLEM, "description": "Contradicts data already accepted"},
    413: {**_PROBLEM, "description": "Body too large"},
    422: {**_PROBLEM, "description": "A field is invalid; `field` names it"},
    429: {**_PROBLEM, "description": "Too many requests; retry after the Retry-After header"},
}


class Health(BaseModel):
    """Liveness answer."""

    status: str
    version: str


class TokenOut(BaseModel):
    """An OAuth2 access token (RFC 6749 §5.1)."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str


# ----------------------------------------------------------------- registry


class OperatorOut(_Out):
    """An operator of sites."""

    id: str
    name: str
    created_at: str | None


class OperatorList(BaseModel):
    """Operators the caller may see."""

    operators: list[OperatorOut]


class LicenceKindOut(_Out):
    """A kind of licence: data, not code."""

    id: str
    name: str
    description: str
    site_kinds: list[str]
    max_term_days: int | None
    limits: dict[str, Any]
    source: str


class LicenceKindList(BaseModel):
    """Every licence kind."""

    licence_kinds: list[LicenceKindOut]


class LicenceEventOut(_Out):
    """One state change of a licence."""

    from_state: str | None
    to_state: str
    at: str | None
    by: str | None
    reason: str | None


class LicenceOut(_Out):
    """A licence, with its state changes where asked for."""

    id: str
    operator_id: str
    kind_id: str
    state: str
    valid_from: str | None
    valid_until: str | None
    limits: dict[str, Any]
    reference: str | None
    created_at: str | None
    events: list[LicenceEventOut] | None = None


class LicenceList(BaseModel):
    """Licences the caller may see."""

    licences: list[LicenceOut]


class SiteOut(_Out):
    """A site that draws power."""

    id: str
    operator_id: str
    name: str | None
    zone: str
    kind: str
    licence_id: str | None
    connection_mw: float | None
    created_at: str | None


class SiteList(BaseModel):
    """Sites the caller may see."""

    sites: list[SiteOut]


class ContractOut(_Out):
    """A site's contract: money exact in micro-units and in USD for reading, power in MW."""

    id: str
    site_id: str
    valid_from: str | None
    valid_until: str | None
    tariff_usd_per_mwh: float
    tariff_micro_usd_per_mwh: int
    firm_mw: float
    interruptible_mw: float
    max_curtailment_fraction: float
    max_curtailment_duration_h: float
    annual_curtailment_limit: float
    response_time_s: float
    overdraw_tolerance_fraction: float
    overdraw_penalty_usd_per_mwh: float
    overdraw_penalty_micro_usd_per_mwh: int
    exchange_rate_pkr_per_usd: float
    exchange_rate_micro_pkr_per_usd: int


class ContractList(BaseModel):
    """Contracts the caller may see."""

    contracts: list[ContractOut]


class AllocationOut(_Out):
    """One row of an imported allocation."""

    id: int
    import_id: str
    site_id: str
    valid_from: str | None
    firm_mw: float
    interruptible_mw: float
    allocated_mw: float
    tariff_usd_per_mwh: float
    max_curtailment_fraction: float
    max_curtailment_duration_h: float
    annual_curtailment_limit: float
    response_time_s: float
    expected_energy_mwh: float | None
    source: str


class AllocationList(BaseModel):
    """Allocation rows the caller may see, newest first."""

    allocations: list[AllocationOut]


class AllocationImportOut(_Out):
    """What an allocation import stored."""

    import_id: str
    rows: int
    sites_created: list[str]
    allocated_mw: float


class EligibleSiteOut(_Out):
    """A site that may draw power at an instant, with its limits [MW]."""

    site_id: str
    operator_id: str
    zone: str
    kind: str
    licence_id: str
    licence_kind: str
    limit_mw: float
    firm_mw: float
    interruptible_mw: float
    licence_max_mw: float | None


class EligibilityOut(BaseModel):
    """Eligible sites at an instant."""

    at: str
    sites: list[EligibleSiteOut]


class AuditEventOut(_Out):
    """Who changed what, when, with the ledger entry of the change."""

    id: int
    at: str | None
    client_id: str | None
    role: str | None
    operator_id: str | None
    action: str
    object_type: str
    object_id: str
    detail: Any = None
    ledger_seq: int | None


class AuditList(BaseModel):
    """Audit events, newest first."""

    events: list[AuditEventOut]


# ----------------------------------------------------------------- metering


class IngestItemOut(BaseModel):
    """Outcome of one reading of a batch."""

    index: int
    status: str
    seq: int


class IngestOut(_Out):
    """Outcome of a batch of readings."""

    accepted: int
    duplicates: int
    ledger_size: int
    items: list[IngestItemOut]


class ReadingOut(_Out):
    """A stored meter reading."""

    site_id: str
    meter_id: str
    interval_start: str
    interval_end: str
    energy_wh: int
    recorded_at: str
    recorded_by: str | None
    ledger_seq: int | None


class ReadingList(BaseModel):
    """Readings of a site."""

    site_id: str
    readings: list[ReadingOut]


class CapsRecordedOut(_Out):
    """Outcome of a batch of caps."""

    accepted: int
    duplicates: int
    ledger_size: int
    seqs: list[int]


class CapOut(_Out):
    """A recorded cap of one interval."""

    interval_start: str
    interval_end: str
    cap_mw: float
    cap_w: int
    ledger_seq: int | None


class CapList(BaseModel):
    """Caps of a site."""

    site_id: str
    caps: list[CapOut]


# ----------------------------------------------------------------- ledger


class CheckpointOut(_Out):
    """A signed tree head (hex for bytes)."""

    size: int
    root: str | None = None
    signed_at: str | None = None
    key_id: str | None = None
    signature: str | None = None


class CheckpointList(BaseModel):
    """Signed checkpoints, oldest first."""

    checkpoints: list[CheckpointOut]


class LedgerHead(_Out):
    """Current tree head and the latest signed checkpoint."""

    size: int
    root: str
    latest_checkpoint: CheckpointOut | None


class PublicKeyOut(_Out):
    """The checkpoint signing key."""

    key_id: str
    algorithm: str
    pem: str
    raw: str


class LedgerEntryOut(_Out):
    """A ledger entry: canonical bytes, decoded, and leaf hash."""

    seq: int
    kind: str
    leaf_hash: str
    data: str
    entry: dict[str, Any]


class LedgerEntryList(BaseModel):
    """Ledger entries in order."""

    entries: list[LedgerEntryOut]


class InclusionProofOut(_Out):
    """Audit path of an entry (RFC 9162 §2.1.3), hex."""

    seq: int
    size: int
    leaf_hash: str
    root: str
    path: list[str]


class ConsistencyProofOut(_Out):
    """Consistency proof between two tree sizes (RFC 9162 §2.1.4), hex."""

    first: int
    second: int
    first_root: str
    second_root: str
    path: list[str]


# ----------------------------------------------------------------- billing


class ReconciliationOut(_Out):
    """Metered draw against caps over a period, interval by interval."""

    site_id: str
    start: str
    end: str
    energy_wh: int
    overdraw_wh: int
    penalty_micro_usd: int
    intervals: list[dict[str, Any]]
    warnings: list[str]


class MonthlyBillOut(_Out):
    """A site's bill for a month: exact micro-USD and paisa."""

    site_id: str
    month: str
    total_micro_usd: int
    total_paisa: int | None
    lines: list[dict[str, Any]]
    warnings: list[str]


class IssuedBillOut(_Out):
    """A bill once issued and ledgered."""

    month: str
    issued_at: str
    ledger_seq: int
    bill: dict[str, Any]


class BillOut(IssuedBillOut):
    """An issued bill in a listing."""

    total_micro_usd: int


class BillList(BaseModel):
    """Bills issued so far, newest month first."""

    bills: list[BillOut]


# ----------------------------------------------------------------- dispatch


class DispatchCapOut(_Out):
    """A dispatched cap with the rule that set it."""

    site_id: str
    operator_id: str | None
    zone: str
    kind: str | None
    interval_start: str
    interval_end: str
    cap_mw: float
    cap_w: int
    reason: str
    note: str | None
    target_mw: float
    allocation_mw: float
    floor_mw: float
    last_draw_mw: float
    draw_source: str | None
    ledger_seq: int | None


class DispatchCapList(BaseModel):
    """Dispatched caps."""

    caps: list[DispatchCapOut]


class RoundOut(_Out):
    """A dispatch round: feed, zone budgets, emergencies."""

    interval_start: str
    interval_end: str
    computed_at: str
    by: str | None
    feed: str | None
    sites: int
    deferred_mw: float
    zone_budget_mw: dict[str, float]
    emergencies: list[Any]
    notes: list[Any]
    ledger_seq: int | None
    published_at: str | None
    publish_error: str | None


class RoundList(BaseModel):
    """Dispatch rounds, newest first."""

    rounds: list[RoundOut]


class EmergencyOut(_Out):
    """A grid emergency, national or in one zone."""

    id: str
    zone: str | None
    scope: str
    message: str
    starts_at: str
    ends_at: str
    declared_by: str | None
    cleared_at: str | None
    cleared_by: str | None
    site_ids: list[str]
    vtn_event_ids: list[str]


class EmergencyList(BaseModel):
    """Emergencies, newest first."""

    emergencies: list[EmergencyOut]


class EmergencyAnswer(BaseModel):
    """An emergency declared or cleared, and the round dispatched at once (if any)."""

    emergency: EmergencyOut
    next_round: dict[str, Any] | None = None
