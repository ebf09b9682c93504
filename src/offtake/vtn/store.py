"""Storage of OpenADR objects in the platform database (SQLite or PostgreSQL).

Every OpenADR object (program, event, report, subscription, ven, resource) is one row of
``vtn_object``: the columns the VTN filters on, plus the object's body as JSON. Targets are
rows of ``vtn_target`` so that "events whose targets meet this VEN's targets" is one indexed
query.

``vtn_version`` holds one counter per object type, raised in the same transaction as every
write of that type (by the session's ``before_commit`` hook, once per type and
transaction). Readers compare counters to know whether what they computed earlier still
holds; since the counter commits with the data, this works across threads and processes.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    delete,
    event,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql.elements import ColumnElement

from offtake.persistence.schema import VtnObject, VtnTarget, VtnVersion
from offtake.vtn.models import format_datetime

__all__ = [
    "DIALECT_KEY",
    "OBJECT_TYPES",
    "Filters",
    "NowaitVersions",
    "VtnObject",
    "VtnTarget",
    "VtnVersion",
    "any_object",
    "delete_object",
    "find_unique_many",
    "get_object",
    "insert_object",
    "insert_objects",
    "list_objects",
    "ordered_versions",
    "read_versions",
    "read_versions_now",
    "remove_inserted",
    "targets_of_client",
    "to_wire",
    "update_object",
]

#: Every kind of OpenADR object the VTN stores.
OBJECT_TYPES = ("PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE")

_ID_PREFIX = {
    "PROGRAM": "prg",
    "EVENT": "evt",
    "REPORT": "rpt",
    "SUBSCRIPTION": "sub",
    "VEN": "ven",
    "RESOURCE": "res",
}


_CHANGED = "offtake.vtn.changed"
#: Private key of a subscription's stored body: the dialect its notifications are written in.
DIALECT_KEY = "_offtakeDialect"


def _changed(session: Session, object_type: str) -> None:
    """Note that this transaction writes objects of ``object_type``."""
    session.info.setdefault(_CHANGED, set()).add(object_type)


@event.listens_for(Session, "before_commit")
def _raise_versions(session: Session) -> None:
    changed = session.info.pop(_CHANGED, None)
    for object_type in sorted(changed or ()):
        session.execute(_RAISE_VERSION, {"type": object_type})


@event.listens_for(Session, "after_transaction_end")
def _forget_changes(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_CHANGED, None)


_OBJECTS = cast(Table, VtnObject.__table__)
_TARGETS = cast(Table, VtnTarget.__table__)
# Statements of every report write and poll, built once (building and keying one costs more
# than running it on SQLite).
_UNIQUE_MANY = select(VtnObject).where(
    VtnObject.object_type == bindparam("type"), VtnObject.unique_key.in_(bindparam("keys", expanding=True))
)
_INSERT = insert(_OBJECTS)
_ANY = select(_OBJECTS.c.seq).where(_OBJECTS.c.object_type == bindparam("type")).limit(1)
_GET = select(VtnObject).where(VtnObject.id == bindparam("id"), VtnObject.object_type == bindparam("type"))
_TARGETS_OF_CLIENT = (
    select(VtnTarget.target)
    .where(
        VtnTarget.object_seq.in_(
            select(VtnObject.seq).where(
                VtnObject.client_id == bindparam("client"), VtnObject.object_type.in_(("VEN", "RESOURCE"))
            )
        )
    )
    .distinct()
)
_RAISE_VERSION = (
    update(VtnVersion)
    .where(VtnVersion.object_type == bindparam("type"))
    .values(version=VtnVersion.version + 1)
)
_VERSIONS = select(VtnVersion.__table__.c.object_type, VtnVersion.__table__.c.version)


def read_versions(connection: Connection, object_types: Sequence[str]) -> tuple[int, ...]:
    """Return the change counters of ``object_types``, in that order, in one query."""
    rows = {row[0]: row[1] for row in connection.execute(_VERSIONS)}
    return ordered_versions(rows, object_types)


def read_versions_now(engine: Engine, object_types: Sequence[str]) -> tuple[int, ...]:
    """Return the committed change counters of ``object_types`` as :func:`read_versions` does, cheaply.

    The path of every VEN poll: one query on a pooled DB-API connection, without a session or
    SQLAlchemy's statement layer (about a fifth of their cost), in its own short transaction.
    """
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            cursor.execute("SELECT object_type, version FROM vtn_version")
            rows = {str(row[0]): row[1] for row in cursor.fetchall()}
        finally:
            cursor.close()
    finally:
        raw.close()  # back to the pool, which ends the transaction
    return ordered_versions(rows, object_types)


class NowaitVersions:
    """Committed change counters read on a connection of its own that never waits.

    For answers given on the event loop, which must not block: a SQLite file only (a read
    there is a few microseconds in memory; another database is a network round trip), on one
    connection per thread kept outside the pool, with no busy wait: where SQLite would wait
    (a rare lock during WAL recovery) the read gives ``None`` and the caller takes its
    ordinary path. Each read is its own transaction (the driver begins none for a
    ``SELECT``), so it sees every commit made before it started, as :func:`read_versions_now`.

    Parameters
    ----------
    engine
        The platform database's engine.
    """

    def __init__(self, engine: Engine) -> None:
        database = engine.url.database or ""
        #: Whether reads are made at all (a SQLite file) [-].
        self.enabled = engine.dialect.name == "sqlite" and database not in ("", ":memory:")
        self._engine = engine
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    def read(self, object_types: Sequence[str]) -> tuple[int, ...] | None:
        """Return the counters of ``object_types`` (as :func:`read_versions`), or ``None`` if it would wait."""
        if not self.enabled or self._closed:
            return None
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = self._open()
            except (DBAPIError, self._engine.dialect.dbapi.Error):  # type: ignore[union-attr]
                self.enabled = False  # e.g. a read-only file: every read takes the ordinary path
                return None
        try:
            rows = dict(connection.execute("SELECT object_type, version FROM vtn_version").fetchall())
        except self._engine.dialect.dbapi.Error:  # type: ignore[union-attr]
            return None
        return ordered_versions(rows, object_types)

    def _open(self) -> Any:
        proxied = self._engine.raw_connection()
        connection: Any = proxied.driver_connection
        proxied.detach()  # kept by this thread, never handed to another
        connection.execute("PRAGMA busy_timeout=0")
        with self._lock:
            self._opened.append(connection)
        self._local.connection = connection
        return connection

    def close(self) -> None:
        """Close the connections opened (at shutdown); later reads give ``None``."""
        with self._lock:
            self._closed = True
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()


def ordered_versions(rows: dict[str, Any], object_types: Sequence[str]) -> tuple[int, ...]:
    """Return the counters of ``object_types`` from the rows of ``vtn_version`` (type → counter)."""
    missing = [t for t in object_types if t not in rows]
    if missing:
        raise RuntimeError(f"vtn_version has no row for {missing}; run 'offtake db upgrade' first")
    return tuple(int(rows[t]) for t in object_types)


@dataclass(frozen=True)
class Filters:
    """Query filters of a listing; ``None`` means "do not filter on this"."""

    program_id: str | None = None
    event_id: str | None = None
    ven_id: str | None = None
    client_id: str | None = None
    client_name: str | None = None
    name: str | None = None
    #: Objects whose targets meet any of these, or whose name is in ``names``.
    targets: Sequence[str] | None = None
    names: Sequence[str] | None = None
    #: Privacy for VENs: only untargeted objects or objects meeting these targets.
    visible_to: Sequence[str] | None = None
    #: Event spans overlapping [start_s, end_s) [s since the Unix epoch].
    start_s: int | None = None
    end_s: int | None = None


def new_id(object_type: str) -> str:
    """Return a fresh URL-safe object id such as ``evt-3f9a...``."""
    return f"{_ID_PREFIX[object_type]}-{secrets.token_hex(8)}"


def _now_text() -> str:
    return format_datetime(datetime.now(UTC))


def _set_targets(session: Session, obj: VtnObject, targets: Iterable[str], *, new: bool = False) -> None:
    unique = sorted(set(targets))
    if not new:
        session.execute(delete(VtnTarget).where(VtnTarget.object_seq == obj.seq))
    session.add_all(VtnTarget(object_seq=obj.seq, target=target) for target in unique)
    obj.targeted = bool(unique)


def insert_object(
    session: Session,
    object_type: str,
    body: dict[str, Any],
    *,
    targets: Sequence[str] = (),
    span_s: tuple[int | None, int | None] = (None, None),
    **columns: str | None,
) -> VtnObject:
    """Add an object and its targets (written, not committed).

    ``columns`` are the filter columns (``name``, ``program_id``, ``client_id`` ...). The
    rows are inserted as plain statements, not through the session's unit of work (a report
    is the VTN's most frequent write); the object returned is not attached to the session.

    Raises
    ------
    sqlalchemy.exc.IntegrityError
        If another object of this type has the same ``unique_key``.
    """
    (obj,) = insert_objects(session, object_type, [dict(columns, body=body, targets=targets, span_s=span_s)])
    return obj


def insert_objects(session: Session, object_type: str, objects: Sequence[dict[str, Any]]) -> list[VtnObject]:
    """Add objects of one type and their targets in one statement each (written, not committed).

    Each of ``objects`` holds what :func:`insert_object` takes by keyword: ``body``, and
    optionally ``targets``, ``span_s`` and filter columns.

    Raises
    ------
    sqlalchemy.exc.IntegrityError
        If any other object of this type has the same ``unique_key`` as one of these.
    """
    now = _now_text()
    rows: list[dict[str, Any]] = []
    targets: list[list[str]] = []
    for given in objects:
        columns = dict(given)
        unique = sorted(set(columns.pop("targets", ())))
        span = columns.pop("span_s", (None, None))
        targets.append(unique)
        rows.append(
            {
                "id": new_id(object_type),
                "object_type": object_type,
                "start_s": span[0],
                "end_s": span[1],
                "created": now,
                "modified": now,
                "targeted": bool(unique),
                "name": None,
                "unique_key": None,
                "program_id": None,
                "event_id": None,
                "ven_id": None,
                "client_id": None,
                "client_name": None,
                "owner_scopes": None,
                "owner_site": None,
                **columns,
            }
        )
    session.flush()  # what the session holds goes first, as the unit of work would
    connection = session.connection()
    returned = connection.execute(_INSERT.returning(_OBJECTS.c.seq, sort_by_parameter_order=True), rows)
    seqs = [int(seq) for seq in returned.scalars()]
    links = [{"object_seq": seq, "target": t} for seq, unique in zip(seqs, targets, strict=True) for t in unique]
    if links:
        connection.execute(insert(_TARGETS), links)
    _changed(session, object_type)
    return [VtnObject(seq=seq, **row) for seq, row in zip(seqs, rows, strict=True)]


def remove_inserted(session: Session, objects: Sequence[VtnObject]) -> None:
    """Remove objects just added by :func:`insert_objects` in this transaction (and their targets)."""
    seqs = [obj.seq for obj in objects]
    if seqs:
        session.execute(delete(VtnTarget).where(VtnTarget.object_seq.in_(seqs)))
        session.execute(delete(VtnObject).where(VtnObject.seq.in_(seqs)))


def update_object(
    session: Session,
    obj: VtnObject,
    body: dict[str, Any],
    *,
    targets: Sequence[str] = (),
    span_s: tuple[int | None, int | None] = (None, None),
    **columns: str | None,
) -> VtnObject:
    """Replace an object's body, targets and filter columns (flushed, not committed)."""
    obj.body = body
    for key, value in columns.items():
        setattr(obj, key, value)
    obj.start_s, obj.end_s = span_s
    obj.modified = _now_text()
    _set_targets(session, obj, targets)
    session.flush()
    _changed(session, obj.object_type)
    return obj


def delete_object(session: Session, obj: VtnObject) -> None:
    """Remove an object and its targets (flushed, not committed)."""
    session.execute(delete(VtnTarget).where(VtnTarget.object_seq == obj.seq))
    session.delete(obj)
    session.flush()
    _changed(session, obj.object_type)


def find_unique_many(session: Session, object_type: str, unique_keys: Sequence[str]) -> dict[str, VtnObject]:
    """Return the stored objects of this type with any of ``unique_keys``, by key (one query)."""
    if not unique_keys:
        return {}
    found = session.scalars(_UNIQUE_MANY, {"type": object_type, "keys": sorted(set(unique_keys))})
    return {obj.unique_key or "": obj for obj in found}


def any_object(session: Session, object_type: str) -> bool:
    """Return whether any object of this type is stored (one light query)."""
    return session.connection().execute(_ANY, {"type": object_type}).first() is not None


def get_object(session: Session, object_type: str, object_id: str) -> VtnObject | None:
    """Return the object of this type and id, or ``None``."""
    return session.scalars(_GET, {"id": object_id, "type": object_type}).first()


def list_objects(session: Session, object_type: str, filters: Filters, *, skip: int, limit: int) -> list[VtnObject]:
    """Return objects of one type matching ``filters``, oldest first, one page."""
    query = select(VtnObject).where(VtnObject.object_type == object_type)
    for column, value in (
        (VtnObject.program_id, filters.program_id),
        (VtnObject.event_id, filters.event_id),
        (VtnObject.ven_id, filters.ven_id),
        (VtnObject.client_id, filters.client_id),
        (VtnObject.client_name, filters.client_name),
        (VtnObject.name, filters.name),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.targets is not None or filters.names is not None:
        conditions: list[ColumnElement[bool]] = []
        if filters.targets:
            conditions.append(
                exists().where(VtnTarget.object_seq == VtnObject.seq, VtnTarget.target.in_(filters.targets))
            )
        if filters.names:
            conditions.append(VtnObject.name.in_(filters.names))
        if not conditions:
            return []
        query = query.where(or_(*conditions))
    if filters.visible_to is not None:
        visible: list[ColumnElement[bool]] = [VtnObject.targeted.is_(False)]
        if filters.visible_to:
            visible.append(
                exists().where(VtnTarget.object_seq == VtnObject.seq, VtnTarget.target.in_(filters.visible_to))
            )
        query = query.where(or_(*visible))
    if filters.start_s is not None:
        query = query.where(or_(VtnObject.end_s.is_(None), VtnObject.end_s > filters.start_s))
    if filters.end_s is not None:
        query = query.where(or_(VtnObject.start_s.is_(None), VtnObject.start_s < filters.end_s))
    query = query.order_by(VtnObject.seq).offset(skip).limit(limit)
    return list(session.scalars(query))


def targets_of_client(session: Session, client_id: str) -> list[str]:
    """Return the targets of every ven and resource owned by an OAuth client."""
    return list(session.scalars(_TARGETS_OF_CLIENT, {"client": client_id}))


def to_wire(obj: VtnObject) -> dict[str, Any]:
    """Return the object as the specification's JSON: metadata plus body (without private keys)."""
    body = obj.body
    if DIALECT_KEY in body:
        body = {key: value for key, value in body.items() if key != DIALECT_KEY}
    return {
        "id": obj.id,
        "createdDateTime": obj.created,
        "modificationDateTime": obj.modified,
        "objectType": obj.object_type,
        **body,
    }
