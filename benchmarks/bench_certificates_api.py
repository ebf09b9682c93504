"""Certificates over HTTP: issue a site-month, list it, move Wh, fetch the export for offline checking.

The server runs as ``offtake serve`` runs it (the platform app under uvicorn on 127.0.0.1, in a
thread of this process); the requests go over HTTP with bearer tokens of a grid-operator and an
operator client. No target is named for the certificate routes; this measures what one
site-month costs at the API.

Measured (SQLite file, one site x one month of 5-minute readings = 8,928 readings, three
renewable technologies in every hour, the project's shared 2-core machine at load average 7.8):
``POST /certificates/issuances`` with 2,232 share rows 1.9 s (2,232 certificates);
``GET /certificates`` of those 2,232 holdings 0.15 s; a transfer 0.037 s; ``GET
/certificates/export`` of the 8,958-entry ledger 0.15 s (3.4 MB), which ``offtake ledger
verify-certificates`` then checks offline.

Run: ``PYTHONPATH=src python benchmarks/bench_certificates_api.py [--days 31] [--moves 20]``
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn

from offtake.api.app import create_app
from offtake.identity.credentials import IssuedClient, create_client
from offtake.identity.principal import SYSTEM
from offtake.ledger import MeterReading, ingest_readings
from offtake.ledger.signing import Signer
from offtake.persistence.db import make_engine, make_session_factory, session_scope
from offtake.registry import licences, sites
from offtake.registry.setup import prepare_database
from offtake.settings import Settings

T0 = datetime(2025, 7, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)
SHARES_PPM = {"hydro": 150_000, "solar_pv": 200_000, "wind": 50_000}


def _setup(url: str, days: int) -> dict[str, IssuedClient]:
    engine = make_engine(url)
    prepare_database(engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as s:
        for op in ("op1", "op2"):
            sites.create_operator(s, SYSTEM, op, op)
            licences.apply_for_licence(s, SYSTEM, operator_id=op, kind_id="mining", licence_id=f"L-{op}", at=T0)
            licences.transition_licence(s, SYSTEM, f"L-{op}", "approved", at=T0)
            licences.transition_licence(s, SYSTEM, f"L-{op}", "active", at=T0)
        sites.create_site(
            s, SYSTEM, site_id="S1", operator_id="op1", zone="LESCO", kind="mining", licence_id="L-op1",
            connection_mw=100,
        )  # fmt: skip
        steps = int(timedelta(days=days) / STEP)
        batch = [MeterReading("S1", "m1", T0 + k * STEP, T0 + (k + 1) * STEP, 400_000 + k % 97) for k in range(steps)]
        ingest_readings(s, SYSTEM, batch, now=T0 + timedelta(days=days + 1))
        clients = {
            "grid": create_client(s, "control room", "grid_operator"),
            "op1": create_client(s, "op1 staff", "operator", operator_id="op1"),
        }
    engine.dispose()
    return clients


@contextmanager
def _serving(settings: Settings) -> Iterator[str]:
    config = uvicorn.Config(
        create_app(settings, signer=Signer.generate()), host="127.0.0.1", port=0, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        server.should_exit = True
        thread.join(15)


def _client(base: str, c: IssuedClient) -> httpx.Client:
    answer = httpx.post(
        f"{base}/auth/token", data={"grant_type": "client_credentials"}, auth=(c.client_id, c.client_secret)
    )
    answer.raise_for_status()
    token = answer.json()["access_token"]
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300)


def _timed(label: str, started: float, detail: str) -> None:
    print(f"{label}: {detail} in {time.perf_counter() - started:.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=31, help="days of 5-minute readings of the site")
    parser.add_argument("--moves", type=int, default=20, help="transfers to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        clients = _setup(url, args.days)
        hours = [T0 + timedelta(hours=h) for h in range(args.days * 24)]
        shares = [
            {"zone": "LESCO", "hour_start": h.isoformat(), "technology": tech, "share_ppm": ppm}
            for h in hours
            for tech, ppm in SHARES_PPM.items()
        ]
        settings = Settings.resolve(env={}, data_dir=folder, database_url=url)
        with _serving(settings) as base, _client(base, clients["grid"]) as grid, _client(base, clients["op1"]) as op1:
            body = {"site_id": "S1", "start": T0.isoformat(), "end": hours[-1].isoformat(), "shares": shares}
            body["end"] = (hours[-1] + timedelta(hours=1)).isoformat()
            started = time.perf_counter()
            issued = grid.post("/certificates/issuances", json=body)
            issued.raise_for_status()
            _timed("issue", started, f"{len(issued.json()['certificates'])} certificates from {len(shares)} share rows")
            started = time.perf_counter()
            held = op1.get("/certificates").json()["holdings"]
            _timed("list", started, f"{len(held)} holdings")
            started = time.perf_counter()
            for h in held[: args.moves]:
                moved = op1.post(
                    f"/certificates/{h['certificate']['id']}/transfers", json={"to": "op2", "volume_wh": 1}
                )
                moved.raise_for_status()
            _timed("transfers", started, f"{min(args.moves, len(held))} transfers")
            started = time.perf_counter()
            exported = grid.get("/certificates/export")
            exported.raise_for_status()
            size_mb = len(exported.content) / 1e6
            _timed("export", started, f"{exported.json()['entries']} entries, {size_mb:.1f} MB")


if __name__ == "__main__":
    main()
