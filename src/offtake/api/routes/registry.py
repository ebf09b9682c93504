"""The registry over HTTP: operators, licence kinds, licences, sites, contracts, allocations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from offtake.api.auth import require
from offtake.api.body import StrictJsonRoute
from offtake.api.deps import DbSession, commit
from offtake.api.schemas import (
    MAX_POWER_MW,
    MAX_TERM_H,
    PROBLEM_RESPONSES,
    AllocationImportOut,
    AllocationList,
    Amount,
    AuditList,
    ContractList,
    ContractOut,
    EligibilityOut,
    Instant,
    LicenceKindList,
    LicenceKindOut,
    LicenceList,
    LicenceOut,
    OperatorList,
    OperatorOut,
    SiteList,
    SiteOut,
)
from offtake.errors import InputError
from offtake.identity.principal import Principal
from offtake.ledger.audit import list_audit
from offtake.ledger.encoding import format_time
from offtake.persistence.schema import Allocation, Contract, Licence, LicenceKind, Operator, Site
from offtake.registry import allocations, contracts, eligibility, kinds, licences, sites
from offtake.units import S_PER_H

__all__ = ["router"]

router = APIRouter(
    tags=["registry"],
    route_class=StrictJsonRoute,
    responses=PROBLEM_RESPONSES,
)

Reader = Annotated[Principal, Depends(require("registry:read"))]
Writer = Annotated[Principal, Depends(require("registry:write"))]
Regulator = Annotated[Principal, Depends(require("licences:write"))]


def _t(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def operator_out(o: Operator) -> dict[str, Any]:
    """JSON form of an operator."""
    return {"id": o.id, "name": o.name, "created_at": _t(o.created_at)}


def kind_out(k: LicenceKind) -> dict[str, Any]:
    """JSON form of a licence kind."""
    return {
        "id": k.id,
        "name": k.name,
        "description": k.description,
        "site_kinds": k.site_kinds,
        "max_term_days": k.max_term_days,
        "limits": k.limits,
        "source": k.source,
    }


def licence_out(lic: Licence, events: list[Any] | None = None) -> dict[str, Any]:
    """JSON form of a licence (with its state changes when given)."""
    out: dict[str, Any] = {
        "id": lic.id,
        "operator_id": lic.operator_id,
        "kind_id": lic.kind_id,
        "state": lic.state,
        "valid_from": _t(lic.valid_from),
        "valid_until": _t(lic.valid_until),
        "limits": lic.limits,
        "reference": lic.reference,
        "created_at": _t(lic.created_at),
    }
    if events is not None:
        out["events"] = [
            {
                "from_state": e.from_state,
                "to_state": e.to_state,
                "at": _t(e.at),
                "by": e.by_client,
                "reason": e.reason,
            }
            for e in events
        ]
    return out


def site_out(s: Site) -> dict[str, Any]:
    """JSON form of a site."""
    return {
        "id": s.id,
        "operator_id": s.operator_id,
        "name": s.name,
        "zone": s.zone,
        "kind": s.kind,
        "licence_id": s.licence_id,
        "connection_mw": None if s.connection_w is None else s.connection_w / 1e6,
        "created_at": _t(s.created_at),
    }


def contract_out(c: Contract) -> dict[str, Any]:
    """JSON form of a contract (money exact in micro-units, and in USD for reading)."""
    return {
        "id": c.id,
        "site_id": c.site_id,
        "valid_from": _t(c.valid_from),
        "valid_until": _t(c.valid_until),
        "tariff_usd_per_mwh": c.tariff_micro_usd_per_mwh / 1e6,
        "tariff_micro_usd_per_mwh": c.tariff_micro_usd_per_mwh,
        "firm_mw": c.firm_w / 1e6,
        "interruptible_mw": c.interruptible_w / 1e6,
        "max_curtailment_fraction": c.max_curtailment_fraction,
        "max_curtailment_duration_h": c.max_curtailment_duration_h,
        "annual_curtailment_limit": c.annual_curtailment_limit,
        "response_time_s": c.response_time_s,
        "overdraw_tolerance_fraction": c.overdraw_tolerance_bp / 10_000,
        "overdraw_penalty_usd_per_mwh": c.overdraw_penalty_micro_usd_per_mwh / 1e6,
        "overdraw_penalty_micro_usd_per_mwh": c.overdraw_penalty_micro_usd_per_mwh,
        "exchange_rate_pkr_per_usd": c.exchange_rate_micro_pkr_per_usd / 1e6,
        "exchange_rate_micro_pkr_per_usd": c.exchange_rate_micro_pkr_per_usd,
    }


def allocation_out(a: Allocation) -> dict[str, Any]:
    """JSON form of an allocation row."""
    return {
        "id": a.id,
        "import_id": a.import_id,
        "site_id": a.site_id,
        "valid_from": _t(a.valid_from),
        "firm_mw": a.firm_w / 1e6,
        "interruptible_mw": a.interruptible_w / 1e6,
        "allocated_mw": a.allocated_w / 1e6,
        "tariff_usd_per_mwh": a.tariff_micro_usd_per_mwh / 1e6,
        "max_curtailment_fraction": a.max_curtailment_fraction,
        "max_curtailment_duration_h": a.max_curtailment_duration_h,
        "annual_curtailment_limit": a.annual_curtailment_limit,
        "response_time_s": a.response_time_s,
        "expected_energy_mwh": a.expected_energy_mwh,
        "source": f"{a.source_file}:{a.source_line}",
    }


# ------------------------------------------------------------------ operators


class OperatorIn(BaseModel):
    """A new operator."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str


@router.post("/operators", status_code=201, response_model=OperatorOut, summary="Register an operator")
def create_operator(
    body: OperatorIn,
    request: Request,
    session: DbSession,
    who: Annotated[Principal, Depends(require())],
) -> dict[str, Any]:
    """Register an operator (regulator or grid operator)."""
    op = sites.create_operator(session, who, body.id, body.name)
    commit(request, session)
    return operator_out(op)


@router.get("/operators", response_model=OperatorList, summary="List operators")
def read_operators(session: DbSession, who: Reader) -> dict[str, Any]:
    """Operators the caller may see."""
    return {"operators": [operator_out(o) for o in sites.list_operators(session, who)]}


@router.get("/operators/{operator_id}", response_model=OperatorOut, summary="One operator")
def read_operator(operator_id: str, session: DbSession, who: Reader) -> dict[str, Any]:
    """Return an operator (an operator may read only itself)."""
    return operator_out(sites.get_operator(session, who, operator_id))


# ------------------------------------------------------------------ licence kinds and licences


class LicenceKindIn(BaseModel):
    """A new licence kind: data, not code."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    description: str = ""
    site_kinds: list[str] = Field(default_factory=list)
    max_term_days: int | None = Field(default=None, gt=0, le=36_500)
    limits: dict[str, Any] = Field(default_factory=dict)
    source: str = ""


@router.get("/licence-kinds", response_model=LicenceKindList, summary="List licence kinds")
def read_licence_kinds(session: DbSession, who: Reader) -> dict[str, Any]:
    """Every licence kind."""
    return {"licence_kinds": [kind_out(k) for k in kinds.list_licence_kinds(session)]}


@router.post("/licence-kinds", status_code=201, response_model=LicenceKindOut, summary="Add a licence kind")
def create_licence_kind(body: LicenceKindIn, request: Request, session: DbSession, who: Regulator) -> dict[str, Any]:
    """Add a licence kind (regulator)."""
    kind = kinds.create_licence_kind(session, who, body.model_dump())
    commit(request, session)
    return kind_out(kind)


class LicenceIn(BaseModel):
    """A licence application."""

    model_config = ConfigDict(extra="forbid")
    operator_id: str
    kind_id: str
    id: str | None = None
    reference: str = ""
    limits: dict[str, Any] = Field(default_factory=dict)


@router.post("/licences", status_code=201, response_model=LicenceOut, summary="Apply for a licence")
def create_licence(
    body: LicenceIn,
    request: Request,
    session: DbSession,
    who: Annotated[Principal, Depends(require())],
) -> dict[str, Any]:
    """File an application (operator for itself, or the regulator)."""
    lic = licences.apply_for_licence(
        session,
        who,
        operator_id=body.operator_id,
        kind_id=body.kind_id,
        licence_id=body.id,
        reference=body.reference,
        limits=body.limits,
    )
    commit(request, session)
    return licence_out(lic, licences.licence_events(session, lic.id))


@router.get("/licences", response_model=LicenceList, summary="List licences")
def read_licences(session: DbSession, who: Reader, operator_id: str | None = None) -> dict[str, Any]:
    """Licences the caller may see."""
    return {"licences": [licence_out(x) for x in licences.list_licences(session, who, operator_id=operator_id)]}


@router.get("/licences/{licence_id}", response_model=LicenceOut, summary="One licence with its history")
def read_licence(licence_id: str, session: DbSession, who: Reader) -> dict[str, Any]:
    """Return a licence and every state change (who, when, why)."""
    lic = licences.get_licence(session, who, licence_id)
    return licence_out(lic, licences.licence_events(session, licence_id))


class TransitionIn(BaseModel):
    """A licence state change."""

    model_config = ConfigDict(extra="forbid")
    to_state: str
    reason: str = ""
    at: Instant | None = None
    valid_until: Instant | None = None
    limits: dict[str, Any] | None = Field(
        default=None, description="the licence's limits, set by the regulator at approval"
    )


@router.post("/licences/{licence_id}/transitions", response_model=LicenceOut, summary="Change a licence's state")
def transition_licence(
    licence_id: str, body: TransitionIn, request: Request, session: DbSession, who: Regulator
) -> dict[str, Any]:
    """Approve, activate, suspend, reinstate or revoke (regulator)."""
    lic = licences.transition_licence(
        session,
        who,
        licence_id,
        body.to_state,
        reason=body.reason,
        at=body.at,
        valid_until=body.valid_until,
        limits=body.limits,
    )
    commit(request, session)
    return licence_out(lic, licences.licence_events(session, licence_id))


class LimitsIn(BaseModel):
    """New limits of a licence and why they change."""

    model_config = ConfigDict(extra="forbid")
    limits: dict[str, Any]
    reason: str = Field(min_length=1, max_length=500)
    at: Instant | None = None


@router.put("/licences/{licence_id}/limits", response_model=LicenceOut, summary="Amend a licence's limits (regulator)")
def amend_licence_limits(
    licence_id: str, body: LimitsIn, request: Request, session: DbSession, who: Regulator
) -> dict[str, Any]:
    """Replace the licence's limits; the old and new values are audited and ledgered."""
    lic = licences.amend_licence_limits(session, who, licence_id, body.limits, reason=body.reason, at=body.at)
    commit(request, session)
    return licence_out(lic, licences.licence_events(session, licence_id))


# ------------------------------------------------------------------ sites


class SiteIn(BaseModel):
    """A new site."""

    model_config = ConfigDict(extra="forbid")
    id: str
    operator_id: str
    zone: str
    kind: str
    name: str = ""
    licence_id: str | None = None
    connection_mw: float | None = Field(default=None, ge=0, le=MAX_POWER_MW)


@router.post("/sites", status_code=201, response_model=SiteOut, summary="Register a site")
def create_site(body: SiteIn, request: Request, session: DbSession, who: Writer) -> dict[str, Any]:
    """Register a site (grid operator)."""
    site = sites.create_site(
        session,
        who,
        site_id=body.id,
        operator_id=body.operator_id,
        zone=body.zone,
        kind=body.kind,
        name=body.name,
        licence_id=body.licence_id,
        connection_mw=body.connection_mw,
    )
    commit(request, session)
    return site_out(site)


@router.get("/sites", response_model=SiteList, summary="List sites")
def read_sites(
    session: DbSession, who: Reader, operator_id: str | None = None, zone: str | None = None
) -> dict[str, Any]:
    """Sites the caller may see."""
    return {"sites": [site_out(s) for s in sites.list_sites(session, who, operator_id=operator_id, zone=zone)]}


@router.get("/sites/{site_id}", response_model=SiteOut, summary="One site")
def read_site(site_id: str, session: DbSession, who: Annotated[Principal, Depends(require())]) -> dict[str, Any]:
    """Return a site (an operator only its own)."""
    return site_out(sites.get_site(session, who, site_id))


class SiteLicenceIn(BaseModel):
    """The licence a site draws power under."""

    model_config = ConfigDict(extra="forbid")
    licence_id: str | None


@router.put("/sites/{site_id}/licence", response_model=SiteOut, summary="Attach a licence to a site")
def update_site_licence(
    site_id: str, body: SiteLicenceIn, request: Request, session: DbSession, who: Writer
) -> dict[str, Any]:
    """Set (or clear) the licence of a site."""
    site = sites.attach_licence(session, who, site_id, body.licence_id)
    commit(request, session)
    return site_out(site)


# ------------------------------------------------------------------ contracts and allocations


class ContractIn(BaseModel):
    """A new contract; money as decimals (USD/MWh), power in MW."""

    model_config = ConfigDict(extra="forbid")
    site_id: str
    valid_from: Instant
    valid_until: Instant | None = None
    id: str | None = None
    tariff_usd_per_mwh: Amount
    firm_mw: float = Field(ge=0, le=MAX_POWER_MW)
    interruptible_mw: float = Field(ge=0, le=MAX_POWER_MW)
    max_curtailment_fraction: float = Field(ge=0, le=1)
    max_curtailment_duration_h: float = Field(ge=0, le=MAX_TERM_H)
    annual_curtailment_limit: float = Field(ge=0, le=1)
    response_time_s: float = Field(ge=0, le=MAX_TERM_H * S_PER_H)
    overdraw_tolerance_fraction: float = Field(ge=0, le=1)
    overdraw_penalty_usd_per_mwh: Amount
    exchange_rate_pkr_per_usd: Amount


@router.post("/contracts", status_code=201, response_model=ContractOut, summary="Sign a contract")
def create_contract(body: ContractIn, request: Request, session: DbSession, who: Writer) -> dict[str, Any]:
    """Create a site's contract (grid operator)."""
    values = body.model_dump()
    contract = contracts.create_contract(session, who, contract_id=values.pop("id"), **values)
    commit(request, session)
    return contract_out(contract)


@router.get("/contracts", response_model=ContractList, summary="List contracts")
def read_contracts(session: DbSession, who: Reader, site_id: str | None = None) -> dict[str, Any]:
    """Contracts the caller may see."""
    return {"contracts": [contract_out(c) for c in contracts.list_contracts(session, who, site_id=site_id)]}


@router.get("/contracts/{contract_id}", response_model=ContractOut, summary="One contract")
def read_contract(contract_id: str, session: DbSession, who: Reader) -> dict[str, Any]:
    """Return a contract (an operator only its own)."""
    return contract_out(contracts.get_contract(session, who, contract_id))


@router.post(
    "/allocations/import",
    status_code=201,
    response_model=AllocationImportOut,
    summary="Import the planner's allocation.csv",
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
)
async def import_allocation(
    request: Request,
    session: DbSession,
    who: Writer,
    valid_from: Annotated[Instant, Query(description="when the allocation takes effect")],
    filename: Annotated[str, Query(max_length=500)] = "allocation.csv",
    create_sites: Annotated[bool, Query()] = True,
) -> dict[str, Any]:
    """Import an ``allocation.csv`` sent as the request body (``text/csv``)."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("the file is not UTF-8 text", file=filename) from None

    def work() -> dict[str, Any]:
        result = allocations.import_allocation(
            session, who, filename, valid_from=valid_from, text=text, create_sites=create_sites
        )
        commit(request, session)
        return {
            "import_id": result.import_id,
            "rows": result.rows,
            "sites_created": result.sites_created,
            "allocated_mw": result.allocated_mw,
        }

    return await run_in_threadpool(work)


@router.get("/allocations", response_model=AllocationList, summary="List allocations")
def read_allocations(session: DbSession, who: Reader, site_id: str | None = None) -> dict[str, Any]:
    """Allocation rows the caller may see, newest first."""
    return {"allocations": [allocation_out(a) for a in allocations.list_allocations(session, who, site_id=site_id)]}


@router.get("/eligibility", response_model=EligibilityOut, summary="Sites that may draw power at an instant")
def read_eligibility(session: DbSession, who: Reader, at: Annotated[Instant | None, Query()] = None) -> dict[str, Any]:
    """Eligible sites and their power limits; a site without an active licence gets no power."""
    instant = at or datetime.now(UTC)
    rows = eligibility.eligible_sites(session, instant)
    if who.is_operator_bound:
        rows = [r for r in rows if r.operator_id == who.operator_id]
    return {"at": format_time(instant), "sites": [r.__dict__ for r in rows]}


@router.get("/audit", response_model=AuditList, summary="Audit log")
def read_audit(
    session: DbSession,
    who: Annotated[Principal, Depends(require("audit:read"))],
    object_type: str | None = None,
    object_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> dict[str, Any]:
    """Who changed what, when (newest first), with the ledger entry of each change."""
    events = list_audit(session, who, object_type=object_type, object_id=object_id, limit=limit)
    return {
        "events": [
            {
                "id": e.id,
                "at": _t(e.at),
                "client_id": e.client_id,
                "role": e.role,
                "operator_id": e.operator_id,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "detail": e.detail,
                "ledger_seq": e.ledger_seq,
            }
            for e in events
        ]
    }
