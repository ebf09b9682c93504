"""Hand the readings of a VEN's report to the metering ledger, by the REST API's own path.

The report's ``resourceName`` is the meter id; the site is the one the VEN client is bound
to. The ledger applies its checks (site, contract, overlaps, duplicates) and refuses the
whole report with :class:`~offtake.errors.InputError` if any reading is refused. The reports
of one group commit go to the ledger in one call, each accepted or refused on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.orm import Session

from offtake.errors import OfftakeError
from offtake.identity.principal import ROLE_SCOPES, Principal
from offtake.ledger import MeterReading, ingest_many
from offtake.vtn.readings import ReportReading
from offtake.vtn.service import Caller

__all__ = ["ledger_ingest"]


def ledger_ingest(session: Session, reports: Sequence[tuple[Caller, list[ReportReading]]]) -> list[OfftakeError | None]:
    """Record the readings of reports in the metering ledger, in the caller's transaction.

    Parameters
    ----------
    session
        The writer's session; committed by the caller with the reports. The ledger entries
        are written just before that commit (``defer``), with those of the other reports of
        the same group commit.
    reports
        Per report: the reporting VEN client (bound to a site) and the readings extracted
        from it.

    Returns
    -------
    list of OfftakeError or None
        Per report: ``None`` where its readings were accepted, else the error refusing them
        (:class:`~offtake.errors.InputError` for readings the ledger finds invalid,
        :class:`~offtake.errors.ConflictError` for readings that contradict accepted ones,
        :class:`~offtake.errors.PermissionDenied` if the client may not report for the site).
    """
    requests = [(_principal(caller), _meter_readings(caller, readings)) for caller, readings in reports]
    # the group commit's writes are written to the ledger together, before its commit
    outcomes = ingest_many(session, requests, defer=True)
    return [outcome if isinstance(outcome, OfftakeError) else None for outcome in outcomes]


def _meter_readings(caller: Caller, readings: list[ReportReading]) -> list[MeterReading]:
    site_id = caller.site_id or ""
    return [
        MeterReading(
            site_id=site_id,
            meter_id=reading.resource_name,
            interval_start=reading.interval_start,
            interval_end=reading.interval_end,
            energy_wh=reading.energy_wh,
        )
        for reading in readings
    ]


def _principal(caller: Caller) -> Principal:
    """Return the client's principal, with readings:write where its token's write_reports carries it."""
    principal: Principal = caller.principal
    # An OpenADR token asks for OpenADR scopes: write_reports is the right to send metered
    # energy over OpenADR.
    if (
        principal.has_scope("write_reports")
        and "readings:write" in ROLE_SCOPES.get(principal.role, frozenset())
        and not principal.has_scope("readings:write")
    ):
        principal = replace(principal, scopes=principal.scopes | {"readings:write"})
    return principal
