"""Meter readings and caps: ``/readings``, ``/readings/batch``, ``/caps``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy import select

from offtake.api.auth import require
from offtake.api.body import StrictJsonRoute
from offtake.api.deps import DbSession, commit
from offtake.api.schemas import (
    INT64_MAX,
    MAX_POWER_MW,
    PROBLEM_RESPONSES,
    CapList,
    CapsRecordedOut,
    IngestOut,
    Instant,
    ReadingList,
)
from offtake.errors import InputError, NotFoundError
from offtake.identity.principal import Principal
from offtake.ledger import CapRecord, MeterReading, ingest_readings, record_caps
from offtake.ledger.encoding import format_time
from offtake.persistence.schema import Cap, Reading, Site
from offtake.registry.sites import require_sites_visible

__all__ = ["router"]

router = APIRouter(
    tags=["metering"],
    route_class=StrictJsonRoute,
    responses=PROBLEM_RESPONSES,
)


class ReadingIn(BaseModel):
    """A meter reading: energy [Wh, integer] over an interval (times with offset)."""

    model_config = ConfigDict(extra="forbid")

    site_id: str
    meter_id: str
    interval_start: Instant
    interval_end: Instant
    energy_wh: Annotated[StrictInt, Field(ge=-INT64_MAX, le=INT64_MAX)]


class ReadingBatchIn(BaseModel):
    """A batch of readings, accepted or refused as a whole."""

    model_config = ConfigDict(extra="forbid")

    readings: list[ReadingIn] = Field(min_length=1)


class CapIn(BaseModel):
    """A power cap [MW] for a site over one dispatch interval."""

    model_config = ConfigDict(extra="forbid")

    site_id: str
    interval_start: Instant
    interval_end: Instant
    cap_mw: float = Field(ge=0, le=MAX_POWER_MW)


class CapBatchIn(BaseModel):
    """A batch of caps."""

    model_config = ConfigDict(extra="forbid")

    caps: list[CapIn] = Field(min_length=1)


def _to_reading(r: ReadingIn) -> MeterReading:
    return MeterReading(r.site_id, r.meter_id, r.interval_start, r.interval_end, r.energy_wh)


def _ingest(
    request: Request, response: Response, session: DbSession, who: Principal, items: list[ReadingIn]
) -> dict[str, Any]:
    most = request.app.state.settings.max_readings_per_batch
    if len(items) > most:
        raise InputError(
            f"{len(items)} readings in one batch; send at most {most} per request "
            "(a batch holds the ledger's write lock while it is stored)",
            field="readings",
        )
    require_sites_visible(session, who, (r.site_id for r in items))
    result = ingest_readings(session, who, [_to_reading(r) for r in items])
    commit(request, session)
    response.status_code = 201 if result.accepted else 200
    return result.as_dict()


@router.post(
    "/readings",
    status_code=201,
    response_model=IngestOut,
    responses={200: {"model": IngestOut, "description": "A duplicate of a reading already accepted"}},
    summary="Report one meter reading",
)
def create_reading(
    body: ReadingIn,
    request: Request,
    response: Response,
    session: DbSession,
    who: Annotated[Principal, Depends(require("readings:write"))],
) -> dict[str, Any]:
    """Store a reading (201), or report it as a duplicate (200)."""
    return _ingest(request, response, session, who, [body])


@router.post(
    "/readings/batch",
    status_code=201,
    response_model=IngestOut,
    responses={200: {"model": IngestOut, "description": "Every reading was a duplicate"}},
    summary="Report a batch of meter readings",
)
def create_readings(
    body: ReadingBatchIn,
    request: Request,
    response: Response,
    session: DbSession,
    who: Annotated[Principal, Depends(require("readings:write"))],
) -> dict[str, Any]:
    """Store a batch atomically; each item is accepted or a duplicate."""
    return _ingest(request, response, session, who, body.readings)


def _reading_out(r: Reading) -> dict[str, Any]:
    return {
        "site_id": r.site_id,
        "meter_id": r.meter_id,
        "interval_start": format_time(r.interval_start),
        "interval_end": format_time(r.interval_end),
        "energy_wh": r.energy_wh,
        "recorded_at": format_time(r.recorded_at),
        "recorded_by": r.by_client,
        "ledger_seq": r.ledger_seq,
    }


def _site_for(session: DbSession, who: Principal, site_id: str) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFoundError(f"site '{site_id}' does not exist")
    who.require_site(site_id, site.operator_id)
    return site


@router.get("/readings", response_model=ReadingList, summary="Readings of a site")
def read_readings(
    session: DbSession,
    who: Annotated[Principal, Depends(require("readings:read"))],
    site_id: str,
    start: Annotated[Instant | None, Query()] = None,
    end: Annotated[Instant | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 10_000,
) -> dict[str, Any]:
    """List readings of ``site_id`` whose interval starts in ``[start, end)``."""
    _site_for(session, who, site_id)
    query = select(Reading).where(Reading.site_id == site_id).order_by(Reading.interval_start, Reading.meter_id)
    if start is not None:
        query = query.where(Reading.interval_start >= start)
    if end is not None:
        query = query.where(Reading.interval_start < end)
    rows = session.execute(query.limit(limit)).scalars()
    return {"site_id": site_id, "readings": [_reading_out(r) for r in rows]}


@router.post(
    "/caps",
    status_code=201,
    response_model=CapsRecordedOut,
    responses={200: {"model": CapsRecordedOut, "description": "Every cap was a duplicate"}},
    summary="Record dispatched caps",
)
def create_caps(
    body: CapBatchIn,
    request: Request,
    response: Response,
    session: DbSession,
    who: Annotated[Principal, Depends(require("caps:write"))],
) -> dict[str, Any]:
    """Store caps per site and interval (idempotent; conflicting values are refused)."""
    result = record_caps(
        session,
        who,
        [CapRecord.from_mw(c.site_id, c.interval_start, c.interval_end, c.cap_mw) for c in body.caps],
    )
    commit(request, session)
    response.status_code = 201 if result.accepted else 200
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "ledger_size": result.ledger_size,
        "seqs": result.seqs,
    }


@router.get("/caps", response_model=CapList, summary="Caps of a site")
def read_caps(
    session: DbSession,
    who: Annotated[Principal, Depends(require("caps:read"))],
    site_id: str,
    start: Annotated[Instant | None, Query()] = None,
    end: Annotated[Instant | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 10_000,
) -> dict[str, Any]:
    """Caps of ``site_id`` whose interval starts in ``[start, end)``."""
    _site_for(session, who, site_id)
    query = select(Cap).where(Cap.site_id == site_id).order_by(Cap.interval_start)
    if start is not None:
        query = query.where(Cap.interval_start >= start)
    if end is not None:
        query = query.where(Cap.interval_start < end)
    caps = session.execute(query.limit(limit)).scalars()
    return {
        "site_id": site_id,
        "caps": [
            {
                "interval_start": format_time(c.interval_start),
                "interval_end": format_time(c.interval_end),
                "cap_mw": c.cap_w / 1e6,
                "cap_w": c.cap_w,
                "ledger_seq": c.ledger_seq,
            }
            for c in caps
        ],
    }
