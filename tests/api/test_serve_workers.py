"""Several server processes on one database: polls answered from cache with ETags that
follow every change in every worker and keep tenancy, concurrent reports through the group
commit complete and verifiable, and ``offtake serve --workers 2`` as real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from platform_fixtures import BACKENDS, build_world, database_url, free_socket, serving
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from offtake.api.app import create_app
from offtake.identity.credentials import IssuedClient, create_client
from offtake.ledger.export import export_ledger, verify_export
from offtake.ledger.signing import Signer, load_or_create_signer
from offtake.ledger.witness import CheckpointLog
from offtake.persistence.db import make_engine, make_session_factory, session_scope, writer_lock
from offtake.persistence.group_commit import GroupCommit
from offtake.persistence.schema import Reading
from offtake.registry.setup import prepare_database
from offtake.settings import Settings
from offtake.vtn.notify import WebhookNotifier
from offtake.vtn.operations import Vtn
from offtake.vtn.programme import SiteCap

PREFIX = "/openadr3/3.1.0"
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
SRC = str(Path(__file__).resolve().parents[2] / "src")


@dataclass
class Platform:
    """A provisioned database: VEN clients of S1 and S2 and the mining program."""

    db_url: str
    factory: sessionmaker[Session]
    clients: dict[str, IssuedClient]
    program_id: str
    vtn: Vtn


def _caps(site: str, first: datetime, count: int) -> list[SiteCap]:
    return [
        SiteCap(site, first + timedelta(minutes=15 * k), first + timedelta(minutes=15 * (k + 1)), 5.0)
        for k in range(count)
    ]


def _provision(db_url: str) -> Generator[Platform, None, None]:
    engine = make_engine(db_url)
    prepare_database(engine)
    factory = make_session_factory(engine)
    build_world(factory)
    with session_scope(factory) as s:
        clients = {site: create_client(s, f"{site} agent", "ven", site_id=site) for site in ("S1", "S2")}
    notifier = WebhookNotifier()
    vtn = Vtn(factory, notifier)
    for site in ("S1", "S2"):
        vtn.provision_site(site, zone="LESCO", kind="mining", client_id=clients[site].client_id)
    vtn.publish_caps(_caps("S1", HOUR, 2) + _caps("S2", HOUR, 2), {"S1": "mining", "S2": "mining"})
    try:
        yield Platform(db_url, factory, clients, vtn.ensure_programs()["mining"], vtn)
    finally:
        notifier.close()
        engine.dispose()


@pytest.fixture
def platform(db_url: str) -> Iterator[Platform]:
    yield from _provision(db_url)


def _client(url: str, issued: IssuedClient) -> httpx.Client:
    token = httpx.post(
        url + PREFIX + "/auth/token",
        data={"grant_type": "client_credentials", "client_id": issued.client_id, "client_secret": issued.client_secret},
    )
    assert token.status_code == 200, token.text
    return httpx.Client(base_url=url + PREFIX, headers={"Authorization": f"Bearer {token.json()['access_token']}"})


def _report(site: str, event_id: str, start: datetime, energy_wh: int) -> dict[str, Any]:
    return {
        "eventID": event_id,
        "clientName": site,
        "payloadDescriptors": [{"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "USAGE", "units": "WH"}],
        "resources": [
            {
                "resourceName": site,
                "intervalPeriod": {"start": start.isoformat(), "duration": "PT15M"},
                "intervals": [{"id": 0, "payloads": [{"type": "USAGE", "values": [energy_wh]}]}],
            }
        ],
    }


def _two_workers(platform: Platform, tmp_path: Path, stack: ExitStack) -> tuple[str, str, Signer]:
    """Two applications on one database, as two worker processes are (own caches, own threads)."""
    settings = Settings.resolve(env={}, data_dir=str(tmp_path), database_url=platform.db_url, token_secret="t" * 40)
    signer = Signer.generate()
    first = stack.enter_context(serving(create_app(settings, signer=signer)))
    second = stack.enter_context(serving(create_app(settings, signer=signer, leader=False, migrate=False)))
    return first, second, signer


def test_every_worker_sees_a_change_at_the_next_poll_and_answers_304_while_nothing_changed(
    platform: Platform, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        a_url, b_url, _ = _two_workers(platform, tmp_path, stack)
        s1_a = stack.enter_context(_client(a_url, platform.clients["S1"]))
        s1_b = stack.enter_context(_client(b_url, platform.clients["S1"]))
        s2_b = stack.enter_context(_client(b_url, platform.clients["S2"]))
        query = {"programID": platform.program_id}

        first = s1_a.get("/events", params=query)
        assert first.status_code == 200 and first.json()
        tag = first.headers["etag"]
        assert first.headers["cache-control"] == "private, no-cache"
        for worker in (s1_a, s1_b):  # the same answer has the same tag in every worker
            again = worker.get("/events", params=query, headers={"If-None-Match": tag})
            assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag)
        assert s1_b.get("/events", params=query, headers={"If-None-Match": '"other", W/' + tag}).status_code == 304

        # another site's events change: S1's answer and tag do not, so its tag says nothing of S2
        platform.vtn.publish_caps(_caps("S2", HOUR + timedelta(hours=1), 1), {"S2": "mining"})
        assert s1_b.get("/events", params=query, headers={"If-None-Match": tag}).status_code == 304

        # S1's events change (written outside both servers, as the dispatch loop does)
        platform.vtn.publish_caps(_caps("S1", HOUR + timedelta(hours=1), 1), {"S1": "mining"})
        answers = [w.get("/events", params=query, headers={"If-None-Match": tag}) for w in (s1_b, s1_a)]
        assert [r.status_code for r in answers] == [200, 200]
        assert answers[0].json() == answers[1].json() != first.json()
        assert answers[0].headers["etag"] == answers[1].headers["etag"] != tag

        # tenancy: S2's tag differs from S1's, and S1's tag gets S2 its own events, not a 304
        own = s2_b.get("/events", params=query)
        assert own.status_code == 200 and own.headers["etag"] != answers[0].headers["etag"]
        crossed = s2_b.get("/events", params=query, headers={"If-None-Match": answers[0].headers["etag"]})
        assert crossed.status_code == 200 and {e["id"] for e in crossed.json()} == {e["id"] for e in own.json()}
        assert not {e["id"] for e in own.json()} & {e["id"] for e in answers[0].json()}


def test_concurrent_reports_through_two_workers_are_all_ledgered_once_and_verify(
    platform: Platform, tmp_path: Path
) -> None:
    results: list[tuple[str, int, str]] = []
    lock = threading.Lock()
    with ExitStack() as stack:
        a_url, b_url, signer = _two_workers(platform, tmp_path, stack)
        urls = (a_url, b_url)
        event_ids = {}
        for site in ("S1", "S2"):
            with _client(a_url, platform.clients[site]) as poller:
                event_ids[site] = poller.get("/events", params={"programID": platform.program_id}).json()[0]["id"]

        def send_reports(site: str, url: str) -> None:
            with _client(url, platform.clients[site]) as http:
                for k in range(12):
                    start = HOUR - timedelta(days=1) + timedelta(minutes=15 * k)
                    body = _report(site, event_ids[site], start, 1000 + k)
                    answer = http.post("/reports", json=body)
                    retry = http.post("/reports", json=body)  # a retry of the same content
                    with lock:
                        results.append((site, answer.status_code, answer.json().get("id", "")))
                        results.append((site, retry.status_code, retry.json().get("id", "")))

        threads = [threading.Thread(target=send_reports, args=(site, url)) for site in ("S1", "S2") for url in urls]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert len(results) == 96 and {status for _, status, _ in results} == {201}
    assert len({report_id for _, _, report_id in results}) == 24  # retries and twin VENs found the same
    with platform.factory() as session:
        assert session.scalar(select(func.count()).select_from(Reading)) == 24
        export_ledger(session, tmp_path / "export.txt", signer, checkpoint_every=8)
    assert verify_export(tmp_path / "export.txt", signer.public_key).ok


def _start_workers(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "offtake", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "server exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not come up")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.parametrize("backend", BACKENDS)
def test_serve_with_two_workers_has_one_signer_and_stops_cleanly(backend: str, tmp_path: Path) -> None:
    for url in database_url(backend, tmp_path):
        data = tmp_path / "data"
        provisioned = _provision(url)
        platform = next(provisioned)
        env = {
            **os.environ,
            "PYTHONPATH": SRC,
            "OFFTAKE_DATA_DIR": str(data),
            "OFFTAKE_DATABASE_URL": url,
            "OFFTAKE_CHECKPOINT_EVERY_ENTRIES": "4",
            "OFFTAKE_CHECKPOINT_INTERVAL_S": "2",
        }
        log = CheckpointLog(Settings.resolve(env=env).checkpoint_log)
        with free_socket() as sock:
            port = sock.getsockname()[1]
        proc = _start_workers(port, env)
        try:
            workers = [p for p in _children(proc.pid) if b"resource_tracker" not in _cmdline(p)]
            assert len(workers) == 2
            base = f"http://127.0.0.1:{port}"
            with _client(base, platform.clients["S1"]) as ven:
                event_id = ven.get("/events", params={"programID": platform.program_id}).json()[0]["id"]
                for k in range(10):  # a new connection each time: both workers answer some
                    start = HOUR - timedelta(days=1) + timedelta(minutes=15 * k)
                    with httpx.Client(base_url=base + PREFIX, headers=dict(ven.headers)) as fresh:
                        assert fresh.post("/reports", json=_report("S1", event_id, start, 500 + k)).status_code == 201
            deadline = time.monotonic() + 30  # the leader's timer signs what is due
            while time.monotonic() < deadline and max((c.size for c in log.all()), default=0) < 10:
                time.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0
            if proc.stderr:
                proc.stderr.close()
        assert _children(proc.pid) == []
        signer = load_or_create_signer(Settings.resolve(env=env).signing_key_path)
        signer.witness = log
        witnessed = log.all()
        assert witnessed and max(c.size for c in witnessed) >= 10
        sizes = [c.size for c in witnessed]
        assert sizes == sorted(set(sizes))  # one signer: no checkpoint signed twice, none out of order
        with platform.factory() as session:
            assert session.scalar(select(func.count()).select_from(Reading)) == 10
            export_ledger(session, tmp_path / "export.txt", signer, checkpoint_every=8)
        assert verify_export(tmp_path / "export.txt", signer.public_key, known=witnessed).ok
        provisioned.close()


def test_a_report_whose_client_left_before_its_write_started_commits_nothing(
    platform: Platform, tmp_path: Path
) -> None:
    settings = Settings.resolve(env={}, data_dir=str(tmp_path), database_url=platform.db_url, token_secret="t" * 40)
    app = create_app(settings, signer=Signer.generate())
    engine = platform.factory.kw["bind"]
    committer = GroupCommit(app.state.session_factory, lambda: writer_lock(engine))
    app.state.vtn_group_commit = committer
    with serving(app) as url, _client(url, platform.clients["S1"]) as ven:
        event_id = ven.get("/events", params={"programID": platform.program_id}).json()[0]["id"]
        started, release = threading.Event(), threading.Event()

        def hold(session: Session) -> None:  # the writer is busy with another write
            started.set()
            release.wait(30)

        committer.submit(hold)
        assert started.wait(10)
        body = json.dumps(_report("S1", event_id, HOUR - timedelta(days=1), 777)).encode()
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as raw:
            head = (
                f"POST {PREFIX}/reports HTTP/1.1\r\nHost: {host}\r\nAuthorization: {ven.headers['authorization']}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            raw.sendall(head.encode() + body)
            time.sleep(1.0)  # the request is read and queued behind the busy writer
        time.sleep(1.0)  # the client has gone: the server sees the disconnect and withdraws the write
        release.set()
        kept = ven.post("/reports", json=_report("S1", event_id, HOUR - timedelta(days=1) + timedelta(minutes=15), 5))
        assert kept.status_code == 201, kept.text  # the writer goes on with the next write
        reports = ven.get("/reports").json()
    assert [r["id"] for r in reports] == [kept.json()["id"]]
    with platform.factory() as session:
        assert [r.energy_wh for r in session.scalars(select(Reading))] == [5]


def test_a_worker_that_dies_is_replaced_and_the_server_keeps_answering(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": SRC,
        "OFFTAKE_DATA_DIR": str(tmp_path / "data"),
        "OFFTAKE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
    }
    with free_socket() as sock:
        port = sock.getsockname()[1]
    proc = _start_workers(port, env)
    try:
        before = sorted(p for p in _children(proc.pid) if b"resource_tracker" not in _cmdline(p))
        assert len(before) == 2
        os.kill(before[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        after = before
        while time.monotonic() < deadline:
            after = sorted(p for p in _children(proc.pid) if b"resource_tracker" not in _cmdline(p))
            if len(after) == 2 and before[0] not in after:
                break
            time.sleep(0.2)
        assert len(after) == 2 and before[0] not in after and before[1] in after
        for _ in range(5):  # new connections, whichever worker takes them
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        if proc.stderr:
            proc.stderr.close()
    assert _children(proc.pid) == []
