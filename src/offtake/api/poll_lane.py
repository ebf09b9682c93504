"""A fast lane for the VENs' polls: a repeated search answered from memory, on the event loop.

Every VEN polls ``GET /events`` about once a second and the answer rarely changes, so most
of the VTN's traffic is the same search answered again from the listing cache
(:mod:`offtake.vtn.cache`). Through the full route that costs more than the answer: routing,
the request's session dependency, and a hop to a worker thread and back. This middleware
answers such a poll itself, before routing, when everything it needs is in memory:

* the bearer token verifies and its client is known fresh (:func:`~offtake.api.auth.principal_in_memory`);
* the query parses and the caller may read the type (:func:`~offtake.vtn.service.check_listing`);
* the change counters read without waiting (:class:`~offtake.vtn.store.NowaitVersions` on a
  SQLite file; on PostgreSQL :class:`~offtake.vtn.shared_versions.SharedVersions`, a read on
  an asynchronous connection sent after the poll arrived, shared by the polls waiting);
* the listing cache holds the answer computed at exactly those counters.

Where only the answer is missing (a VEN's first poll, or the first after a change), the
counters read here go with the request, and the full route computes the answer at them
without reading them again.

The answer (``200`` with the body, or ``304`` when ``If-None-Match`` names its ``ETag``) is
byte for byte what the full route gives, as it is built by the same function
(:func:`~offtake.api.routes.openadr.conditional_answer`) from the same cache entry. Whatever is
missing, or anything unexpected, sends the request down the full route, which also answers
every error: this lane never refuses anything.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from offtake.api.auth import principal_in_memory
from offtake.api.routes.openadr import COLLECTIONS, Search, conditional_answer, listing_cache, listing_key
from offtake.vtn import service
from offtake.vtn.cache import DEPENDS_ON
from offtake.vtn.dialect import Dialect
from offtake.vtn.service import Caller
from offtake.vtn.shared_versions import SharedVersions
from offtake.vtn.store import NowaitVersions

__all__ = ["SEARCH_PATHS", "PollLane", "answer_from_memory", "from_memory", "nowait_versions", "shared_versions"]

log = logging.getLogger(__name__)

#: Path of each VTN search → its dialect and object type.
SEARCH_PATHS: dict[str, tuple[Dialect, str]] = {
    f"/openadr3/{dialect}/{collection}": (dialect, object_type)
    for dialect in ("3.1.0", "3.0.1")
    for collection, (object_type, _) in COLLECTIONS.items()
}


def nowait_versions(state: Any) -> NowaitVersions:
    """Return the application's :class:`NowaitVersions`, made on first use (on the event loop)."""
    reader: NowaitVersions | None = getattr(state, "vtn_nowait_versions", None)
    if reader is None:
        reader = NowaitVersions(state.session_factory.kw["bind"])
        state.vtn_nowait_versions = reader
    return reader


def shared_versions(state: Any) -> SharedVersions:
    """Return the application's :class:`SharedVersions` (PostgreSQL), made on first use."""
    reader: SharedVersions | None = getattr(state, "vtn_shared_versions", None)
    if reader is None:
        reader = SharedVersions(state.session_factory.kw["bind"])
        state.vtn_shared_versions = reader
    return reader


def _checked(request: Request, dialect: Dialect, object_type: str) -> tuple[Caller, Search] | None:
    """Return the caller and search of a poll the lane may answer, or ``None`` for the full route."""
    headers = request.headers
    if "content-length" in headers or "transfer-encoding" in headers:
        return None  # a search has no body: one that has one gets the full route's checks
    principal = principal_in_memory(request)
    if principal is None:
        return None
    caller = Caller(principal.client_id, principal.scopes, principal.site_id, principal, dialect)
    search = Search(object_type, request)
    service.check_listing(caller, object_type, search.skip, search.limit, search.target_type, search.target_values)
    return caller, search


def _cached(
    request: Request, dialect: Dialect, checked: tuple[Caller, Search], versions: tuple[int, ...] | None
) -> Response | None:
    if versions is None:
        return None
    caller, search = checked
    body = listing_cache(request).get(listing_key(dialect, caller, search), versions)
    if body is None:
        request.state.vtn_versions = versions  # the full route computes the answer at these
        return None
    return conditional_answer(request, caller.client_id, body)


def from_memory(request: Request, dialect: Dialect, object_type: str) -> Response | None:
    """Return the answer to a search if all of it is in memory (SQLite); ``None`` sends it down the full route."""
    reader = nowait_versions(request.app.state)
    if not reader.enabled:
        return None
    checked = _checked(request, dialect, object_type)
    if checked is None:
        return None
    return _cached(request, dialect, checked, reader.read(DEPENDS_ON[object_type]))


async def answer_from_memory(request: Request, dialect: Dialect, object_type: str) -> Response | None:
    """As :func:`from_memory`, and on PostgreSQL with the counters of :class:`SharedVersions`."""
    if nowait_versions(request.app.state).enabled:
        return from_memory(request, dialect, object_type)
    reader = shared_versions(request.app.state)
    if not reader.enabled:
        return None
    checked = _checked(request, dialect, object_type)
    if checked is None:
        return None
    versions = await reader.read(DEPENDS_ON[object_type])
    return _cached(request, dialect, checked, versions)


class PollLane:
    """ASGI middleware: a VTN search answered from memory when it can be (:func:`from_memory`).

    Parameters
    ----------
    app
        The wrapped application (the rest of the middleware and the routes).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        #: Searches answered here, for observation [-].
        self.answered = 0
        self._warned = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a search from memory, or pass the request on."""
        if scope["type"] == "http" and scope["method"] == "GET":
            found = SEARCH_PATHS.get(scope["path"])
            if found is not None:
                try:
                    response = await answer_from_memory(Request(scope), *found)
                except Exception:
                    response = None
                if response is not None:
                    self.answered += 1
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
