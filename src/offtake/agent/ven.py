"""The agent's side of OpenADR 3.1: a VEN of the platform's VTN over HTTP (httpx).

OAuth2 client credentials (token URL from ``/auth/server``, credentials in the form body),
the site's VEN and its resource found by name or registered, events polled (``active=true``, paged) and
reports posted. Every request and answer goes to the command log.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import httpx

from offtake.agent.audit import CommandLog
from offtake.vtn.models import format_datetime, format_duration

__all__ = ["VenClient", "VtnRefused", "VtnUnavailable", "usage_report"]

_PAGE = 50


def _redacted(body: Any) -> Any:
    """Return the body as logged: a subscription's ``bearerToken`` (a secret) is left out."""
    if isinstance(body, dict):
        return {k: "(secret)" if k == "bearerToken" else _redacted(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_redacted(v) for v in body]
    return body


class VtnUnavailable(Exception):
    """The VTN could not be reached or answered a server error; try again later."""


class VtnRefused(Exception):
    """The VTN refused a request (4xx other than an expired token); do not resend it."""


class VenClient:
    """An OpenADR 3.1 VEN client.

    Parameters
    ----------
    base_url
        The VTN, e.g. ``http://127.0.0.1:8000/openadr3/3.1.0``.
    client_id, client_secret
        The site's ``ven`` OAuth client.
    log
        Where requests and answers are written.
    timeout_s
        Longest wait for one answer [s].
    """

    def __init__(self, base_url: str, client_id: str, client_secret: str, log: CommandLog, *,
                 timeout_s: float = 10.0) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self._id, self._secret = client_id, client_secret
        self._log = log
        self._http = httpx.AsyncClient(timeout=timeout_s)
        self._token: str | None = None
        self._token_until = 0.0
        self.ven_id: str | None = None

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _token_now(self) -> str:
        if self._token is not None and time.monotonic() < self._token_until:
            return self._token
        try:
            server = await self._http.get(f"{self.base_url}/auth/server")
            token_url = f"{self.base_url}/auth/token"
            if server.status_code == 200:
                token_url = str(server.json()["tokenURL"])
            form = {"grant_type": "client_credentials", "client_id": self._id, "client_secret": self._secret}
            answer = await self._http.post(token_url, data=form)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise VtnUnavailable(f"token: {exc}") from exc
        self._log.record("vtn", "token", {"client_id": self._id}, answer.status_code)
        if answer.status_code >= 500:
            raise VtnUnavailable(f"token: HTTP {answer.status_code}")
        if answer.status_code != 200:
            raise VtnRefused(f"token refused (HTTP {answer.status_code}): check client_id and secret")
        body = answer.json()
        self._token = str(body["access_token"])
        self._token_until = time.monotonic() + max(30.0, float(body.get("expires_in", 3600)) - 60)
        return self._token

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one authorised request and return its JSON body.

        Raises
        ------
        VtnUnavailable
            Network failure or a 5xx answer.
        VtnRefused
            A 4xx answer (after one token refresh on 401).
        """
        for attempt in (0, 1):
            token = await self._token_now()
            try:
                answer = await self._http.request(method, f"{self.base_url}{path}",
                                                  headers={"Authorization": f"Bearer {token}"}, **kwargs)  # fmt: skip
            except httpx.HTTPError as exc:
                self._log.record("vtn", f"{method} {path}", _redacted(kwargs.get("json")), f"unreachable: {exc}")
                raise VtnUnavailable(f"{method} {path}: {exc}") from exc
            self._log.record("vtn", f"{method} {path}", _redacted(kwargs.get("json")), answer.status_code)
            if answer.status_code == 401 and attempt == 0:
                self._token = None
                continue
            if answer.status_code >= 500:
                raise VtnUnavailable(f"{method} {path}: HTTP {answer.status_code}")
            if answer.status_code >= 400:
                raise VtnRefused(f"{method} {path}: HTTP {answer.status_code}: {answer.text[:300]}")
            return answer.json() if answer.content else None
        raise VtnRefused(f"{method} {path}: token refused twice")

    async def register(self, site_id: str) -> str:
        """Find the site's VEN by name, or register it, and its resource (named after the site); return the VEN's id."""
        ven_id = None
        for ven in await self.request("GET", "/vens", params={"venName": site_id}) or []:
            if ven.get("venName") == site_id:
                ven_id = str(ven["id"])
                break
        if ven_id is None:
            created = await self.request("POST", "/vens", json={"objectType": "VEN_VEN_REQUEST", "venName": site_id})
            ven_id = str(created["id"])
        found = await self.request("GET", "/resources", params={"venID": ven_id, "resourceName": site_id})
        if not any(r.get("resourceName") == site_id for r in found or []):
            await self.request("POST", "/resources", json={"objectType": "VEN_RESOURCE_REQUEST", "venID": ven_id,
                                                           "resourceName": site_id})  # fmt: skip
        self.ven_id = ven_id
        return ven_id

    async def events(self) -> list[dict[str, Any]]:
        """Every event visible to this VEN that has not ended, all pages."""
        out: list[dict[str, Any]] = []
        while True:
            page = await self.request("GET", "/events", params={"active": "true", "skip": len(out), "limit": _PAGE})
            out.extend(page or [])
            if not page or len(page) < _PAGE:
                return out

    async def subscribe(self, client_name: str, callback_url: str, bearer_token: str) -> str:
        """Subscribe to events being created, updated or deleted; return the subscription's id.

        This client's earlier subscriptions with the same name are deleted first (a restarted
        agent has a new token, so they could only fail).
        """
        for old in await self.request("GET", "/subscriptions", params={"clientName": client_name}) or []:
            if old.get("clientName") == client_name and old.get("id"):
                await self.unsubscribe(str(old["id"]))
        body = {"clientName": client_name, "objectOperations": [
            {"objects": ["EVENT"], "operations": ["CREATE", "UPDATE", "DELETE"], "callbackUrl": callback_url,
             "bearerToken": bearer_token}]}  # fmt: skip
        created = await self.request("POST", "/subscriptions", json=body)
        return str(created["id"])

    async def unsubscribe(self, subscription_id: str) -> None:
        """Delete one subscription."""
        await self.request("DELETE", f"/subscriptions/{subscription_id}")

    async def post_report(self, body: dict[str, Any]) -> dict[str, Any]:
        """Post one report; return the stored report."""
        return dict(await self.request("POST", "/reports", json=body))


def usage_report(
    event_id: str, site_id: str, start: datetime, length: timedelta, energy_wh: int, *,
    reading_type: str, power_w: float, state: str, source: str = "METER",
) -> dict[str, Any]:  # fmt: skip
    """Build one report: ``USAGE`` energy over the interval [Wh], ``DEMAND`` now [W], ``OPERATING_STATE``.

    ``reading_type`` is ``DIRECT_READ`` for a meter and ``ESTIMATED`` for summed telemetry.
    ``source`` goes in a ``DRAW_SOURCE`` payload (a private payload type, which a VTN that does
    not know it ignores): ``METER``, ``TELEMETRY`` (measured by the machines), or
    ``TELEMETRY_PARTLY_NOMINAL`` (some machines' draws are configured nominal values, e.g.
    scheduler jobs without a ``power`` command, or machines not read yet).
    The ``DEMAND`` payload is the draw at the end of the interval with the same reading type
    (not ``MEAN``), so the VTN does not take it for a second reading of the same energy.
    """
    return {
        "eventID": event_id,
        "clientName": site_id,
        "reportName": f"usage-{site_id}-{start:%Y%m%dT%H%M%SZ}",
        "payloadDescriptors": [
            {
                "objectType": "REPORT_PAYLOAD_DESCRIPTOR",
                "payloadType": "USAGE",
                "readingType": reading_type,
                "units": "WH",
            },
            {
                "objectType": "REPORT_PAYLOAD_DESCRIPTOR",
                "payloadType": "DEMAND",
                "readingType": reading_type,
                "units": "W",
            },
            {"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "OPERATING_STATE"},
            {"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "DRAW_SOURCE"},
        ],
        "resources": [
            {
                "resourceName": site_id,
                "intervalPeriod": {"start": format_datetime(start), "duration": format_duration(length)},
                "intervals": [
                    {
                        "id": 0,
                        "payloads": [
                            {"type": "USAGE", "values": [int(energy_wh)]},
                            {"type": "DEMAND", "values": [round(power_w, 1)]},
                            {"type": "OPERATING_STATE", "values": [state]},
                            {"type": "DRAW_SOURCE", "values": [source]},
                        ],
                    }
                ],
            }
        ],
    }
