"""Hourly clean-energy certificates over HTTP: issue, list, read, transfer, retire, export.

The rules live in :mod:`offtake.certificates`; each handler checks its input, calls one of its
functions and shapes the answer. Who may do what:

- issue (``POST /certificates/issuances``): the grid operator, which records the metered
  readings (scope ``registry:write``), with the renewable shares it computed
  (``offtake certificates shares``) in the body;
- list and read: every reader of the ledger; an operator sees only what it holds or has held;
- transfer and retire: only the holder, an operator client acting for itself; a certificate it
  never held reads like an unknown one (404), and a second claim of the same Wh is a 409;
- export: readers of the whole ledger (grid operator, regulator, programme office) get the
  signed ledger export that ``offtake ledger verify-certificates`` checks offline.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from offtake.api.auth import CurrentPrincipal, require
from offtake.api.body import StrictJsonRoute
from offtake.api.deps import DbSession, commit, get_signer
from offtake.api.schemas import INT64_MAX, PROBLEM_RESPONSES, Instant
from offtake.certificates import (
    Certificate,
    Holding,
    Retirement,
    get_certificate,
    issue_certificates,
    list_holdings,
    list_retirements,
    retire_certificate,
    shares_from_rows,
    transfer_certificate,
)
from offtake.identity.principal import Principal
from offtake.ledger.encoding import format_time
from offtake.ledger.export import export_ledger
from offtake.ledger.signing import Signer

__all__ = ["router"]

router = APIRouter(
    prefix="/certificates",
    tags=["certificates"],
    route_class=StrictJsonRoute,
    responses=PROBLEM_RESPONSES,
)

#: A certificate id as issued: ``GC-<issuance ledger seq>-<position>``.
CERTIFICATE_ID = r"^GC-[0-9]{1,19}-[0-9]{1,9}$"
#: Most share rows one issuance may carry (a 31-day month of one zone, 60 technologies).
MAX_SHARE_ROWS = 31 * 24 * 60
#: Longest id of an operator, site or zone in a request.
MAX_ID = 64
#: A volume of energy in a request [Wh]: positive, and a 64-bit integer.
Volume = Annotated[StrictInt, Field(ge=1, le=INT64_MAX, description="energy [Wh], whole")]
CertificateId = Annotated[str, Path(pattern=CERTIFICATE_ID, description="certificate id, GC-<seq>-<n>")]
HolderQuery = Annotated[
    str | None, Query(max_length=MAX_ID, description="only this operator's (an operator: itself only)")
]


# ----------------------------------------------------------------- requests


class ShareIn(BaseModel):
    """The share of a zone's supply in one hour that came from one renewable technology [ppm]."""

    model_config = ConfigDict(extra="forbid")
    zone: str = Field(min_length=1, max_length=MAX_ID)
    hour_start: Instant
    technology: str | None = Field(default=None, max_length=MAX_ID, description="none: no renewable supply")
    share_ppm: StrictInt = Field(ge=0, le=INT64_MAX, description="parts per million of the zone's supply")


class IssueIn(BaseModel):
    """Issue certificates for a site's readings that start in ``[start, end)``."""

    model_config = ConfigDict(extra="forbid")
    site_id: str = Field(min_length=1, max_length=MAX_ID)
    start: Instant
    end: Instant
    shares: list[ShareIn] = Field(min_length=1, max_length=MAX_SHARE_ROWS)
    shares_source: str = Field(default="shares sent to the API", min_length=1, max_length=200)
    new_only: StrictBool = Field(default=False, description="skip readings already issued against")


class TransferIn(BaseModel):
    """Move whole Wh of a certificate the caller holds to another licensed operator."""

    model_config = ConfigDict(extra="forbid")
    to: str = Field(min_length=1, max_length=MAX_ID, description="the receiving operator")
    volume_wh: Volume


class RetireIn(BaseModel):
    """Retire whole Wh of a certificate the caller holds against a claim."""

    model_config = ConfigDict(extra="forbid")
    volume_wh: Volume
    beneficiary: str = Field(min_length=1, max_length=200, description="on whose behalf the claim is made")
    claim: str = Field(min_length=1, max_length=2000, description="the claim, e.g. 'hourly-matched load, July 2025'")


# ----------------------------------------------------------------- answers


class CertificateOut(BaseModel):
    """One hourly certificate as issued (times UTC, energy [Wh], share [ppm])."""

    id: str
    site_id: str
    operator_id: str = Field(description="the operator it was issued to")
    zone: str
    start: str
    end: str
    technology: str
    volume_wh: int
    consumption_wh: int
    share_ppm: int
    readings: list[int] = Field(description="ledger seqs of the readings it is issued against")
    issue_seq: int


class IssuanceOut(BaseModel):
    """What an issuance appended to the ledger."""

    seq: int
    site_id: str
    readings: int
    consumption_wh: int
    volume_wh: int
    certificates: list[CertificateOut]


class HoldingOut(BaseModel):
    """Wh of one certificate one operator holds now."""

    certificate: CertificateOut
    holder: str
    volume_wh: int


class HoldingList(BaseModel):
    """Holdings the caller may see, by hour."""

    holdings: list[HoldingOut]
    total_wh: int


class RetirementOut(BaseModel):
    """Wh of a certificate retired against a claim."""

    seq: int
    certificate: str
    holder: str
    volume_wh: int
    beneficiary: str
    claim: str


class RetirementList(BaseModel):
    """Retirements the caller may see, oldest first."""

    retirements: list[RetirementOut]
    total_wh: int


class HolderOut(BaseModel):
    """One holder of a certificate."""

    holder: str
    volume_wh: int


class CertificateStateOut(BaseModel):
    """A certificate with its holders and retirements (an operator sees only its own)."""

    certificate: CertificateOut
    holdings: list[HolderOut]
    retirements: list[RetirementOut]
    held_wh: int
    retired_wh: int


class TransferOut(BaseModel):
    """A transfer appended to the ledger."""

    seq: int
    certificate: str
    from_operator: str
    to_operator: str
    volume_wh: int


class ExportOut(BaseModel):
    """The signed ledger export for offline verification (``offtake ledger verify-certificates``)."""

    entries: int
    checkpoints: int
    root: str
    key_id: str
    public_key: str = Field(description="Ed25519 public key, 64 hex digits; obtain it independently too")
    exported_at: str
    export: str = Field(description="the export file's text: save it as is and verify it offline")


def _certificate(c: Certificate) -> dict[str, Any]:
    return {
        "id": c.id,
        "site_id": c.site,
        "operator_id": c.operator,
        "zone": c.zone,
        "start": format_time(c.start),
        "end": format_time(c.end),
        "technology": c.technology,
        "volume_wh": c.volume_wh,
        "consumption_wh": c.consumption_wh,
        "share_ppm": c.share_ppm,
        "readings": list(c.readings),
        "issue_seq": c.issue_seq,
    }


def _holding(h: Holding) -> dict[str, Any]:
    return {"certificate": _certificate(h.certificate), "holder": h.holder, "volume_wh": h.volume_wh}


def _retirement(r: Retirement) -> dict[str, Any]:
    return {
        "seq": r.seq,
        "certificate": r.certificate,
        "holder": r.holder,
        "volume_wh": r.volume_wh,
        "beneficiary": r.beneficiary,
        "claim": r.claim,
    }


# ----------------------------------------------------------------- routes


@router.post("/issuances", status_code=201, response_model=IssuanceOut, summary="Issue certificates from readings")
def create_issuance(
    body: IssueIn,
    request: Request,
    session: DbSession,
    who: Annotated[Principal, Depends(require("registry:write"))],
) -> dict[str, Any]:
    """Issue one certificate per hour and renewable technology for a site's metered readings.

    Each reading is issued against once: a second issuance of the same reading is a 409
    (or skipped with ``new_only``). The shares must cover every hour of the site's zone.
    """
    rows = [(s.zone, s.hour_start, s.technology, s.share_ppm) for s in body.shares]
    table = shares_from_rows(rows, body.shares_source)
    issued = issue_certificates(session, who, body.site_id, body.start, body.end, table, new_only=body.new_only)
    commit(request, session)
    return {
        "seq": issued.seq,
        "site_id": body.site_id,
        "readings": issued.readings,
        "consumption_wh": issued.consumption_wh,
        "volume_wh": issued.volume_wh,
        "certificates": [_certificate(c) for c in issued.certificates],
    }


@router.get("", response_model=HoldingList, summary="Certificates held now")
def read_holdings(session: DbSession, who: CurrentPrincipal, holder: HolderQuery = None) -> dict[str, Any]:
    """List holdings by hour and holder; an operator sees only its own."""
    rows = list_holdings(session, who, holder=holder)
    return {"holdings": [_holding(h) for h in rows], "total_wh": sum(h.volume_wh for h in rows)}


@router.get("/retirements", response_model=RetirementList, summary="Retired certificates and their claims")
def read_retirements(session: DbSession, who: CurrentPrincipal, holder: HolderQuery = None) -> dict[str, Any]:
    """Retirements, oldest first; an operator sees only its own."""
    rows = list_retirements(session, who, holder=holder)
    return {"retirements": [_retirement(r) for r in rows], "total_wh": sum(r.volume_wh for r in rows)}


@router.get("/export", response_model=ExportOut, summary="Signed ledger export for offline verification")
def read_export(
    session: DbSession,
    who: Annotated[
        Principal, Depends(require("ledger:read", roles=("grid_operator", "regulator", "programme_office")))
    ],
    signer: Annotated[Signer, Depends(get_signer)],
) -> dict[str, Any]:
    """Export the whole ledger (readings, certificate entries), its checkpoints and a signed trailer.

    Save ``export`` to a file and run ``offtake ledger verify-certificates FILE --public-key
    KEY``: it checks every hash and signature, then replays every certificate against the
    readings it names. Operators get 403: the export holds every operator's entries.
    """
    folder = FilePath(tempfile.mkdtemp(prefix="offtake-export-"))  # private (0700)
    try:
        exported_at = datetime.now(UTC)
        summary = export_ledger(session, folder / "ledger.offtake", signer, now=exported_at)
        text = summary.path.read_text("ascii")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    raw = signer.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "entries": summary.entries,
        "checkpoints": summary.checkpoints,
        "root": summary.root.hex(),
        "key_id": signer.key_id,
        "public_key": raw.hex(),
        "exported_at": format_time(exported_at),
        "export": text,
    }


@router.get("/{certificate_id}", response_model=CertificateStateOut, summary="One certificate")
def read_certificate(certificate_id: CertificateId, session: DbSession, who: CurrentPrincipal) -> dict[str, Any]:
    """Return the certificate, who holds it and what was retired of it (an operator: its own part)."""
    state = get_certificate(session, who, certificate_id)
    return {
        "certificate": _certificate(state.certificate),
        "holdings": [{"holder": h.holder, "volume_wh": h.volume_wh} for h in state.holdings],
        "retirements": [_retirement(r) for r in state.retirements],
        "held_wh": state.held_wh,
        "retired_wh": state.retired_wh,
    }


@router.post(
    "/{certificate_id}/transfers", status_code=201, response_model=TransferOut, summary="Transfer to another operator"
)
def create_transfer(
    certificate_id: CertificateId, body: TransferIn, request: Request, session: DbSession, who: CurrentPrincipal
) -> dict[str, Any]:
    """Move Wh the caller holds to another licensed operator (less than all splits the holding)."""
    holder = who.operator_id or ""
    seq = transfer_certificate(session, who, certificate_id, holder, body.to, body.volume_wh)
    commit(request, session)
    return {
        "seq": seq,
        "certificate": certificate_id,
        "from_operator": holder,
        "to_operator": body.to,
        "volume_wh": body.volume_wh,
    }


@router.post(
    "/{certificate_id}/retirements", status_code=201, response_model=RetirementOut, summary="Retire against a claim"
)
def create_retirement(
    certificate_id: CertificateId, body: RetireIn, request: Request, session: DbSession, who: CurrentPrincipal
) -> dict[str, Any]:
    """Retire Wh the caller holds against a claim; a second claim of the same Wh is refused (409)."""
    holder = who.operator_id or ""
    seq = retire_certificate(
        session, who, certificate_id, holder, body.volume_wh, beneficiary=body.beneficiary, claim=body.claim
    )
    commit(request, session)
    state = get_certificate(session, who, certificate_id)
    return next(_retirement(r) for r in state.retirements if r.seq == seq)
