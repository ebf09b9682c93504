"""Helpers shared by routes: what happens after a committed write."""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["after_write"]


def after_write(app: FastAPI) -> None:
    """Sign a checkpoint if one is due; a failure here never undoes the committed write."""
    from offtake.server.app import checkpoint_if_due

    try:
        checkpoint_if_due(app)
    except Exception:  # the timer retries
        return
