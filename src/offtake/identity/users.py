"""People who use the web console: accounts, passwords, lockout and browser sessions.

A console user has a role exactly as an API client does (``grid_operator``, ``regulator``,
``operator``) and acts through the same :class:`~offtake.identity.principal.Principal`, so
the domain checks one authorisation path. Passwords are scrypt hashes (memory-hard, as
client secrets). After ``max_failures`` wrong passwords in a row an account is locked for
``lockout_s``; a sign-in never says whether the name or the password was wrong.

A session is a random token in an HttpOnly cookie; the database keeps only its SHA-256, with
a CSRF token that every state-changing form must echo.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from offtake.errors import ConflictError, InputError, NotFoundError, OfftakeError
from offtake.identity.credentials import hash_secret, verify_secret
from offtake.identity.principal import ROLE_SCOPES, Principal
from offtake.persistence.schema import ConsoleSession, ConsoleUser, Operator
from offtake.units import validate_id

__all__ = [
    "CONSOLE_ROLES",
    "SignInError",
    "SignedIn",
    "authenticate_user",
    "create_user",
    "csrf_matches",
    "end_session",
    "list_users",
    "open_session",
    "session_user",
    "user_principal",
]

#: Roles a person may hold in the console (a VEN is a machine, not a person).
CONSOLE_ROLES = ("grid_operator", "regulator", "operator", "programme_office")
#: Wrong passwords in a row that lock an account [-] (a policy choice, stated in the README).
MAX_FAILURES = 5
#: How long a locked account stays locked [s].
LOCKOUT_S = 900.0
#: Shortest password accepted [characters].
MIN_PASSWORD_CHARS = 10


class SignInError(OfftakeError):
    """Wrong name or password, or a locked account (the message never says which)."""


@dataclass(frozen=True)
class SignedIn:
    """An open browser session: the cookie value (shown once) and its CSRF token."""

    token: str
    csrf_token: str
    user: ConsoleUser


def create_user(
    session: Session,
    name: str,
    role: str,
    password: str,
    *,
    operator_id: str | None = None,
    now: datetime | None = None,
) -> ConsoleUser:
    """Add a console user.

    Parameters
    ----------
    session
        Database session (the caller commits).
    name
        Sign-in name: 1-64 letters, digits, ``. _ : -``.
    role
        One of :data:`CONSOLE_ROLES`.
    password
        At least :data:`MIN_PASSWORD_CHARS` characters.
    operator_id
        The operator an ``operator`` user works for (required for that role, refused otherwise).
    now
        Creation time (default: now).

    Returns
    -------
    ConsoleUser
        The new user.
    """
    validate_id(name, "name")
    if role not in CONSOLE_ROLES:
        raise InputError(f"unknown console role '{role}'; expected one of {', '.join(CONSOLE_ROLES)}", field="role")
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(f"a password needs at least {MIN_PASSWORD_CHARS} characters", field="password")
    if (role == "operator") != (operator_id is not None):
        raise InputError("an operator user needs --operator; other roles take none", field="operator_id")
    if operator_id is not None and session.get(Operator, operator_id) is None:
        raise NotFoundError(f"operator '{operator_id}' is not registered")
    if session.get(ConsoleUser, name) is not None:
        raise ConflictError(f"user '{name}' exists already")
    user = ConsoleUser(
        name=name,
        role=role,
        operator_id=operator_id,
        password_hash=hash_secret(password),
        created_at=now or datetime.now(UTC),
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    return user


def authenticate_user(
    session: Session,
    name: str,
    password: str,
    *,
    max_failures: int = MAX_FAILURES,
    lockout_s: float = LOCKOUT_S,
    now: datetime | None = None,
) -> ConsoleUser:
    """Check a name and password; count failures and lock the account after ``max_failures``.

    The caller commits in every case (a failure's count must be kept), then reports
    :class:`SignInError` to the person.
    """
    now = now or datetime.now(UTC)
    user = session.get(ConsoleUser, name)
    if user is None or user.disabled_at is not None:
        verify_secret(password, _dummy_hash())  # same work whether or not the name exists
        raise SignInError("wrong name or password")
    if user.locked_until is not None and user.locked_until > now:
        raise SignInError("wrong name or password, or the account is locked for a while")
    if not verify_secret(password, user.password_hash):
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(seconds=lockout_s)
            user.failed_logins = 0
        raise SignInError("wrong name or password")
    user.failed_logins = 0
    user.locked_until = None
    return user


def open_session(session: Session, user: ConsoleUser, *, lifetime_s: float, now: datetime | None = None) -> SignedIn:
    """Open a browser session for ``user`` lasting ``lifetime_s`` [s]."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    session.add(
        ConsoleSession(
            token_hash=_digest(token),
            user_name=user.name,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime_s),
        )
    )
    session.flush()
    return SignedIn(token, csrf, user)


def session_user(session: Session, token: str, *, now: datetime | None = None) -> tuple[ConsoleUser, str] | None:
    """Return the user and CSRF token of a live session, or ``None`` (unknown, ended, expired)."""
    now = now or datetime.now(UTC)
    row = session.get(ConsoleSession, _digest(token))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    user = session.get(ConsoleUser, row.user_name)
    if user is None or user.disabled_at is not None:
        return None
    return user, row.csrf_token


def end_session(session: Session, token: str, *, now: datetime | None = None) -> None:
    """End a session (sign out); unknown tokens are ignored."""
    row = session.get(ConsoleSession, _digest(token))
    if row is not None and row.ended_at is None:
        row.ended_at = now or datetime.now(UTC)


def user_principal(user: ConsoleUser) -> Principal:
    """Return the principal a console user acts as: its role's scopes, ``user:<name>`` in the audit log."""
    return Principal(
        client_id=f"user:{user.name}",
        role=user.role,
        operator_id=user.operator_id,
        scopes=ROLE_SCOPES[user.role],
    )


def csrf_matches(expected: str, given: str | None) -> bool:
    """Whether a form's CSRF token is the session's (constant time)."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def list_users(session: Session) -> list[ConsoleUser]:
    """Every console user, by name."""
    return list(session.scalars(select(ConsoleUser).order_by(ConsoleUser.name)))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@cache
def _dummy_hash() -> str:
    return hash_secret(secrets.token_urlsafe(16))
