"""How much curtailment a site has had against its contract's limits, from the dispatched caps.

A dispatched interval is *curtailed* when its cap is below the site's allocation; the
curtailed energy is the shortfall times the interval's length. Over a rolling year this is
set against the contract's (else the allocation's) terms:

- energy: curtailed energy against ``annual_curtailment_limit`` x allocated power x one year;
- depth: the deepest curtailment (share of allocation) against ``max_curtailment_fraction``;
- duration: the longest run of back-to-back curtailed intervals against
  ``max_curtailment_duration_h``.

Every cap counts, emergencies included (they are curtailment the site felt); a cap is in
force until the next one starts (an emergency round starts inside an interval and cuts it
short).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from offtake.errors import NotFoundError
from offtake.identity.principal import Principal
from offtake.live.records import DispatchCap
from offtake.persistence.schema import Site
from offtake.registry.eligibility import SiteTimeline
from offtake.units import S_PER_H, W_PER_MW, WH_PER_MWH

__all__ = ["CurtailmentUse", "curtailment_used"]

#: Length of the rolling year the annual limit applies to.
YEAR = timedelta(days=365)


@dataclass(frozen=True)
class CurtailmentUse:
    """A site's curtailment over a period against its contract's limits.

    Parameters
    ----------
    site_id
        The site.
    since, until
        The period (a rolling year, or since the first cap if later).
    terms_from
        ``contract <id>``, ``allocation`` or ``none`` (no terms in force: no limits).
    allocation_mw
        Allocated power the limits refer to [MW].
    curtailed_mwh, budget_mwh
        Curtailed energy in the period, and the annual limit's energy [MWh].
    deepest, max_fraction
        Deepest curtailment and the contract's limit, shares of allocation [-].
    longest_h, max_duration_h
        Longest curtailment event and the contract's limit [h].
    intervals
        Dispatched intervals counted.
    """

    site_id: str
    since: datetime
    until: datetime
    terms_from: str
    allocation_mw: float
    curtailed_mwh: float
    budget_mwh: float
    deepest: float
    max_fraction: float
    longest_h: float
    max_duration_h: float
    intervals: int

    @property
    def share_of_budget(self) -> float | None:
        """Curtailed energy as a share of the annual limit's energy [-], None without a limit."""
        return None if self.budget_mwh <= 0 else self.curtailed_mwh / self.budget_mwh


def _terms(timeline: SiteTimeline, at: datetime) -> tuple[str, float, float, float, float]:
    """Where the limits come from, allocation [MW], annual limit, deepest share and longest event [h]."""
    contract = timeline.contract(at)
    if contract is not None:
        allocation_mw = (contract.firm_w + contract.interruptible_w) / W_PER_MW
        return (f"contract {contract.id}", allocation_mw, contract.annual_curtailment_limit,
                contract.max_curtailment_fraction, contract.max_curtailment_duration_h)  # fmt: skip
    allocation = timeline.allocation(at)
    if allocation is not None:
        return ("allocation", allocation.allocated_w / W_PER_MW, allocation.annual_curtailment_limit,
                allocation.max_curtailment_fraction, allocation.max_curtailment_duration_h)  # fmt: skip
    return "none", 0.0, 0.0, 0.0, 0.0


def curtailment_used(session: Session, principal: Principal, site_id: str, now: datetime) -> CurtailmentUse:
    """Measure a site's curtailment over the year before ``now`` against its terms in force at ``now``.

    Raises
    ------
    NotFoundError
        Unknown site, or another operator's (it reads the same).
    """
    principal.require_scope("caps:read")
    site = session.get(Site, site_id)
    if site is None:
        raise NotFoundError(f"site '{site_id}' does not exist")
    principal.require_site(site_id, site.operator_id)
    since = now - YEAR
    rows = session.execute(
        select(DispatchCap.interval_start, DispatchCap.interval_end, DispatchCap.allocation_w, DispatchCap.cap_w)
        .where(DispatchCap.site_id == site_id, DispatchCap.interval_start >= since, DispatchCap.interval_start < now)
        .order_by(DispatchCap.interval_start, DispatchCap.id)
    ).all()
    last = {start: (end, allocation_w, cap_w) for start, end, allocation_w, cap_w in rows}
    starts = sorted(last)
    curtailed_wh = 0.0
    deepest = longest_s = run_s = 0.0
    run_end: datetime | None = None
    for k, start in enumerate(starts):
        end, allocation_w, cap_w = last[start]
        if k + 1 < len(starts):
            end = min(end, starts[k + 1])  # in force until the next cap starts
        short_w = max(allocation_w - cap_w, 0)
        if short_w <= 0 or allocation_w <= 0:
            run_end = None
            continue
        seconds = (end - start).total_seconds()
        curtailed_wh += short_w * seconds / S_PER_H
        deepest = max(deepest, short_w / allocation_w)
        run_s = run_s + seconds if run_end == start else seconds
        run_end = end
        longest_s = max(longest_s, run_s)
    source, allocation_mw, annual, max_fraction, max_h = _terms(SiteTimeline(session, site), now)
    return CurtailmentUse(
        site_id=site_id,
        since=min(last) if last else since,
        until=now,
        terms_from=source,
        allocation_mw=allocation_mw,
        curtailed_mwh=curtailed_wh / WH_PER_MWH,
        budget_mwh=annual * allocation_mw * YEAR.total_seconds() / S_PER_H,
        deepest=deepest,
        max_fraction=max_fraction,
        longest_h=longest_s / S_PER_H,
        max_duration_h=max_h,
        intervals=len(last),
    )
