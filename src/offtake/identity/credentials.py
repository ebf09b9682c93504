"""OAuth2 client credentials: clients, hashed secrets, signed bearer tokens.

Tokens are compact JWTs signed with HMAC-SHA256 (``alg: HS256``). Their claims are
``iss``, ``sub`` (client id), ``role``, ``op`` (operator id), ``site``, ``scope``
(space-separated), ``iat``, ``exp`` and ``jti``. Secrets are stored as scrypt hashes.

Entry points: :func:`create_client`, :func:`authenticate_client`, :func:`issue_token`,
:func:`decode_token` and :func:`principal_from_token`. Nothing here needs the web framework;
the HTTP token endpoint and request guards are in :mod:`offtake.api.auth`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from offtake.errors import InputError, NotFoundError, OfftakeError
from offtake.identity.principal import ROLE_SCOPES, ROLES, Principal
from offtake.persistence.schema import ApiClient, Operator, Site

__all__ = [
    "AuthError",
    "IssuedClient",
    "TokenResponse",
    "authenticate_client",
    "create_client",
    "decode_token",
    "disable_client",
    "hash_secret",
    "issue_token",
    "principal_from_token",
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

    def __init__(
        self,
        message: str,
        *,
        error: str = "invalid_token",
        status: int = 401,
        credentials_given: bool = True,
    ) -> None:
        self.message = message
        self.error = error
        self.status = status
        self.credentials_given = credentials_given
        super().__init__(message)

    def challenge(self, realm: str = "offtake") -> str | None:
        """Return the ``WWW-Authenticate`` value of this error's 401 answer (``None`` if not 401).

        RFC 6750 §3: a request without credentials is answered with the bare ``Bearer``
        challenge; a refused token adds ``error`` and ``error_description``. A client refused
        at the token endpoint (``invalid_client``, RFC 6749 §5.2) is challenged with ``Basic``,
        the scheme it authenticates with there.
        """
        if self.status != 401:
            return None
        if self.error == "invalid_client":
            return f'Basic realm="{realm}", charset="UTF-8"'
        if not self.credentials_given:
            return f'Bearer realm="{realm}"'
        description = "".join(c for c in self.message if c.isascii() and c.isprintable() and c not in '"\\')
        return f'Bearer realm="{realm}", error="{self.error}", error_description="{description}"'


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
    this is committed (see :mod:`offtake.identity.client_cache`).
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


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
