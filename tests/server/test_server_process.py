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

from offtake.registry.sites import create_operator
from offtake.server.auth import create_client
from offtake.server.db import make_engine, make_session_factory, session_scope, upgrade
from offtake.server.principal import SYSTEM

from .conftest import BACKENDS, database_url, free_socket

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
        upgrade(engine)
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
                    json={"id": "S1", "operator_id": "op1", "zone": "LESCO", "kind": "mining"},
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
