"""Sign-in state of a browser: the session cookie, the CSRF token and same-origin checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from offtake.errors import OfftakeError, PermissionDenied
from offtake.identity.principal import Principal
from offtake.identity.users import csrf_matches, session_user, user_principal

__all__ = ["COOKIE", "ConsoleAuthError", "Viewer", "check_same_origin", "current_viewer", "require_role"]

#: Name of the session cookie.
COOKIE = "offtake_session"


class ConsoleAuthError(OfftakeError):
    """The browser is not signed in (or its session ended): the console sends it to sign in."""


@dataclass(frozen=True)
class Viewer:
    """The person behind a request: name, role, principal and the session's CSRF token."""

    name: str
    role: str
    operator_id: str | None
    principal: Principal
    csrf_token: str


def _factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def current_viewer(request: Request) -> Viewer:
    """FastAPI dependency: the signed-in person, or :class:`ConsoleAuthError`."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise ConsoleAuthError("sign in first")
    with _factory(request)() as session:
        found = session_user(session, token)
    if found is None:
        raise ConsoleAuthError("your session has ended; sign in again")
    user, csrf = found
    return Viewer(user.name, user.role, user.operator_id, user_principal(user), csrf)


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]


def require_role(*roles: str) -> object:
    """Dependency factory: the viewer, refused unless their role is one of ``roles``."""

    def dependency(viewer: CurrentViewer) -> Viewer:
        if viewer.role not in roles:
            raise PermissionDenied(f"this page is for the {' or '.join(roles)}; you are signed in as {viewer.role}")
        return viewer

    return Depends(dependency)


def check_same_origin(request: Request) -> None:
    """Refuse a state change whose ``Origin`` (or ``Referer``) is another site (CSRF defence in depth)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return
    if urlsplit(source).netloc != request.headers.get("host", ""):
        raise PermissionDenied("this form was sent from another site")


def check_csrf(viewer: Viewer, given: str | None) -> None:
    """Refuse a form without the session's CSRF token."""
    if not csrf_matches(viewer.csrf_token, given):
        raise PermissionDenied("the form is stale or was not sent from this console; reload the page")
