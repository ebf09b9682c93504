"""Unauthenticated pressure on the server: wrong-secret guessers, a huge body, a full batch.

The server runs as ``offtake serve`` runs it (the platform app under uvicorn, its own
process, a SQLite file) on 127.0.0.1. Three parts:

1. **Guessers.** A reader sends ``GET /api/v1/ledger/head`` with a valid token 20 times a
   second, first alone (idle), then while 4 guessers post wrong secrets to the token
   endpoint as fast as the server answers. Run twice: with the default back-off (after 5
   failures a client, after 20 an address, waits with 429 and ``Retry-After``) and with
   the back-off switched off (``auth_free_failures`` 10^9), so every guess is hashed
   (scrypt, in a worker thread since this change).
   The guessers run in their own process, so the reader measures the server only.
   Target: the reader's p99 under guessing within 2x of idle.
2. **Huge body.** ``Content-Length: 100 MB`` on the token endpoint, unauthenticated; the
   time to the 413 and the server's resident memory before and after.
   Target: refused within 100 ms, memory grown by at most a few MB.
3. **Full batch.** One batch of ``max_readings_per_batch`` (5,000) readings: the time it
   takes is the longest another writer waits for the ledger lock behind it.
   Target: about a second.

Measured on the shared 2-core development machine while other engineers' test suites ran
(load average 11 on 2 cores throughout, so every figure carries that contention; the load
generator on the same cores), default settings, 10 s per phase:

- idle: p50 18.8 ms, p99 49.3 ms (180 requests);
- 4 guessers, back-off on: p50 15.6 ms, p99 136.8 ms (2.8x idle); the guessers got 49
  answers in 10 s (10 hashed 401s, then 429s each held 1 s), so they cost the server
  almost nothing; before the 1 s hold they got ~1,750 quick 429s and p99 was 139.7 ms;
- 4 guessers, back-off off (every guess hashed, in worker threads): p50 67.4 ms, p99
  204.8 ms (4.3x idle) -- two cores shared by the scrypt threads, the guessers and the
  reader; before this change the hashing ran on the event loop and p99 was 6.6 s;
- 100 MB declared body: 413 in 1.0 ms, server memory 272.4 -> 272.6 MB;
- a batch of 5,000 readings: accepted in 0.79 s.

Targets: huge body MET (1.0 ms, +0.2 MB); full batch MET (0.79 s); guessers: no request
waits seconds any more (p99 6.6 s -> 0.14 s) and the median is unchanged, but the 2x-of-idle
p99 is NOT shown on this loaded machine (2.8x); measure again on a quiet one.

Since then the token endpoint hashes at most (cores - 1) secrets at a time (one on this
machine; the others wait for a slot on the event loop, costing nothing, and are throttled
again before they hash), so scrypt, which releases the GIL, never takes the core the event
loop answers everyone else on. Measured on the same machine, load average 5.4-6.1 on 2 cores
(other engineers' suites running), ``--seconds 10``:

- back-off on (the default): idle p99 50.2 ms, under 4 guessers p99 67.0 ms (1.3x idle);
  the guessers got 42 answers (9 hashed 401s, 33 held 429s);
- back-off off (every guess hashed): idle p99 32.9 ms, under guessers p99 92.0 ms (2.8x idle,
  was 4.3x), 112 guesses hashed in 10 s;
- 100 MB declared body: 413 in 1.0 ms, memory 243.2 -> 243.4 MB; 5,000 readings in 0.65 s.

Target (2x of idle, default settings) MET at 1.3x; without the back-off (a setting no server
should run with) 2.8x on this loaded machine.

On a quiet machine (load average 2.1, nothing else running), ``--seconds 10``: back-off on, idle
p99 18.5 ms, under 4 guessers p99 7.5 ms (0.4x idle; 46 guesses answered, 37 of them 429); back-off
off, idle p99 8.6 ms, under guessers 15.1 ms (1.8x idle, 370 guesses hashed); 100 MB body 413 in
1.0 ms, memory +0.2 MB; 5,000 readings in 0.23 s. Every target MET, with or without the back-off.

Usage::

    PYTHONPATH=src python benchmarks/bench_auth_flood.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

TOKEN_SECRET = "f" * 48
GUESSERS = 4
READER_HZ = 20.0


def _settings(data_dir: Path, throttle: bool) -> Any:
    from offtake.settings import Settings

    extra: dict[str, Any] = {} if throttle else {"auth_free_failures": 10**9}
    return Settings.resolve(env={}, data_dir=str(data_dir), token_secret=TOKEN_SECRET, **extra)


def _serve(data_dir: str, port: int, throttle: bool) -> None:
    from offtake.api.app import create_app
    from offtake.api.runner import serve

    serve(create_app(_settings(Path(data_dir), throttle)), "127.0.0.1", port, log_level="warning", access_log=False)


def _setup(data_dir: Path) -> tuple[str, str]:
    """Create an operator with one site and a client; return its id and secret."""
    from offtake.identity.credentials import create_client
    from offtake.identity.principal import SYSTEM
    from offtake.persistence.db import make_engine, make_session_factory, session_scope
    from offtake.registry import licences, sites
    from offtake.registry.setup import prepare_database

    engine = make_engine(_settings(data_dir, True).database_url)
    prepare_database(engine)
    t0 = datetime(2025, 7, 1, tzinfo=UTC)
    with session_scope(make_session_factory(engine)) as s:
        sites.create_operator(s, SYSTEM, "op-bench", "bench")
        licences.apply_for_licence(s, SYSTEM, operator_id="op-bench", kind_id="mining", licence_id="LB", at=t0)
        licences.transition_licence(s, SYSTEM, "LB", "approved", at=t0)
        licences.transition_licence(s, SYSTEM, "LB", "active", at=t0)
        sites.create_site(
            s, SYSTEM, site_id="SB", operator_id="op-bench", zone="LESCO", kind="mining", licence_id="LB",
            connection_mw=100,
        )
        client = create_client(s, "bench staff", "operator", operator_id="op-bench")
    engine.dispose()
    return client.client_id, client.client_secret


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _reader(base: str, token: str, seconds: float) -> list[float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            r = await client.get("/api/v1/ledger/head")
            latencies.append(time.perf_counter() - started)
            assert r.status_code == 200, r.text
            await asyncio.sleep(max(0.0, 1 / READER_HZ - latencies[-1]))
    return latencies


async def _guesser(base: str, client_id: str, stop: asyncio.Event, counts: dict[int, int]) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        while not stop.is_set():
            r = await client.post(
                "/api/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, "wrong")
            )
            counts[r.status_code] = counts.get(r.status_code, 0) + 1


def _summary(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered) * 1e3, ordered[int(0.99 * (len(ordered) - 1))] * 1e3


def _guess_process(base: str, client_id: str, seconds: float, out: Any) -> None:
    """Run the guessers in their own process (own CPU, own event loop) for ``seconds``."""

    async def run() -> dict[int, int]:
        stop = asyncio.Event()
        counts: dict[int, int] = {}
        tasks = [asyncio.create_task(_guesser(base, client_id, stop, counts)) for _ in range(GUESSERS)]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)
        return counts

    out.put(asyncio.run(run()))


def _guessing(base: str, token: str, client_id: str, seconds: float) -> tuple[list[float], dict[int, int]]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    guessers = context.Process(target=_guess_process, args=(base, client_id, seconds + 1.5, out), daemon=True)
    guessers.start()
    time.sleep(1.0)  # the guessers are running
    latencies = asyncio.run(_reader(base, token, seconds))
    counts: dict[int, int] = out.get(timeout=60)
    guessers.join(10)
    return latencies, counts


def _huge_body(port: int) -> tuple[int, float]:
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        head = (
            "POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {100 * 1024 * 1024}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"a" * 65536)
        answer = sock.recv(4096)
    return int(answer.split(b" ", 2)[1]), (time.perf_counter() - started) * 1e3


def _batch(base: str, token: str, size: int) -> float:
    t0 = datetime(2025, 8, 1, tzinfo=UTC)
    step = timedelta(minutes=1)
    readings = [
        {
            "site_id": "SB",
            "meter_id": "m",
            "interval_start": (t0 + i * step).isoformat(),
            "interval_end": (t0 + (i + 1) * step).isoformat(),
            "energy_wh": 1000,
        }
        for i in range(size)
    ]
    started = time.perf_counter()
    r = httpx.post(
        f"{base}/api/v1/readings/batch",
        json={"readings": readings},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert r.status_code == 201, r.text[:300]
    return time.perf_counter() - started


def _run(throttle: bool, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        client_id, secret = _setup(data_dir)
        port = _free_port()
        server = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(str(data_dir), port, throttle), daemon=True
        )
        server.start()
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start")
                time.sleep(0.1)
            token = httpx.post(
                f"{base}/api/v1/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
            ).json()["access_token"]
            idle = asyncio.run(_reader(base, token, seconds))
            busy, counts = _guessing(base, token, client_id, seconds)
            (i50, i99), (b50, b99) = _summary(idle), _summary(busy)
            label = "back-off on " if throttle else "back-off off"
            print(f"[{label}] idle   p50 {i50:.1f} ms  p99 {i99:.1f} ms  ({len(idle)} requests)")
            print(
                f"[{label}] guess  p50 {b50:.1f} ms  p99 {b99:.1f} ms  ({b99 / i99:.1f}x idle); "
                f"guesses answered {sum(counts.values())}: {dict(sorted(counts.items()))}"
            )
            if throttle:
                before = _rss_mb(server.pid or 0)
                status, elapsed_ms = _huge_body(port)
                after = _rss_mb(server.pid or 0)
                print(f"[huge body] {status} in {elapsed_ms:.1f} ms; server memory {before:.1f} -> {after:.1f} MB")
                from offtake.settings import DEFAULT_LIMITS

                size = DEFAULT_LIMITS["max_readings_per_batch"]
                print(f"[batch] {size} readings accepted in {_batch(base, token, size):.2f} s")
        finally:
            server.terminate()
            server.join(10)


def main() -> None:
    """Run the three parts and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each reader phase [s]")
    args = parser.parse_args()
    for throttle in (True, False):
        _run(throttle, args.seconds)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
