"""The agent's webhook: a small HTTP listener the VTN posts OpenADR notifications to.

With ``[webhook]`` in ``site.toml`` the agent listens on ``listen`` (host and port), and
subscribes at the VTN to the creation, update and deletion of events, with ``url`` (the
address the VTN can reach it at; by default ``http://<listen>/openadr/notify``) as the
subscription's ``callbackUrl`` and a fresh random ``bearerToken``. A notification is taken
only with that token (``Authorization: Bearer ...``), only as ``POST`` to the path of ``url``,
and only up to :data:`MAX_BODY` bytes; anything else is answered 4xx and ignored. The
listener is plain HTTP/1.1, one request per connection (the VTN's webhook client sends
nothing more); the subscription's token is what authenticates the VTN, so put the listener
behind TLS termination where the network between them is not the site's own.

A VTN that refuses the subscription (e.g. a callback on a private address that its operator
does not allow), or a listener that cannot start, leaves the agent polling; it asks again
after ``poll_s``, then after twice as long each time, at most every ``safety_poll_s``. It
polls at a slow rate even when subscribed, so a lost notification is caught up with.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

__all__ = ["MAX_BODY", "MAX_CONNECTIONS", "WebhookListener"]

#: Largest notification accepted [bytes].
MAX_BODY = 1_000_000
_MAX_HEAD = 16_384
_READ_S = 10.0
#: Most connections served at once; more are closed unanswered (the VTN retries).
MAX_CONNECTIONS = 64
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            411: "Length Required", 413: "Content Too Large"}  # fmt: skip


class WebhookListener:
    """Receive notifications on ``host:port``; hand each accepted one to ``handle``.

    Parameters
    ----------
    host, port
        Where to listen (port 0: any free port, see :attr:`port`).
    handle
        Called with each accepted notification (a JSON object).
    url
        The callback URL to give the VTN; ``None``: ``http://host:port/openadr/notify``.
    """

    def __init__(self, host: str, port: int, handle: Callable[[dict[str, Any]], None], url: str | None = None) -> None:
        self.host, self.port = host, port
        self._handle = handle
        self._url = url
        self.token = secrets.token_urlsafe(32)
        self._server: asyncio.Server | None = None
        self.received = 0
        self.refused = 0
        self._open = 0

    @property
    def url(self) -> str:
        """The callback URL (after :meth:`start` when the port was 0)."""
        return self._url or f"http://{self.host}:{self.port}/openadr/notify"

    async def start(self) -> None:
        """Open the port."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=_MAX_HEAD)
        if self.port == 0:
            self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Close the port."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._open >= MAX_CONNECTIONS:
            self.refused += 1
            writer.close()
            return
        self._open += 1
        try:
            await self._answer(reader, writer)
        finally:
            self._open -= 1

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_READ_S):
                status = await self._request(reader)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError):
            status = 400
        if status != 200:
            self.refused += 1
        body = b"{}" if status == 200 else json.dumps({"title": _REASONS.get(status, "Error")}).encode()
        head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")  # fmt: skip
        try:
            writer.write(head.encode() + body)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _request(self, reader: asyncio.StreamReader) -> int:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        line, *header_lines = head.split("\r\n")
        method, _, rest = line.partition(" ")
        target = rest.partition(" ")[0]
        headers = {}
        for h in header_lines:
            name, sep, value = h.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if urlsplit(target).path != urlsplit(self.url).path:
            return 404
        if method != "POST":
            return 405
        given = headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
            return 401
        if "content-length" not in headers:
            return 411
        length = int(headers["content-length"])
        if not 0 <= length <= MAX_BODY:
            return 413
        body = json.loads(await reader.readexactly(length))
        if not isinstance(body, dict):
            return 400
        self.received += 1
        self._handle(body)
        return 200
