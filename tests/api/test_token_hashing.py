"""The token endpoint hashes at most ``HASH_CONCURRENCY`` secrets at a time, whoever asks."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from platform_fixtures import build_world, serving

import offtake.api.auth as auth
from offtake.api.app import create_app
from offtake.identity.credentials import create_client, issue_token
from offtake.persistence.db import make_engine, make_session_factory, session_scope
from offtake.registry.setup import prepare_database
from offtake.settings import Settings


def test_concurrent_token_requests_hash_one_at_a_time_on_two_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "HASH_CONCURRENCY", 1)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    prepare_database(engine)
    factory = make_session_factory(engine)
    build_world(factory)
    with session_scope(factory) as s:
        clients = [create_client(s, f"S1 agent {i}", "ven", site_id="S1") for i in range(6)]
    engine.dispose()

    running = 0
    most = 0
    lock = threading.Lock()
    real = issue_token

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.05)  # widen the window in which two would overlap
            return real(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(auth, "issue_token", counted)
    settings = Settings.resolve(env={}, data_dir=str(tmp_path), database_url=url, token_secret="t" * 40)
    with serving(create_app(settings)) as base:

        def ask(index: int) -> int:
            c = clients[index]
            secret = c.client_secret if index % 2 else "wrong-" + c.client_secret
            answer = httpx.post(
                f"{base}/api/v1/auth/token",
                data={"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": secret},
                timeout=30,
            )
            return answer.status_code

        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(ask, range(6)))
    assert statuses == [401, 200, 401, 200, 401, 200]  # every request answered, right or wrong
    assert most == 1  # yet never two hashed at once
