"""Fixtures for the platform, loaded by ``tests/conftest.py`` for every test.

Databases (SQLite always, PostgreSQL when ``OFFTAKE_TEST_POSTGRES_URL`` is set), a registry
with two operators, and a real uvicorn server on 127.0.0.1.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from offtake.api.app import create_app
from offtake.identity.credentials import IssuedClient, create_client
from offtake.identity.principal import ROLE_SCOPES, Principal
from offtake.ledger.signing import Signer
from offtake.persistence.db import make_engine, make_session_factory, session_scope
from offtake.registry import licences, sites
from offtake.registry.setup import prepare_database
from offtake.settings import Settings

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

T0 = datetime(2025, 7, 1, tzinfo=UTC)

#: Header of an allocation.csv as the planner writes it.
HEADER = (
    "site_id,operator,zone,kind,firm_mw,interruptible_mw,allocated_mw,max_curtailment_fraction,"
    "max_curtailment_duration_h,annual_curtailment_limit,response_time_s,tariff_usd_per_mwh,"
    "expected_energy_mwh,curtailed_hours,curtailment_events,mean_event_h"
)



def _postgres_database(base_url: str) -> Iterator[str]:
    """Create a fresh database on the test server, yield its URL, drop it."""
    url = make_url(base_url)
    name = f"offtake_t_{secrets.token_hex(6)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'create database "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


def database_url(backend: str, folder: Path) -> Iterator[str]:
    """Yield a database URL of ``backend`` (skips postgres when not configured)."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'offtake.db'}"
        return
    base = os.environ.get("OFFTAKE_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("OFFTAKE_TEST_POSTGRES_URL is not set")
    yield from _postgres_database(base)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    prepare_database(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def principal(role: str, client_id: str, operator_id: str | None = None, site_id: str | None = None) -> Principal:
    return Principal(client_id, role, operator_id, ROLE_SCOPES[role], site_id)


@dataclass
class World:
    """Two operators, each with an active mining licence and one site."""

    factory: sessionmaker[Session]
    regulator: Principal
    grid: Principal
    op1: Principal
    op2: Principal


def build_world(factory: sessionmaker[Session]) -> World:
    regulator = principal("regulator", "reg")
    grid = principal("grid_operator", "grid")
    with session_scope(factory) as s:
        for op in ("op1", "op2"):
            sites.create_operator(s, regulator, op, f"Operator {op}")
        for op, lic, site, mw in (("op1", "L1", "S1", 50.0), ("op2", "L2", "S2", 20.0)):
            licences.apply_for_licence(s, regulator, operator_id=op, kind_id="mining", licence_id=lic, at=T0)
            licences.transition_licence(s, regulator, lic, "approved", at=T0)
            licences.transition_licence(s, regulator, lic, "active", at=T0)
            sites.create_site(
                s,
                grid,
                site_id=site,
                operator_id=op,
                zone="LESCO",
                kind="mining",
                licence_id=lic,
                connection_mw=mw,
            )
    return World(
        factory,
        regulator,
        grid,
        principal("operator", "c-op1", "op1"),
        principal("operator", "c-op2", "op2"),
    )


@pytest.fixture
def world(factory: sessionmaker[Session]) -> World:
    return build_world(factory)


# ---------------------------------------------------------------------- live server


@dataclass
class Live:
    """A running server and credentials of one client per role."""

    url: str
    settings: Settings
    signer: Signer
    clients: dict[str, IssuedClient]

    def token(self, name: str, scope: str | None = None) -> str:
        c = self.clients[name]
        data = {"grant_type": "client_credentials"}
        if scope:
            data["scope"] = scope
        r = httpx.post(f"{self.url}/api/v1/auth/token", data=data, auth=(c.client_id, c.client_secret))
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def http(self, name: str) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/api/v1", headers={"Authorization": f"Bearer {self.token(name)}"})


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module", params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("live")
    for url in database_url(request.param, folder):
        settings = Settings.resolve(env={}, data_dir=str(folder), database_url=url, checkpoint_every_entries=5)
        eng = make_engine(url)
        prepare_database(eng)
        factory = make_session_factory(eng)
        world = build_world(factory)
        with session_scope(factory) as s:
            clients = {
                "grid": create_client(s, "control room", "grid_operator"),
                "regulator": create_client(s, "regulator", "regulator"),
                "office": create_client(s, "programme office", "programme_office"),
                "op1": create_client(s, "op1 staff", "operator", operator_id="op1"),
                "op2": create_client(s, "op2 staff", "operator", operator_id="op2"),
                "ven1": create_client(s, "S1 agent", "ven", site_id="S1"),
            }
        del world
        eng.dispose()
        signer = Signer.generate()
        with serving(create_app(settings, signer=signer)) as url:
            yield Live(url, settings, signer, clients)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 in a thread; yield its base URL, stop it after."""
    sock = free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
