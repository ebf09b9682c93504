"""Who may draw power, and how much: "a site without an active licence gets no power".

A site is *eligible* at an instant when the licence it is attached to was active then
(rebuilt from the licence's state changes), within its validity, and of a kind that
powers the site's kind. Its *power limit* is then the allocation in force (the newest
imported allocation with ``valid_from`` at or before the instant), else the contract in
force (firm + interruptible), clipped to the licence's ``max_mw`` activity cap; an
ineligible site's limit is 0.

A licence whose ``max_energy_mwh`` activity cap (licence limits, else its kind's) has been
drawn by its sites since it became active gives no more power: :func:`eligible_sites` and
:func:`site_power_limit_w` leave its sites out from then on.

The dispatch core calls :func:`eligible_sites`; reconciliation and ingest use
:class:`SiteTimeline`, which loads a site's history once and answers for many instants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from offtake.persistence.schema import (
    Allocation,
    Contract,
    Licence,
    LicenceEvent,
    LicenceKind,
    Reading,
    Site,
)
from offtake.timeutil import require_aware
from offtake.units import W_PER_MW, WH_PER_MWH

__all__ = [
    "EligibleSite",
    "SiteTimeline",
    "eligible_sites",
    "licence_energy_used_wh",
    "site_power_limit_w",
]


def _max_w(limits: dict[str, Any]) -> int | None:
    value = limits.get("max_mw")
    if value is None:
        return None
    return round(float(value) * W_PER_MW)


class SiteTimeline:
    """A site's licence, allocations and contracts over time, loaded once."""

    def __init__(self, session: Session, site: Site) -> None:
        self.site = site
        self.allocations = list(
            session.execute(
                select(Allocation)
                .where(Allocation.site_id == site.id)
                .order_by(Allocation.valid_from.desc(), Allocation.id.desc())
            ).scalars()
        )
        self.contracts = list(
            session.execute(
                select(Contract).where(Contract.site_id == site.id).order_by(Contract.valid_from.desc())
            ).scalars()
        )
        self.licence: Licence | None = None
        self.kind: LicenceKind | None = None
        self.events: list[LicenceEvent] = []
        if site.licence_id is not None:
            self.licence = session.get(Licence, site.licence_id)
            if self.licence is not None:
                self.kind = session.get(LicenceKind, self.licence.kind_id)
                self.events = list(
                    session.execute(
                        select(LicenceEvent)
                        .where(LicenceEvent.licence_id == site.licence_id)
                        .order_by(LicenceEvent.at, LicenceEvent.id)
                    ).scalars()
                )

    def ineligibility(self, at: datetime) -> str | None:
        """Why the site may not draw power at ``at``, or ``None`` if it may."""
        licence = self.licence
        if licence is None:
            return "no licence attached"
        if self.kind is None or self.site.kind not in self.kind.site_kinds:
            return f"a {licence.kind_id} licence does not power {self.site.kind} sites"
        state = None
        for event in self.events:
            if event.at <= at:
                state = event.to_state
            else:
                break
        if state != "active":
            return f"licence {licence.id} was {state or 'not yet applied for'}"
        if licence.valid_from is not None and at < licence.valid_from:
            return f"licence {licence.id} starts {licence.valid_from.isoformat()}"
        if licence.valid_until is not None and at >= licence.valid_until:
            return f"licence {licence.id} expired {licence.valid_until.isoformat()}"
        return None

    def allocation(self, at: datetime) -> Allocation | None:
        """Return the allocation in force at ``at``."""
        for allocation in self.allocations:
            if allocation.valid_from <= at:
                return allocation
        return None

    def contract(self, at: datetime) -> Contract | None:
        """Return the contract in force at ``at``."""
        for contract in self.contracts:
            if contract.valid_from <= at and (contract.valid_until is None or at < contract.valid_until):
                return contract
        return None

    def granted_w(self, at: datetime) -> int:
        """Power granted at ``at`` by allocation or contract, ignoring the licence [W]."""
        allocation = self.allocation(at)
        if allocation is not None:
            return allocation.allocated_w
        contract = self.contract(at)
        if contract is not None:
            return contract.firm_w + contract.interruptible_w
        return 0

    def licence_max_w(self) -> int | None:
        """Return the licence's ``max_mw`` activity cap [W], if any (licence overrides kind)."""
        if self.licence is None:
            return None
        own = _max_w(self.licence.limits or {})
        if own is not None:
            return own
        return _max_w(self.kind.limits or {}) if self.kind is not None else None

    def licence_max_energy_wh(self) -> int | None:
        """Return the licence's ``max_energy_mwh`` activity cap [Wh], if any."""
        if self.licence is None:
            return None
        for limits in (self.licence.limits or {}, (self.kind.limits or {}) if self.kind else {}):
            value = limits.get("max_energy_mwh")
            if value is not None:
                return round(float(value) * WH_PER_MWH)
        return None

    def limit_w(self, at: datetime) -> int:
        """Most the site may draw at ``at`` when no cap is recorded [W] (0 if ineligible)."""
        if self.ineligibility(at) is not None:
            return 0
        granted = self.granted_w(at)
        cap = self.licence_max_w()
        return granted if cap is None else min(granted, cap)


@dataclass(frozen=True)
class EligibleSite:
    """A site that may draw power at an instant, with its limits.

    Parameters
    ----------
    site_id, operator_id, zone, kind
        The site.
    licence_id, licence_kind
        The active licence it draws under.
    limit_mw
        Power it may draw when no cap is dispatched: allocation (or contract) clipped to the
        licence's ``max_mw`` [MW].
    firm_mw, interruptible_mw
        Tranches of the allocation or contract in force [MW].
    licence_max_mw
        The licence's activity cap over all its sites, if any [MW].
    """

    site_id: str
    operator_id: str
    zone: str
    kind: str
    licence_id: str
    licence_kind: str
    limit_mw: float
    firm_mw: float
    interruptible_mw: float
    licence_max_mw: float | None


def licence_energy_used_wh(session: Session, licence: Licence, until: datetime) -> int:
    """Energy drawn by a licence's sites from its start until ``until`` [Wh]."""
    query = (
        select(func.coalesce(func.sum(Reading.energy_wh), 0))
        .join(Site, Site.id == Reading.site_id)
        .where(Site.licence_id == licence.id, Reading.interval_start < until)
    )
    if licence.valid_from is not None:
        query = query.where(Reading.interval_start >= licence.valid_from)
    return int(session.execute(query).scalar_one())


def _energy_exhausted(session: Session, timeline: SiteTimeline, at: datetime, cache: dict[str, bool]) -> bool:
    licence = timeline.licence
    cap_wh = timeline.licence_max_energy_wh()
    if licence is None or cap_wh is None:
        return False
    if licence.id not in cache:
        cache[licence.id] = licence_energy_used_wh(session, licence, at) >= cap_wh
    return cache[licence.id]


def eligible_sites(session: Session, at: datetime) -> list[EligibleSite]:
    """Sites that may draw power at ``at``, with their limits; all others get no power.

    Parameters
    ----------
    session
        Open session.
    at
        The instant (aware).

    Returns
    -------
    list of EligibleSite
        Sorted by site id.
    """
    at = require_aware(at, field="at")
    out: list[EligibleSite] = []
    exhausted: dict[str, bool] = {}
    query = select(Site).where(Site.licence_id.is_not(None)).order_by(Site.id)
    for site in session.execute(query).scalars():
        timeline = SiteTimeline(session, site)
        if timeline.ineligibility(at) is not None or timeline.licence is None:
            continue
        if _energy_exhausted(session, timeline, at, exhausted):
            continue
        allocation = timeline.allocation(at)
        contract = timeline.contract(at)
        if allocation is not None:
            firm_w, interruptible_w = allocation.firm_w, allocation.interruptible_w
        elif contract is not None:
            firm_w, interruptible_w = contract.firm_w, contract.interruptible_w
        else:
            firm_w = interruptible_w = 0
        licence_max = timeline.licence_max_w()
        out.append(
            EligibleSite(
                site_id=site.id,
                operator_id=site.operator_id,
                zone=site.zone,
                kind=site.kind,
                licence_id=timeline.licence.id,
                licence_kind=timeline.licence.kind_id,
                limit_mw=timeline.limit_w(at) / W_PER_MW,
                firm_mw=firm_w / W_PER_MW,
                interruptible_mw=interruptible_w / W_PER_MW,
                licence_max_mw=None if licence_max is None else licence_max / W_PER_MW,
            )
        )
    return out


def site_power_limit_w(session: Session, site_id: str, at: datetime) -> int:
    """Most site ``site_id`` may draw at ``at`` without a dispatched cap [W]; 0 if ineligible."""
    at = require_aware(at, field="at")
    site = session.get(Site, site_id)
    if site is None:
        return 0
    timeline = SiteTimeline(session, site)
    if _energy_exhausted(session, timeline, at, {}):
        return 0
    return timeline.limit_w(at)
