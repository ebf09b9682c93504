"""Reconciliation and bills over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from offtake.api.auth import require
from offtake.api.body import StrictJsonRoute
from offtake.api.deps import DbSession, commit
from offtake.api.schemas import (
    MONTH_PATTERN,
    PROBLEM_RESPONSES,
    BillList,
    Instant,
    IssuedBillOut,
    MonthlyBillOut,
    ReconciliationOut,
)
from offtake.billing.bills import issue_bill, list_bills, monthly_bill
from offtake.billing.reconcile import reconcile_site
from offtake.identity.principal import Principal
from offtake.ledger.encoding import format_time

__all__ = ["router"]

router = APIRouter(
    tags=["billing"],
    route_class=StrictJsonRoute,
    responses=PROBLEM_RESPONSES,
)

BillReader = Annotated[Principal, Depends(require("bills:read"))]


@router.get("/sites/{site_id}/reconciliation", response_model=ReconciliationOut, summary="Metered draw against caps")
def read_reconciliation(
    site_id: str,
    session: DbSession,
    who: Annotated[Principal, Depends(require("readings:read"))],
    start: Annotated[Instant, Query()],
    end: Annotated[Instant, Query()],
) -> dict[str, Any]:
    """Reconcile each interval in ``[start, end)``: allowed energy, over-draw and penalty."""
    return reconcile_site(session, who, site_id, start, end).as_dict()


@router.get("/sites/{site_id}/bills/{month}", response_model=MonthlyBillOut, summary="A site's bill for a month")
def read_bill(
    site_id: str,
    month: Annotated[str, Path(pattern=MONTH_PATTERN, description="YYYY-MM")],
    session: DbSession,
    who: BillReader,
    tz: Annotated[str, Query(description="billing time zone")] = "UTC",
) -> dict[str, Any]:
    """Compute the bill for ``month`` (``YYYY-MM``): exact micro-USD and paisa."""
    return monthly_bill(session, who, site_id, month, tz=tz).as_dict()


class IssueIn(BaseModel):
    """Which month to issue."""

    model_config = ConfigDict(extra="forbid")
    month: str = Field(pattern=MONTH_PATTERN, description="YYYY-MM")
    tz: str = Field(default="UTC", max_length=64, description="IANA time zone of the billing month")


@router.post("/sites/{site_id}/bills", status_code=201, response_model=IssuedBillOut, summary="Issue a monthly bill")
def create_bill(
    site_id: str,
    body: IssueIn,
    request: Request,
    session: DbSession,
    who: Annotated[Principal, Depends(require("bills:write"))],
) -> dict[str, Any]:
    """Fix a finished month's bill and append it to the ledger (once)."""
    bill = issue_bill(session, who, site_id, body.month, tz=body.tz)
    commit(request, session)
    return {
        "month": bill.month,
        "issued_at": format_time(bill.issued_at),
        "ledger_seq": bill.ledger_seq,
        "bill": bill.content,
    }


@router.get("/sites/{site_id}/bills", response_model=BillList, summary="Issued bills of a site")
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
