"""Live detection of sites that ignore their caps: the rule of :mod:`offtake.dispatch.compliance`.

Before each round the driver looks back over the last ``consecutive_intervals`` dispatched
intervals of every site: its recorded cap, its metered mean draw over the interval (meter
readings that cover it), and its draw at the start (the previous interval's mean, else its
cap). A site over the allowance in each of them is flagged once: an audit entry
``dispatch.cap_ignored`` on the site, in the ledger, with the evidence (every interval's cap,
metered draw and allowance in W, and the rule's tolerances), where the regulator reads it.
From then on its draw is reserved in the budgets, and in an emergency that covers its zone it
is ordered disconnected at once (cap zero, audit entry ``dispatch.disconnect_ordered``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from offtake.dispatch.compliance import ComplianceRule, allowed_draw_mw
from offtake.identity.principal import Principal
from offtake.ledger.audit import record_change
from offtake.ledger.encoding import format_time
from offtake.live.records import DispatchCap
from offtake.persistence.schema import AuditEvent, Reading, Site
from offtake.units import W_PER_MW

__all__ = ["DISCONNECT_ACTION", "FLAG_ACTION", "flag_sites", "flagged_sites", "order_disconnection"]

#: Audit action of a site found ignoring its caps.
FLAG_ACTION = "dispatch.cap_ignored"
#: Audit action of a flagged site ordered off the grid in an emergency.
DISCONNECT_ACTION = "dispatch.disconnect_ordered"


def flagged_sites(session: Session, site_ids: list[str]) -> set[str]:
    """Sites among ``site_ids`` already flagged as ignoring their caps."""
    if not site_ids:
        return set()
    query = select(AuditEvent.object_id).where(
        AuditEvent.action == FLAG_ACTION, AuditEvent.object_type == "site", AuditEvent.object_id.in_(site_ids)
    )
    return set(session.execute(query).scalars())


def _mean_draws(
    session: Session, site_ids: list[str], since: datetime, until: datetime, interval_s: int
) -> dict[tuple[str, datetime], float]:
    """Metered mean draw [MW] per site and dispatch interval that readings cover in full."""
    energy: dict[tuple[str, datetime], float] = defaultdict(float)
    covered: dict[tuple[str, datetime, str], float] = defaultdict(float)
    columns = (Reading.site_id, Reading.meter_id, Reading.interval_start, Reading.interval_end, Reading.energy_wh)
    rows = session.execute(
        select(*columns).where(
            Reading.site_id.in_(site_ids), Reading.interval_start >= since, Reading.interval_end <= until
        )
    )
    for site_id, meter_id, r_start, r_end, energy_wh in rows:
        offset = (r_start - since).total_seconds()
        slot = since + timedelta(seconds=offset - offset % interval_s)
        if r_end > slot + timedelta(seconds=interval_s):
            continue  # a reading across two dispatch intervals says nothing about either alone
        energy[(site_id, slot)] += energy_wh
        covered[(site_id, slot, meter_id)] += (r_end - r_start).total_seconds()
    full = {(s, slot) for (s, slot, _), seconds in covered.items() if seconds >= interval_s - 1e-6}
    hours = interval_s / 3600.0
    return {key: wh / hours / W_PER_MW for key, wh in energy.items() if key in full}


def flag_sites(
    session: Session,
    principal: Principal,
    sites: list[Site],
    response_time_s: dict[str, float],
    allocated_mw: dict[str, float],
    start: datetime,
    interval_s: int,
    rule: ComplianceRule,
    *,
    now: datetime,
) -> dict[str, dict[str, Any]]:
    """Flag the sites whose last intervals show them ignoring their caps; return the evidence.

    Parameters
    ----------
    session
        Open session; the caller commits.
    principal
        Who records the flag (the dispatcher).
    sites
        Sites of the round.
    response_time_s, allocated_mw
        Contracted response time [s] and allocation [MW] per site id.
    start
        Start of the interval about to be dispatched.
    interval_s
        Dispatch interval [s].
    rule
        The detection rule.
    now
        When the flag is recorded.

    Returns
    -------
    dict
        Evidence per newly flagged site id.
    """
    ids = [s.id for s in sites]
    already = flagged_sites(session, ids)
    k = rule.consecutive_intervals
    step = timedelta(seconds=interval_s)
    since = start - step * (k + 1)
    caps: dict[tuple[str, datetime], int] = {}
    query = select(DispatchCap.site_id, DispatchCap.interval_start, DispatchCap.cap_w).where(
        DispatchCap.site_id.in_(ids), DispatchCap.interval_start >= since, DispatchCap.interval_end <= start
    )
    for site_id, c_start, cap_w in session.execute(query):
        caps[(site_id, c_start)] = cap_w
    draws = _mean_draws(session, ids, since, start, interval_s)
    found: dict[str, dict[str, Any]] = {}
    for site in sites:
        if site.id in already:
            continue
        evidence = _evidence(
            site.id, caps, draws, start, step, k, response_time_s[site.id], allocated_mw[site.id], rule
        )
        if evidence is None:
            continue
        detail = {
            "site_id": site.id,
            "intervals": evidence,
            "rule": asdict(rule),
            "detected_before": format_time(start),
        }
        record_change(session, principal, FLAG_ACTION, "site", site.id, detail, operator_id=site.operator_id, at=now)
        found[site.id] = detail
    return found


def _evidence(
    site_id: str,
    caps: dict[tuple[str, datetime], int],
    draws: dict[tuple[str, datetime], float],
    start: datetime,
    step: timedelta,
    k: int,
    response_time_s: float,
    allocated_mw: float,
    rule: ComplianceRule,
) -> list[dict[str, Any]] | None:
    """Return the last ``k`` intervals of a site if every one is over the allowance, else None."""
    threshold = float(rule.threshold_mw(np.array([allocated_mw]))[0])
    rows = []
    for back in range(k, 0, -1):
        slot = start - step * back
        cap_w = caps.get((site_id, slot))
        mean = draws.get((site_id, slot))
        if cap_w is None or mean is None:
            return None
        before = draws.get((site_id, slot - step))
        if before is None:
            before_cap = caps.get((site_id, slot - step))
            before = cap_w / W_PER_MW if before_cap is None else before_cap / W_PER_MW
        cap = cap_w / W_PER_MW
        allowed = float(
            allowed_draw_mw(
                np.array([cap]),
                np.array([before]),
                np.array([response_time_s]),
                step.total_seconds(),
                rule.response_time_tolerance,
            )[0]
        )
        if mean - allowed <= threshold:
            return None
        rows.append(
            {
                "interval_start": format_time(slot),
                "cap_w": cap_w,
                "mean_draw_w": round(mean * W_PER_MW),
                "allowed_w": round(allowed * W_PER_MW),
                "threshold_w": round(threshold * W_PER_MW),
            }
        )
    return rows


def order_disconnection(
    session: Session, principal: Principal, site: Site, emergency_ids: list[str], start: datetime, *, now: datetime
) -> None:
    """Record that a flagged site is ordered off the grid at once in an emergency."""
    detail = {"site_id": site.id, "emergencies": emergency_ids, "interval_start": format_time(start)}
    record_change(session, principal, DISCONNECT_ACTION, "site", site.id, detail, operator_id=site.operator_id, at=now)
