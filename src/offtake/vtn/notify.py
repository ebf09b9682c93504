"""Webhook notifications: POST each notification to the subscriber's callbackUrl.

Deliveries run in the background on one daemon thread with its own event loop, so neither
a request nor the dispatch loop ever waits for a subscriber. Every call has bounded
timeouts, at most :data:`MAX_CONCURRENT` calls are in flight, and the queue is bounded: when
it is full a delivery is dropped and counted (subscribers re-read state by polling, as
OpenADR expects of them). Each callback URL is checked again just before it is called
(:func:`offtake.vtn.webhooks.check_callback_url`), so a name that now resolves to a private
address is not called unless ``allow_private``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable

import httpx

from offtake.errors import InputError
from offtake.vtn.service import Delivery
from offtake.vtn.webhooks import check_callback_url

__all__ = ["MAX_CONCURRENT", "MAX_QUEUED", "WebhookNotifier"]

log = logging.getLogger(__name__)

#: Most webhook calls in flight at once.
MAX_CONCURRENT = 32
#: Most deliveries waiting to be sent.
MAX_QUEUED = 10_000
#: Attempts per delivery (the first try and one retry).
ATTEMPTS = 2
#: Connect and total timeouts of one call [s].
CONNECT_TIMEOUT_S = 2.0
TOTAL_TIMEOUT_S = 5.0


class WebhookNotifier:
    """Sends notifications to subscribers' callback URLs in the background.

    Parameters
    ----------
    allow_private
        Call loopback, private and link-local addresses too (tests, a local demo).

    Attributes
    ----------
    sent, failed, dropped, refused
        Counts of deliveries answered with 2xx, given up after :data:`ATTEMPTS`, dropped
        because the queue was full, and refused because the URL is not a public http(s) one.
    """

    def __init__(self, *, allow_private: bool = False) -> None:
        self.allow_private = allow_private
        self.refused = 0
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None

    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is not None:
                return self._loop
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                self._client = httpx.AsyncClient(
                    timeout=httpx.Timeout(TOTAL_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
                    limits=httpx.Limits(max_connections=MAX_CONCURRENT),
                )
                self._slots = asyncio.Semaphore(MAX_CONCURRENT)
                ready.set()
                try:
                    loop.run_forever()
                finally:
                    loop.close()

            self._thread = threading.Thread(target=run, name="vtn-webhooks", daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop
            return loop

    def submit(self, deliveries: Iterable[Delivery]) -> None:
        """Queue deliveries; returns at once."""
        batch = list(deliveries)
        if not batch:
            return
        loop = self._ensure_started()
        for delivery in batch:
            with self._lock:
                if self._pending >= MAX_QUEUED:
                    self.dropped += 1
                    log.warning("webhook queue full; dropped a notification to %s", delivery.url)
                    continue
                self._pending += 1
            asyncio.run_coroutine_threadsafe(self._deliver(delivery), loop)

    async def _deliver(self, delivery: Delivery) -> None:
        assert self._client is not None and self._slots is not None
        headers = {"Content-Type": "application/json"}
        if delivery.bearer_token:
            headers["Authorization"] = f"Bearer {delivery.bearer_token}"
        ok = False
        try:
            try:
                await asyncio.to_thread(
                    check_callback_url, delivery.url, field="callbackUrl", allow_private=self.allow_private
                )
            except InputError as exc:
                with self._lock:
                    self.refused += 1
                log.warning("webhook %s not called: %s", delivery.url, exc)
                return
            async with self._slots:
                for attempt in range(ATTEMPTS):
                    try:
                        response = await self._client.post(delivery.url, json=delivery.notification, headers=headers)
                        if response.is_success:
                            ok = True
                            break
                        log.warning("webhook %s answered %s", delivery.url, response.status_code)
                    except httpx.HTTPError as exc:
                        log.warning("webhook %s failed (attempt %d): %s", delivery.url, attempt + 1, exc)
                    await asyncio.sleep(0.2 * (attempt + 1))
        finally:
            with self._lock:
                self._pending -= 1
                if ok:
                    self.sent += 1
                else:
                    self.failed += 1
                self._idle.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until no delivery is pending, at most ``timeout_s`` [s]; True if idle."""
        with self._lock:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout_s)

    def close(self) -> None:
        """Stop the background loop (pending deliveries are abandoned)."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return
        client = self._client

        async def shutdown() -> None:
            if client is not None:
                await client.aclose()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=TOTAL_TIMEOUT_S)
        except Exception:
            log.debug("webhook client did not close cleanly", exc_info=True)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=TOTAL_TIMEOUT_S)
