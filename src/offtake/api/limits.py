"""Request limits that hold before a caller is known: body size and failed authentications.

* :class:`BodyLimit` is an ASGI middleware: a request whose ``Content-Length`` exceeds
  ``settings.max_body_bytes`` is answered 413 before a byte of its body is read; a body
  without a length (chunked) is counted as it arrives and refused at the limit.
* :class:`AuthThrottle` counts failed client authentications per client id and per
  address. After ``auth_free_failures`` failures of a client id (four times as many from
  one address, which many clients may share behind a NAT) within ``auth_failure_window_s``
  every further failure doubles a back-off (1 s, 2 s, 4 s, ... up to ``auth_max_backoff_s``);
  while it runs the token endpoint answers 429 with ``Retry-After`` without hashing
  anything, holding each such answer a second (``offtake.api.auth.TARPIT_S``) so a
  guesser's connection cannot spin. In process: each server process keeps its own counts.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AuthThrottle", "BodyLimit", "BodyTooLarge", "Throttled"]

#: An address may fail this many times as often as one client id before it backs off.
ADDRESS_FACTOR = 4

#: Most keys (client ids and addresses) the throttle remembers; the oldest are forgotten.
MAX_TRACKED_KEYS = 50_000


class BodyTooLarge(HTTPException):
    """The request body is larger than the server reads (HTTP 413)."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(413, f"the request body is larger than {limit_bytes} bytes; send less per request")


class BodyLimit:
    """ASGI middleware refusing request bodies over ``limit_bytes`` with a 413 problem.

    Parameters
    ----------
    app
        The wrapped application.
    limit_bytes
        Largest body read [bytes].
    """

    def __init__(self, app: ASGIApp, limit_bytes: int) -> None:
        self.app = app
        self.limit_bytes = limit_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count the body as the application reads it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit_bytes:
            await _send_413(send, self.limit_bytes)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit_bytes:
                    raise BodyTooLarge(self.limit_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            await _send_413(send, self.limit_bytes)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send: Send, limit_bytes: int) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": HTTPStatus.REQUEST_ENTITY_TOO_LARGE.phrase,
            "status": 413,
            "detail": f"the request body is larger than {limit_bytes} bytes; send less per request",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Throttled(Exception):
    """Too many failed authentications: answer 429 with ``Retry-After``.

    Parameters
    ----------
    retry_after_s
        Whole seconds until the next attempt is heard [s].
    key
        What is throttled, e.g. ``client 'c-op1'`` or ``address 127.0.0.1``.
    """

    def __init__(self, retry_after_s: int, key: str) -> None:
        self.retry_after_s = retry_after_s
        self.key = key
        super().__init__(f"too many failed authentications for {key}; try again in {retry_after_s} s")


@dataclass
class _Record:
    failures: int
    last_failure_s: float
    blocked_until_s: float


class AuthThrottle:
    """Failed-authentication counts and back-off per client id and per address.

    Parameters
    ----------
    free_failures
        Failures of one client id allowed within the window before backing off [-]; one
        address is allowed :data:`ADDRESS_FACTOR` times as many.
    window_s
        How long a failure is remembered after the last one [s].
    max_backoff_s
        Longest back-off [s].
    clock
        Monotonic clock [s] (for tests).
    """

    def __init__(
        self,
        free_failures: int,
        window_s: float,
        max_backoff_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.window_s = window_s
        self.max_backoff_s = max_backoff_s
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any) -> AuthThrottle:
        """Build the throttle from :class:`offtake.settings.Settings`."""
        return cls(settings.auth_free_failures, settings.auth_failure_window_s, settings.auth_max_backoff_s)

    def check(self, client_id: str | None, address: str | None) -> None:
        """Raise :class:`Throttled` if the client or the address is backing off."""
        now = self._clock()
        with self._lock:
            for key in _keys(client_id, address):
                record = self._records.get(key)
                if record is not None and record.blocked_until_s > now:
                    raise Throttled(math.ceil(record.blocked_until_s - now), _label(key))

    def failed(self, client_id: str | None, address: str | None) -> None:
        """Count a failed authentication of ``client_id`` from ``address``."""
        now = self._clock()
        with self._lock:
            for key in _keys(client_id, address):
                record = self._records.pop(key, None)
                if record is None or now - record.last_failure_s > self.window_s:
                    record = _Record(0, now, 0.0)
                record.failures += 1
                record.last_failure_s = now
                allowed = self.free_failures * (ADDRESS_FACTOR if key.startswith("address") else 1)
                excess = record.failures - allowed
                if excess > 0:
                    record.blocked_until_s = now + min(self.max_backoff_s, 2.0 ** min(excess - 1, 30))
                self._records[key] = record
            while len(self._records) > MAX_TRACKED_KEYS:
                self._records.popitem(last=False)

    def succeeded(self, client_id: str) -> None:
        """Forget the failures of a client that authenticated (its address keeps its count)."""
        with self._lock:
            self._records.pop(f"client\0{client_id}", None)


def _keys(client_id: str | None, address: str | None) -> list[str]:
    keys = []
    if client_id:
        keys.append(f"client\0{client_id[:200]}")
    if address:
        keys.append(f"address\0{address}")
    return keys


def _label(key: str) -> str:
    kind, _, value = key.partition("\0")
    return f"client '{value}'" if kind == "client" else f"address {value}"
