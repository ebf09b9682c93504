"""What the platform commands share: settings, an administrator's session, the grid feed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from offtake.live.feed import GridFeed
    from offtake.settings import Settings

__all__ = ["admin_session", "open_settings", "prepare_feed", "safe_url"]


def open_settings(database_url: str | None, data_dir: str | None, **more: Any) -> Settings:
    """Resolve the platform's settings, command-line values first."""
    from offtake.settings import Settings

    return Settings.resolve(database_url=database_url, data_dir=data_dir, **more)


@contextmanager
def admin_session(database_url: str | None, data_dir: str | None, *, write: bool = True) -> Iterator[Session]:
    """Open a session on the migrated database; commit on success when ``write``.

    The commands act as the local administrator (:data:`offtake.identity.principal.SYSTEM`):
    whoever can run them on the server host can read its database anyway.
    """
    from offtake.persistence.db import make_engine, make_session_factory, session_scope
    from offtake.registry.setup import prepare_database

    settings = open_settings(database_url, data_dir)
    engine = make_engine(settings.database_url)
    try:
        prepare_database(engine)
        factory = make_session_factory(engine)
        if write:
            with session_scope(factory) as session:
                yield session
        else:
            with factory() as session:
                yield session
    finally:
        engine.dispose()


def prepare_feed(settings: Settings) -> GridFeed:
    """Open the settings' grid feed, preparing or reading its cache, and say what happened."""
    from offtake.live.feed import ScenarioReplayFeed, feed_cache_dir, open_feed

    if settings.grid_feed is None:
        from offtake.errors import InputError

        raise InputError(
            "no grid feed: give --feed or set OFFTAKE_GRID_FEED (e.g. scenario:pakistan-2025)", field="--feed"
        )
    started = time.perf_counter()
    feed = open_feed(settings.grid_feed, cache_dir=feed_cache_dir(settings.data_dir))
    elapsed = time.perf_counter() - started
    if isinstance(feed, ScenarioReplayFeed) and feed.prepared == "assessed":
        typer.echo(
            f"  grid feed: {feed.name}: surplus assessed in {elapsed:.1f} s, "
            f"kept in {feed.cache_file} for the next start",
            err=True,
        )
    elif isinstance(feed, ScenarioReplayFeed) and feed.cache_file is not None:
        typer.echo(f"  grid feed: {feed.name}: read from {feed.cache_file} in {elapsed:.1f} s", err=True)
    else:
        typer.echo(f"  grid feed: {feed.name}: opened in {elapsed:.1f} s", err=True)
    return feed


def safe_url(url: str) -> str:
    """Return the database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
