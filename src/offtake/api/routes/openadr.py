"""HTTP routes of the OpenADR 3 VTN (FastAPI), a thin layer over :mod:`offtake.vtn.service`.

Mount with ``app.include_router(vtn_router(), prefix="/openadr3/3.1.0")``. The app must
provide ``state.session_factory`` and ``state.token_secret`` (the platform server does);
``state.vtn_notifier`` and ``state.vtn_ingest`` are set on first use if absent.

Errors are answered as the specification's ``problem`` objects with status 400, 401, 403,
404 or 409. Query parameters and bodies are parsed here rather than by FastAPI so that a
malformed one is a 400 problem, as the specification asks, not a 422.

The ``3.0.1`` dialect (for clients written against OpenADR 3.0, such as toadr3) differs
only in the shape of ``targets``: 3.0 writes ``[{"type": "VEN_NAME", "values": ["x"]}]``
where 3.1 writes ``["VEN_NAME:x"]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from offtake.api.auth import get_principal, token_router
from offtake.errors import InputError
from offtake.identity.credentials import AuthError
from offtake.persistence.db import writer_lock
from offtake.vtn import service, store
from offtake.vtn.cache import DEPENDS_ON, ListingCache
from offtake.vtn.ledger_bridge import ledger_ingest
from offtake.vtn.notify import WebhookNotifier
from offtake.vtn.service import Caller, Outcome, VtnError
from offtake.vtn.store import Filters

__all__ = ["Dialect", "vtn_router"]

Dialect = Literal["3.1.0", "3.0.1"]

_COLLECTIONS = {
    "programs": "PROGRAM",
    "events": "EVENT",
    "reports": "REPORT",
    "subscriptions": "SUBSCRIPTION",
    "vens": "VEN",
    "resources": "RESOURCE",
}
_OBJECT_PATHS = {
    "programs": "programID",
    "events": "eventID",
    "reports": "reportID",
    "subscriptions": "subscriptionID",
    "vens": "venID",
    "resources": "resourceID",
}
_TARGET_FIELDS = ("targets",)


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json" if status >= 500 else "application/json",
    )


# --- 3.0.1 dialect: targets as valuesMaps ---------------------------------------------------


def _targets_to_30(targets: list[str]) -> list[dict[str, Any]]:
    grouped: dict[str, list[str]] = {}
    for target in targets:
        kind, sep, value = target.partition(":")
        if sep and kind.isupper():
            grouped.setdefault(kind, []).append(value)
        else:
            grouped.setdefault("GROUP", []).append(target)
    return [{"type": kind, "values": values} for kind, values in grouped.items()]


def _targets_from_30(targets: Any) -> Any:
    if not isinstance(targets, list):
        return targets
    out: list[Any] = []
    for target in targets:
        if isinstance(target, dict) and isinstance(target.get("values"), list):
            out.extend(f"{target.get('type')}:{value}" for value in target["values"])
        else:
            out.append(target)
    return out


def _walk(data: Any, convert: Callable[[Any], Any]) -> Any:
    if isinstance(data, dict):
        return {
            key: convert(value)
            if key in _TARGET_FIELDS and value is not None
            else _walk(value, convert)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_walk(item, convert) for item in data]
    return data


# --- request plumbing ---------------------------------------------------------------------


class _Query:
    """Typed access to query parameters, with 400 problems for malformed ones."""

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
            return int(value)
        except ValueError:
            raise VtnError(
                400, "Bad Request", f"{name}: expected an integer, got '{value}'"
            ) from None

    def boolean(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise VtnError(400, "Bad Request", f"{name}: expected true or false, got '{value}'")

    def epoch_s(self, name: str) -> int | None:
        from offtake.timeutil import parse_utc

        value = self.text(name)
        if value is None:
            return None
        from offtake.errors import InputError

        try:
            return int(parse_utc(value, field=name).timestamp())
        except InputError as exc:
            raise VtnError(400, "Bad Request", exc.location_message()) from None


def _caller(request: Request) -> Caller:
    try:
        principal = get_principal(request)
    except AuthError as exc:
        raise VtnError(401, "Unauthorized", exc.message) from None
    return Caller(principal.client_id, principal.scopes, principal.site_id, principal)


def _notifier(request: Request) -> WebhookNotifier:
    state = request.app.state
    notifier = getattr(state, "vtn_notifier", None)
    if notifier is None:
        notifier = WebhookNotifier(allow_private=state.settings.webhook_allow_private)
        state.vtn_notifier = notifier
    return notifier


def _listing_cache(request: Request) -> ListingCache:
    state = request.app.state
    cache = getattr(state, "vtn_listing_cache", None)
    if cache is None:
        cache = ListingCache()
        state.vtn_listing_cache = cache
    return cache


def _ingest(request: Request) -> service.IngestReadings:
    return getattr(request.app.state, "vtn_ingest", None) or ledger_ingest


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
    router = APIRouter(tags=[f"OpenADR {dialect}"])
    legacy = dialect == "3.0.1"

    def out(data: Any) -> Any:
        return _walk(data, _targets_to_30) if legacy else data

    async def body_of(request: Request) -> Any:
        raw = await request.body()
        if not raw:
            raise VtnError(400, "Bad Request", "the request needs a JSON body")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise VtnError(400, "Bad Request", f"the body is not valid JSON: {exc}") from None
        return _walk(data, _targets_from_30) if legacy else data

    async def run(
        request: Request, work: Callable[[Session, Caller], Any], status: int = 200
    ) -> Response:
        factory = request.app.state.session_factory
        writes = request.method != "GET"

        def in_thread() -> Any:
            caller = _caller(request)
            with (
                writer_lock(factory.kw["bind"]) if writes else nullcontext(),
                factory() as session,
            ):
                try:
                    result = work(session, caller)
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
            return result

        try:
            result = await run_in_threadpool(in_thread)
        except VtnError as exc:
            return _problem(exc.status, exc.title, exc.detail)
        except InputError as exc:  # a domain check naming the field (e.g. a callback URL)
            return _problem(400, "Bad Request", exc.location_message())
        if isinstance(result, Outcome):
            _notifier(request).submit(result.deliveries)
            result = result.object
        return JSONResponse(out(result), status_code=status)

    async def listing(
        request: Request,
        object_type: str,
        filters: Filters,
        target_strings: list[str],
        target_type: str | None,
        target_values: list[str],
        skip: int | None,
        limit: int | None,
    ) -> Response:
        """Answer a search, from the listing cache while the objects are unchanged."""
        factory = request.app.state.session_factory
        cache = _listing_cache(request)

        def in_thread() -> bytes:
            caller = _caller(request)
            service.check_listing(caller, object_type, skip, limit, target_type, target_values)
            key = (
                dialect,
                object_type,
                caller.client_id,
                caller.site_id,
                caller.is_business,
                filters,
                tuple(target_strings),
                target_type,
                tuple(target_values),
                skip,
                limit,
            )
            with factory.kw["bind"].connect() as connection:
                # counters first: the answer computed below is at least this new
                versions = store.read_versions(connection, DEPENDS_ON[object_type])
            body = cache.get(key, versions)
            if body is not None:
                return body
            with factory() as session:
                rows = service.listing(
                    session,
                    caller,
                    object_type,
                    filters=filters,
                    target_strings=target_strings,
                    target_type=target_type,
                    target_values=target_values,
                    skip=skip,
                    limit=limit,
                )
            body = bytes(JSONResponse(out(rows)).body)
            cache.put(key, versions, body)
            return body

        try:
            body = await run_in_threadpool(in_thread)
        except VtnError as exc:
            return _problem(exc.status, exc.title, exc.detail)
        return Response(body, media_type="application/json")

    # --- discovery and tokens ---

    @router.get("/auth/server", summary="Where to get a token")
    async def auth_server(request: Request) -> JSONResponse:
        token_url = str(request.url).split("?", 1)[0].removesuffix("/server") + "/token"
        return JSONResponse({"tokenURL": token_url})

    router.include_router(token_router("/auth/token"))

    @router.get("/notifiers", summary="Notification bindings this VTN supports")
    async def notifiers(request: Request) -> Response:
        return await run(request, lambda session, caller: {"WEBHOOK": True})

    # --- collections ---

    def add_collection(collection: str) -> None:
        object_type = _COLLECTIONS[collection]
        id_name = _OBJECT_PATHS[collection]

        def search_query(request: Request) -> tuple[Any, ...]:
            query = _Query(request)
            start_s = query.epoch_s("dateStart")
            end_s = query.epoch_s("dateEnd")
            if query.boolean("active"):
                now_s = int(service.now_utc().timestamp())
                start_s = now_s if start_s is None else max(start_s, now_s)
            filters = Filters(
                program_id=query.text("programID"),
                event_id=query.text("eventID"),
                client_name=query.text("clientName"),
                name=query.text(
                    {"VEN": "venName", "RESOURCE": "resourceName"}.get(object_type, "-")
                ),
                ven_id=query.text("venID") if object_type == "RESOURCE" else None,
                start_s=start_s if object_type == "EVENT" else None,
                end_s=end_s if object_type == "EVENT" else None,
            )
            target_strings = _targets_from_30(query.texts("targets"))
            target_type = query.text("targetType")
            target_values = query.texts("targetValues")
            skip, limit = query.integer("skip"), query.integer("limit")
            return (object_type, filters, target_strings, target_type, target_values, skip, limit)

        async def search(request: Request) -> Response:
            try:
                params = search_query(request)
            except VtnError as exc:  # a malformed query parameter
                return _problem(exc.status, exc.title, exc.detail)
            return await listing(request, *params)

        async def create(request: Request) -> Response:
            try:
                body = await body_of(request)
            except VtnError as exc:
                return _problem(exc.status, exc.title, exc.detail)
            ingest = _ingest(request)
            return await run(
                request,
                lambda session, caller: service.create(
                    session, caller, object_type, body, ingest=ingest
                ),
                status=201,
            )

        async def read(request: Request) -> Response:
            object_id = request.path_params[id_name]
            return await run(
                request,
                lambda session, caller: service.get(session, caller, object_type, object_id),
            )

        async def update(request: Request) -> Response:
            object_id = request.path_params[id_name]
            try:
                body = await body_of(request)
            except VtnError as exc:
                return _problem(exc.status, exc.title, exc.detail)
            ingest = _ingest(request)
            return await run(
                request,
                lambda session, caller: service.replace(
                    session, caller, object_type, object_id, body, ingest=ingest
                ),
            )

        async def remove(request: Request) -> Response:
            object_id = request.path_params[id_name]
            return await run(
                request,
                lambda session, caller: service.delete(session, caller, object_type, object_id),
            )

        noun = object_type.lower()
        router.add_api_route(
            f"/{collection}", search, methods=["GET"], summary=f"Search {noun}s", name=f"search_{collection}"
        )
        router.add_api_route(
            f"/{collection}",
            create,
            methods=["POST"],
            summary=f"Create a {noun}",
            status_code=201,
            name=f"create_{noun}",
        )
        item = f"/{collection}/{{{id_name}}}"
        router.add_api_route(item, read, methods=["GET"], summary=f"Read a {noun}", name=f"read_{noun}")
        router.add_api_route(item, update, methods=["PUT"], summary=f"Replace a {noun}", name=f"update_{noun}")
        router.add_api_route(item, remove, methods=["DELETE"], summary=f"Delete a {noun}", name=f"delete_{noun}")

    for collection in _COLLECTIONS:
        add_collection(collection)

    # --- 3.0 layout of resources: /vens/{venID}/resources ---

    async def ven_resources(request: Request) -> Response:
        ven_id = request.path_params["venID"]
        query = _Query(request)
        name = query.text("resourceName")
        try:
            skip, limit = query.integer("skip"), query.integer("limit")
        except VtnError as exc:
            return _problem(exc.status, exc.title, exc.detail)

        def work(session: Session, caller: Caller) -> Any:
            service.get(session, caller, "VEN", ven_id)
            return service.listing(
                session,
                caller,
                "RESOURCE",
                filters=Filters(ven_id=ven_id, name=name),
                target_strings=None,
                target_type=query.text("targetType"),
                target_values=query.texts("targetValues"),
                skip=skip,
                limit=limit,
            )

        return await run(request, work)

    async def ven_resource_create(request: Request) -> Response:
        ven_id = request.path_params["venID"]
        try:
            body = await body_of(request)
        except VtnError as exc:
            return _problem(exc.status, exc.title, exc.detail)
        if isinstance(body, dict):
            body = {**body, "venID": ven_id}
        return await run(
            request,
            lambda session, caller: service.create(session, caller, "RESOURCE", body),
            status=201,
        )

    def nested(method: str) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            ven_id = request.path_params["venID"]
            resource_id = request.path_params["resourceID"]
            body: Any = None
            if method == "PUT":
                try:
                    body = await body_of(request)
                except VtnError as exc:
                    return _problem(exc.status, exc.title, exc.detail)
                if isinstance(body, dict):
                    body = {**body, "venID": ven_id}

            def work(session: Session, caller: Caller) -> Any:
                resource = service.get(session, caller, "RESOURCE", resource_id)
                if resource.get("venID") != ven_id:
                    raise VtnError(
                        404, "Not Found", f"ven '{ven_id}' has no resource '{resource_id}'"
                    )
                if method == "GET":
                    return resource
                if method == "PUT":
                    return service.replace(session, caller, "RESOURCE", resource_id, body)
                return service.delete(session, caller, "RESOURCE", resource_id)

            return await run(request, work)

        return handler

    router.add_api_route(
        "/vens/{venID}/resources",
        ven_resources,
        methods=["GET"],
        summary="Search a ven's resources",
        name="search_ven_resources",
    )
    router.add_api_route(
        "/vens/{venID}/resources",
        ven_resource_create,
        methods=["POST"],
        summary="Create a resource",
        status_code=201,
        name="create_ven_resource",
    )
    for method in ("GET", "PUT", "DELETE"):
        router.add_api_route(
            "/vens/{venID}/resources/{resourceID}",
            nested(method),
            methods=[method],
            summary=f"{method} a resource",
            name=f"{method.lower()}_ven_resource",
        )
    return router
