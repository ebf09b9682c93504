"""OpenADR 3.1.0 objects as pydantic models, with the specification's field names.

The models validate what clients send (``*Request`` models) and describe what the VTN
returns (the object models, which add :class:`ObjectMetadata`). Field names are the
specification's own (``programID``, ``intervalPeriod``, ...), so a model dumps straight to
the wire format.

Conventions forced by real clients:

* ``null`` for an optional field means "absent", even where the schema says the field is
  not nullable (strict clients send ``"duration": null``).
* Every date-time must carry an offset (RFC 3339); a naive time is refused.
* Date-times are written back in UTC with a ``Z`` suffix.
* Unknown fields are ignored (the specification allows private extensions).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

__all__ = [
    "OBJECT_TYPES",
    "BlResourceRequest",
    "BlVenRequest",
    "ClientCredentialResponse",
    "EventPayloadDescriptor",
    "EventRequest",
    "Interval",
    "IntervalPeriod",
    "Notification",
    "ObjectOperation",
    "Point",
    "Problem",
    "ProgramDescription",
    "ProgramRequest",
    "ReportDescriptor",
    "ReportPayloadDescriptor",
    "ReportRequest",
    "ReportResource",
    "SubscriptionRequest",
    "ValuesMap",
    "VenResourceRequest",
    "VenVenRequest",
    "duration_to_timedelta",
    "format_datetime",
    "format_duration",
]

#: The objectTypes enumeration of the specification.
OBJECT_TYPES = ("PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE")


def format_datetime(value: datetime) -> str:
    """Write an aware datetime as RFC 3339 in UTC with a ``Z`` suffix.

    Parameters
    ----------
    value
        Aware datetime.

    Returns
    -------
    str
        For example ``2026-03-01T05:00:00Z``.
    """
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


_DURATION_RE = re.compile(
    r"^(-?)P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)([DW]))?"
    r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def duration_to_timedelta(text: str) -> timedelta:
    """Convert an ISO 8601 duration without years or months to a timedelta.

    Parameters
    ----------
    text
        For example ``PT1H`` or ``P1DT30M``.

    Returns
    -------
    timedelta
        The duration.

    Raises
    ------
    ValueError
        If ``text`` is not an ISO 8601 duration, or uses years or months (whose length
        depends on the calendar).
    """
    match = _DURATION_RE.match(text)
    if match is None:
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as PT1H")
    sign, years, months, days, day_unit, hours, minutes, seconds = match.groups()
    if years or months:
        raise ValueError(f"duration '{text}' uses years or months, which have no fixed length")
    day_count = int(days or 0) * (7 if day_unit == "W" else 1)
    try:
        delta = timedelta(
            days=day_count,
            hours=int(hours or 0),
            minutes=int(minutes or 0),
            seconds=float(seconds or 0),
        )
    except OverflowError:
        raise ValueError(f"duration '{text}' is too long") from None
    return -delta if sign else delta


def format_duration(delta: timedelta) -> str:
    """Write a timedelta as an ISO 8601 duration, e.g. ``PT15M``.

    Parameters
    ----------
    delta
        Duration; whole seconds are written without a fraction.

    Returns
    -------
    str
        ISO 8601 duration.
    """
    total = delta.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    out = f"{sign}P"
    if days:
        out += f"{int(days)}D"
    time_part = ""
    if hours:
        time_part += f"{int(hours)}H"
    if minutes:
        time_part += f"{int(minutes)}M"
    if seconds or (not days and not time_part):
        time_part += f"{int(seconds)}S" if float(seconds).is_integer() else f"{seconds:g}S"
    return out + (f"T{time_part}" if time_part else "")


# --- simple types -----------------------------------------------------------------------

ObjectID = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9_-]*$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Target = Annotated[str, StringConstraints(min_length=1, max_length=128)]


#: Longest duration and widest year range accepted, so that time arithmetic cannot overflow.
MAX_DURATION = timedelta(days=100 * 366)
FIRST_YEAR, LAST_YEAR = 1900, 2999


def _check_duration(text: str) -> str:
    match = _DURATION_RE.match(text)
    if match is None:
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as PT1H")
    years, months = int(match.group(2) or 0), int(match.group(3) or 0)
    if years * 12 + months > 100 * 12:
        raise ValueError(f"duration '{text}' is longer than 100 years")
    if not years and not months and abs(duration_to_timedelta(text)) > MAX_DURATION:
        raise ValueError(f"duration '{text}' is longer than 100 years")
    return text


def _check_year(value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"year {value.year} is out of range; give a time in years {FIRST_YEAR}-{LAST_YEAR}")
    return value


Duration = Annotated[str, AfterValidator(_check_duration)]
Uri = Annotated[str, StringConstraints(min_length=2, max_length=8000)]
DateTime = Annotated[AwareDatetime, AfterValidator(_check_year), PlainSerializer(format_datetime, return_type=str)]
#: An integer a 64-bit column or client holds.
Int64 = Annotated[int, Field(ge=-(2**63), lt=2**63)]
ObjectType = Literal["PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE"]
Operation = Literal["READ", "CREATE", "UPDATE", "DELETE"]


def _drop_nulls(data: Any) -> Any:
    """Treat ``null`` members of a JSON object as absent."""
    if isinstance(data, dict):
        return {key: value for key, value in data.items() if value is not None}
    return data


class OadrModel(BaseModel):
    """Base of every OpenADR model: ``null`` means absent, unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_absent(cls, data: Any) -> Any:
        return _drop_nulls(data)

    def wire(self) -> dict[str, Any]:
        """Return the JSON-ready dict, without absent optional fields."""
        return self.model_dump(mode="json", exclude_none=True)


# --- building blocks --------------------------------------------------------------------


class Point(OadrModel):
    """A pair of floats, a point on a two-dimensional grid."""

    x: float
    y: float


class ValuesMap(OadrModel):
    """One or more values of one type, e.g. ``{"type": "SIMPLE", "values": [3]}``."""

    type: Name
    values: list[bool | Int64 | float | str | Point]


class IntervalPeriod(OadrModel):
    """Start, duration and randomisation of an interval or a set of intervals."""

    start: DateTime | None = None
    duration: Duration | None = None
    randomizeStart: Duration | None = None


class Interval(OadrModel):
    """A temporal window (own ``intervalPeriod`` or inherited) and its payloads."""

    id: int = Field(ge=-(2**31), lt=2**31)
    intervalPeriod: IntervalPeriod | None = None
    payloads: list[ValuesMap]


class EventPayloadDescriptor(OadrModel):
    """Context of an event payload type: its units and currency."""

    objectType: Literal["EVENT_PAYLOAD_DESCRIPTOR"] = "EVENT_PAYLOAD_DESCRIPTOR"
    payloadType: Name
    units: Name | None = None
    currency: str | None = None


class ReportPayloadDescriptor(OadrModel):
    """Context of a report payload type: reading type, units, accuracy, confidence."""

    objectType: Literal["REPORT_PAYLOAD_DESCRIPTOR"] = "REPORT_PAYLOAD_DESCRIPTOR"
    payloadType: Name
    readingType: Name | None = None
    units: Name | None = None
    accuracy: float | None = None
    confidence: int | None = Field(default=None, ge=0, le=100)


class ReportDescriptor(OadrModel):
    """A request, carried by an event, for a report from the VEN."""

    payloadType: Name
    readingType: Name | None = None
    units: Name | None = None
    targets: list[Target] | None = None
    aggregate: bool = False
    startInterval: Int64 = -1
    numIntervals: Int64 = -1
    historical: bool = True
    frequency: Int64 = -1
    repeat: Int64 = 1
    reportIntervals: Literal["INTERVALS", "SUB_INTERVALS", "OPEN_INTERVALS"] = "INTERVALS"


class ProgramDescription(OadrModel):
    """A link to a human or machine readable description of a program."""

    URL: Uri


# --- client-provided objects --------------------------------------------------------------


class ProgramRequest(OadrModel):
    """A program as a business-logic client writes it."""

    programName: Name
    intervalPeriod: IntervalPeriod | None = None
    programDescriptions: list[ProgramDescription] | None = None
    payloadDescriptors: list[EventPayloadDescriptor | ReportPayloadDescriptor] | None = None
    attributes: list[ValuesMap] | None = None
    targets: list[Target] | None = None


class EventRequest(OadrModel):
    """An event as a business-logic client writes it: a demand-response request to VENs."""

    programID: ObjectID
    eventName: str | None = None
    duration: Duration | None = None
    priority: int | None = Field(default=None, ge=0, lt=2**63)
    targets: list[Target] | None = None
    reportDescriptors: list[ReportDescriptor] | None = None
    payloadDescriptors: list[EventPayloadDescriptor] | None = None
    intervalPeriod: IntervalPeriod | None = None
    intervals: list[Interval] | None = None


class ReportResource(OadrModel):
    """Report data of one resource."""

    resourceName: Name
    intervalPeriod: IntervalPeriod | None = None
    intervals: list[Interval]


class ReportRequest(OadrModel):
    """A report as a VEN writes it."""

    eventID: ObjectID
    clientName: Name
    reportName: str | None = None
    payloadDescriptors: list[ReportPayloadDescriptor] | None = None
    resources: list[ReportResource]


class ObjectOperation(OadrModel):
    """Objects and operations to be notified of, and where."""

    objects: list[ObjectType]
    operations: list[Operation]
    callbackUrl: Uri
    bearerToken: str | None = None


class SubscriptionRequest(OadrModel):
    """A subscription to notifications of operations on objects."""

    clientName: Name
    programID: ObjectID | None = None
    objectOperations: list[ObjectOperation]
    targets: list[Target] | None = None


class VenVenRequest(OadrModel):
    """A ven object as a VEN writes it (no clientID, no targets: the VTN sets them)."""

    objectType: Literal["VEN_VEN_REQUEST"] = "VEN_VEN_REQUEST"
    venName: Name
    attributes: list[ValuesMap] | None = None


class BlVenRequest(OadrModel):
    """A ven object as a business-logic client writes it."""

    objectType: Literal["BL_VEN_REQUEST"] = "BL_VEN_REQUEST"
    clientID: Name
    venName: Name
    targets: list[Target] | None = None
    attributes: list[ValuesMap] | None = None


class VenResourceRequest(OadrModel):
    """A resource as a VEN writes it."""

    objectType: Literal["VEN_RESOURCE_REQUEST"] = "VEN_RESOURCE_REQUEST"
    resourceName: Name
    venID: ObjectID
    attributes: list[ValuesMap] | None = None


class BlResourceRequest(OadrModel):
    """A resource as a business-logic client writes it."""

    objectType: Literal["BL_RESOURCE_REQUEST"] = "BL_RESOURCE_REQUEST"
    clientID: Name
    resourceName: Name
    venID: ObjectID
    targets: list[Target] | None = None
    attributes: list[ValuesMap] | None = None


# --- VTN-provided objects -----------------------------------------------------------------


class Notification(OadrModel):
    """What the VTN posts to a subscription's callbackUrl."""

    objectType: ObjectType
    operation: Operation
    object: dict[str, Any]
    targets: list[Target] | None = None


class Problem(OadrModel):
    """An error response (RFC 7807 problem details, as the specification uses them)."""

    type: str = "about:blank"
    title: str
    status: int = Field(ge=100, lt=600)
    detail: str | None = None
    instance: str | None = None


class ClientCredentialResponse(OadrModel):
    """Body of a successful token response (RFC 6749 names)."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
