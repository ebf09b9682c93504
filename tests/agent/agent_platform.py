"""A platform (VTN on a real uvicorn server, loopback) and site files for the agent's end-to-end tests."""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from platform_fixtures import free_socket
from sqlalchemy import select

from offtake.api.app import create_app
from offtake.identity.credentials import create_client
from offtake.persistence.schema import Operator, Reading, Site, VtnObject
from offtake.registry.setup import prepare_database
from offtake.settings import Settings
from offtake.vtn.notify import WebhookNotifier
from offtake.vtn.operations import Vtn
from offtake.vtn.programme import SiteCap
from offtake.vtn.webhooks import ALLOW_PRIVATE_KEY

SITE = "agent-site-1"
RATED_W = 3472.0


@dataclass
class Platform:
    """A running VTN with one provisioned mining site."""

    url: str
    app: Any
    vtn: Vtn
    secret: str
    client_id: str
    server: uvicorn.Server
    thread: threading.Thread
    notifier: WebhookNotifier
    sock: socket.socket

    def readings(self) -> list[Reading]:
        with self.app.state.session_factory() as session:
            return list(session.scalars(select(Reading).where(Reading.site_id == SITE)))

    def reports(self) -> list[dict[str, Any]]:
        """The OpenADR reports the VTN stored, as sent on the wire."""
        with self.app.state.session_factory() as session:
            return [dict(o.body) for o in session.scalars(select(VtnObject).where(VtnObject.object_type == "REPORT"))]

    def allow_private_webhooks(self, allow: bool) -> None:
        """Change the operator's setting while the VTN runs (new sessions and deliveries follow it)."""
        self.app.state.session_factory.kw["info"][ALLOW_PRIVATE_KEY] = allow
        self.notifier.allow_private = allow

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
        self.notifier.close()


def start_platform(folder: Path, *, allow_private: bool = False, provision: bool = True) -> Platform:
    """Start a VTN; ``allow_private`` is the operator's setting that lets it call loopback webhooks.

    ``provision=False`` leaves the site's VEN and resource to its agent to register.
    """
    settings = Settings.resolve(env={}, data_dir=folder, token_secret="t" * 40, webhook_allow_private=allow_private)
    app = create_app(settings)
    prepare_database(app.state.engine)
    factory = app.state.session_factory
    with factory() as session:
        session.add(Operator(id="op-agent", name="Agent Op", created_at=datetime.now(UTC)))
        session.flush()
        # a connection capacity bounds what the meter may report (the ledger refuses readings without one)
        site = Site(id=SITE, operator_id="op-agent", zone="LESCO", kind="mining", connection_w=1_000_000)
        site.created_at = datetime.now(UTC)
        session.add(site)
        session.flush()
        cred = create_client(session, f"agent {SITE}", "ven", site_id=SITE)
        session.commit()
    notifier = WebhookNotifier(allow_private=allow_private)
    app.state.vtn_notifier = notifier
    vtn = Vtn(factory, notifier)
    if provision:
        vtn.provision_site(SITE, zone="LESCO", kind="mining", client_id=cred.client_id)
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    port = sock.getsockname()[1]
    return Platform(f"http://127.0.0.1:{port}", app, vtn, cred.client_secret, cred.client_id, server, thread,
                    notifier, sock)  # fmt: skip


def first_ip() -> int:
    """A loopback block of our own (127.77.<n>.x) so parallel runs do not collide."""
    return (77 << 16) + (random.randint(1, 250) << 8) + 2


def write_site(folder: Path, p: Platform, first: int, miners: int, meter_port: int | None, *,
               vtn: dict[str, Any] | None = None, tail: str = "", **site: Any) -> Path:  # fmt: skip
    """Write ``site.toml`` (and its 0600 secret) for ``miners`` fake miners from address ``first``."""
    secret = folder / "ven.secret"
    secret.write_text(p.secret)
    secret.chmod(0o600)
    b, c, d = (first >> 16) & 0xFF, (first >> 8) & 0xFF, first & 0xFF
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in site.items())
    vtn_extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in (vtn or {"poll_s": 0.3}).items())
    meter = (f'kind = "modbus"\nhost = "127.0.0.1"\nport = {meter_port}\nmap = "pm5000"\n' if meter_port
             else 'kind = "telemetry"\n')  # fmt: skip
    text = f"""
[site]
id = "{SITE}"
safe_level_mw = 0.0
response_time_s = 5
{extra}
[vtn]
url = "{p.url}/openadr3/3.1.0"
client_id = "{p.client_id}"
client_secret_file = "ven.secret"
{vtn_extra}
[agent]
tick_s = 0.3
telemetry_s = 0.3
report_interval_s = 2
log = "logs/commands.log"

[[asic]]
hosts = ["127.{b}.{c}.{d}-{d + miners - 1}"]
max_w = {RATED_W}
min_w = 1736
standby_w = 20

[meter]
{meter}
{tail}
"""
    path = folder / "site.toml"
    path.write_text(text)
    return path


def publish(p: Platform, cap_mw: float, minutes: int = 10, *, start: datetime | None = None) -> list[str]:
    """Publish a cap from the start of this minute; return the ids of its events (to end them after)."""
    start = start or datetime.now(UTC).replace(second=0, microsecond=0)
    events = p.vtn.publish_caps([SiteCap(SITE, start, start + timedelta(minutes=minutes), cap_mw)], {SITE: "mining"})
    return [str(e["id"]) for e in events]
