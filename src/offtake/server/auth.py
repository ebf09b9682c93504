"""OAuth2 client credentials: clients, hashed secrets, signed bearer tokens, FastAPI guards.

Tokens are compact JWTs signed with HMAC-SHA256 (``alg: HS256``). Their claims are
``iss``, ``sub`` (client id), ``role``, ``op`` (operator id), ``site``, ``scope``
(space-separated), ``iat``, ``exp`` and ``jti``. Secrets are stored as scrypt hashes.

Library entry points: :func:`create_client`, :func:`authenticate_client`,
:func:`issue_token`, :func:`decode_token`. Web entry points: :func:`token_router` (the
token endpoint, mountable under any prefix), :func:`get_principal` and :func:`require`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from offtake.errors import InputError, NotFoundError, OfftakeError
from offtake.server.client_cache import DEFAULT_RECHECK_S, ClientCache
from offtake.server.principal import ROLE_SCOPES, ROLES, Principal
from offtake.server.schema import ApiClient, Operator, Site

__all__ = [
    "AuthError",
    "CurrentPrincipal",
    "IssuedClient",
    "TokenResponse",
    "authenticate_client",
    "client_cache",
    "create_client",
    "decode_token",
    "disable_client",
    "get_principal",
    "hash_secret",
    "issue_token",
    "principal_from_token",
    "require",
    "token_router",
    "verify_secret",
]

_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_ISSUER = "offtake"


class AuthError(OfftakeError):
    """Authentication failed (HTTP 401) or an OAuth2 token request is malformed (400).

    Parameters
    ----------
    message
        What went wrong, for the caller.
    error
        The OAuth2 error code (``invalid_client``, ``invalid_token``, ``invalid_scope``,
        ``invalid_request``, ``unsupported_grant_type``).
    status
        HTTP status to answer with.
    """

    def __init__(self, message: str, *, error: str = "invalid_token", status: int = 401) -> None:
        self.message = message
        self.error = error
        self.status = status
        super().__init__(message)


# --------------------------------------------------------------------------- secrets


def hash_secret(secret: str) -> str:
    """Hash a client secret with scrypt and a random salt.

    Returns
    -------
    str
        ``scrypt$N$r$p$<salt b64>$<hash b64>``.
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return "$".join(("scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)))


def verify_secret(secret: str, stored: str) -> bool:
    """Check ``secret`` against a hash made by :func:`hash_secret` (constant time)."""
    try:
        algo, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if algo != "scrypt":
        return False
    expected = _unb64(digest)
    actual = hashlib.scrypt(secret.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected))
    return hmac.compare_digest(actual, expected)


# --------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class IssuedClient:
    """A new client's credentials; the secret is shown once and never stored in clear."""

    client_id: str
    client_secret: str
    role: str
    operator_id: str | None
    site_id: str | None


def create_client(
    session: Session,
    name: str,
    role: str,
    *,
    operator_id: str | None = None,
    site_id: str | None = None,
    scopes: Iterable[str] | None = None,
    now: datetime | None = None,
) -> IssuedClient:
    """Register an OAuth2 client and return its id and (only copy of the) secret.

    Parameters
    ----------
    session
        Open session; the caller commits.
    name
        Human-readable name of the client.
    role
        One of ``grid_operator``, ``regulator``, ``operator``, ``ven``.
    operator_id
        Required for ``operator``; for ``ven`` taken from the site when omitted.
    site_id
        Required for ``ven``: the site the VEN client acts for.
    scopes
        Scopes the client may request; defaults to every scope of the role.

    Returns
    -------
    IssuedClient
        Client id and secret.
    """
    if role not in ROLE_SCOPES:
        raise InputError(f"unknown role '{role}'; expected one of {', '.join(ROLES)}", field="role")
    if not name.strip():
        raise InputError("a client needs a name", field="name")
    if role == "ven":
        if site_id is None:
            raise InputError("a ven client must be bound to a site (give site_id)", field="site_id")
        site = session.get(Site, site_id)
        if site is None:
            raise NotFoundError(f"site '{site_id}' is not registered")
        if operator_id is not None and operator_id != site.operator_id:
            raise InputError(
                f"site '{site_id}' belongs to operator '{site.operator_id}', not '{operator_id}'",
                field="operator_id",
            )
        operator_id = site.operator_id
    elif site_id is not None:
        raise InputError("only ven clients are bound to a site", field="site_id")
    if role == "operator" and operator_id is None:
        raise InputError("an operator client needs an operator id", field="operator_id")
    if role not in ("operator", "ven") and operator_id is not None:
        raise InputError(f"a {role} client does not belong to an operator", field="operator_id")
    if operator_id is not None and session.get(Operator, operator_id) is None:
        raise NotFoundError(f"operator '{operator_id}' is not registered")
    allowed = ROLE_SCOPES[role]
    chosen = allowed if scopes is None else frozenset(scopes)
    extra = sorted(chosen - allowed)
    if extra:
        raise InputError(f"role {role} cannot hold scope(s) {' '.join(extra)}", field="scopes")
    client_id = f"cl_{secrets.token_hex(8)}"
    secret = secrets.token_urlsafe(32)
    session.add(
        ApiClient(
            client_id=client_id,
            name=name.strip(),
            role=role,
            operator_id=operator_id,
            site_id=site_id,
            secret_hash=hash_secret(secret),
            scopes=" ".join(sorted(chosen)),
            created_at=now or datetime.now(UTC),
        )
    )
    session.flush()
    return IssuedClient(client_id, secret, role, operator_id, site_id)


def disable_client(session: Session, client_id: str, *, now: datetime | None = None) -> ApiClient:
    """Disable a client: it can get no new token and its tokens stop working.

    A running server refuses the client's tokens at most ``auth_recheck_s`` seconds after
    this is committed (see :mod:`offtake.server.client_cache`).
    """
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFoundError(f"client '{client_id}' does not exist")
    if client.disabled_at is None:
        client.disabled_at = now or datetime.now(UTC)
        session.flush()
    return client


def authenticate_client(session: Session, client_id: str, client_secret: str) -> ApiClient:
    """Return the enabled client whose secret matches, or raise :class:`AuthError`."""
    client = session.get(ApiClient, client_id)
    if client is None or client.disabled_at is not None:
        # Spend the same time as a real check so ids cannot be probed by timing.
        verify_secret(client_secret, _DUMMY_HASH)
        raise AuthError("unknown client or wrong secret", error="invalid_client")
    if not verify_secret(client_secret, client.secret_hash):
        raise AuthError("unknown client or wrong secret", error="invalid_client")
    return client


_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class TokenResponse:
    """An OAuth2 access-token answer (RFC 6749 §5.1)."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON body."""
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": self.scope,
        }


def issue_token(
    session: Session,
    secret: bytes,
    client_id: str,
    client_secret: str,
    *,
    scope: str | None = None,
    lifetime_s: int = 3600,
    now_s: float | None = None,
) -> TokenResponse:
    """Check client credentials and issue a signed bearer token.

    Parameters
    ----------
    session
        Open session (read only).
    secret
        Token-signing secret (:meth:`Settings.load_token_secret`).
    client_id, client_secret
        The client's credentials.
    scope
        Space-separated scopes asked for; all the client's scopes when empty.
    lifetime_s
        Token lifetime [s].
    now_s
        Current time [s since the epoch], for tests.

    Returns
    -------
    TokenResponse
        The token with its granted scopes.
    """
    client = authenticate_client(session, client_id, client_secret)
    allowed = set(client.scopes.split())
    wanted = set(scope.split()) if scope and scope.strip() else allowed
    refused = sorted(wanted - allowed)
    if refused:
        raise AuthError(
            f"client '{client_id}' may not have scope(s) {' '.join(refused)}",
            error="invalid_scope",
            status=400,
        )
    issued = int(now_s if now_s is not None else time.time())
    granted = " ".join(sorted(wanted))
    claims: dict[str, Any] = {
        "iss": _ISSUER,
        "sub": client.client_id,
        "role": client.role,
        "op": client.operator_id,
        "site": client.site_id,
        "scope": granted,
        "iat": issued,
        "exp": issued + lifetime_s,
        "jti": secrets.token_hex(8),
    }
    return TokenResponse(encode_token(secret, claims), "Bearer", lifetime_s, granted)


def encode_token(secret: bytes, claims: dict[str, Any]) -> str:
    """Sign ``claims`` as an HS256 JWT."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def decode_token(secret: bytes, token: str, *, now_s: float | None = None) -> dict[str, Any]:
    """Verify a token's signature and expiry and return its claims.

    Raises
    ------
    AuthError
        If the token is malformed, forged or expired.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise AuthError("malformed bearer token")
    header_b64, payload_b64, signature_b64 = parts
    expected = hmac.new(secret, f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
    try:
        signature = _unb64(signature_b64)
        header = json.loads(_unb64(header_b64))
        claims = json.loads(_unb64(payload_b64))
    except (ValueError, json.JSONDecodeError):
        raise AuthError("malformed bearer token") from None
    if not hmac.compare_digest(signature, expected) or header.get("alg") != "HS256":
        raise AuthError("bearer token signature is not valid")
    if not isinstance(claims, dict) or claims.get("iss") != _ISSUER:
        raise AuthError("bearer token was not issued by this server")
    now = now_s if now_s is not None else time.time()
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
        raise AuthError("bearer token has expired; ask the token endpoint for a new one")
    return claims


def principal_from_token(session: Session, secret: bytes, token: str) -> Principal:
    """Verify a bearer token and return its :class:`Principal`.

    The client must still exist and be enabled, so disabling a client revokes its tokens.
    """
    claims = decode_token(secret, token)
    client = session.get(ApiClient, claims["sub"])
    if client is None or client.disabled_at is not None:
        raise AuthError("the client of this token is disabled or removed")
    granted = frozenset(str(claims.get("scope", "")).split()) & frozenset(client.scopes.split())
    return Principal(
        client_id=client.client_id,
        role=client.role,
        operator_id=client.operator_id,
        scopes=granted,
        site_id=client.site_id,
    )


# --------------------------------------------------------------------------- web layer


def get_principal(request: Request) -> Principal:
    """FastAPI dependency: the caller of this request, from its bearer token.

    The application must have ``state.session_factory`` and ``state.token_secret``
    (set by :func:`offtake.server.app.create_app`). The token is verified in full on every
    request; its client is taken from the application's :class:`ClientCache`, so a disabled
    client is refused within ``settings.auth_recheck_s`` seconds.
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing bearer token: send 'Authorization: Bearer <token>'")
    state = request.app.state
    claims = decode_token(state.token_secret, token.strip())
    record = client_cache(state).get(str(claims["sub"]))
    if record is None:
        raise AuthError("the client of this token is disabled or removed")
    return record.principal(claims)


_CACHE_LOCK = threading.Lock()


def client_cache(state: Any) -> ClientCache:
    """Return the application's :class:`ClientCache`, made on first use.

    Its recheck interval is ``state.settings.auth_recheck_s`` (default
    :data:`~offtake.server.client_cache.DEFAULT_RECHECK_S`).
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


def token_router(path: str = "/auth/token") -> APIRouter:
    """Return a router with the OAuth2 client-credentials token endpoint at ``path``.

    Credentials are accepted by HTTP Basic (RFC 6749 §2.3.1) or as ``client_id`` and
    ``client_secret`` form fields; ``grant_type`` must be ``client_credentials``.
    """
    router = APIRouter(tags=["auth"])

    @router.post(
        path,
        summary="Issue a bearer token (OAuth2 client credentials)",
        responses={400: {"description": "bad request"}, 401: {"description": "bad client"}},
    )
    async def create_token(request: Request) -> JSONResponse:
        form = await _read_form(request)
        grant_type = form.get("grant_type")
        if grant_type != "client_credentials":
            raise AuthError(
                f"grant_type must be 'client_credentials', got '{grant_type}'",
                error="unsupported_grant_type" if grant_type else "invalid_request",
                status=400,
            )
        client_id, client_secret = _credentials(request, form)
        factory = request.app.state.session_factory
        settings = request.app.state.settings
        with factory() as session:
            answer = issue_token(
                session,
                request.app.state.token_secret,
                client_id,
                client_secret,
                scope=form.get("scope"),
                lifetime_s=settings.token_lifetime_s,
            )
        return JSONResponse(answer.as_dict(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    return router


async def _read_form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            raise AuthError("the body is not valid JSON", error="invalid_request", status=400) from None
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


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
