"""Live dispatch over HTTP: caps with their reasons, rounds, and the control room's emergencies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from offtake.api.auth import require
from offtake.api.body import StrictJsonRoute
from offtake.api.deps import DbSession
from offtake.api.lifecycle import after_write, live_dispatch
from offtake.api.schemas import (
    PROBLEM_RESPONSES,
    DispatchCapList,
    EmergencyAnswer,
    EmergencyList,
    Instant,
    RoundList,
)
from offtake.identity.principal import Principal
from offtake.ledger.encoding import format_time
from offtake.live.records import (
    DispatchCap,
    DispatchRound,
    emergencies_seen_by,
    emergency_as_dict,
    list_dispatch_caps,
    list_rounds,
)

__all__ = ["router"]

router = APIRouter(
    prefix="/dispatch",
    tags=["dispatch"],
    route_class=StrictJsonRoute,
    responses=PROBLEM_RESPONSES,
)

Reader = Annotated[Principal, Depends(require("caps:read"))]
ControlRoom = Annotated[Principal, Depends(require("caps:write", roles=["grid_operator"]))]


#: Longest emergency a declaration may name [s] (a year); a longer one is cleared by hand.
MAX_EMERGENCY_S = 366 * 24 * 3600.0


class EmergencyIn(BaseModel):
    """A grid emergency: national (no zone) or in one zone."""

    model_config = ConfigDict(extra="forbid")

    zone: str | None = None
    message: str = Field(min_length=1, max_length=500)
    duration_s: float | None = Field(default=None, gt=0, le=MAX_EMERGENCY_S, description="[s]")


def cap_out(c: DispatchCap) -> dict[str, Any]:
    """JSON form of a dispatched cap."""
    return {
        "site_id": c.site_id,
        "operator_id": c.operator_id,
        "zone": c.zone,
        "kind": c.kind,
        "interval_start": format_time(c.interval_start),
        "interval_end": format_time(c.interval_end),
        "cap_mw": c.cap_w / 1e6,
        "cap_w": c.cap_w,
        "reason": c.reason,
        "note": c.note,
        "target_mw": c.target_w / 1e6,
        "allocation_mw": c.allocation_w / 1e6,
        "floor_mw": c.floor_w / 1e6,
        "last_draw_mw": c.last_draw_w / 1e6,
        "draw_source": c.draw_source,
        "ledger_seq": c.ledger_seq,
    }


def round_out(r: DispatchRound) -> dict[str, Any]:
    """JSON form of a dispatch round."""
    return {
        "interval_start": format_time(r.interval_start),
        "interval_end": format_time(r.interval_end),
        "computed_at": format_time(r.computed_at),
        "by": r.by_client,
        "feed": r.feed,
        "sites": r.sites,
        "deferred_mw": r.deferred_w / 1e6,
        "zone_budget_mw": {z: w / 1e6 for z, w in (r.detail or {}).get("zone_budget_w", {}).items()},
        "emergencies": (r.detail or {}).get("emergencies", []),
        "notes": (r.detail or {}).get("notes", []),
        "ledger_seq": r.ledger_seq,
        "published_at": None if r.published_at is None else format_time(r.published_at),
        "publish_error": r.publish_error,
    }


@router.get("/caps", response_model=DispatchCapList, summary="Dispatched caps with the rule that set each")
def read_caps(
    session: DbSession,
    who: Reader,
    site_id: str | None = None,
    since: Annotated[Instant | None, Query(description="intervals starting at or after")] = None,
    until: Annotated[Instant | None, Query(description="intervals starting before")] = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 10_000,
) -> dict[str, Any]:
    """Caps of the latest round (or of ``[since, until)``); an operator sees its own sites only."""
    caps = list_dispatch_caps(session, who, site_id=site_id, since=since, until=until, limit=limit)
    return {"caps": [cap_out(c) for c in caps]}


@router.get("/rounds", response_model=RoundList, summary="Dispatch rounds: feed, zone budgets, emergencies")
def read_rounds(
    session: DbSession,
    who: Reader,
    since: Annotated[Instant | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 288,
) -> dict[str, Any]:
    """List rounds, newest first (grid operator and regulator)."""
    return {"rounds": [round_out(r) for r in list_rounds(session, who, since=since, limit=limit)]}


@router.get("/emergency", response_model=EmergencyList, summary="Grid emergencies")
def read_emergencies(
    session: DbSession, who: Reader, since: Annotated[Instant | None, Query()] = None
) -> dict[str, Any]:
    """Emergencies ending after ``since`` (all by default), newest first."""
    return {"emergencies": emergencies_seen_by(session, who, since=since)}


@router.post(
    "/emergency",
    status_code=201,
    response_model=EmergencyAnswer,
    summary="Declare a grid emergency (control room)",
)
async def declare_emergency(body: EmergencyIn, request: Request, who: ControlRoom) -> dict[str, Any]:
    """Record the emergency, send SIMPLE/ALERT_GRID_EMERGENCY events at once, dispatch the next interval."""
    live = live_dispatch(request.app)
    duration = None if body.duration_s is None else timedelta(seconds=body.duration_s)
    emergency, outcome = await run_in_threadpool(
        live.declare_emergency, who, zone=body.zone, message=body.message, at=datetime.now(UTC), duration=duration
    )
    after_write(request.app)
    answer: dict[str, Any] = {"emergency": emergency_as_dict(emergency)}
    answer["next_round"] = None if outcome is None else outcome.summary()
    return answer


@router.post(
    "/emergency/{emergency_id}/clear",
    response_model=EmergencyAnswer,
    summary="Clear a grid emergency (control room)",
)
async def clear_emergency(emergency_id: str, request: Request, who: ControlRoom) -> dict[str, Any]:
    """End the emergency now; the next round is dispatched without it."""
    live = live_dispatch(request.app)
    emergency = await run_in_threadpool(live.clear_emergency, who, emergency_id, at=datetime.now(UTC))
    after_write(request.app)
    return {"emergency": emergency_as_dict(emergency)}
