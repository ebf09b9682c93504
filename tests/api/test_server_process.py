"""``offtake serve`` as a real process: an acknowledged reading survives SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from platform_fixtures import BACKENDS, database_url, free_socket

from offtake.identity.credentials import create_client
from offtake.identity.principal import SYSTEM
from offtake.persistence.db import make_engine, make_session_factory, session_scope
from offtake.registry.setup import prepare_database
from offtake.registry.sites import create_operator

SRC = str(Path(__file__).resolve().parents[2] / "src")


def start(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "offtake", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "server exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not come up")


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    if proc.stderr:
        proc.stderr.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_acknowledged_reading_survives_sigkill(backend: str, tmp_path: Path) -> None:
    for url in database_url(backend, tmp_path):
        env = {
            **os.environ,
            "PYTHONPATH": SRC,
            "OFFTAKE_DATA_DIR": str(tmp_path / "data"),
            "OFFTAKE_DATABASE_URL": url,
        }
        engine = make_engine(url)
        prepare_database(engine)
        with session_scope(make_session_factory(engine)) as s:
            create_operator(s, SYSTEM, "op1", "Operator One")
            grid = create_client(s, "control room", "grid_operator")
        engine.dispose()
        client_id, secret = grid.client_id, grid.client_secret
        sock = free_socket()
        port = sock.getsockname()[1]
        sock.close()
        proc = start(port, env)
        try:
            api = f"http://127.0.0.1:{port}/api/v1"
            token = httpx.post(
                f"{api}/auth/token",
                data={"grant_type": "client_credentials"},
                auth=(client_id, secret),
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            assert (
                httpx.post(
                    f"{api}/sites",
                    headers=headers,
                    json={"id": "S1", "operator_id": "op1", "zone": "LESCO", "kind": "mining", "connection_mw": 10},
                ).status_code
                == 201
            )
            batch = [
                {
                    "site_id": "S1",
                    "meter_id": "m1",
                    "interval_start": f"2025-07-01T{h:02d}:00:00Z",
                    "interval_end": f"2025-07-01T{h + 1:02d}:00:00Z",
                    "energy_wh": 1000 + h,
                }
                for h in range(20)
            ]
            ack = httpx.post(f"{api}/readings/batch", json={"readings": batch}, headers=headers)
            assert ack.status_code == 201
            size = ack.json()["ledger_size"]
            os.kill(proc.pid, signal.SIGKILL)  # no shutdown, no checkpoint on exit
            proc.wait(30)
        finally:
            kill(proc)
        proc = start(port, env)
        try:
            readings = httpx.get(f"{api}/readings", params={"site_id": "S1"}, headers=headers).json()["readings"]
            assert [r["energy_wh"] for r in readings] == [1000 + h for h in range(20)]
            head = httpx.get(f"{api}/ledger/head", headers=headers).json()
            assert head["size"] == size
        finally:
            kill(proc)


@pytest.mark.parametrize("backend", BACKENDS)
def test_acknowledged_openadr_report_survives_sigkill(backend: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from platform_fixtures import build_world

    from offtake.persistence.schema import Reading
    from offtake.vtn.notify import WebhookNotifier
    from offtake.vtn.operations import Vtn
    from offtake.vtn.programme import SiteCap

    for url in database_url(backend, tmp_path):
        env = {
            **os.environ,
            "PYTHONPATH": SRC,
            "OFFTAKE_DATA_DIR": str(tmp_path / "data"),
            "OFFTAKE_DATABASE_URL": url,
        }
        engine = make_engine(url)
        prepare_database(engine)
        factory = make_session_factory(engine)
        build_world(factory)
        with session_scope(factory) as s:
            ven = create_client(s, "S1 agent", "ven", site_id="S1")
        notifier = WebhookNotifier()
        vtn = Vtn(factory, notifier)
        vtn.provision_site("S1", zone="LESCO", kind="mining", client_id=ven.client_id)
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        vtn.publish_caps([SiteCap("S1", hour, hour + timedelta(hours=1), 10.0)], {"S1": "mining"})
        notifier.close()
        sock = free_socket()
        port = sock.getsockname()[1]
        sock.close()
        proc = start(port, env)
        try:
            base = f"http://127.0.0.1:{port}/openadr3/3.1.0"
            token = httpx.post(
                f"{base}/auth/token",
                data={"grant_type": "client_credentials"},
                auth=(ven.client_id, ven.client_secret),
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            events = httpx.get(f"{base}/events", headers=headers).json()
            report = {
                "eventID": events[0]["id"],
                "clientName": "S1",
                "payloadDescriptors": [
                    {"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "USAGE", "units": "WH"}
                ],
                "resources": [
                    {
                        "resourceName": "S1",
                        "intervalPeriod": {"start": "2025-07-01T00:00:00Z", "duration": "PT15M"},
                        "intervals": [
                            {"id": k, "payloads": [{"type": "USAGE", "values": [2_000_000 + k]}]}
                            for k in range(4)
                        ],
                    }
                ],
            }
            ack = httpx.post(f"{base}/reports", json=report, headers=headers)
            assert ack.status_code == 201, ack.text
            os.kill(proc.pid, signal.SIGKILL)  # right after the acknowledgement
            proc.wait(30)
        finally:
            kill(proc)
        with factory() as s:
            stored = s.query(Reading.energy_wh).filter(Reading.site_id == "S1").order_by(Reading.interval_start)
            assert [row.energy_wh for row in stored] == [2_000_000 + k for k in range(4)]
        engine.dispose()
