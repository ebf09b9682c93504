"""HTTP side of OAuth2: the token endpoint and the request guards built on :mod:`offtake.identity`."""

from __future__ import annotations

import asyncio
import base64
import os
import threading
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool

from offtake.api.body import BodyError, StrictJsonRoute, parse_json
from offtake.api.deps import DbSession
from offtake.api.limits import AuthThrottle, Throttled
from offtake.api.schemas import PROBLEM_RESPONSES, TokenOut
from offtake.identity.client_cache import DEFAULT_RECHECK_S, ClientCache
from offtake.identity.credentials import AuthError, decode_token, issue_token
from offtake.identity.principal import Principal

__all__ = [
    "CurrentPrincipal",
    "auth_throttle",
    "client_cache",
    "get_principal",
    "principal_in_memory",
    "require",
    "token_router",
]


def _claims(request: Request) -> dict[str, Any]:
    """Return the verified claims of the request's bearer token (signature, issuer, expiry, subject)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing bearer token: send 'Authorization: Bearer <token>'", credentials_given=False)
    claims = decode_token(request.app.state.token_secret, token.strip())
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthError("the bearer token names no client (claim 'sub')")
    return claims


def principal_in_memory(request: Request) -> Principal | None:
    """Return the caller as :func:`get_principal` finds it, if that needs no database read.

    ``None`` when the token is missing or not valid (the full path answers why) or its
    client is not known fresh in memory. For answers given on the event loop, which must not wait.
    """
    try:
        claims = _claims(request)
    except AuthError:
        return None
    record = client_cache(request.app.state).peek(claims["sub"])
    return None if record is None else record.principal(claims)


def get_principal(request: Request) -> Principal:
    """FastAPI dependency: the caller of this request, from its bearer token.

    The application must have ``state.session_factory`` and ``state.token_secret``
    (set by :func:`offtake.api.app.create_app`). The token is verified in full on every
    request; its client is taken from the application's :class:`ClientCache`, so a disabled
    client is refused within ``settings.auth_recheck_s`` seconds.
    """
    claims = _claims(request)
    record = client_cache(request.app.state).get(claims["sub"])
    if record is None:
        raise AuthError("the client of this token is disabled or removed")
    return record.principal(claims)


_CACHE_LOCK = threading.Lock()

#: How long a refused (429) token request is held before it is answered [s].
TARPIT_S = 1.0


def client_cache(state: Any) -> ClientCache:
    """Return the application's :class:`ClientCache`, made on first use.

    Its recheck interval is ``state.settings.auth_recheck_s`` (default
    :data:`~offtake.identity.client_cache.DEFAULT_RECHECK_S`).
    """
    cache: ClientCache | None = getattr(state, "client_cache", None)
    if cache is None:
        with _CACHE_LOCK:
            cache = getattr(state, "client_cache", None)
            if cache is None:
                settings = getattr(state, "settings", None)
                recheck_s = getattr(settings, "auth_recheck_s", DEFAULT_RECHECK_S)
                cache = ClientCache(state.session_factory, recheck_s)
                state.client_cache = cache
    return cache


def auth_throttle(state: Any) -> AuthThrottle:
    """Return the application's :class:`AuthThrottle`, made on first use from its settings."""
    throttle: AuthThrottle | None = getattr(state, "auth_throttle", None)
    if throttle is None:
        with _CACHE_LOCK:
            throttle = getattr(state, "auth_throttle", None)
            if throttle is None:
                throttle = AuthThrottle.from_settings(state.settings)
                state.auth_throttle = throttle
    return throttle


#: Secrets hashed at once at most, per process [-]: all cores but one, so that scrypt (which
#: releases the GIL) never takes the core the event loop answers everyone else on.
HASH_CONCURRENCY = max(1, (os.cpu_count() or 2) - 1)


def hash_slots(state: Any) -> asyncio.Semaphore:
    """Return the application's limit on concurrent secret hashing (:data:`HASH_CONCURRENCY`)."""
    slots: asyncio.Semaphore | None = getattr(state, "auth_hash_slots", None)
    if slots is None:
        slots = asyncio.Semaphore(HASH_CONCURRENCY)
        state.auth_hash_slots = slots
    return slots


#: Annotated dependency giving the authenticated caller.
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(*scopes: str, roles: Iterable[str] | None = None) -> Callable[..., Principal]:
    """Build a dependency that demands ``scopes`` (all of them) and optionally a role.

    Examples
    --------
    >>> from fastapi import APIRouter
    >>> router = APIRouter()
    >>> @router.get("/x")
    ... def read_x(who: Principal = Depends(require("registry:read"))) -> str:
    ...     return who.client_id
    """
    allowed_roles = frozenset(roles) if roles is not None else None

    def dependency(principal: CurrentPrincipal) -> Principal:
        if allowed_roles is not None and principal.role not in allowed_roles:
            from offtake.errors import PermissionDenied

            raise PermissionDenied(f"role {principal.role} may not do this; needs {' or '.join(sorted(allowed_roles))}")
        principal.require_scope(*scopes)
        return principal

    return dependency


_FORM = "application/x-www-form-urlencoded"
#: The token request (RFC 6749 §4.4.2); the credentials may come by HTTP Basic instead.
_TOKEN_REQUEST = {
    "type": "object",
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "client_id": {"type": "string"},
        "client_secret": {"type": "string"},
        "scope": {"type": "string"},
    },
    "required": ["grant_type"],
}


def token_router(path: str = "/auth/token") -> APIRouter:
    """Return a router with the OAuth2 client-credentials token endpoint at ``path``.

    Credentials are accepted by HTTP Basic (RFC 6749 §2.3.1) or as ``client_id`` and
    ``client_secret`` form fields; ``grant_type`` must be ``client_credentials``. The secret
    is hashed in a worker thread, never on the event loop; a client id or address with too
    many recent failures is answered 429 with ``Retry-After`` before anything is hashed.
    """
    router = APIRouter(tags=["auth"], route_class=StrictJsonRoute, responses=PROBLEM_RESPONSES)

    @router.post(
        path,
        response_model=TokenOut,
        summary="Issue a bearer token (OAuth2 client credentials)",
        openapi_extra={"requestBody": {"required": True, "content": {_FORM: {"schema": _TOKEN_REQUEST}}}},
    )
    async def create_token(request: Request, response: Response, session: DbSession) -> dict[str, Any]:
        state = request.app.state
        throttle = auth_throttle(state)
        address = request.client.host if request.client is not None else None
        await _checked(throttle, None, address)  # an address backing off is answered before its body is read
        form = await _read_form(request)
        grant_type = form.get("grant_type")
        if grant_type != "client_credentials":
            raise AuthError(
                f"grant_type must be 'client_credentials', got '{grant_type}'",
                error="unsupported_grant_type" if grant_type else "invalid_request",
                status=400,
            )
        client_id, client_secret = _credentials(request, form)
        await _checked(throttle, client_id, None)
        try:
            async with hash_slots(state):  # waiting costs nothing; hashing takes at most the spare cores
                await _checked(throttle, client_id, address)  # failures counted while it waited
                answer = await run_in_threadpool(
                    issue_token,
                    session,
                    state.token_secret,
                    client_id,
                    client_secret,
                    scope=form.get("scope"),
                    lifetime_s=state.settings.token_lifetime_s,
                )
        except AuthError as exc:
            if exc.error == "invalid_client":
                throttle.failed(client_id, address)
            raise
        throttle.succeeded(client_id)
        response.headers.update({"Cache-Control": "no-store", "Pragma": "no-cache"})
        return answer.as_dict()

    return router


async def _checked(throttle: AuthThrottle, client_id: str | None, address: str | None) -> None:
    """Raise :class:`Throttled` if backing off, after holding the answer :data:`TARPIT_S`.

    The held answer costs the server nothing (a sleeping coroutine) and slows a guesser's
    connection to one attempt per :data:`TARPIT_S`, so a flood of refused guesses does not
    take the CPU other requests need.
    """
    try:
        throttle.check(client_id, address)
    except Throttled as exc:
        await asyncio.sleep(min(TARPIT_S, exc.retry_after_s))
        raise


async def _read_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = parse_json(await request.body())
        except BodyError as exc:
            raise AuthError(exc.location_message(), error="invalid_request", status=400) from None
        if not isinstance(body, dict):
            raise AuthError("the body must be a JSON object", error="invalid_request", status=400)
        return {str(k): str(v) for k, v in body.items() if v is not None}
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise AuthError("malformed HTTP Basic credentials", error="invalid_client") from None
        client_id, sep, client_secret = decoded.partition(":")
        if not sep:
            raise AuthError("malformed HTTP Basic credentials", error="invalid_client")
        from urllib.parse import unquote

        return unquote(client_id), unquote(client_secret)
    form_id = form.get("client_id")
    form_secret = form.get("client_secret")
    if not form_id or not form_secret:
        raise AuthError(
            "give client_id and client_secret by HTTP Basic or in the form body",
            error="invalid_client",
        )
    return form_id, form_secret
