"""The console's certificates page: holdings and retired claims, as the signed-in person may see them.

An operator sees the certificates it holds now and the claims it retired them against; the
regulator, the control room and the programme office see every holder and every claim. The
page reads through :func:`offtake.certificates.list_holdings` and
:func:`~offtake.certificates.list_retirements` as the person's principal, so it shows exactly
what the REST API would give the same person; it decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session, sessionmaker

from offtake.api.console.render import page
from offtake.api.console.session import Viewer, require_role
from offtake.api.console.views import local_time
from offtake.certificates import list_holdings, list_retirements
from offtake.identity.principal import Principal
from offtake.units import WH_PER_MWH

__all__ = ["CertificatesView", "certificate_routes", "certificates_view"]

#: Most holdings and retirements the page lists (the newest); totals count them all.
MAX_ROWS = 500

CertificateViewer = Annotated[Viewer, require_role("operator", "regulator", "grid_operator", "programme_office")]


@dataclass(frozen=True)
class HoldingRow:
    """One holding as shown (hour in Pakistan time, energy [MWh])."""

    certificate: str
    holder: str
    site: str
    zone: str
    hour: str
    technology: str
    mwh: float


@dataclass(frozen=True)
class RetirementRow:
    """One retirement as shown (energy [MWh])."""

    seq: int
    certificate: str
    holder: str
    mwh: float
    beneficiary: str
    claim: str


@dataclass
class CertificatesView:
    """What the certificates page shows; totals are over every row, not only those listed [MWh]."""

    scope: str
    holdings: list[HoldingRow] = field(default_factory=list)
    retirements: list[RetirementRow] = field(default_factory=list)
    holdings_total: int = 0
    retirements_total: int = 0
    held_mwh_by_technology: dict[str, float] = field(default_factory=dict)
    held_mwh: float = 0.0
    retired_mwh: float = 0.0


def certificates_view(session: Session, principal: Principal) -> CertificatesView:
    """Build the page for ``principal`` (an operator: its own; a reader of everything: all)."""
    held = list_holdings(session, principal)
    retired = list_retirements(session, principal)
    scope = f"operator {principal.operator_id}" if principal.is_operator_bound else "every operator"
    view = CertificatesView(scope, holdings_total=len(held), retirements_total=len(retired))
    for h in held:
        tech = h.certificate.technology
        view.held_mwh_by_technology[tech] = view.held_mwh_by_technology.get(tech, 0.0) + h.volume_wh / WH_PER_MWH
    view.held_mwh = sum(h.volume_wh for h in held) / WH_PER_MWH
    view.retired_mwh = sum(r.volume_wh for r in retired) / WH_PER_MWH
    for h in reversed(held[-MAX_ROWS:]):  # newest hour first
        c = h.certificate
        view.holdings.append(
            HoldingRow(c.id, h.holder, c.site, c.zone, local_time(c.start), c.technology, h.volume_wh / WH_PER_MWH)
        )
    for r in reversed(retired[-MAX_ROWS:]):
        view.retirements.append(
            RetirementRow(r.seq, r.certificate, r.holder, r.volume_wh / WH_PER_MWH, r.beneficiary, r.claim)
        )
    return view


def certificate_routes(router: APIRouter) -> None:
    """Add the certificates page to ``router``."""

    @router.get("/certificates", response_class=HTMLResponse)
    async def certificates(request: Request, viewer: CertificateViewer) -> HTMLResponse:
        factory: sessionmaker[Session] = request.app.state.session_factory

        def work() -> CertificatesView:
            with factory() as session:
                return certificates_view(session, viewer.principal)

        view = await run_in_threadpool(work)
        return page(request, "certificates.html", viewer, view=view, max_rows=MAX_ROWS)
