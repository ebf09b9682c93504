"""PostgreSQL's change counters read on the event loop, one read shared by the polls waiting.

On SQLite the poll lane (:mod:`offtake.api.poll_lane`) reads the change counters in a few
microseconds on its own connection (:class:`~offtake.vtn.store.NowaitVersions`). On PostgreSQL
a read is a network round trip, which must not block the event loop, so
:class:`SharedVersions` reads them on an asynchronous connection of its own (psycopg's
``AsyncConnection``, autocommit: each ``SELECT`` is its own transaction, and PostgreSQL's
readers never wait for its writers).

A poll must see every change committed before it arrived, as the full route's read does. A
read sent after a poll arrived sees them all, so the polls arriving while a read is in flight
wait for the next read, sent as soon as that one returns, and share it: under load the lane
makes at most one read in flight per process, whatever the rate of polls, and each poll
waits at most about two round trips. A read that fails, or takes longer than ``timeout_s``,
gives ``None`` and the poll takes the full route; after a failure the lane rests for
``retry_s`` before it connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine

from offtake.vtn.store import ordered_versions

__all__ = ["SharedVersions"]

log = logging.getLogger(__name__)

_QUERY = "SELECT object_type, version FROM vtn_version"


class SharedVersions:
    """Committed change counters of a PostgreSQL database, read without blocking, reads shared.

    Parameters
    ----------
    engine
        The platform database's engine; anything but PostgreSQL through psycopg leaves this
        disabled (every read gives ``None``).
    timeout_s
        Longest a poll waits for the counters before it takes the full route [s].
    retry_s
        Rest after a failed read or connection before connecting again [s].
    """

    def __init__(self, engine: Engine, *, timeout_s: float = 1.0, retry_s: float = 1.0) -> None:
        url = engine.url
        #: Whether reads are made at all (PostgreSQL through psycopg) [-].
        self.enabled = url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg"
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connection: Any = None
        self._in_flight: asyncio.Future[dict[str, Any]] | None = None
        self._next: asyncio.Future[dict[str, Any]] | None = None
        self._resting_until = 0.0
        self._closed = False
        #: Reads sent to the database, for observation [-].
        self.reads = 0

    async def read(self, object_types: Sequence[str]) -> tuple[int, ...] | None:
        """Return the counters of ``object_types`` committed before this call, or ``None``."""
        if not self.enabled or self._closed or time.monotonic() < self._resting_until:
            return None
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            return None  # its connection belongs to another event loop
        shared = self._join()
        try:
            rows = await asyncio.wait_for(asyncio.shield(shared), self.timeout_s)
        except Exception:  # a failed or slow read: the full route answers
            return None
        return ordered_versions(rows, object_types)

    def _join(self) -> asyncio.Future[dict[str, Any]]:
        """Return the first read sent from now on: a new one, or the one to follow the read in flight."""
        if self._in_flight is None:
            self._in_flight = self._start()
            return self._in_flight
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        return self._next

    def _start(self) -> asyncio.Future[dict[str, Any]]:
        task = asyncio.ensure_future(self._read_once())
        task.add_done_callback(self._finished)
        return task

    def _finished(self, done: asyncio.Future[dict[str, Any]]) -> None:
        if not done.cancelled() and done.exception() is not None:
            self._resting_until = time.monotonic() + self.retry_s
        waiting, self._next = self._next, None
        self._in_flight = None
        if waiting is None:
            return
        if self._closed or time.monotonic() < self._resting_until:
            waiting.cancel()
            return
        self._in_flight = self._start()
        self._in_flight.add_done_callback(lambda read: _copy(read, waiting))

    async def _read_once(self) -> dict[str, Any]:
        self.reads += 1
        try:
            if self._connection is None:
                self._connection = await _connect(self._conninfo)
            cursor = await self._connection.execute(_QUERY)
            return {str(row[0]): row[1] for row in await cursor.fetchall()}
        except Exception:
            await self._drop()
            raise

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def aclose(self) -> None:
        """Close the connection (at shutdown); later reads give ``None``."""
        self._closed = True
        in_flight = self._in_flight
        if in_flight is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(in_flight), 1.0)
        await self._drop()


async def _connect(conninfo: str) -> Any:
    import psycopg  # only where PostgreSQL is used

    return await psycopg.AsyncConnection.connect(
        conninfo, autocommit=True, connect_timeout=2, options="-c statement_timeout=1000"
    )


def _copy(source: asyncio.Future[dict[str, Any]], target: asyncio.Future[dict[str, Any]]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif source.exception() is not None:
        target.set_exception(source.exception())  # type: ignore[arg-type]
    else:
        target.set_result(source.result())
