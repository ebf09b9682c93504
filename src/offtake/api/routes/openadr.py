"""HTTP routes of the OpenADR 3 VTN (FastAPI), a thin layer over :mod:`offtake.vtn.service`.

Mount with ``app.include_router(vtn_router(), prefix="/openadr3/3.1.0")``. The app must
provide ``state.session_factory`` and ``state.token_secret`` (the platform server does);
``state.vtn_notifier`` is set on first use if absent; reports' readings go to the metering ledger.

The service raises the platform's domain errors; this module alone turns them into the
specification's ``problem`` objects (media type ``application/json``): a malformed body or
query :class:`~offtake.errors.InputError` 400, a bad token 401,
:class:`~offtake.errors.PermissionDenied` 403, :class:`~offtake.errors.NotFoundError` 404,
:class:`~offtake.errors.ConflictError` 409. Query parameters and bodies are parsed here rather
than by FastAPI so that a malformed one is a 400 problem, as the specification asks, not a 422;
the OpenAPI document still describes them (request bodies from :mod:`offtake.vtn.models`).

The ``3.0.1`` dialect (for clients written against OpenADR 3.0, such as toadr3) differs
only in the shape of ``targets``: 3.0 writes ``[{"type": "VEN_NAME", "values": ["x"]}]``
where 3.1 writes ``["VEN_NAME:x"]``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from offtake.api.auth import get_principal, token_router
from offtake.api.body import BodyError, StrictJsonRoute, parse_json
from offtake.api.deps import DbSession
from offtake.api.openadr_doc import ERRORS, OBJECT, TEXT, answer, merge, parameters, request_body, search_params
from offtake.errors import ConflictError, InputError, NotFoundError, OfftakeError, PermissionDenied
from offtake.identity.credentials import AuthError
from offtake.persistence.db import reads_only, writer_lock
from offtake.persistence.group_commit import GroupCommit, Pending, WriteAbandoned
from offtake.vtn import service, store
from offtake.vtn.cache import DEPENDS_ON, ListingCache
from offtake.vtn.dialect import Dialect, targets_from_30, to_dialect, walk
from offtake.vtn.ledger_bridge import ledger_ingest
from offtake.vtn.notify import WebhookNotifier
from offtake.vtn.reports import ReportWrite, create_reports, prepare_report
from offtake.vtn.service import Caller, Outcome
from offtake.vtn.store import Filters

__all__ = [
    "COLLECTIONS",
    "Dialect",
    "Search",
    "conditional_answer",
    "listing_cache",
    "listing_key",
    "oadr_problem",
    "submit_report",
    "vtn_router",
]

log = logging.getLogger(__name__)

#: Guards the lazy creation of per-application helpers.
_STATE_LOCK = threading.Lock()


#: Collection path → (objectType, name of the id in item paths).
COLLECTIONS = {
    "programs": ("PROGRAM", "programID"),
    "events": ("EVENT", "eventID"),
    "reports": ("REPORT", "reportID"),
    "subscriptions": ("SUBSCRIPTION", "subscriptionID"),
    "vens": ("VEN", "venID"),
    "resources": ("RESOURCE", "resourceID"),
}

# --- domain errors → OpenADR problems -----------------------------------------------------

#: First match wins: another tenant's object (NotVisibleError, both kinds) answers like an unknown one.
_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (InputError, 400, "Bad Request"),
    (NotFoundError, 404, "Not Found"),
    (PermissionDenied, 403, "Forbidden"),
    (ConflictError, 409, "Conflict"),
)


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        headers=headers,
        media_type="application/problem+json" if status >= 500 else "application/json",
    )


def _detail(exc: Exception) -> str:
    if isinstance(exc, InputError):
        return exc.location_message()
    field = getattr(exc, "field", None)
    message = str(getattr(exc, "message", exc))
    return f"field '{field}': {message}" if field else message


def oadr_problem(exc: Exception) -> JSONResponse:
    """Answer a domain error as the specification's problem object.

    Parameters
    ----------
    exc
        An :class:`~offtake.errors.OfftakeError` or an :class:`AuthError`.

    Returns
    -------
    JSONResponse
        400, 401, 403, 404 or 409 with ``title`` and ``detail``; 500 for an error of the
        server's own set-up (no metering ledger attached).
    """
    if isinstance(exc, AuthError):
        challenge = exc.challenge()
        headers = {"WWW-Authenticate": challenge} if challenge is not None else None
        title = "Unauthorized" if exc.status == 401 else "Bad Request"
        return _problem(exc.status, title, exc.message, headers)
    for kind, status, title in _STATUS:
        if isinstance(exc, kind):
            return _problem(status, title, _detail(exc))
    return _problem(500, "Internal Server Error", str(exc))


# --- request plumbing ---------------------------------------------------------------------


class _Query:
    """Typed access to query parameters; a malformed one is an :class:`InputError`."""

    def __init__(self, request: Request) -> None:
        self._params = request.query_params

    def text(self, name: str) -> str | None:
        value = self._params.get(name)
        return value if value not in (None, "") else None

    def texts(self, name: str) -> list[str]:
        values: list[str] = []
        for value in self._params.getlist(name):
            values.extend(part for part in value.split(",") if part)
        return values

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            raise InputError(f"expected an integer, got '{value}'", field=name) from None
        if not -(2**63) <= number < 2**63:
            raise InputError(f"{value} is out of range", field=name)
        return number

    def boolean(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise InputError(f"expected true or false, got '{value}'", field=name)

    def epoch_s(self, name: str) -> int | None:
        from offtake.timeutil import parse_utc

        value = self.text(name)
        if value is None:
            return None
        try:
            return int(parse_utc(value, field=name).timestamp())
        except (OverflowError, OSError):
            raise InputError(f"'{value}' is out of range", field=name) from None


def _caller(request: Request, dialect: Dialect = "3.1.0") -> Caller:
    principal = get_principal(request)
    return Caller(principal.client_id, principal.scopes, principal.site_id, principal, dialect)


def _notifier(request: Request) -> WebhookNotifier:
    state = request.app.state
    notifier = getattr(state, "vtn_notifier", None)
    if notifier is None:
        notifier = WebhookNotifier(allow_private=state.settings.webhook_allow_private)
        state.vtn_notifier = notifier
    return notifier


def listing_cache(request: Request) -> ListingCache:
    """Return the application's :class:`ListingCache`, made on first use."""
    state = request.app.state
    cache = getattr(state, "vtn_listing_cache", None)
    if cache is None:
        cache = ListingCache()
        state.vtn_listing_cache = cache
    return cache


def _group_commit(request: Request) -> GroupCommit:
    state = request.app.state
    committer: GroupCommit | None = getattr(state, "vtn_group_commit", None)
    if committer is None:
        with _STATE_LOCK:
            committer = getattr(state, "vtn_group_commit", None)
            if committer is None:
                engine = state.session_factory.kw["bind"]
                committer = GroupCommit(state.session_factory, lambda: writer_lock(engine))
                state.vtn_group_commit = committer
    return committer


async def _disconnected(request: Request) -> None:
    """Return when the client has gone (after the body was read, only a disconnect arrives)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _unless_abandoned(request: Request, pending: Pending) -> Any:
    """Wait for a write; withdraw it if the client disconnects before it has started."""
    done = asyncio.wrap_future(pending.future)
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((done, gone), return_when=asyncio.FIRST_COMPLETED)
        if not done.done():
            pending.abandon()  # no effect once started: then it runs to the end and is answered
        return await done
    finally:
        gone.cancel()


def _write_reports(session: Session, writes: list[ReportWrite]) -> list[Any]:
    """Write the reports waiting together in the group commit (its writer of reports)."""
    return list(create_reports(session, writes, ledger_ingest))


def submit_report(committer: GroupCommit, session: Session, caller: Caller, body: Any) -> Pending:
    """Check a new report in ``session`` (then closed), and hand its write to the group commit.

    Validation, the event lookup and the readings' extraction run here, in the request's
    thread, not in the group commit's transaction: the writer (and the ledger lock) only
    checks the readings against the ledger and inserts, for all the reports waiting at once
    (:func:`offtake.vtn.reports.create_reports`). A report refused here never reaches the
    writer.
    """
    try:
        prepared = prepare_report(reads_only(session), caller, body)
        session.commit()  # ends the read-only transaction (if any)
    finally:
        session.close()
    return committer.submit_together(_write_reports, ReportWrite(caller, prepared))


def _render_list(rows: Sequence[dict[str, Any]], convert: Callable[[Any], Any]) -> bytes:
    """Serialise a listing object by object; one that cannot be written is left out and logged."""
    parts: list[bytes] = []
    for row in rows:
        try:
            parts.append(json.dumps(convert(row), allow_nan=False, separators=(",", ":")).encode())
        except (ValueError, TypeError) as exc:
            log.error("OpenADR %s '%s' left out of a listing: %s", row.get("objectType"), row.get("id"), exc)
    return b"[" + b",".join(parts) + b"]"


class _Vtn:
    """The VTN's request handling in one dialect: parse, run in a transaction, answer."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.legacy = dialect == "3.0.1"

    def out(self, data: Any) -> Any:
        return to_dialect(data, self.dialect)

    async def body(self, request: Request) -> Any:
        raw = await request.body()
        if not raw:
            raise BodyError("the request needs a JSON body")
        data = parse_json(raw)
        return walk(data, targets_from_30) if self.legacy else data

    def _answer(self, result: Any, status: int) -> Response:
        try:
            body = json.dumps(self.out(result), allow_nan=False, separators=(",", ":")).encode()
        except ValueError:
            ident = result.get("id") if isinstance(result, dict) else None
            log.error("OpenADR object '%s' holds a non-finite number and cannot be answered", ident)
            detail = "this object holds a value that is not valid JSON; an operator must correct it"
            return _problem(409, "Conflict", detail)
        return Response(body, status_code=status, media_type="application/json")

    async def run(
        self,
        request: Request,
        session: Session,
        work: Callable[[Session, Caller], Any],
        status: int = 200,
    ) -> Response:
        """Run ``work`` in the request's transaction; a write goes through the group commit."""
        if request.method != "GET":
            return await self._write(request, work, status)

        def in_thread() -> Any:
            caller = _caller(request, self.dialect)
            try:
                result = work(reads_only(session), caller)
                session.commit()
            finally:
                session.close()
            return result

        try:
            result = await run_in_threadpool(in_thread)
        except (OfftakeError, AuthError) as exc:
            return oadr_problem(exc)
        return self._answer(result, status)

    async def _write(self, request: Request, work: Callable[[Session, Caller], Any], status: int) -> Response:
        """Hand ``work`` to the group commit; answer once it is durable."""

        def submit() -> Pending:
            caller = _caller(request, self.dialect)
            return _group_commit(request).submit(lambda session: work(session, caller))

        return await self.submitted(request, submit, status)

    async def submitted(self, request: Request, submit: Callable[[], Pending], status: int) -> Response:
        """Run ``submit`` (in a thread: it authenticates, checks, hands a write on); answer once durable.

        A request whose client disconnects before its write has started is withdrawn: nothing
        of it is committed (a retry then creates it; one that did commit is found again by the
        retry, as reports are idempotent).
        """
        try:
            pending = await run_in_threadpool(submit)
        except (OfftakeError, AuthError) as exc:
            return oadr_problem(exc)
        try:
            result = await _unless_abandoned(request, pending)
        except WriteAbandoned:
            return Response(status_code=499)  # the client is gone; nobody reads this
        except (OfftakeError, AuthError) as exc:
            return oadr_problem(exc)
        if isinstance(result, Outcome):
            _notifier(request).submit(result.deliveries)
            result = result.object
        return self._answer(result, status)

    async def listing(self, request: Request, session: Session, search: Search) -> Response:
        """Answer a search, from the listing cache while the objects are unchanged.

        The answer carries an ``ETag`` (:func:`_etag`); a request whose ``If-None-Match``
        names the current one is answered ``304 Not Modified`` without a body. A repeated
        poll is usually answered before it gets here, by :mod:`offtake.api.poll_lane`.
        """
        cache = listing_cache(request)
        engine = request.app.state.session_factory.kw["bind"]

        def in_thread() -> tuple[bytes, str]:
            caller = _caller(request)
            service.check_listing(
                caller, search.object_type, search.skip, search.limit, search.target_type, search.target_values
            )
            key = listing_key(self.dialect, caller, search)
            # counters first (or as the poll lane read them after the request arrived): the
            # answer computed below is at least this new
            versions = getattr(request.state, "vtn_versions", None)
            if versions is None:
                versions = store.read_versions_now(engine, DEPENDS_ON[search.object_type])
            body = cache.get(key, versions)
            if body is None:
                try:
                    body = _render_list(search.run(reads_only(session), caller), self.out)
                finally:
                    session.close()
                cache.put(key, versions, body)
            return body, caller.client_id

        try:
            body, client_id = await run_in_threadpool(in_thread)
        except (OfftakeError, AuthError) as exc:
            return oadr_problem(exc)
        return conditional_answer(request, client_id, body)


def listing_key(dialect: Dialect, caller: Caller, search: Search) -> tuple[Any, ...]:
    """Key of a search's answer in the listing cache: what it depends on besides the stored objects."""
    return (dialect, caller.client_id, caller.site_id, caller.is_business, search)


def conditional_answer(request: Request, client_id: str, body: bytes) -> Response:
    """Answer a search with ``body`` and its ``ETag``, or ``304`` when ``If-None-Match`` names it."""
    etag = _etag(client_id, body)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _etag(client_id: str, body: bytes) -> str:
    """Return the entity tag of an answer to ``client_id``: a hash of the answer keyed by the client.

    It changes exactly when the answer's bytes change (also when another worker process
    computed it), and it is derived only from what this client may read: keyed by the client,
    two clients' tags differ even for the same answer, so a tag tells nothing about another
    client's answer.
    """
    digest = hashlib.blake2b(body, digest_size=16, key=client_id.encode()[:64]).hexdigest()
    return f'"{digest}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, RFC 9110 §13.1.2)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


class Search:
    """A search's parameters, hashable so that it keys the listing cache."""

    def __init__(self, object_type: str, request: Request) -> None:
        query = _Query(request)
        start_s = query.epoch_s("dateStart")
        end_s = query.epoch_s("dateEnd")
        if query.boolean("active"):
            now_s = int(service.now_utc().timestamp())
            start_s = now_s if start_s is None else max(start_s, now_s)
        self.object_type = object_type
        self.filters = Filters(
            program_id=query.text("programID"),
            event_id=query.text("eventID"),
            client_name=query.text("clientName"),
            name=query.text({"VEN": "venName", "RESOURCE": "resourceName"}.get(object_type, "-")),
            ven_id=query.text("venID") if object_type == "RESOURCE" else None,
            start_s=start_s if object_type == "EVENT" else None,
            end_s=end_s if object_type == "EVENT" else None,
        )
        self.target_strings: tuple[str, ...] = tuple(targets_from_30(query.texts("targets")))
        self.target_type = query.text("targetType")
        self.target_values = tuple(query.texts("targetValues"))
        self.skip, self.limit = query.integer("skip"), query.integer("limit")

    def _key(self) -> tuple[Any, ...]:
        return (
            self.object_type,
            self.filters,
            self.target_strings,
            self.target_type,
            self.target_values,
            self.skip,
            self.limit,
        )

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Search) and self._key() == other._key()

    def run(self, session: Session, caller: Caller) -> list[dict[str, Any]]:
        """Return the page of objects this search finds for ``caller``."""
        return service.listing(
            session,
            caller,
            self.object_type,
            filters=self.filters,
            target_strings=list(self.target_strings),
            target_type=self.target_type,
            target_values=list(self.target_values),
            skip=self.skip,
            limit=self.limit,
        )


# --- routes -------------------------------------------------------------------------------


def _search_route(vtn: _Vtn, object_type: str) -> Callable[..., Any]:
    async def search(request: Request, session: DbSession) -> Response:
        try:
            params = Search(object_type, request)
        except InputError as exc:  # a malformed query parameter
            return oadr_problem(exc)
        return await vtn.listing(request, session, params)

    return search


def _create_route(vtn: _Vtn, object_type: str) -> Callable[..., Any]:
    async def create(request: Request, session: DbSession) -> Response:
        try:
            body = await vtn.body(request)
        except BodyError as exc:
            return oadr_problem(exc)
        if object_type == "REPORT":

            def submit() -> Pending:
                caller = _caller(request, vtn.dialect)
                return submit_report(_group_commit(request), session, caller, body)

            return await vtn.submitted(request, submit, 201)
        return await vtn.run(request, session, lambda s, caller: service.create(s, caller, object_type, body), 201)

    return create


def _read_route(vtn: _Vtn, object_type: str, id_name: str) -> Callable[..., Any]:
    async def read(request: Request, session: DbSession) -> Response:
        object_id = request.path_params[id_name]
        return await vtn.run(request, session, lambda s, caller: service.get(s, caller, object_type, object_id))

    return read


def _update_route(vtn: _Vtn, object_type: str, id_name: str) -> Callable[..., Any]:
    async def update(request: Request, session: DbSession) -> Response:
        object_id = request.path_params[id_name]
        try:
            body = await vtn.body(request)
        except BodyError as exc:
            return oadr_problem(exc)
        return await vtn.run(
            request,
            session,
            lambda s, caller: service.replace(s, caller, object_type, object_id, body, ingest=ledger_ingest),
        )

    return update


def _delete_route(vtn: _Vtn, object_type: str, id_name: str) -> Callable[..., Any]:
    async def remove(request: Request, session: DbSession) -> Response:
        object_id = request.path_params[id_name]
        return await vtn.run(request, session, lambda s, caller: service.delete(s, caller, object_type, object_id))

    return remove


def _add_collection(router: APIRouter, vtn: _Vtn, collection: str) -> None:
    object_type, id_name = COLLECTIONS[collection]
    noun = object_type.lower()
    body = request_body(object_type, vtn.dialect)
    item = parameters((id_name, "path", TEXT))
    one = answer(200, OBJECT, f"The {noun}")
    found = answer(200, {"type": "array", "items": OBJECT}, "A page of objects")
    path = "/{" + id_name + "}"
    routes = (
        ("", "GET", _search_route(vtn, object_type), "search", merge(parameters(*search_params(object_type)), found)),
        ("", "POST", _create_route(vtn, object_type), "create", merge(body, answer(201, OBJECT, f"The new {noun}"))),
        (path, "GET", _read_route(vtn, object_type, id_name), "read", merge(item, one)),
        (path, "PUT", _update_route(vtn, object_type, id_name), "update", merge(item, body, one)),
        (path, "DELETE", _delete_route(vtn, object_type, id_name), "delete", merge(item, one)),
    )
    for suffix, method, endpoint, verb, doc in routes:
        router.add_api_route(
            f"/{collection}{suffix}",
            endpoint,
            methods=[method],
            summary=f"{verb.capitalize()} {noun}s" if verb == "search" else f"{verb.capitalize()} a {noun}",
            name=f"search_{collection}" if verb == "search" else f"{verb}_{noun}",
            status_code=201 if method == "POST" else 200,
            openapi_extra=doc,
        )


# --- 3.0 layout of resources: /vens/{venID}/resources ---------------------------------------


def _ven_resources_route(vtn: _Vtn) -> Callable[..., Any]:
    async def ven_resources(request: Request, session: DbSession) -> Response:
        ven_id = request.path_params["venID"]
        query = _Query(request)
        try:
            skip, limit = query.integer("skip"), query.integer("limit")
        except InputError as exc:
            return oadr_problem(exc)

        def work(s: Session, caller: Caller) -> Any:
            service.get(s, caller, "VEN", ven_id)
            return service.listing(
                s,
                caller,
                "RESOURCE",
                filters=Filters(ven_id=ven_id, name=query.text("resourceName")),
                target_strings=None,
                target_type=query.text("targetType"),
                target_values=query.texts("targetValues"),
                skip=skip,
                limit=limit,
            )

        return await vtn.run(request, session, work)

    return ven_resources


def _ven_resource_create_route(vtn: _Vtn) -> Callable[..., Any]:
    async def ven_resource_create(request: Request, session: DbSession) -> Response:
        ven_id = request.path_params["venID"]
        try:
            body = await vtn.body(request)
        except BodyError as exc:
            return oadr_problem(exc)
        if isinstance(body, dict):
            body = {**body, "venID": ven_id}
        return await vtn.run(request, session, lambda s, caller: service.create(s, caller, "RESOURCE", body), 201)

    return ven_resource_create


def _nested_resource_work(method: str, ven_id: str, resource_id: str, body: Any) -> Callable[[Session, Caller], Any]:
    def work(session: Session, caller: Caller) -> Any:
        resource = service.get(session, caller, "RESOURCE", resource_id)
        if resource.get("venID") != ven_id:
            raise NotFoundError(f"ven '{ven_id}' has no resource '{resource_id}'")
        if method == "GET":
            return resource
        if method == "PUT":
            return service.replace(session, caller, "RESOURCE", resource_id, body)
        return service.delete(session, caller, "RESOURCE", resource_id)

    return work


def _nested_route(vtn: _Vtn, method: str) -> Callable[..., Any]:
    async def handler(request: Request, session: DbSession) -> Response:
        ven_id = request.path_params["venID"]
        body: Any = None
        if method == "PUT":
            try:
                body = await vtn.body(request)
            except BodyError as exc:
                return oadr_problem(exc)
            if isinstance(body, dict):
                body = {**body, "venID": ven_id}
        work = _nested_resource_work(method, ven_id, request.path_params["resourceID"], body)
        return await vtn.run(request, session, work)

    return handler


def _add_ven_resources(router: APIRouter, vtn: _Vtn) -> None:
    ven_doc = parameters(("venID", "path", TEXT))
    item_doc = parameters(("venID", "path", TEXT), ("resourceID", "path", TEXT))
    body = request_body("RESOURCE", vtn.dialect)
    one = answer(200, OBJECT, "The resource")
    search_doc = merge(
        ven_doc,
        parameters(*search_params("RESOURCE")[1:]),
        answer(200, {"type": "array", "items": OBJECT}, "A page of resources"),
    )
    router.add_api_route(
        "/vens/{venID}/resources",
        _ven_resources_route(vtn),
        methods=["GET"],
        summary="Search a ven's resources",
        name="search_ven_resources",
        openapi_extra=search_doc,
    )
    router.add_api_route(
        "/vens/{venID}/resources",
        _ven_resource_create_route(vtn),
        methods=["POST"],
        summary="Create a resource",
        status_code=201,
        name="create_ven_resource",
        openapi_extra=merge(ven_doc, body, answer(201, OBJECT, "The new resource")),
    )
    for method in ("GET", "PUT", "DELETE"):
        router.add_api_route(
            "/vens/{venID}/resources/{resourceID}",
            _nested_route(vtn, method),
            methods=[method],
            summary=f"{method} a resource",
            name=f"{method.lower()}_ven_resource",
            openapi_extra=merge(item_doc, body if method == "PUT" else {}, one),
        )


def _add_discovery(router: APIRouter, vtn: _Vtn) -> None:
    async def auth_server(request: Request) -> JSONResponse:
        token_url = str(request.url).split("?", 1)[0].removesuffix("/server") + "/token"
        return JSONResponse({"tokenURL": token_url})

    async def notifiers(request: Request, session: DbSession) -> Response:
        return await vtn.run(request, session, lambda s, caller: {"WEBHOOK": True})

    server_doc = {"type": "object", "properties": {"tokenURL": {"type": "string"}}, "required": ["tokenURL"]}
    router.add_api_route(
        "/auth/server",
        auth_server,
        methods=["GET"],
        summary="Where to get a token",
        openapi_extra=answer(200, server_doc, "The token endpoint"),
    )
    router.include_router(token_router("/auth/token"))
    notifiers_doc = {"type": "object", "additionalProperties": {"type": "boolean"}}
    router.add_api_route(
        "/notifiers",
        notifiers,
        methods=["GET"],
        summary="Notification bindings this VTN supports",
        openapi_extra=answer(200, notifiers_doc, "Bindings"),
    )


def vtn_router(dialect: Dialect = "3.1.0") -> APIRouter:
    """Build the VTN's routes.

    Parameters
    ----------
    dialect
        ``3.1.0`` (the specification this VTN follows) or ``3.0.1`` (the same objects with
        3.0-style targets, for 3.0 clients).

    Returns
    -------
    fastapi.APIRouter
        Programs, events, reports, subscriptions, vens, resources (also nested under
        ``/vens/{venID}/resources``), ``/auth/server``, ``/auth/token`` and ``/notifiers``.
    """
    router = APIRouter(tags=[f"OpenADR {dialect}"], route_class=StrictJsonRoute, responses=ERRORS)
    vtn = _Vtn(dialect)
    _add_discovery(router, vtn)
    for collection in COLLECTIONS:
        _add_collection(router, vtn, collection)
    _add_ven_resources(router, vtn)
    return router
