"""The VTN's operations on OpenADR objects: validation, object privacy, notifications.

Routes and the programme mapping both go through these functions, so every change to an
object is checked the same way and notifies the same subscriptions. Each function works in
the caller's database session and returns the wire object plus the webhook deliveries to
make once the session is committed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as replace_fields
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from offtake.errors import ConflictError, InputError, NotFoundError, OfftakeError, PermissionDenied
from offtake.persistence.schema import Site
from offtake.vtn import privacy, store, webhooks
from offtake.vtn.dialect import LEGACY, to_dialect
from offtake.vtn.models import (
    BlResourceRequest,
    BlVenRequest,
    EventRequest,
    Notification,
    ProgramRequest,
    ReportRequest,
    SubscriptionRequest,
    VenResourceRequest,
    VenVenRequest,
    duration_to_timedelta,
)
from offtake.vtn.readings import ReportReading, readings_from_report
from offtake.vtn.store import Filters, VtnObject

__all__ = [
    "BL_SCOPES",
    "VEN_SCOPES",
    "Caller",
    "Delivery",
    "IngestReadings",
    "Outcome",
    "UnknownEvent",
    "check_listing",
    "create",
    "delete",
    "get",
    "ingest_one",
    "listing",
    "matching_deliveries",
    "meter_readings",
    "replace",
    "report_columns",
    "report_key",
    "same_report",
    "subscriptions",
]

#: Scopes of a business-logic client (programme office, control room).
BL_SCOPES = frozenset({"read_all", "read_bl", "write_programs", "write_events", "write_subscriptions", "write_vens"})
#: Scopes of a VEN (a site agent).
VEN_SCOPES = frozenset({"read_targets", "read_ven_objects", "write_reports", "write_subscriptions", "write_vens"})
#: Largest page the specification allows.
MAX_LIMIT = 50

#: Hands the readings of reports to the metering ledger, each report's as one batch (in the
#: caller's transaction); answers, per report, None where accepted or the error refusing it.
IngestReadings = Callable[[Session, Sequence[tuple["Caller", list[ReportReading]]]], Sequence[OfftakeError | None]]


class UnknownEvent(ConflictError):
    """A report names an event the reporting client cannot see (OpenADR answers 409)."""


def _bad(detail: str, field: str | None = None) -> InputError:
    return InputError(detail, field=field)


def _forbidden(detail: str) -> PermissionDenied:
    return PermissionDenied(detail)


def _not_found(object_type: str, object_id: str) -> NotFoundError:
    return NotFoundError(f"no {object_type.lower()} with id '{object_id}' is visible to this client")


@dataclass(frozen=True)
class Caller:
    """The authenticated client of a request.

    Attributes
    ----------
    client_id
        OAuth client id.
    scopes
        Granted OpenADR scopes.
    site_id
        Site a VEN client is bound to (``None`` for business-logic clients).
    """

    client_id: str
    scopes: frozenset[str]
    site_id: str | None = None
    #: The platform's own principal object for this client, handed on to the ledger.
    principal: Any = field(default=None, compare=False, repr=False)
    #: The wire dialect the client speaks (a 3.0.1 subscriber is notified in 3.0 form).
    dialect: str = "3.1.0"

    @property
    def is_business(self) -> bool:
        """Whether the client may read every object (``read_all``)."""
        return "read_all" in self.scopes

    def require(self, scope: str) -> None:
        """Raise :class:`PermissionDenied` unless the client holds ``scope``."""
        if scope not in self.scopes:
            raise _forbidden(f"this operation needs the '{scope}' scope, which client '{self.client_id}' lacks")


@dataclass(frozen=True)
class Delivery:
    """One webhook call to make: where, with which token, what."""

    url: str
    bearer_token: str | None
    notification: dict[str, Any]


@dataclass
class Outcome:
    """Result of a write: the wire object and the deliveries to make after commit."""

    object: dict[str, Any]
    deliveries: list[Delivery] = field(default_factory=list)


def _validate(model: type[BaseModel], body: Any) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise _bad(str(first["msg"]), field=where) from None


def _span(request: EventRequest) -> tuple[int | None, int | None]:
    """Return the event's [start, end) [s since the epoch]; ``None`` where open or unknown."""
    default = request.intervalPeriod
    cursor = default.start if default is not None else None
    default_duration = default.duration if default is not None else None
    first: datetime | None = None
    end: datetime | None = None
    open_ended = False
    for interval in request.intervals or []:
        own = interval.intervalPeriod
        start = own.start if own is not None and own.start is not None else cursor
        text = own.duration if own is not None and own.duration is not None else default_duration
        if start is None:
            return (None, None)
        first = start if first is None or start < first else first
        try:
            duration = duration_to_timedelta(text) if text is not None else None
        except ValueError:
            duration = None
        if duration is None or duration.total_seconds() <= 0:
            open_ended = True
            cursor = start
            continue
        cursor = start + duration
        end = cursor if end is None or cursor > end else end
    if first is None and cursor is not None:
        first = cursor
    return (
        int(first.timestamp()) if first is not None else None,
        None if open_ended or end is None else int(end.timestamp()) + 1,
    )


# --- visibility ---------------------------------------------------------------------------


def _visible_targets(session: Session, caller: Caller) -> list[str]:
    targets = set(store.targets_of_client(session, caller.client_id))
    if caller.site_id is not None:
        targets.update({f"VEN_NAME:{caller.site_id}", f"RESOURCE_NAME:{caller.site_id}"})
    return sorted(targets)


def _owned_ven_ids(session: Session, caller: Caller) -> list[str]:
    rows = store.list_objects(session, "VEN", Filters(client_id=caller.client_id), skip=0, limit=1000)
    return [row.id for row in rows]


def _can_see(session: Session, caller: Caller, obj: VtnObject) -> bool:
    if caller.is_business:
        return True
    if obj.object_type == "PROGRAM":
        return True
    if obj.object_type == "EVENT":
        if not obj.targeted:
            return True
        mine = set(_visible_targets(session, caller))
        return any(target in mine for target in obj.body.get("targets", []))
    return obj.client_id == caller.client_id


def _read_scope(object_type: str) -> tuple[str, ...]:
    if object_type in ("PROGRAM", "EVENT"):
        return ("read_all", "read_targets")
    return ("read_all", "read_ven_objects")


def _require_read(caller: Caller, object_type: str) -> None:
    scopes = _read_scope(object_type)
    if not any(scope in caller.scopes for scope in scopes):
        raise _forbidden(f"reading {object_type.lower()}s needs one of the scopes {list(scopes)}")


# --- reads --------------------------------------------------------------------------------


def get(session: Session, caller: Caller, object_type: str, object_id: str) -> dict[str, Any]:
    """Return one object visible to the caller, or raise :class:`NotFoundError`."""
    _require_read(caller, object_type)
    obj = store.get_object(session, object_type, object_id)
    if obj is None or not _can_see(session, caller, obj):
        raise _not_found(object_type, object_id)
    return _shown(session, caller, [store.to_wire(obj)])[0]


def _shown(
    session: Session, caller: Caller, wires: list[dict[str, Any]], visible: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Return the objects as this caller may see them (:func:`offtake.vtn.privacy.shown_to`).

    ``visible`` are the caller's :func:`_visible_targets` where the caller has them already.
    """
    if caller.is_business:
        mine = None
    else:
        mine = set(visible if visible is not None else _visible_targets(session, caller))
    return [privacy.shown_to(w, client_id=caller.client_id, visible_targets=mine) for w in wires]


def _page(skip: int | None, limit: int | None) -> tuple[int, int]:
    skip = 0 if skip is None else skip
    limit = MAX_LIMIT if limit is None else limit
    if skip < 0:
        raise _bad(f"must be 0 or more, got {skip}", field="skip")
    if not 0 <= limit <= MAX_LIMIT:
        raise _bad(f"must be between 0 and {MAX_LIMIT}, got {limit}", field="limit")
    return skip, limit


def check_listing(
    caller: Caller,
    object_type: str,
    skip: int | None,
    limit: int | None,
    target_type: str | None,
    target_values: Sequence[str] | None,
) -> tuple[int, int]:
    """Check a search's scope and query; return its page (first, count).

    Raises
    ------
    InputError
        For a bad page or a targetType without targetValues.
    PermissionDenied
        If the caller may not read objects of this type.
    """
    _require_read(caller, object_type)
    first, count = _page(skip, limit)
    if (target_type is None) != (not target_values):
        raise _bad("targetType and targetValues must be given together", field="targetType")
    return first, count


_NAME_TARGET = {
    "PROGRAM": "PROGRAM_NAME",
    "EVENT": "EVENT_NAME",
    "VEN": "VEN_NAME",
    "RESOURCE": "RESOURCE_NAME",
}


def listing(
    session: Session,
    caller: Caller,
    object_type: str,
    *,
    filters: Filters,
    target_strings: Sequence[str] | None,
    target_type: str | None,
    target_values: Sequence[str] | None,
    skip: int | None,
    limit: int | None,
) -> list[dict[str, Any]]:
    """Return one page of the objects of a type visible to the caller.

    ``target_strings`` is the 3.1 ``targets`` query; ``target_type``/``target_values`` is the
    3.0 form, also used by clients to look objects up by name (``VEN_NAME``,
    ``PROGRAM_NAME``, ...).
    """
    first, count = check_listing(caller, object_type, skip, limit, target_type, target_values)
    targets: list[str] | None = None
    names: list[str] | None = None
    if target_strings:
        targets = list(target_strings)
    if target_type is not None and target_values:
        targets = (targets or []) + [f"{target_type}:{value}" for value in target_values]
        if _NAME_TARGET.get(object_type) == target_type:
            names = list(target_values)
    scoped = replace_fields(filters, targets=targets, names=names)
    visible = None if caller.is_business else _visible_targets(session, caller)
    if visible is not None:
        if object_type == "EVENT":
            scoped = replace_fields(scoped, visible_to=visible)
        elif object_type != "PROGRAM":
            scoped = replace_fields(scoped, client_id=caller.client_id)
    rows = store.list_objects(session, object_type, scoped, skip=first, limit=count)
    return _shown(session, caller, [store.to_wire(row) for row in rows], visible)


# --- notifications ------------------------------------------------------------------------


def subscriptions(session: Session) -> list[VtnObject]:
    """Return every stored subscription (asking cheaply first whether there is any)."""
    if not store.any_object(session, "SUBSCRIPTION"):
        return []  # the usual case: every report write asks it
    return list(session.scalars(select(VtnObject).where(VtnObject.object_type == "SUBSCRIPTION")))


def matching_deliveries(
    session: Session,
    obj: dict[str, Any],
    operation: Literal["CREATE", "UPDATE", "DELETE"],
    owner_client_id: str | None,
    stored: Sequence[VtnObject] | None = None,
) -> list[Delivery]:
    """Return the webhook calls due for an operation on an object.

    A subscription matches when it lists the object type and operation, its programID (if
    any) is the object's, its targets (if any) meet the object's, and its owner may see the
    object (a VEN is only told about objects it could read). ``stored`` are the
    subscriptions if already read (:func:`subscriptions`).
    """
    stored = subscriptions(session) if stored is None else stored
    if not stored:
        return []
    object_type = obj["objectType"]
    object_targets = set(obj.get("targets") or [])
    program_id = obj.get("programID") if object_type in ("EVENT", "PROGRAM", "SUBSCRIPTION") else None
    if object_type == "PROGRAM":
        program_id = obj["id"]
    base = Notification(objectType=object_type, operation=operation, object=obj, targets=obj.get("targets")).wire()
    deliveries: list[Delivery] = []
    owner_targets: dict[str, set[str]] = {}
    for subscription in stored:
        body = subscription.body
        if body.get("programID") and program_id is not None and body["programID"] != program_id:
            continue
        if body.get("targets") and object_targets and not object_targets & set(body["targets"]):
            continue
        subscriber = subscription.client_id or ""
        mine: set[str] | None = None
        if "read_all" not in (subscription.owner_scopes or "").split():
            if object_type not in ("EVENT", "PROGRAM") and owner_client_id != subscriber:
                continue
            if object_targets:
                if subscriber not in owner_targets:
                    site = subscription.owner_site
                    owner_targets[subscriber] = set(_visible_targets(session, Caller(subscriber, frozenset(), site)))
                mine = owner_targets[subscriber]
                if object_type == "EVENT" and not object_targets & mine:
                    continue
        shown = privacy.shown_to(obj, client_id=subscriber, visible_targets=mine)
        notification = base if shown is obj else {**base, "object": shown}
        if shown is not obj and "targets" in base:
            notification["targets"] = shown.get("targets")
        notification = to_dialect(notification, body.get(store.DIALECT_KEY))
        deliveries.extend(
            Delivery(ops["callbackUrl"], ops.get("bearerToken"), notification)
            for ops in body.get("objectOperations", [])
            if object_type in ops["objects"] and operation in ops["operations"]
        )
    return deliveries


# --- writes -------------------------------------------------------------------------------


def _integrity(exc: IntegrityError, what: str) -> ConflictError:
    return ConflictError(f"{what} already exists")


def _check_unique(session: Session, object_type: str, key: str | None, current: VtnObject | None) -> None:
    """Raise :class:`ConflictError` if another object of this type has the unique key ``key``.

    A race between two writers is still caught by the unique constraint at flush; the
    caller's transaction is then rolled back whole.
    """
    if key is None:
        return
    other = (
        session.query(VtnObject.id).filter(VtnObject.object_type == object_type, VtnObject.unique_key == key).first()
    )
    if other is not None and (current is None or other.id != current.id):
        raise ConflictError(f"a {object_type.lower()} named '{key}' already exists")


def _program_columns(session: Session, caller: Caller, body: Any, current: VtnObject | None) -> dict[str, Any]:
    caller.require("write_programs")
    request: ProgramRequest = _validate(ProgramRequest, body)
    return {
        "body": request.wire(),
        "name": request.programName,
        "unique_key": request.programName,
        "targets": request.targets or [],
    }


def _event_columns(session: Session, caller: Caller, body: Any, current: VtnObject | None) -> dict[str, Any]:
    caller.require("write_events")
    request: EventRequest = _validate(EventRequest, body)
    if store.get_object(session, "PROGRAM", request.programID) is None:
        raise _bad(f"no program with id '{request.programID}'", field="programID")
    return {
        "body": request.wire(),
        "name": request.eventName,
        "program_id": request.programID,
        "targets": request.targets or [],
        "span_s": _span(request),
    }


def _subscription_columns(session: Session, caller: Caller, body: Any, current: VtnObject | None) -> dict[str, Any]:
    caller.require("write_subscriptions")
    request: SubscriptionRequest = _validate(SubscriptionRequest, body)
    webhooks.check_subscription(request.objectOperations, allow_private=webhooks.allows_private(session))
    if request.programID is not None and store.get_object(session, "PROGRAM", request.programID) is None:
        raise _bad(f"no program with id '{request.programID}'", field="programID")
    owner = current.client_id if current is not None else caller.client_id
    body_out: dict[str, Any] = {**request.wire(), "clientID": owner}
    if caller.dialect == LEGACY:
        body_out[store.DIALECT_KEY] = LEGACY
    return {
        "body": body_out,
        "name": request.clientName,
        "client_name": request.clientName,
        "client_id": owner,
        "program_id": request.programID,
        # the subscriber's scopes and site decide what it may be told about
        "owner_scopes": " ".join(sorted(caller.scopes)),
        "owner_site": caller.site_id,
        "targets": request.targets or [],
    }


def _ven_columns(session: Session, caller: Caller, body: Any, current: VtnObject | None) -> dict[str, Any]:
    caller.require("write_vens")
    kind = body.get("objectType") if isinstance(body, dict) else None
    if caller.is_business and kind != "VEN_VEN_REQUEST":
        request: Any = _validate(BlVenRequest, {**body, "objectType": "BL_VEN_REQUEST"})
        client_id, targets = request.clientID, list(request.targets or [])
    else:
        if kind == "BL_VEN_REQUEST":
            raise _forbidden("a VEN may not write a BL_VEN_REQUEST; send objectType VEN_VEN_REQUEST")
        request = _validate(VenVenRequest, {**body, "objectType": "VEN_VEN_REQUEST"})
        _check_ven_name(session, caller, request.venName)
        client_id = current.client_id if current is not None else caller.client_id
        kept = list(current.body.get("targets", [])) if current is not None else []
        targets = kept or ([f"VEN_NAME:{caller.site_id}"] if caller.site_id is not None else [])
    wire = {"clientID": client_id, "venName": request.venName}
    if targets:
        wire["targets"] = targets
    if request.attributes:
        wire["attributes"] = [attribute.wire() for attribute in request.attributes]
    return {
        "body": wire,
        "name": request.venName,
        "unique_key": request.venName,
        "client_id": client_id,
        "targets": targets,
    }


def _check_ven_name(session: Session, caller: Caller, name: str) -> None:
    """Refuse a VEN's ven named after a site that is not its own.

    A VEN client is bound to one site; the ven it writes may have any name (the VTN sets its
    targets from the site, so events reach it whatever its name), except the id of another
    registered site, which would pass it off as that site's VEN.
    """
    if caller.site_id is None or name == caller.site_id:
        return
    if session.get(Site, name) is not None:
        raise _forbidden(
            f"venName '{name}' is the id of another site; client '{caller.client_id}' is bound to "
            f"site '{caller.site_id}': name its ven '{caller.site_id}' (the VTN provisions that ven) "
            "or any name that is not another site's id"
        )


def _resource_columns(session: Session, caller: Caller, body: Any, current: VtnObject | None) -> dict[str, Any]:
    caller.require("write_vens")
    kind = body.get("objectType") if isinstance(body, dict) else None
    if caller.is_business and kind != "VEN_RESOURCE_REQUEST":
        request: Any = _validate(BlResourceRequest, {**body, "objectType": "BL_RESOURCE_REQUEST"})
        targets = list(request.targets or [])
    else:
        if kind == "BL_RESOURCE_REQUEST":
            raise _forbidden("a VEN may not write a BL_RESOURCE_REQUEST; send objectType VEN_RESOURCE_REQUEST")
        request = _validate(VenResourceRequest, {**body, "objectType": "VEN_RESOURCE_REQUEST"})
        targets = [f"RESOURCE_NAME:{request.resourceName}"] if request.resourceName == caller.site_id else []
    ven = store.get_object(session, "VEN", request.venID)
    if ven is None or not _can_see(session, caller, ven):
        raise _bad(f"no ven with id '{request.venID}' is visible to this client", field="venID")
    client_id = ven.client_id
    wire: dict[str, Any] = {
        "clientID": client_id,
        "resourceName": request.resourceName,
        "venID": request.venID,
    }
    if targets:
        wire["targets"] = targets
    if request.attributes:
        wire["attributes"] = [attribute.wire() for attribute in request.attributes]
    return {
        "body": wire,
        "name": request.resourceName,
        "unique_key": f"{request.venID}/{request.resourceName}",
        "ven_id": request.venID,
        "client_id": client_id,
        "targets": targets,
    }


def report_columns(session: Session, caller: Caller, body: Any, current: VtnObject | None) -> dict[str, Any]:
    """Check a report (new, or replacing ``current``); return its stored columns, request and event."""
    caller.require("write_reports")
    request: ReportRequest = _validate(ReportRequest, body)
    event = store.get_object(session, "EVENT", request.eventID)
    if event is None or not _can_see(session, caller, event):
        raise UnknownEvent(f"no event with id '{request.eventID}' is visible to this client", field="eventID")
    owner = current.client_id if current is not None else caller.client_id
    wire = {**request.wire(), "clientID": owner, "programID": event.program_id}
    return {
        "body": wire,
        "unique_key": report_key(wire),
        "name": request.reportName,
        "client_name": request.clientName,
        "client_id": owner,
        "program_id": event.program_id,
        "event_id": request.eventID,
        "request": request,
        "event": _stored_event(event),
    }


def _stored_event(event: VtnObject) -> EventRequest | None:
    try:
        return EventRequest.model_validate(event.body)
    except ValidationError:  # an event stored before a rule was added: its periods are unknown
        return None


def report_key(wire: dict[str, Any]) -> str:
    """Return the key that makes a report's retry find the report it repeats.

    Two reports have the same key when the same client sent the same content for the same
    event: client, event, clientName, reportName, payload descriptors and resources with
    their intervals and values, as validated (so formatting and key order do not matter).

    Parameters
    ----------
    wire
        The report as stored (its ``clientID`` is the owner).

    Returns
    -------
    str
        ``report:`` and a SHA-256 in hex.
    """
    content = {key: wire.get(key) for key in _REPORT_CONTENT}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return "report:" + hashlib.sha256(text.encode()).hexdigest()


_REPORT_CONTENT = ("clientID", "programID", "eventID", "clientName", "reportName", "payloadDescriptors", "resources")


_COLUMNS = {
    "PROGRAM": _program_columns,
    "EVENT": _event_columns,
    "SUBSCRIPTION": _subscription_columns,
    "VEN": _ven_columns,
    "RESOURCE": _resource_columns,
    "REPORT": report_columns,
}


def meter_readings(session: Session, caller: Caller, readings: list[ReportReading]) -> list[ReportReading]:
    """Return a report's readings with each resource named by the meter it is.

    A resource the VEN registered is a meter of its own; any other name (AGGREGATED_REPORT,
    a name the VTN never heard of) is the site's meter, so it can never count energy twice.

    Raises
    ------
    PermissionDenied
        There are readings and the client is bound to no site.
    """
    if not readings:
        return readings
    if caller.site_id is None:
        raise _forbidden(
            "only a client bound to a site may report metered energy; the programme office binds one "
            "with 'offtake client add NAME --role ven --site SITE'"
        )
    meters = {caller.site_id}
    if any(reading.resource_name not in meters for reading in readings):
        meters.update(
            row.name or ""
            for row in store.list_objects(session, "RESOURCE", Filters(client_id=caller.client_id), skip=0, limit=1000)
        )
    return [r if r.resource_name in meters else replace_fields(r, resource_name=caller.site_id) for r in readings]


def ingest_one(session: Session, caller: Caller, readings: list[ReportReading], ingest: IngestReadings | None) -> None:
    """Hand one report's readings (as :func:`meter_readings` names them) to the ledger; raise its refusal."""
    if not readings:
        return
    if ingest is None:
        raise OfftakeError("no metering ledger is attached to this VTN")
    (refusal,) = ingest(session, [(caller, readings)])
    if refusal is not None:
        raise refusal


def same_report(session: Session, key: str) -> VtnObject | None:
    """Return the stored report with this :func:`report_key`, if any."""
    return store.find_unique_many(session, "REPORT", [key]).get(key)


def create(
    session: Session,
    caller: Caller,
    object_type: str,
    body: Any,
    *,
    ingest: IngestReadings | None = None,
) -> Outcome:
    """Validate and store a new object; a report's readings go to the metering ledger.

    A report is written by :func:`offtake.vtn.reports.create_report` (idempotent: a retry of
    one already stored answers the stored report).
    """
    if object_type == "REPORT":
        from offtake.vtn.reports import create_report  # it builds on this module

        return create_report(session, caller, body, ingest)
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object")
    columns = _COLUMNS[object_type](session, caller, body, None)
    _check_unique(session, object_type, columns.get("unique_key"), None)
    try:
        obj = store.insert_object(session, object_type, **columns)
    except IntegrityError as exc:
        raise _integrity(exc, f"a {object_type.lower()} named '{columns.get('unique_key')}'") from None
    wire = store.to_wire(obj)
    return Outcome(wire, matching_deliveries(session, wire, "CREATE", obj.client_id))


def _writable(session: Session, caller: Caller, object_type: str, object_id: str) -> VtnObject:
    obj = store.get_object(session, object_type, object_id)
    if obj is None or not _can_see(session, caller, obj):
        raise _not_found(object_type, object_id)
    if not caller.is_business and object_type in ("SUBSCRIPTION", "VEN", "RESOURCE", "REPORT"):
        if obj.client_id != caller.client_id:
            raise _not_found(object_type, object_id)
    return obj


def replace(
    session: Session,
    caller: Caller,
    object_type: str,
    object_id: str,
    body: Any,
    *,
    ingest: IngestReadings | None = None,
) -> Outcome:
    """Validate and replace an existing object (PUT)."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object")
    obj = _writable(session, caller, object_type, object_id)
    columns = _COLUMNS[object_type](session, caller, body, obj)
    request = columns.pop("request", None)
    event = columns.pop("event", None)
    if object_type == "REPORT":
        repeated = same_report(session, columns["unique_key"])
        if repeated is not None and repeated.id != obj.id:
            raise ConflictError(f"report '{repeated.id}' already holds this content")
    _check_unique(session, object_type, columns.get("unique_key"), obj)
    try:
        store.update_object(session, obj, **columns)
    except IntegrityError as exc:
        raise _integrity(exc, f"a {object_type.lower()} named '{columns.get('unique_key')}'") from None
    if object_type == "REPORT":
        ingest_one(session, caller, meter_readings(session, caller, readings_from_report(request, event)), ingest)
    wire = store.to_wire(obj)
    return Outcome(wire, matching_deliveries(session, wire, "UPDATE", obj.client_id))


def delete(session: Session, caller: Caller, object_type: str, object_id: str) -> Outcome:
    """Delete an object and answer with it as it was.

    Deleting a report removes the report object only; the readings it carried stay in the
    metering ledger, which never forgets an accepted reading.
    """
    scope = {
        "PROGRAM": "write_programs",
        "EVENT": "write_events",
        "SUBSCRIPTION": "write_subscriptions",
        "VEN": "write_vens",
        "RESOURCE": "write_vens",
        "REPORT": "write_reports",
    }[object_type]
    caller.require(scope)
    obj = _writable(session, caller, object_type, object_id)
    wire = store.to_wire(obj)
    deliveries = matching_deliveries(session, wire, "DELETE", obj.client_id)
    store.delete_object(session, obj)
    return Outcome(wire, deliveries)


def now_utc() -> datetime:
    """Return the current aware UTC time."""
    return datetime.now(UTC)
