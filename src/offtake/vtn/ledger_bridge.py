"""Hand the readings of a VEN's report to the metering ledger, by the REST API's own path.

The report's ``resourceName`` is the meter id; the site is the one the VEN client is bound
to. The ledger applies its checks (site, contract, overlaps, duplicates) and refuses the
whole report with :class:`~offtake.errors.InputError` if any reading is refused.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from offtake.identity.principal import ROLE_SCOPES
from offtake.ledger import MeterReading, ingest_readings
from offtake.vtn.readings import ReportReading
from offtake.vtn.service import Caller

__all__ = ["ledger_ingest"]


def ledger_ingest(session: Session, caller: Caller, readings: list[ReportReading]) -> None:
    """Record report readings in the metering ledger, in the caller's transaction.

    Parameters
    ----------
    session
        The request's session; committed by the caller with the report. The ledger entries
        are written just before that commit (``defer``), with those of the other reports of
        the same group commit.
    caller
        The reporting VEN client (bound to a site).
    readings
        Readings extracted from the report.

    Raises
    ------
    InputError
        For readings the ledger finds invalid.
    ConflictError
        For readings that contradict accepted ones.
    PermissionDenied
        If the client may not report for the site.
    """
    site_id = caller.site_id or ""
    batch = [
        MeterReading(
            site_id=site_id,
            meter_id=reading.resource_name,
            interval_start=reading.interval_start,
            interval_end=reading.interval_end,
            energy_wh=reading.energy_wh,
        )
        for reading in readings
    ]
    principal = caller.principal
    # An OpenADR token asks for OpenADR scopes: write_reports is the right to send metered
    # energy over OpenADR, so it carries readings:write where the client's role holds it.
    if (
        principal.has_scope("write_reports")
        and "readings:write" in ROLE_SCOPES.get(principal.role, frozenset())
        and not principal.has_scope("readings:write")
    ):
        principal = replace(principal, scopes=principal.scopes | {"readings:write"})
    # the group commit's writes are written to the ledger together, before its commit
    ingest_readings(session, principal, batch, defer=True)
