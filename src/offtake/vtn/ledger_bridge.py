"""Hand the readings of a VEN's report to the metering ledger, by the REST API's own path.

The report's ``resourceName`` is the meter id; the site is the one the VEN client is bound
to. The ledger applies its checks (site, contract, overlaps, duplicates) and refuses the
whole report with :class:`~offtake.errors.InputError` if any reading is refused.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from offtake.vtn.readings import ReportReading
from offtake.vtn.service import Caller

__all__ = ["ledger_ingest"]


def ledger_ingest(session: Session, caller: Caller, readings: list[ReportReading]) -> None:
    """Record report readings in the metering ledger, in the caller's transaction.

    Parameters
    ----------
    session
        The request's session; committed by the caller with the report.
    caller
        The reporting VEN client (bound to a site).
    readings
        Readings extracted from the report.
    """
    from offtake.ledger import ingest_readings

    ingest_readings(
        session,
        caller.principal,
        [
            {
                "site_id": caller.site_id,
                "meter_id": reading.resource_name,
                "interval_start": reading.interval_start,
                "interval_end": reading.interval_end,
                "energy_wh": reading.energy_wh,
            }
            for reading in readings
        ],
    )
