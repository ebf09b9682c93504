"""Shared FastAPI dependencies: database session and server context."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from offtake.ledger.signing import Signer
from offtake.settings import Settings

__all__ = ["DbSession", "get_session", "get_settings", "get_signer"]


def get_session(request: Request) -> Iterator[Session]:
    """Yield a session for this request; rolled back unless the route commits."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def get_signer(request: Request) -> Signer:
    """Return the ledger's checkpoint signer."""
    signer: Signer = request.app.state.signer
    return signer


def get_settings(request: Request) -> Settings:
    """Return the server settings."""
    settings: Settings = request.app.state.settings
    return settings


#: Annotated dependency giving a request-scoped session.
DbSession = Annotated[Session, Depends(get_session)]
