"""Reconciliation and bills over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict

from offtake.api.auth import require
from offtake.api.deps import DbSession
from offtake.api.lifecycle import after_write
from offtake.billing.bills import issue_bill, list_bills, monthly_bill
from offtake.billing.reconcile import reconcile_site
from offtake.identity.principal import Principal
from offtake.ledger.encoding import format_time

__all__ = ["router"]

router = APIRouter(tags=["billing"])

BillReader = Annotated[Principal, Depends(require("bills:read"))]


@router.get("/sites/{site_id}/reconciliation", summary="Metered draw against caps")
def read_reconciliation(
    site_id: str,
    session: DbSession,
    who: Annotated[Principal, Depends(require("readings:read"))],
    start: Annotated[AwareDatetime, Query()],
    end: Annotated[AwareDatetime, Query()],
) -> dict[str, Any]:
    """Reconcile each interval in ``[start, end)``: allowed energy, over-draw and penalty."""
    return reconcile_site(session, who, site_id, start, end).as_dict()


@router.get("/sites/{site_id}/bills/{month}", summary="A site's bill for a month")
def read_bill(
    site_id: str,
    month: str,
    session: DbSession,
    who: BillReader,
    tz: Annotated[str, Query(description="billing time zone")] = "UTC",
) -> dict[str, Any]:
    """Compute the bill for ``month`` (``YYYY-MM``): exact micro-USD and paisa."""
    return monthly_bill(session, who, site_id, month, tz=tz).as_dict()


class IssueIn(BaseModel):
    """Which month to issue."""

    model_config = ConfigDict(extra="forbid")
    month: str
    tz: str = "UTC"


@router.post("/sites/{site_id}/bills", status_code=201, summary="Issue a monthly bill")
def create_bill(
    site_id: str,
    body: IssueIn,
    request: Request,
    session: DbSession,
    who: Annotated[Principal, Depends(require("bills:write"))],
) -> JSONResponse:
    """Fix a finished month's bill and append it to the ledger (once)."""
    bill = issue_bill(session, who, site_id, body.month, tz=body.tz)
    session.commit()
    after_write(request.app)
    return JSONResponse(
        {
            "month": bill.month,
            "issued_at": format_time(bill.issued_at),
            "ledger_seq": bill.ledger_seq,
            "bill": bill.content,
        },
        status_code=201,
    )


@router.get("/sites/{site_id}/bills", summary="Issued bills of a site")
def read_bills(site_id: str, session: DbSession, who: BillReader) -> dict[str, Any]:
    """Bills issued so far, newest month first."""
    return {
        "bills": [
            {
                "month": b.month,
                "issued_at": format_time(b.issued_at),
                "ledger_seq": b.ledger_seq,
                "total_micro_usd": b.total_micro_usd,
                "bill": b.content,
            }
            for b in list_bills(session, who, site_id)
        ]
    }
