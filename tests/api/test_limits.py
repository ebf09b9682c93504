"""Limits that hold before a caller is known: body size, failed authentications, batch size."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from platform_fixtures import build_world, serving

from offtake.api.app import create_app
from offtake.api.limits import AuthThrottle, Throttled
from offtake.identity.credentials import IssuedClient, create_client
from offtake.persistence.db import make_engine, make_session_factory, session_scope
from offtake.registry.setup import prepare_database
from offtake.settings import Settings

BODY_LIMIT = 64 * 1024
FREE_FAILURES = 3
BATCH = 10


@dataclass
class Server:
    url: str
    op1: IssuedClient
    op2: IssuedClient


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("limits")
    settings = Settings.resolve(
        env={},
        data_dir=str(folder),
        token_secret="t" * 40,
        max_body_bytes=BODY_LIMIT,
        auth_free_failures=FREE_FAILURES,
        max_readings_per_batch=BATCH,
    )
    engine = make_engine(settings.database_url)
    prepare_database(engine)
    build_world(make_session_factory(engine))
    with session_scope(make_session_factory(engine)) as s:
        op1 = create_client(s, "op1 staff", "operator", operator_id="op1")
        op2 = create_client(s, "op2 staff", "operator", operator_id="op2")
    engine.dispose()
    with serving(create_app(settings)) as url:
        yield Server(url, op1, op2)


def _token(server: Server, client: IssuedClient, secret: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v1/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, client.client_secret if secret is None else secret),
    )


def _raw_post(url: str, path: str, head: dict[str, str], first_chunk: bytes) -> tuple[int, bytes, float]:
    """Send headers and the first chunk of a body; return status, answer and seconds taken."""
    parts = urlsplit(url)
    started = time.perf_counter()
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        lines = [f"POST {path} HTTP/1.1", f"Host: {parts.netloc}", *(f"{k}: {v}" for k, v in head.items())]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + first_chunk)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    elapsed = time.perf_counter() - started
    return int(answer.split(b" ", 2)[1]), answer, elapsed


@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/readings", "/openadr3/3.1.0/reports"])
def test_a_huge_declared_body_is_refused_unread_and_fast(server: Server, path: str) -> None:
    head = {"Content-Type": "application/json", "Content-Length": str(100 * 1024 * 1024)}
    status, answer, elapsed = _raw_post(server.url, path, head, b"{" * 1000)
    assert status == 413, answer
    assert b"larger than 65536 bytes" in answer and b"application/problem+json" in answer
    assert elapsed < 1.0  # the benchmark measures this; here only that nothing was read


def test_a_chunked_body_is_counted_and_refused_at_the_limit(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(BODY_LIMIT // 1024 + 10):
            yield b" " * 1024

    r = httpx.post(
        f"{server.url}/api/v1/readings", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413, r.text
    assert r.json()["status"] == 413 and str(BODY_LIMIT) in r.json()["detail"]


def test_a_body_under_the_limit_is_read(server: Server) -> None:
    r = httpx.post(f"{server.url}/api/v1/readings", json={"x": "y" * (BODY_LIMIT // 2)})
    assert r.status_code == 401  # read, then refused for want of a token


def test_readings_per_batch_are_capped(server: Server) -> None:
    token = _token(server, server.op1).json()["access_token"]
    reading = {
        "site_id": "S1",
        "meter_id": "m",
        "interval_start": "2025-07-01T00:00:00Z",
        "interval_end": "2025-07-01T00:15:00Z",
        "energy_wh": 1,
    }
    r = httpx.post(
        f"{server.url}/api/v1/readings/batch",
        json={"readings": [reading] * (BATCH + 1)},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 422 and r.json()["field"] == "readings"
    assert f"at most {BATCH}" in r.json()["detail"]


def test_failed_authentications_back_off_per_client_with_retry_after(server: Server) -> None:
    for _ in range(FREE_FAILURES):
        assert _token(server, server.op2, "wrong").status_code == 401
    r = _token(server, server.op2, "wrong")
    assert r.status_code == 401  # the failure over the allowance starts the back-off
    started = time.perf_counter()
    throttled = _token(server, server.op2)  # even the right secret waits: nothing is hashed
    held_s = time.perf_counter() - started
    assert throttled.status_code == 429, throttled.text
    assert held_s >= 0.9  # the refusal is held, so a guesser's connection slows to one try a second
    assert int(throttled.headers["Retry-After"]) >= 1
    assert throttled.json()["error"] == "invalid_client" and "try again" in throttled.json()["detail"]
    time.sleep(int(throttled.headers["Retry-After"]) + 0.1)
    assert _token(server, server.op2).status_code == 200


def test_the_throttle_backs_off_exponentially_per_client_and_per_address() -> None:
    now = [0.0]
    throttle = AuthThrottle(2, 60, 8, clock=lambda: now[0])
    for _ in range(2):
        throttle.failed("c", "10.0.0.1")
    throttle.check("c", "10.0.0.1")  # within the allowance
    waits = []
    for _ in range(5):
        throttle.failed("c", "10.0.0.1")
        with pytest.raises(Throttled) as info:
            throttle.check("c", None)
        waits.append(info.value.retry_after_s)
        now[0] += info.value.retry_after_s
    assert waits == [1, 2, 4, 8, 8]
    throttle.check("other", "10.0.0.1")  # 7 failures: the address has 4 x 2 free ones
    throttle.failed("other", "10.0.0.1")
    throttle.failed("other", "10.0.0.1")
    with pytest.raises(Throttled, match=r"address 10\.0\.0\.1"):  # now the address backs off too
        throttle.check("third", "10.0.0.1")
    throttle.check("third", "10.0.0.2")
    now[0] += 61  # a quiet window forgets
    throttle.failed("c", None)
    throttle.check("c", None)
    throttle.succeeded("c")
