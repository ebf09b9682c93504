"""The programme's mapping onto OpenADR: programs, site VENs, cap events, emergencies.

* One program per kind of site (``mining``, ``ai``).
* Every site is a VEN named after its ``site_id``, with one resource of the same name.
  A site's VEN carries the targets ``VEN_NAME:<site>``, ``SERVICE_AREA:<zone>`` and
  ``GROUP:<kind>``; its resource carries ``RESOURCE_NAME:<site>``.
* The caps of a site over consecutive dispatch intervals become one
  ``IMPORT_CAPACITY_LIMIT`` event with one interval per dispatch interval, values in MW,
  targeted at the site; the event asks for ``USAGE`` reports in Wh.
* A grid emergency becomes, in each program, one event with a ``SIMPLE`` level payload and an
  ``ALERT_GRID_EMERGENCY`` payload, targeted at the affected sites' VENs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from offtake import units
from offtake.errors import InputError
from offtake.timeutil import require_aware
from offtake.vtn.models import (
    EventPayloadDescriptor,
    EventRequest,
    Interval,
    IntervalPeriod,
    ProgramRequest,
    ReportDescriptor,
    ReportPayloadDescriptor,
    ValuesMap,
    format_duration,
)

__all__ = [
    "CAP_PAYLOAD",
    "EMERGENCY_LEVEL",
    "SITE_KINDS",
    "SiteCap",
    "cap_event_request",
    "emergency_event_request",
    "program_name",
    "program_request",
    "resource_targets",
    "site_targets",
]

SITE_KINDS = units.SITE_KINDS
CAP_PAYLOAD = "IMPORT_CAPACITY_LIMIT"
#: SIMPLE levels: 0 normal, 1 moderate shed, 2 high shed, 3 emergency.
EMERGENCY_LEVEL = 3
_CAP_PRIORITY = 1
_EMERGENCY_PRIORITY = 0


@dataclass(frozen=True, slots=True)
class SiteCap:
    """The most a site may draw in one dispatch interval.

    Attributes
    ----------
    site_id
        Site the cap applies to.
    interval_start, interval_end
        Aware bounds of the dispatch interval.
    cap_mw
        Cap [MW], not negative.
    """

    site_id: str
    interval_start: datetime
    interval_end: datetime
    cap_mw: float


def program_name(kind: str) -> str:
    """Return the programName of the program for one kind of site, e.g. ``surplus-mining``."""
    if kind not in SITE_KINDS:
        raise InputError(f"unknown site kind '{kind}'; expected one of {list(SITE_KINDS)}", field="kind")
    return f"surplus-{kind}"


def program_request(kind: str) -> ProgramRequest:
    """Return the program for one kind of site, with its payload descriptors."""
    return ProgramRequest(
        programName=program_name(kind),
        payloadDescriptors=[
            EventPayloadDescriptor(payloadType=CAP_PAYLOAD, units="MW"),
            EventPayloadDescriptor(payloadType="SIMPLE"),
            EventPayloadDescriptor(payloadType="ALERT_GRID_EMERGENCY"),
            ReportPayloadDescriptor(payloadType="USAGE", readingType="DIRECT_READ", units="WH"),
        ],
        attributes=[ValuesMap(type="SITE_KIND", values=[kind])],
    )


def site_targets(site_id: str, zone: str, kind: str) -> list[str]:
    """Return the targets of a site's VEN."""
    return [f"VEN_NAME:{site_id}", f"SERVICE_AREA:{zone}", f"GROUP:{kind}"]


def resource_targets(resource_name: str) -> list[str]:
    """Return the targets of a site's resource."""
    return [f"RESOURCE_NAME:{resource_name}"]


def _usage_report_descriptor() -> ReportDescriptor:
    return ReportDescriptor(payloadType="USAGE", readingType="DIRECT_READ", units="WH", historical=True)


def cap_event_request(program_id: str, caps: Sequence[SiteCap]) -> EventRequest:
    """Map one site's caps over consecutive dispatch intervals to an event.

    Parameters
    ----------
    program_id
        Id of the program of the site's kind.
    caps
        Caps of one site, in any order; intervals must not overlap.

    Returns
    -------
    EventRequest
        An ``IMPORT_CAPACITY_LIMIT`` event: event-level ``intervalPeriod`` (first start, the
        common duration), one interval per cap [MW]; an interval whose duration differs from
        the first, or that does not follow the previous one, carries its own period.

    Raises
    ------
    InputError
        If ``caps`` is empty, mixes sites, has naive times, negative caps, empty or
        overlapping intervals.
    """
    if not caps:
        raise InputError("no caps given", field="caps")
    sites = {cap.site_id for cap in caps}
    if len(sites) != 1:
        raise InputError(f"caps of one event must be for one site, got {sorted(sites)}", field="site_id")
    ordered = sorted(caps, key=lambda cap: cap.interval_start)
    intervals: list[Interval] = []
    first_start = require_aware(ordered[0].interval_start, field="interval_start")
    first_duration = require_aware(ordered[0].interval_end, field="interval_end") - first_start
    cursor = first_start
    for index, cap in enumerate(ordered):
        start = require_aware(cap.interval_start, field="interval_start")
        end = require_aware(cap.interval_end, field="interval_end")
        if end <= start:
            raise InputError(f"interval ending {end.isoformat()} does not follow its start", field="interval_end")
        if start < cursor:
            raise InputError(
                f"interval starting {start.isoformat()} overlaps the previous one",
                field="interval_start",
            )
        if not cap.cap_mw >= 0:
            raise InputError(
                f"cap {cap.cap_mw} MW of site {cap.site_id} is not a non-negative number",
                field="cap_mw",
            )
        own = None
        if start != cursor or end - start != first_duration:
            own = IntervalPeriod(start=start, duration=format_duration(end - start))
        intervals.append(
            Interval(
                id=index,
                intervalPeriod=own,
                payloads=[ValuesMap(type=CAP_PAYLOAD, values=[float(cap.cap_mw)])],
            )
        )
        cursor = end
    site_id = ordered[0].site_id
    return EventRequest(
        programID=program_id,
        eventName=f"cap-{site_id}-{first_start:%Y%m%dT%H%MZ}",
        priority=_CAP_PRIORITY,
        targets=[f"VEN_NAME:{site_id}", f"RESOURCE_NAME:{site_id}"],
        payloadDescriptors=[EventPayloadDescriptor(payloadType=CAP_PAYLOAD, units="MW")],
        reportDescriptors=[_usage_report_descriptor()],
        intervalPeriod=IntervalPeriod(start=first_start, duration=format_duration(first_duration)),
        intervals=intervals,
    )


def emergency_event_request(
    program_id: str,
    site_ids: Iterable[str],
    start: datetime,
    duration: timedelta,
    *,
    message: str,
    level: int = EMERGENCY_LEVEL,
) -> EventRequest:
    """Map a grid emergency to a ``SIMPLE`` level event with an ``ALERT_GRID_EMERGENCY``.

    Parameters
    ----------
    program_id
        Id of the program the affected sites belong to.
    site_ids
        Sites told to shed.
    start
        Aware start of the emergency.
    duration
        How long the emergency lasts [s resolution].
    message
        Human-readable reason, carried in the alert payload.
    level
        ``SIMPLE`` level, 0 to 3.

    Returns
    -------
    EventRequest
        One interval carrying both payloads, priority 0 (highest).
    """
    start = require_aware(start, field="start")
    if duration <= timedelta(0):
        raise InputError("emergency duration must be positive", field="duration")
    if level not in range(4):
        raise InputError(f"SIMPLE level {level} is not in 0..3", field="level")
    targets = sorted({f"VEN_NAME:{site}" for site in site_ids})
    if not targets:
        raise InputError("an emergency needs at least one affected site", field="site_ids")
    return EventRequest(
        programID=program_id,
        eventName=f"emergency-{start:%Y%m%dT%H%M%SZ}",
        priority=_EMERGENCY_PRIORITY,
        targets=targets,
        payloadDescriptors=[
            EventPayloadDescriptor(payloadType="SIMPLE"),
            EventPayloadDescriptor(payloadType="ALERT_GRID_EMERGENCY"),
        ],
        intervalPeriod=IntervalPeriod(start=start, duration=format_duration(duration)),
        intervals=[
            Interval(
                id=0,
                payloads=[
                    ValuesMap(type="SIMPLE", values=[level]),
                    ValuesMap(type="ALERT_GRID_EMERGENCY", values=[message]),
                ],
            )
        ],
    )
