"""The live driver of the dispatch core: every interval, caps for every site, recorded and sent.

One round dispatches one interval ``[start, start + interval_s)``, aligned to the clock in
UTC. It

1. builds the core's inputs from the platform's state at ``start``: the sites with an
   allocation (or a contract) in force, their licence eligibility
   (:func:`offtake.registry.eligibility.eligible_sites`: no active licence, zero), each
   site's last metered draw (its latest reading, else its previous cap), the grid feed's
   surplus forecast and uncertainty per zone, and the emergencies in force; which sites are
   outside their contract's dates (zero, ``out_of_contract``) and which have used up their
   annual curtailment or event-length limit (served first, ``curtailment_limit``), from the
   caps recorded this year (:mod:`offtake.live.terms`);
2. runs :meth:`offtake.dispatch.Dispatcher.step`, the same core as ``offtake simulate``;
3. stores the caps through :func:`offtake.ledger.record_caps` (so reconciliation and bills
   use them), each with its reason, and ledgers a summary of the round;
4. publishes them to the sites as OpenADR ``IMPORT_CAPACITY_LIMIT`` events.

There is at most one round per interval: running it again returns the stored round (and
publishes it if publishing failed). An emergency declared by the control room is sent at
once as ``SIMPLE`` / ``ALERT_GRID_EMERGENCY`` events and the next interval is dispatched
at once under it (miners to zero, AI to its contracted floor); the caps already recorded for
the current interval are part of the ledger and stay.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from offtake.dispatch.compliance import ComplianceRule
from offtake.dispatch.contracts import Contracts, SiteTerms
from offtake.dispatch.core import Dispatcher, GridState, Reason, SiteState
from offtake.dispatch.deliverable import SetProjection
from offtake.dispatch.policy import DispatchPolicy, load_defaults
from offtake.errors import InputError
from offtake.identity.principal import Principal
from offtake.ledger import CapRecord, record_caps
from offtake.ledger.audit import record_change
from offtake.ledger.encoding import format_time
from offtake.live.compliance import FLAG_ACTION, flag_sites, flagged_sites, order_disconnection
from offtake.live.feed import GridFeed, SurplusForecast, open_feed
from offtake.live.records import (
    DispatchCap,
    DispatchRound,
    GridEmergency,
    clear_emergency,
    effective_end,
    emergencies_overlapping,
    record_emergency,
)
from offtake.live.terms import usage_this_year
from offtake.persistence.schema import Allocation, Cap, Contract, Reading, Site
from offtake.registry.eligibility import SiteTimeline, eligible_sites
from offtake.timeutil import require_aware
from offtake.units import MICRO_USD_PER_USD, S_PER_H, W_PER_MW

__all__ = [
    "DISPATCHER",
    "NO_GRID_DATA",
    "LiveDispatch",
    "RoundOutcome",
    "check_interval_s",
    "interval_bounds",
    "run_on_clock",
]

log = logging.getLogger(__name__)

#: The live driver, as recorded on the caps and rounds it writes.
DISPATCHER = Principal(
    client_id="offtake-dispatch",
    role="system",
    scopes=frozenset({"caps:write", "caps:read", "registry:read", "readings:read"}),
)
#: Reason given to a site whose zone the grid feed does not report on (cap 0).
NO_GRID_DATA = "no_grid_data"
_SECONDS_PER_DAY = 86_400


def check_interval_s(interval_s: float) -> int:
    """Return the interval as whole seconds, checking it divides a day (so rounds align)."""
    seconds = int(interval_s)
    if seconds != interval_s or seconds < 1 or _SECONDS_PER_DAY % seconds:
        raise InputError(
            f"dispatch interval of {interval_s} s must be a whole number of seconds dividing a day (e.g. 300 or 900)",
            field="OFFTAKE_DISPATCH_INTERVAL_S",
        )
    return seconds


def interval_bounds(at: datetime, interval_s: int) -> tuple[datetime, datetime]:
    """Return the dispatch interval containing ``at``, aligned to the clock in UTC."""
    at = require_aware(at, field="at")
    epoch_s = int(at.timestamp() // interval_s) * interval_s
    start = datetime.fromtimestamp(epoch_s, UTC)
    return start, start + timedelta(seconds=interval_s)


@dataclass
class _Inputs:
    """The core's inputs for one interval, with what they were built from."""

    sites: list[Site]
    contracts: Contracts
    state: SiteState
    draw_source: list[str]
    notes: list[str]
    excluded: list[tuple[Site, int, str]] = field(default_factory=list)


@dataclass
class RoundOutcome:
    """What one round did.

    Attributes
    ----------
    round
        The stored round.
    caps
        Its caps, one per site, with reasons.
    created
        False when the interval had been dispatched before (the stored round is returned).
    published
        Whether the caps are published to the sites as OpenADR events.
    """

    round: DispatchRound
    caps: list[DispatchCap]
    created: bool
    published: bool

    def summary(self) -> dict[str, Any]:
        """JSON summary: interval, counts by reason, total cap."""
        reasons = Counter(c.reason for c in self.caps)
        return {
            "interval_start": format_time(self.round.interval_start),
            "interval_end": format_time(self.round.interval_end),
            "created": self.created,
            "published": self.published,
            "sites": len(self.caps),
            "total_cap_mw": sum(c.cap_w for c in self.caps) / W_PER_MW,
            "reasons": dict(sorted(reasons.items())),
            "feed": self.round.feed,
        }


def _in_force(session: Session, start: datetime) -> list[Site]:
    """Sites with an allocation or a contract in force at ``start``."""
    allocated = select(Allocation.site_id).where(Allocation.valid_from <= start)
    contracted = select(Contract.site_id).where(
        Contract.valid_from <= start, or_(Contract.valid_until.is_(None), Contract.valid_until > start)
    )
    query = select(Site).where(or_(Site.id.in_(allocated), Site.id.in_(contracted))).order_by(Site.id)
    return list(session.execute(query).scalars())


def _last_draws(
    session: Session, site_ids: list[str], start: datetime, max_age_s: float
) -> dict[str, tuple[float, str]]:
    """Each site's last metered mean draw [MW] (else its previous cap), with the source."""
    since = start - timedelta(seconds=max_age_s)
    out: dict[str, tuple[float, str]] = {}
    latest: dict[str, tuple[datetime, datetime, int]] = {}
    rows = session.execute(
        select(Reading.site_id, Reading.interval_start, Reading.interval_end, Reading.energy_wh).where(
            Reading.site_id.in_(site_ids), Reading.interval_start >= since, Reading.interval_end <= start
        )
    )
    for site_id, r_start, r_end, energy_wh in rows:
        seen = latest.get(site_id)
        if seen is None or (r_end, r_start) > (seen[1], seen[0]):
            latest[site_id] = (r_start, r_end, energy_wh)
        elif (r_start, r_end) == (seen[0], seen[1]):  # another meter of the same site
            latest[site_id] = (r_start, r_end, seen[2] + energy_wh)
    for site_id, (r_start, r_end, energy_wh) in latest.items():
        hours = (r_end - r_start).total_seconds() / S_PER_H
        out[site_id] = (energy_wh / hours / W_PER_MW, "reading")
    missing = [s for s in site_ids if s not in out]
    if missing:
        caps = session.execute(
            select(Cap.site_id, Cap.interval_start, Cap.cap_w)
            .where(Cap.site_id.in_(missing), Cap.interval_start >= since, Cap.interval_start < start)
            .order_by(Cap.interval_start)
        )
        for site_id, _, cap_w in caps:
            out[site_id] = (cap_w / W_PER_MW, "cap")
    return out


def _gather(session: Session, start: datetime, zone_ids: tuple[str, ...], policy: DispatchPolicy) -> _Inputs:
    """Build the core's inputs from the registry, the licences and the readings."""
    zones = set(zone_ids)
    eligible = {e.site_id: e for e in eligible_sites(session, start)}
    sites: list[Site] = []
    excluded: list[tuple[Site, int, str]] = []
    terms_in_force: list[SiteTerms] = []
    active: list[bool] = []
    dated: list[bool] = []
    notes: list[str] = []
    for site in _in_force(session, start):
        timeline = SiteTimeline(session, site)
        terms: Allocation | Contract | None = timeline.allocation(start) or timeline.contract(start)
        if terms is None:
            continue
        # A site with contracts, none of them in force now, is outside its contract's dates.
        in_contract = not timeline.contracts or timeline.contract(start) is not None
        granted_w = terms.firm_w + terms.interruptible_w
        if site.zone not in zones:
            excluded.append((site, granted_w, f"the grid feed reports no zone '{site.zone}'"))
            continue
        entry = eligible.get(site.id)
        limit_w = round(entry.limit_mw * W_PER_MW) if entry is not None else granted_w
        firm_w = min(terms.firm_w, limit_w)
        sites.append(site)
        active.append(entry is not None)
        dated.append(in_contract)
        if entry is None:
            notes.append(timeline.ineligibility(start) or "licence activity cap (energy) reached")
        elif not in_contract:
            notes.append(_contract_dates(timeline.contracts, start))
        else:
            notes.append("" if limit_w == granted_w else f"clipped to the licence's {limit_w / W_PER_MW:g} MW")
        terms_in_force.append(
            SiteTerms(
                site_id=site.id,
                operator=site.operator_id,
                zone=site.zone,
                kind=site.kind,
                firm_mw=firm_w / W_PER_MW,
                interruptible_mw=(limit_w - firm_w) / W_PER_MW,
                max_curtailment_fraction=terms.max_curtailment_fraction,
                max_curtailment_duration_h=terms.max_curtailment_duration_h,
                annual_curtailment_limit=terms.annual_curtailment_limit,
                response_time_s=terms.response_time_s,
                tariff_usd_per_mwh=terms.tariff_micro_usd_per_mwh / MICRO_USD_PER_USD,
                expected_energy_mwh=getattr(terms, "expected_energy_mwh", 0.0),
            )
        )
    contracts = Contracts.from_sites(terms_in_force, zone_ids)
    max_age_s = float(load_defaults()["live"]["reading_max_age_s"])
    draws = _last_draws(session, [s.id for s in sites], start, max_age_s)
    draw_mw = np.array([draws.get(s.id, (0.0, "none"))[0] for s in sites], dtype=float)
    state = SiteState.initial(contracts, policy, draw_mw=np.maximum(draw_mw, 0.0))
    state.licence_active = np.array(active, dtype=bool)
    state.in_contract = np.array(dated, dtype=bool)
    sources = [draws.get(s.id, (0.0, "none"))[1] for s in sites]
    return _Inputs(sites, contracts, state, sources, notes, excluded)


def _contract_dates(contracts: list[Contract], start: datetime) -> str:
    """Why a site is outside its contract's dates, in words."""
    later = [c.valid_from for c in contracts if c.valid_from > start]
    if later:
        return f"contract starts {format_time(min(later))}"
    ended = [c.valid_until for c in contracts if c.valid_until is not None and c.valid_until <= start]
    return f"contract ended {format_time(max(ended))}" if ended else "no contract in force"


def _grid_state(forecast: SurplusForecast, emergencies: list[GridEmergency]) -> tuple[GridState, list[str]]:
    zone_pos = {z: i for i, z in enumerate(forecast.zone_ids)}
    zone_flags = np.zeros(len(forecast.zone_ids), dtype=bool)
    national = False
    ignored = []
    for emergency in emergencies:
        if emergency.zone is None:
            national = True
        elif emergency.zone in zone_pos:
            zone_flags[zone_pos[emergency.zone]] = True
        else:
            ignored.append(f"emergency {emergency.id} names zone '{emergency.zone}', unknown to the grid feed")
    grid = GridState(
        surplus_forecast_mw=forecast.surplus_forecast_mw,
        surplus_sigma_mw=forecast.surplus_sigma_mw,
        national_limit_mw=forecast.national_forecast_mw,
        national_sigma_mw=forecast.national_sigma_mw,
        emergency_national=national,
        emergency_zone=zone_flags if zone_flags.any() else None,
    )
    return grid, ignored


def _dispatcher(
    contracts: Contracts, policy: DispatchPolicy, forecast: SurplusForecast, grid: GridState
) -> tuple[Dispatcher, SetProjection | None]:
    """Build the core for this round: with the feed's zone sets, seen through the zones with sites."""
    if forecast.set_member is None or forecast.set_values_mw is None:
        return Dispatcher(contracts, policy), None
    used = np.zeros(len(forecast.zone_ids), dtype=bool)
    used[contracts.zone_index] = True
    projection = SetProjection.build(forecast.set_member, used)
    grid.cut_mw = projection.reduce(forecast.set_values_mw)
    return Dispatcher(contracts, policy, sets=projection.member), projection


def _look_ahead(
    grid: GridState,
    dispatcher: Dispatcher,
    projection: SetProjection | None,
    feed: GridFeed,
    start: datetime,
    end: datetime,
) -> None:
    """Add the feed's forecasts of the next intervals, as far as the slowest site's response time."""
    horizon = dispatcher.horizon
    if horizon == 0:
        return
    step = end - start
    ahead = [feed.surplus_at(start + step * k, end + step * k) for k in range(1, horizon + 1)]
    grid.ahead_surplus_mw = np.stack([a.surplus_forecast_mw for a in ahead])
    if grid.national_limit_mw is not None and all(a.national_forecast_mw is not None for a in ahead):
        grid.ahead_national_mw = np.array([float(a.national_forecast_mw or 0.0) for a in ahead])
    if projection is not None and all(a.set_values_mw is not None for a in ahead):
        grid.ahead_cut_mw = np.stack([projection.reduce(np.asarray(a.set_values_mw)) for a in ahead])


def _enforce(
    session: Session,
    principal: Principal,
    inputs: _Inputs,
    grid: GridState,
    start: datetime,
    interval_s: int,
    emergencies: list[GridEmergency],
    now: datetime,
) -> list[str]:
    """Flag sites ignoring their caps; reserve their draw; order them off in an emergency."""
    contracts = inputs.contracts
    ids = [s.id for s in inputs.sites]
    response = {s.id: float(contracts.response_time_s[i]) for i, s in enumerate(inputs.sites)}
    allocated = {s.id: float(contracts.allocated_mw[i]) for i, s in enumerate(inputs.sites)}
    found = flag_sites(
        session, principal, inputs.sites, response, allocated, start, interval_s, ComplianceRule.default(), now=now
    )
    flagged = flagged_sites(session, ids)
    notes = [f"site {site}: flagged as ignoring its cap (audit {FLAG_ACTION})" for site in sorted(found)]
    if not flagged:
        return notes
    mask = np.array([site in flagged for site in ids], dtype=bool)
    inputs.state.uncontrolled_mw = np.where(mask, inputs.state.last_draw_mw, 0.0)
    covered = np.zeros(len(ids), dtype=bool)
    if grid.emergency_national:
        covered[:] = True
    elif grid.emergency_zone is not None:
        covered = grid.emergency_zone[contracts.zone_index]
    for i in np.flatnonzero(mask & covered):
        site = inputs.sites[int(i)]
        inputs.state.licence_active[i] = False
        inputs.notes[i] = "ignoring its cap: ordered off the grid at once in the emergency"
        order_disconnection(session, principal, site, [e.id for e in emergencies], start, now=now)
        notes.append(f"site {site.id}: ignoring its cap, ordered off the grid in the emergency")
    return notes


def _mark_protected(session: Session, inputs: _Inputs, start: datetime, interval_s: int) -> None:
    """Mark the sites whose curtailment limits are used up this year, with a note saying so."""
    ids = [site.id for site in inputs.sites]
    usage = usage_this_year(session, ids, inputs.contracts, start, interval_s)
    inputs.state.protected = usage.protected()
    for k in np.flatnonzero(inputs.state.protected):
        used = f"{usage.curtailed_mwh[k]:.1f} of {usage.budget_mwh[k]:.1f} MWh curtailed this year"
        why = f"curtailment limit used up ({used}, event {usage.event_h[k]:g} h): served first"
        inputs.notes[k] = f"{inputs.notes[k]}; {why}" if inputs.notes[k] else why


def _digest(caps: list[dict[str, Any]]) -> str:
    """SHA-256 of the round's (site, cap, reason) list, so the ledger seals every reason."""
    text = json.dumps([[c["site_id"], c["cap_w"], c["reason"]] for c in caps], separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


class LiveDispatch:
    """The live driver: runs rounds, records and publishes caps, handles emergencies.

    Parameters
    ----------
    session_factory
        Sessions of the platform database.
    feed
        The grid feed, or its spec (opened on first use; a scenario replay takes seconds
        to assess), or None when no feed is configured (emergencies are still recorded and
        sent; no caps are computed).
    interval_s
        Dispatch interval [s]; must divide a day.
    vtn
        The VTN handle that publishes events, or None to record caps without publishing.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        feed: GridFeed | str | None,
        interval_s: float,
        vtn: Any | None,
    ) -> None:
        self._factory = session_factory
        self._feed_spec = feed if isinstance(feed, str) else None
        self._feed: GridFeed | None = None if isinstance(feed, str) else feed
        self.interval_s = check_interval_s(interval_s)
        self.vtn = vtn
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        """Whether a grid feed is configured."""
        return self._feed is not None or self._feed_spec is not None

    @property
    def feed(self) -> GridFeed:
        """The grid feed (opened on first use)."""
        if self._feed is None:
            if self._feed_spec is None:
                raise InputError(
                    "no grid feed is configured; set OFFTAKE_GRID_FEED (e.g. scenario:pakistan-2025)",
                    field="OFFTAKE_GRID_FEED",
                )
            self._feed = open_feed(self._feed_spec)
        return self._feed

    def policy(self) -> DispatchPolicy:
        """Return the policy: sourced defaults, this interval, the feed's largest unit and tariff."""
        feed = self.feed
        return DispatchPolicy.default(
            interval_s=float(self.interval_s),
            largest_unit_mw=feed.largest_unit_mw,
            reference_tariff_usd_per_mwh=feed.reference_tariff_usd_per_mwh,
        )

    # ------------------------------------------------------------------ rounds

    def run_round(self, at: datetime, *, principal: Principal = DISPATCHER) -> RoundOutcome:
        """Dispatch the interval containing ``at`` (once), record and publish its caps.

        Parameters
        ----------
        at
            An instant of the interval to dispatch (aware).
        principal
            Who the caps are recorded under (needs ``caps:write``).

        Returns
        -------
        RoundOutcome
            The round and its caps; ``created`` is False if it had been dispatched before.
        """
        start, end = interval_bounds(at, self.interval_s)
        with self._lock:
            outcome = self._stored(start)
            if outcome is None:
                outcome = self._compute_and_record(start, end, principal)
            if not outcome.published and end > datetime.now(UTC) and self.vtn is not None:
                outcome.published = self._publish(outcome)
            return outcome

    def _stored(self, start: datetime) -> RoundOutcome | None:
        with self._factory() as session:
            stored = session.execute(select(DispatchRound).where(DispatchRound.interval_start == start)).scalar()
            if stored is None:
                return None
            caps = list(
                session.execute(
                    select(DispatchCap).where(DispatchCap.round_id == stored.id).order_by(DispatchCap.site_id)
                ).scalars()
            )
            return RoundOutcome(stored, caps, created=False, published=stored.published_at is not None)

    def _compute_and_record(self, start: datetime, end: datetime, principal: Principal) -> RoundOutcome:
        feed = self.feed
        policy = self.policy()
        forecast = feed.surplus_at(start, end)
        now = datetime.now(UTC)
        with self._factory() as session:
            inputs = _gather(session, start, feed.zone_ids, policy)
            emergencies = emergencies_overlapping(session, start, end)
            grid, notes = _grid_state(forecast, emergencies)
            dispatcher, projection = _dispatcher(inputs.contracts, policy, forecast, grid)
            _look_ahead(grid, dispatcher, projection, feed, start, end)
            notes += _enforce(session, principal, inputs, grid, start, self.interval_s, emergencies, now)
            _mark_protected(session, inputs, start, self.interval_s)
            dispatcher.validate(grid, inputs.state)
            result = dispatcher.step(grid, inputs.state)
            contracts = inputs.contracts
            planned: list[dict[str, Any]] = []
            for i, site in enumerate(inputs.sites):
                allocation_w = round(float(contracts.allocated_mw[i]) * W_PER_MW)
                planned.append(
                    {
                        "site_id": site.id,
                        "operator_id": site.operator_id,
                        "zone": site.zone,
                        "kind": site.kind,
                        "cap_w": min(round(float(result.cap_mw[i]) * W_PER_MW), allocation_w),
                        "reason": Reason(int(result.reason[i])).name.lower(),
                        "target_w": round(float(result.target_mw[i]) * W_PER_MW),
                        "allocation_w": allocation_w,
                        "floor_w": round(float(contracts.floor_mw[i]) * W_PER_MW),
                        "last_draw_w": round(float(inputs.state.last_draw_mw[i]) * W_PER_MW),
                        "draw_source": inputs.draw_source[i],
                        "note": inputs.notes[i],
                    }
                )
            for site, granted_w, why in inputs.excluded:
                planned.append(
                    {
                        "site_id": site.id,
                        "operator_id": site.operator_id,
                        "zone": site.zone,
                        "kind": site.kind,
                        "cap_w": 0,
                        "reason": NO_GRID_DATA,
                        "target_w": 0,
                        "allocation_w": granted_w,
                        "floor_w": 0,
                        "last_draw_w": 0,
                        "draw_source": "none",
                        "note": why,
                    }
                )
                notes.append(f"site {site.id}: {why}")
            planned.sort(key=lambda c: c["site_id"])
            budgets = {z: round(float(b) * W_PER_MW) for z, b in zip(feed.zone_ids, result.zone_budget_mw, strict=True)}
            stored = DispatchRound(
                interval_start=start,
                interval_end=end,
                computed_at=now,
                by_client=principal.client_id,
                feed=forecast.source,
                sites=len(planned),
                deferred_w=round(result.deferred_mw * W_PER_MW),
                detail={
                    "zone_budget_w": budgets,
                    "emergencies": [e.id for e in emergencies],
                    "notes": notes,
                },
                ledger_seq=-1,
            )
            session.add(stored)
            try:
                session.flush()
            except IntegrityError:  # another worker dispatched this interval first
                session.rollback()
                again = self._stored(start)
                if again is None:
                    raise
                return again
            seqs: list[int] = []
            if planned:
                records = [CapRecord(c["site_id"], start, end, c["cap_w"]) for c in planned]
                seqs = record_caps(session, principal, records, now=now).seqs
            rows = [
                DispatchCap(round_id=stored.id, interval_start=start, interval_end=end, ledger_seq=seq, **c)
                for c, seq in zip(planned, seqs, strict=True)
            ]
            session.add_all(rows)
            audit = record_change(
                session,
                principal,
                "dispatch.round",
                "dispatch_round",
                format_time(start),
                {
                    "interval_start": start,
                    "interval_end": end,
                    "feed": forecast.source,
                    "sites": len(planned),
                    "total_cap_w": sum(c["cap_w"] for c in planned),
                    "reasons": dict(sorted(Counter(c["reason"] for c in planned).items())),
                    "zone_budget_w": budgets,
                    "emergencies": [e.id for e in emergencies],
                    "caps_sha256": _digest(planned),
                },
                at=now,
            )
            stored.ledger_seq = audit.ledger_seq
            session.commit()
            return RoundOutcome(stored, rows, created=True, published=False)

    def _publish(self, outcome: RoundOutcome) -> bool:
        """Send the round's caps as OpenADR events; record when it worked or why not."""
        from offtake.vtn.programme import SiteCap

        error: str | None = None
        caps = [SiteCap(c.site_id, c.interval_start, c.interval_end, c.cap_w / W_PER_MW) for c in outcome.caps]
        kinds = {c.site_id: c.kind for c in outcome.caps}
        try:
            if caps:
                self.vtn.publish_caps(caps, kinds)  # type: ignore[union-attr]
        except Exception as exc:  # the caps are recorded; the next run publishes again
            log.exception("publishing the caps of %s failed", format_time(outcome.round.interval_start))
            error = f"{type(exc).__name__}: {exc}"
        with self._factory() as session:
            stored = session.get(DispatchRound, outcome.round.id)
            if stored is not None:
                stored.published_at = datetime.now(UTC) if error is None else None
                stored.publish_error = error
                session.commit()
                outcome.round = stored
        return error is None

    # ------------------------------------------------------------------ emergencies

    def declare_emergency(
        self,
        principal: Principal,
        *,
        zone: str | None,
        message: str,
        at: datetime,
        duration: timedelta | None = None,
    ) -> tuple[GridEmergency, RoundOutcome | None]:
        """Declare an emergency: record it, tell the sites at once, dispatch the next interval.

        Parameters
        ----------
        principal
            The control room (``grid_operator``).
        zone
            Zone under emergency, or None for national.
        message
            Why, as the sites will read it in ``ALERT_GRID_EMERGENCY``.
        at
            When it starts (aware), normally now.
        duration
            How long it lasts unless cleared (default ``[live] emergency_duration_s``).

        Returns
        -------
        tuple
            The emergency, and the round of the next interval (None without a grid feed).
        """
        at = require_aware(at, field="at")
        if duration is None:
            duration = timedelta(seconds=float(load_defaults()["live"]["emergency_duration_s"]))
        zones = self.feed.zone_ids if self.configured else None
        with self._factory() as session:
            emergency = record_emergency(
                session, principal, zone=zone, message=message, starts_at=at, duration=duration, zones=zones
            )
            affected = [s for s in _in_force(session, at) if zone is None or s.zone == zone]
            emergency.site_ids = [s.id for s in affected]
            session.commit()
        if affected and self.vtn is not None:
            events = self.vtn.declare_emergency(
                [s.id for s in affected],
                {s.id: s.kind for s in affected},
                start=at,
                duration=duration,
                message=f"{emergency.id}: {emergency.message}",
            )
            with self._factory() as session:
                stored = session.get(GridEmergency, emergency.id)
                assert stored is not None
                stored.vtn_event_ids = [e["id"] for e in events]
                session.commit()
                emergency = stored
        outcome = None
        if self.configured:
            _, next_start = interval_bounds(at, self.interval_s)
            outcome = self.run_round(next_start)
        return emergency, outcome

    def clear_emergency(self, principal: Principal, emergency_id: str, *, at: datetime) -> GridEmergency:
        """Clear an emergency from ``at`` and end its OpenADR events there.

        Intervals already dispatched under it keep their caps (they are in the ledger); the
        next round is dispatched without it.
        """
        with self._factory() as session:
            emergency = clear_emergency(session, principal, emergency_id, at=at)
            session.commit()
        if emergency.vtn_event_ids and self.vtn is not None:
            self.vtn.end_events(emergency.vtn_event_ids, end=effective_end(emergency))
        return emergency


async def run_on_clock(live: LiveDispatch) -> None:
    """Dispatch every interval on the clock: the interval in progress at once, then each next one.

    A failed round is logged and tried again in the next interval; a round already done
    (by ``offtake dispatch run-once`` or an emergency) is not redone. Runs until cancelled.

    Parameters
    ----------
    live
        The live driver.
    """
    while True:
        try:
            outcome = await asyncio.to_thread(live.run_round, datetime.now(UTC))
            if outcome.created:
                log.info("dispatched %s", outcome.summary())
        except Exception:
            log.exception("dispatch round failed; trying again next interval")
        now = datetime.now(UTC)
        _, end = interval_bounds(now, live.interval_s)
        await asyncio.sleep(max(0.05, (end - now).total_seconds() + 0.05))
