"""Shared FastAPI dependencies, and the one way HTTP handlers use the database.

Transactions
------------
Every handler that touches the database takes the request's session from :data:`DbSession`:
one session per request, opened lazily, rolled back and closed when the request ends, whatever
happened. A handler that writes commits once, after its domain call and before it shapes the
answer: REST handlers with :func:`commit`, which then signs a ledger checkpoint if one is due (a
failed checkpoint never undoes the write). The OpenADR write handlers are the exception: they
hand their work to the application's group commit (:mod:`offtake.persistence.group_commit`),
which runs the writes waiting in one transaction of its own, under
:func:`offtake.persistence.db.writer_lock` on SQLite, and answers each once it is committed
(their ledger entries are checkpointed by the timer). ``async`` handlers (a raw body, the OpenADR routes, the
token endpoint) run their database work on the same session with ``run_in_threadpool``, so the
event loop never blocks. Handlers open no sessions of their own and commit nowhere else; the
control room's emergency routes hand their work to the live driver, which keeps its own
transactions, as do the tasks that are not requests (the checkpoint timer, the dispatch loop),
with :func:`offtake.persistence.db.session_scope`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from offtake.api.lifecycle import after_write
from offtake.ledger.signing import Signer
from offtake.settings import Settings

__all__ = ["DbSession", "commit", "get_session", "get_settings", "get_signer"]


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Yield this request's session; rolled back (what was not committed) and closed at the end."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
    finally:
        if session.in_transaction():  # it holds a connection: give it back off the event loop
            await run_in_threadpool(session.close)
        else:
            session.close()


def commit(request: Request, session: Session) -> None:
    """Commit the request's transaction, then sign a ledger checkpoint if one is due."""
    session.commit()
    after_write(request.app)


def get_signer(request: Request) -> Signer:
    """Return the ledger's checkpoint signer."""
    signer: Signer = request.app.state.signer
    return signer


def get_settings(request: Request) -> Settings:
    """Return the server settings."""
    settings: Settings = request.app.state.settings
    return settings


#: Annotated dependency giving the request's session.
DbSession = Annotated[Session, Depends(get_session)]
