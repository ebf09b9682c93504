"""Writing reports: a VEN's metered energy, stored as its report object and in the ledger.

Reports are the VTN's most frequent write (every VEN sends one every few seconds). A report
is checked in the request's thread (:func:`prepare_report`: validation, its event, its
readings), then handed to the group commit, which writes the reports waiting together with
:func:`create_reports`: one query finds those already stored, one inserts the new ones, one
call hands every report's readings to the ledger (which it locks once for all of them), so
the statements a batch costs do not grow with the number of reports in it. Each report is
still accepted or refused on its own.

A report is idempotent: a retry of one already stored (same client, event and content,
:func:`~offtake.vtn.service.report_key`) answers the stored report and changes nothing, so
a VEN that resends after a lost answer creates no duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from offtake.errors import ConflictError, InputError, OfftakeError
from offtake.vtn import store
from offtake.vtn.readings import ReportReading, readings_from_report
from offtake.vtn.service import (
    Caller,
    IngestReadings,
    Outcome,
    matching_deliveries,
    meter_readings,
    report_columns,
    same_report,
    subscriptions,
)
from offtake.vtn.store import VtnObject

__all__ = ["PreparedReport", "ReportWrite", "create_report", "create_reports", "prepare_report"]


@dataclass(frozen=True)
class PreparedReport:
    """A new report checked before its write: its columns and the readings it carries."""

    columns: dict[str, Any]
    readings: list[ReportReading]


@dataclass(frozen=True)
class ReportWrite:
    """One new report to write: who sends it, and the report as :func:`prepare_report` checked it."""

    caller: Caller
    prepared: PreparedReport


def prepare_report(session: Session, caller: Caller, body: Any) -> PreparedReport:
    """Check a new report and extract its readings, before (and outside) its write.

    Validation, the event's visibility and the readings depend on the report and its event
    only, so the server does this work outside the group commit: the ledger lock is then
    held only for the checks against stored readings and the inserts.

    Raises
    ------
    InputError, PermissionDenied, UnknownEvent
        For a report that cannot be stored.
    """
    if not isinstance(body, dict):
        raise InputError("the request body must be a JSON object")
    columns = report_columns(session, caller, body, None)
    readings = readings_from_report(columns.pop("request"), columns.pop("event"))
    return PreparedReport(columns, readings)


def create_report(session: Session, caller: Caller, body: Any, ingest: IngestReadings | None) -> Outcome:
    """Validate and store one new report; its readings go to the metering ledger.

    Raises
    ------
    OfftakeError
        The error refusing the report (nothing of it stored).
    """
    (outcome,) = create_reports(session, [ReportWrite(caller, prepare_report(session, caller, body))], ingest)
    if isinstance(outcome, OfftakeError):
        raise outcome
    return outcome


def create_reports(
    session: Session, writes: Sequence[ReportWrite], ingest: IngestReadings | None
) -> list[Outcome | OfftakeError]:
    """Store new reports together, each accepted or refused on its own (nothing of a refused one stays).

    A report already stored, or sent twice among ``writes``, is answered with the stored
    one. With more than one write the transaction is never rolled back here: a report whose
    key another transaction took first meanwhile raises the ``IntegrityError`` (the group
    commit then writes each report alone); alone, it rolls back (only reads preceded) and
    answers the stored one.

    Parameters
    ----------
    session
        The writer's session; committed by the caller.
    writes
        The reports, in the order they arrived.
    ingest
        Hands the readings to the metering ledger (``None``: reports carrying readings are refused).

    Returns
    -------
    list of Outcome or OfftakeError
        Per write, in order: the stored report and its deliveries, or the error refusing it.
    """
    keys = [write.prepared.columns["unique_key"] for write in writes]
    known = store.find_unique_many(session, "REPORT", keys)
    outcomes: list[Outcome | OfftakeError | None] = [None] * len(writes)
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key in known:
            outcomes[i] = Outcome(store.to_wire(known[key]))
        else:
            first.setdefault(key, i)
    fresh = sorted(first.values())
    readings: dict[int, list[ReportReading]] = {}
    for i in fresh:
        try:
            readings[i] = meter_readings(session, writes[i].caller, writes[i].prepared.readings)
        except OfftakeError as exc:
            outcomes[i] = exc
    fresh = [i for i in fresh if i in readings]
    if fresh:
        stored = _insert(session, [writes[i].prepared.columns for i in fresh], alone=len(writes) == 1)
        if isinstance(stored, Outcome):
            return [stored]
        objects = dict(zip(fresh, stored, strict=True))
        _ingest(session, writes, readings, objects, outcomes, ingest)
        watching = subscriptions(session)
        for i, obj in objects.items():
            wire = store.to_wire(obj)
            outcomes[i] = Outcome(wire, matching_deliveries(session, wire, "CREATE", obj.client_id, watching))
    for i, key in enumerate(keys):  # a report sent twice in one batch: the second answers the first
        if outcomes[i] is None:
            outcomes[i] = outcomes[first[key]]
    return [outcome for outcome in outcomes if outcome is not None]


def _insert(session: Session, columns: list[dict[str, Any]], *, alone: bool) -> list[VtnObject] | Outcome:
    """Insert report objects.

    ``alone`` (the call has one write): a report whose key another transaction took meanwhile
    is answered with the stored one. Otherwise the ``IntegrityError`` is raised.
    """
    try:
        return store.insert_objects(session, "REPORT", columns)
    except IntegrityError as exc:
        if not alone:
            raise
        # A concurrent retry committed the same report first: answer with it. Nothing
        # of this transaction precedes the insert but reads, so rolling back loses nothing.
        session.rollback()
        repeated = same_report(session, columns[0]["unique_key"])
        if repeated is not None:
            return Outcome(store.to_wire(repeated))
        raise ConflictError(f"a report named '{columns[0]['unique_key']}' already exists") from exc


def _ingest(
    session: Session,
    writes: Sequence[ReportWrite],
    readings: dict[int, list[ReportReading]],
    objects: dict[int, VtnObject],
    outcomes: list[Outcome | OfftakeError | None],
    ingest: IngestReadings | None,
) -> None:
    """Hand the readings of the inserted reports to the ledger; remove the reports it refuses."""
    carrying = [i for i in objects if readings[i]]
    if not carrying:
        return
    if ingest is None:
        refusals: Sequence[OfftakeError | None] = [OfftakeError("no metering ledger is attached to this VTN")] * len(
            carrying
        )
    else:
        refusals = ingest(session, [(writes[i].caller, readings[i]) for i in carrying])
    refused = [i for i, refusal in zip(carrying, refusals, strict=True) if refusal is not None]
    for i, refusal in zip(carrying, refusals, strict=True):
        if refusal is not None:
            outcomes[i] = refusal
    store.remove_inserted(session, [objects.pop(i) for i in refused])
