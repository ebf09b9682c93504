"""The live driver's view of each site's contract terms: dates, and curtailment used this year.

A site with an allocation in force but whose contracts all lie outside the interval (not yet
started, or ended) is dispatched at zero with reason ``out_of_contract``; a site with no
contract at all runs on its allocation alone. The curtailment each site has taken this
calendar year (UTC) and the length of its current event are rebuilt from the caps recorded
(``dispatch_cap``) into :class:`offtake.dispatch.terms.TermsUsage`, the rule the simulated
year applies: a site that cannot take another curtailed interval without breaking its
annual limit or its longest event is served first (reason ``curtailment_limit``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.orm import Session

from offtake.dispatch.contracts import Contracts
from offtake.dispatch.terms import NOT_CURTAILMENT, TOL_MW, TermsUsage
from offtake.persistence.schema import DispatchCap
from offtake.units import S_PER_H, W_PER_MW

__all__ = ["NOT_COUNTED", "usage_this_year", "year_bounds"]

#: Recorded reasons whose zero is not a curtailment under the contract.
NOT_COUNTED = (*(r.name.lower() for r in NOT_CURTAILMENT), "no_grid_data")


def year_bounds(at: datetime) -> tuple[datetime, float]:
    """Start of the calendar year (UTC) holding ``at`` and the year's length [h]."""
    start = datetime(at.astimezone(UTC).year, 1, 1, tzinfo=UTC)
    end = datetime(start.year + 1, 1, 1, tzinfo=UTC)
    return start, (end - start).total_seconds() / S_PER_H


def usage_this_year(
    session: Session, site_ids: list[str], contracts: Contracts, start: datetime, interval_s: float
) -> TermsUsage:
    """Each site's curtailment this year and current event, from the recorded caps.

    Parameters
    ----------
    session
        Open database session.
    site_ids
        The sites of the round, in the order of ``contracts``.
    contracts
        Their terms in force.
    start
        Start of the interval being dispatched (aware).
    interval_s
        Dispatch interval [s]; every recorded round is taken to be this long.

    Returns
    -------
    TermsUsage
        Curtailed energy [MWh] and current event length [h] per site, before ``start``.
    """
    year_start, year_h = year_bounds(start)
    usage = TermsUsage(contracts, interval_s, year_h)
    if not site_ids:
        return usage
    cap = DispatchCap
    curtailed = and_(cap.cap_w < cap.allocation_w - round(TOL_MW * W_PER_MW), cap.reason.not_in(NOT_COUNTED))
    window = and_(cap.site_id.in_(site_ids), cap.interval_start >= year_start, cap.interval_start < start)
    energy = dict(
        session.execute(
            select(cap.site_id, func.sum(cap.allocation_w - cap.cap_w)).where(window, curtailed).group_by(cap.site_id)
        ).all()
    )
    last_full = (
        select(cap.site_id.label("site_id"), func.max(cap.interval_start).label("last"))
        .where(window, not_(curtailed))
        .group_by(cap.site_id)
        .subquery()
    )
    events = dict(
        session.execute(
            select(cap.site_id, func.count())
            .outerjoin(last_full, last_full.c.site_id == cap.site_id)
            .where(window, curtailed, or_(last_full.c.last.is_(None), cap.interval_start > last_full.c.last))
            .group_by(cap.site_id)
        ).all()
    )
    step_h = interval_s / S_PER_H
    usage.curtailed_mwh = np.array([float(energy.get(s) or 0) / W_PER_MW * step_h for s in site_ids])
    usage.event_h = np.array([float(events.get(s) or 0) * step_h for s in site_ids])
    return usage

