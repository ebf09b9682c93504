"""Rendered answers of searches, kept while the objects they were computed from are unchanged.

VENs poll ``GET /events`` every few seconds and the answer changes only when events (or the
poller's own vens and resources, which decide what it may see) change. A search's answer
depends on: the object type, the query, who asks (client, site, whether it reads
everything) and the stored objects of that type, vens and resources. The cache key is the
first three; with each answer it keeps the change counters of the last
(:func:`offtake.vtn.store.read_versions`), read *before* the answer was computed. An answer
is served again only while the counters are unchanged.

Why this is exact: a write raises its type's counter in its own transaction, so once the
write is visible the counter differs from every counter read before it, and answers
computed before the write are no longer served; an answer is computed after its counters
were read, so it is never older than they say. Because the counters live in the database,
this holds across threads, several server processes (``--workers``) and writers outside
the server (the dispatch loop, the CLI). It costs one small query per search.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["DEPENDS_ON", "ListingCache"]

#: Object types whose changes can change a search of each type (visibility of events
#: depends on the caller's vens and resources).
DEPENDS_ON = {
    object_type: (object_type, "VEN", "RESOURCE")
    for object_type in ("PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE")
}


class ListingCache:
    """Least-recently-used answers [bytes] by key, each valid for one tuple of counters.

    Parameters
    ----------
    max_entries
        Answers kept at most [-].
    max_bytes
        Total size of the answers kept at most [bytes].
    max_entry_bytes
        Larger answers are not kept [bytes].
    """

    def __init__(
        self,
        max_entries: int = 20_000,
        max_bytes: int = 64 * 1024 * 1024,
        max_entry_bytes: int = 512 * 1024,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self._entries: OrderedDict[Hashable, tuple[tuple[int, ...], bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """Total size of the answers kept [bytes]."""
        return self._bytes

    def get(self, key: Hashable, versions: tuple[int, ...]) -> bytes | None:
        """Return the answer kept for ``key`` if it was computed at ``versions``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != versions:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def put(self, key: Hashable, versions: tuple[int, ...], body: bytes) -> None:
        """Keep ``body`` as the answer for ``key`` at ``versions`` (replacing an older one)."""
        if len(body) > self.max_entry_bytes:
            return
        with self._lock:
            old = self._entries.get(key)
            if old is not None and all(o >= n for o, n in zip(old[0], versions, strict=True)):
                return  # counters only grow: what is kept is as new or newer
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._entries[key] = (versions, body)
            self._bytes += len(body)
            while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= len(dropped)
