"""What the application does besides answering requests.

Checkpoints are signed on a timer and after writes; the live dispatch driver is kept in the
application's state.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from offtake.ledger.store import maybe_checkpoint
from offtake.live.driver import LiveDispatch
from offtake.persistence.db import session_scope
from offtake.settings import Settings
from offtake.vtn.notify import WebhookNotifier
from offtake.vtn.operations import Vtn

__all__ = ["after_write", "checkpoint_if_due", "checkpoint_loop", "live_dispatch"]


def checkpoint_if_due(app: FastAPI) -> None:
    """Sign a checkpoint if the cadence says one is due (called after writes and on a timer)."""
    settings: Settings = app.state.settings
    with session_scope(app.state.session_factory) as session:
        maybe_checkpoint(
            session,
            app.state.signer,
            every_entries=settings.checkpoint_every_entries,
            interval_s=settings.checkpoint_interval_s,
        )


def after_write(app: FastAPI) -> None:
    """Sign a checkpoint if one is due; a failure here never undoes the committed write.

    Only the leader process signs (:mod:`offtake.api.workers`); in the other workers of
    ``offtake serve --workers N`` this does nothing and the leader's timer signs.
    """
    if not getattr(app.state, "leader", True):
        return
    try:
        checkpoint_if_due(app)
    except Exception:  # the timer retries
        return


async def checkpoint_loop(app: FastAPI) -> None:
    """Sign due checkpoints on a timer until cancelled."""
    interval = max(0.5, min(app.state.settings.checkpoint_interval_s, 60.0) / 2)
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(checkpoint_if_due, app)
        except Exception:  # the next round retries; a failed checkpoint loses nothing
            continue


def live_dispatch(app: Any) -> LiveDispatch:
    """Return the application's live driver (built on first use from its settings)."""
    state = app.state
    live: LiveDispatch | None = getattr(state, "live_dispatch", None)
    if live is None:
        notifier = getattr(state, "vtn_notifier", None)
        if notifier is None:
            notifier = WebhookNotifier(allow_private=state.settings.webhook_allow_private)
            state.vtn_notifier = notifier
        settings = state.settings
        live = LiveDispatch(
            state.session_factory,
            settings.grid_feed,
            settings.dispatch_interval_s,
            Vtn(state.session_factory, notifier),
        )
        state.live_dispatch = live
    return live
