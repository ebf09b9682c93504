"""What the platform does to the VTN: set up programs and site VENs, publish caps, emergencies.

These go through :mod:`offtake.vtn.service` as the platform's own business-logic client, so
they are validated and notify subscribers exactly like a request from outside.

>>> vtn = Vtn(session_factory, notifier)                      # doctest: +SKIP
>>> vtn.provision_site("lhr-1", zone="LESCO", kind="mining", client_id="cl_...")  # doctest: +SKIP
>>> vtn.publish_caps(caps)                                      # doctest: +SKIP
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from offtake.errors import InputError
from offtake.timeutil import require_aware
from offtake.units import SITE_KINDS
from offtake.vtn import service, store
from offtake.vtn.models import EventRequest, IntervalPeriod, format_duration
from offtake.vtn.notify import WebhookNotifier
from offtake.vtn.programme import (
    SiteCap,
    cap_event_request,
    emergency_event_request,
    program_name,
    program_request,
    resource_targets,
    site_targets,
)
from offtake.vtn.service import BL_SCOPES, Caller, Outcome
from offtake.vtn.store import Filters, VtnObject

__all__ = ["PLATFORM", "Vtn"]

#: The platform acting as the VTN's business-logic client.
PLATFORM = Caller("offtake-platform", BL_SCOPES)


def _by_name(session: Session, object_type: str, name: str) -> VtnObject | None:
    rows = store.list_objects(session, object_type, Filters(name=name), skip=0, limit=1)
    return rows[0] if rows else None


class Vtn:
    """The platform's handle on its VTN: each call is one transaction, notifications follow.

    Parameters
    ----------
    session_factory
        Sessions of the platform database.
    notifier
        Sends webhook notifications after each commit.
    """

    def __init__(self, session_factory: sessionmaker[Session], notifier: WebhookNotifier) -> None:
        self._factory = session_factory
        self._notifier = notifier

    def _commit(self, session: Session, outcomes: Iterable[Outcome]) -> list[dict[str, Any]]:
        done = list(outcomes)
        session.commit()
        for outcome in done:
            self._notifier.submit(outcome.deliveries)
        return [outcome.object for outcome in done]

    def ensure_programs(self) -> dict[str, str]:
        """Create the program of each kind of site if missing; return ``{kind: programID}``."""
        ids: dict[str, str] = {}
        with self._factory() as session:
            outcomes = []
            for kind in SITE_KINDS:
                existing = _by_name(session, "PROGRAM", program_name(kind))
                if existing is not None:
                    ids[kind] = existing.id
                    continue
                outcome = service.create(session, PLATFORM, "PROGRAM", program_request(kind).wire())
                ids[kind] = outcome.object["id"]
                outcomes.append(outcome)
            self._commit(session, outcomes)
        return ids

    def provision_site(self, site_id: str, *, zone: str, kind: str, client_id: str) -> dict[str, str]:
        """Make a site a VEN with one resource, owned by the site's OAuth client.

        Parameters
        ----------
        site_id
            Site id; it is the venName and the resourceName.
        zone, kind
            The site's zone and kind (they become the VEN's targets).
        client_id
            OAuth client id of the site's ``ven`` client.

        Returns
        -------
        dict
            ``{"venID": ..., "resourceID": ...}``.
        """
        program_name(kind)  # validates the kind
        ven_body = {
            "objectType": "BL_VEN_REQUEST",
            "clientID": client_id,
            "venName": site_id,
            "targets": site_targets(site_id, zone, kind),
        }
        with self._factory() as session:
            outcomes = []
            ven = _by_name(session, "VEN", site_id)
            if ven is None:
                outcomes.append(service.create(session, PLATFORM, "VEN", ven_body))
                ven_id = outcomes[-1].object["id"]
            else:
                outcomes.append(service.replace(session, PLATFORM, "VEN", ven.id, ven_body))
                ven_id = ven.id
            resource_body = {
                "objectType": "BL_RESOURCE_REQUEST",
                "clientID": client_id,
                "resourceName": site_id,
                "venID": ven_id,
                "targets": resource_targets(site_id),
            }
            resources = store.list_objects(session, "RESOURCE", Filters(ven_id=ven_id, name=site_id), skip=0, limit=1)
            if resources:
                outcomes.append(service.replace(session, PLATFORM, "RESOURCE", resources[0].id, resource_body))
            else:
                outcomes.append(service.create(session, PLATFORM, "RESOURCE", resource_body))
            resource_id = outcomes[-1].object["id"]
            self._commit(session, outcomes)
        return {"venID": ven_id, "resourceID": resource_id}

    def publish_caps(self, caps: Sequence[SiteCap], kinds: Mapping[str, str]) -> list[dict[str, Any]]:
        """Publish caps as ``IMPORT_CAPACITY_LIMIT`` events, one per site.

        An event with the same name (same site, same first interval) is replaced, so a
        re-dispatch of the same intervals updates the sites' events rather than adding more.

        Parameters
        ----------
        caps
            Caps of any number of sites.
        kinds
            Kind of each site (``mining`` or ``ai``), which picks its program.

        Returns
        -------
        list of dict
            The events as sent to the VENs.
        """
        programs = self.ensure_programs()
        per_site: dict[str, list[SiteCap]] = defaultdict(list)
        for cap in caps:
            per_site[cap.site_id].append(cap)
        with self._factory() as session:
            outcomes = []
            for site_id, site_caps in per_site.items():
                if site_id not in kinds:
                    raise InputError(f"kind of site '{site_id}' is not known", field="kinds")
                request = cap_event_request(programs[kinds[site_id]], site_caps)
                existing = _by_name(session, "EVENT", request.eventName or "")
                if existing is not None:
                    outcomes.append(service.replace(session, PLATFORM, "EVENT", existing.id, request.wire()))
                else:
                    outcomes.append(service.create(session, PLATFORM, "EVENT", request.wire()))
            return self._commit(session, outcomes)

    def end_events(self, event_ids: Iterable[str], *, end: datetime) -> list[dict[str, Any]]:
        """End events early (e.g. a cleared emergency): their period now stops at ``end``.

        An event that has not started by ``end`` is deleted. Subscribers are told either way.

        Returns
        -------
        list of dict
            The events as they now are (or were, when deleted).
        """
        end = require_aware(end, field="end")
        with self._factory() as session:
            outcomes = []
            for event_id in event_ids:
                obj = store.get_object(session, "EVENT", event_id)
                if obj is None:
                    continue
                request = EventRequest.model_validate(obj.body)
                period = request.intervalPeriod
                start = period.start if period is not None else None
                if start is None or end <= start:
                    outcomes.append(service.delete(session, PLATFORM, "EVENT", event_id))
                    continue
                body = request.model_copy(
                    update={"intervalPeriod": IntervalPeriod(start=start, duration=format_duration(end - start))}
                ).wire()
                outcomes.append(service.replace(session, PLATFORM, "EVENT", event_id, body))
            return self._commit(session, outcomes)

    def declare_emergency(
        self,
        site_ids: Iterable[str],
        kinds: Mapping[str, str],
        *,
        start: datetime,
        duration: timedelta,
        message: str,
        level: int = 3,
    ) -> list[dict[str, Any]]:
        """Tell sites to shed at once: one ``SIMPLE`` + ``ALERT_GRID_EMERGENCY`` event per program.

        Returns
        -------
        list of dict
            The events as sent to the VENs.
        """
        programs = self.ensure_programs()
        per_kind: dict[str, list[str]] = defaultdict(list)
        for site_id in site_ids:
            if site_id not in kinds:
                raise InputError(f"kind of site '{site_id}' is not known", field="kinds")
            per_kind[kinds[site_id]].append(site_id)
        with self._factory() as session:
            outcomes = [
                service.create(
                    session,
                    PLATFORM,
                    "EVENT",
                    emergency_event_request(
                        programs[kind], sites, start, duration, message=message, level=level
                    ).wire(),
                )
                for kind, sites in per_kind.items()
            ]
            return self._commit(session, outcomes)
