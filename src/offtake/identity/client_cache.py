"""Verified API clients kept in memory, so a bearer token costs no database round trip.

Every request's token is verified in full (signature, issuer, expiry) each time; what is
kept is the token's *client* as the database last showed it: enabled, with its role,
operator, site and scopes. A client is looked up once (or all at once when the server
starts, :meth:`ClientCache.warm`), then served from memory; every ``recheck_s`` seconds the
first request re-reads all cached clients in one query and drops those that were disabled or
removed.

Bound on revocation: a client disabled (``offtake client disable``, from any process) is
refused by this server at most ``recheck_s`` seconds after the disabling commit; the
server's default is :data:`DEFAULT_RECHECK_S` (setting ``OFFTAKE_AUTH_RECHECK_S``).
``recheck_s = 0`` reads the client from the database on every request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from offtake.identity.principal import Principal
from offtake.persistence.schema import ApiClient
from offtake.settings import DEFAULT_AUTH_RECHECK_S

__all__ = ["DEFAULT_RECHECK_S", "ClientCache", "ClientRecord"]

#: Longest time a disabled client's tokens keep working in a running server [s].
DEFAULT_RECHECK_S = DEFAULT_AUTH_RECHECK_S

#: Clients held at most; beyond this, further clients are read on every request [-].
MAX_CLIENTS = 100_000

#: Client ids per query when re-reading the cached clients (below every driver's limit).
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """An enabled client as stored: who it is and which scopes it may hold."""

    client_id: str
    role: str
    operator_id: str | None
    site_id: str | None
    scopes: frozenset[str]

    def principal(self, claims: dict[str, Any]) -> Principal:
        """Return the caller of a verified token of this client.

        The token's scopes are cut down to the scopes the client still holds.
        """
        granted = frozenset(str(claims.get("scope", "")).split()) & self.scopes
        return Principal(
            client_id=self.client_id,
            role=self.role,
            operator_id=self.operator_id,
            scopes=granted,
            site_id=self.site_id,
        )


_COLUMNS = (
    ApiClient.client_id,
    ApiClient.role,
    ApiClient.operator_id,
    ApiClient.site_id,
    ApiClient.scopes,
)


def _record(row: Any) -> ClientRecord:
    return ClientRecord(row[0], row[1], row[2], row[3], frozenset(str(row[4]).split()))


def load_enabled(session: Session, client_ids: list[str]) -> dict[str, ClientRecord]:
    """Return the enabled clients among ``client_ids``, by id (one query per 500 ids)."""
    found: dict[str, ClientRecord] = {}
    for i in range(0, len(client_ids), _CHUNK):
        chunk = client_ids[i : i + _CHUNK]
        rows = session.execute(select(*_COLUMNS).where(ApiClient.client_id.in_(chunk), ApiClient.disabled_at.is_(None)))
        for row in rows:
            record = _record(row)
            found[record.client_id] = record
    return found


class ClientCache:
    """Enabled API clients by id, re-read from the database every ``recheck_s`` seconds.

    Parameters
    ----------
    session_factory
        Sessions of the platform database.
    recheck_s
        Longest age of what is known about a client [s]; 0 reads it on every lookup.
    clock
        Monotonic clock [s] (tests give their own).
    max_clients
        Clients held at most [-].
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        recheck_s: float = DEFAULT_RECHECK_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_CLIENTS,
    ) -> None:
        if recheck_s < 0:
            raise ValueError(f"recheck_s must be >= 0, got {recheck_s}")
        self._factory = session_factory
        self.recheck_s = recheck_s
        self._clock = clock
        self._max = max_clients
        self._records: dict[str, ClientRecord] = {}
        self._checked_at = clock()
        self._generation = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._records)

    def get(self, client_id: str) -> ClientRecord | None:
        """Return the client if it is enabled, from memory when recent enough, else ``None``."""
        if self.recheck_s <= 0:
            with self._factory() as session:
                return load_enabled(session, [client_id]).get(client_id)
        if self._clock() - self._checked_at >= self.recheck_s:
            self._recheck()
        record = self._records.get(client_id)
        if record is not None:
            return record
        generation = self._generation
        with self._factory() as session:
            record = load_enabled(session, [client_id]).get(client_id)
        if record is not None:
            with self._lock:
                # a recheck that started after this read may have seen the client disabled:
                # keep what was read only if no recheck happened meanwhile
                if generation == self._generation and len(self._records) < self._max:
                    self._records[client_id] = record
        return record

    def warm(self) -> int:
        """Read every enabled client (up to the cache's bound) in one query; return how many.

        A server starting under its clients' traffic (every VEN reconnecting at once) then
        answers their first requests without a database read each.
        """
        with self._lock:
            self._generation += 1
            started = self._clock()
            with self._factory() as session:
                rows = session.execute(select(*_COLUMNS).where(ApiClient.disabled_at.is_(None)).limit(self._max))
                self._records = {record.client_id: record for record in map(_record, rows)}
            self._checked_at = started
            return len(self._records)

    def peek(self, client_id: str) -> ClientRecord | None:
        """Return the client from memory if :meth:`get` would, without reading the database.

        ``None`` when the client is not in memory or a recheck is due: then :meth:`get` (which
        may read the database) decides. For answers given on the event loop, which must not wait.
        """
        if self.recheck_s <= 0 or self._clock() - self._checked_at >= self.recheck_s:
            return None
        return self._records.get(client_id)

    def forget(self, client_id: str | None = None) -> None:
        """Drop one client (or all) so the next lookup reads the database."""
        with self._lock:
            self._generation += 1
            if client_id is None:
                self._records = {}
            else:
                self._records.pop(client_id, None)

    def _recheck(self) -> None:
        with self._lock:
            started = self._clock()
            if started - self._checked_at < self.recheck_s:
                return  # another thread just did it
            self._generation += 1
            ids = sorted(self._records)
            with self._factory() as session:
                self._records = load_enabled(session, ids) if ids else {}
            self._checked_at = started
