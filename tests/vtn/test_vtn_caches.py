"""What the VTN keeps in memory gives the same answers as the database, on both databases.

Clients are re-read within the recheck interval (a disabled client is refused within that
bound); event searches are served from the listing cache only while the change counters
are unchanged, whoever wrote (this server, another engine as another process would, a
rolled-back transaction), and each answer is checked against a fresh computation.
"""

from __future__ import annotations

import asyncio
import threading
import time
from _thread import LockType
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from platform_fixtures import build_world, free_socket
from sqlalchemy.orm import Session, sessionmaker

from offtake.api.app import create_app
from offtake.api.poll_lane import PollLane
from offtake.identity.client_cache import ClientCache
from offtake.identity.credentials import IssuedClient, create_client, disable_client
from offtake.identity.principal import ROLE_SCOPES
from offtake.persistence.db import make_engine, make_session_factory, session_scope, writer_lock
from offtake.registry.setup import prepare_database
from offtake.settings import Settings
from offtake.vtn import service, store
from offtake.vtn.cache import ListingCache
from offtake.vtn.notify import WebhookNotifier
from offtake.vtn.operations import PLATFORM, Vtn
from offtake.vtn.programme import SiteCap
from offtake.vtn.service import Caller
from offtake.vtn.shared_versions import SharedVersions

PREFIX = "/openadr3/3.1.0"
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


class FakeClock:
    """A monotonic clock the test moves by hand [s]."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@dataclass
class VtnServer:
    """A running server with a BL client and the VEN clients of sites S1 and S2."""

    url: str
    app: FastAPI
    factory: sessionmaker[Session]
    db_url: str
    clients: dict[str, IssuedClient]
    program_id: str

    def token(self, name: str) -> str:
        c = self.clients[name]
        r = httpx.post(
            self.url + PREFIX + "/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": c.client_id,
                "client_secret": c.client_secret,
            },
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def http(self, name: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url + PREFIX, headers={"Authorization": f"Bearer {self.token(name)}"}
        )

    def caller(self, name: str) -> Caller:
        c = self.clients[name]
        return Caller(c.client_id, ROLE_SCOPES[c.role], c.site_id)

    def fresh_event_ids(self, name: str) -> list[str]:
        """The events ``name`` may see, computed from the database without any cache."""
        with self.factory() as session:
            rows = service.listing(
                session,
                self.caller(name),
                "EVENT",
                filters=store.Filters(program_id=self.program_id),
                target_strings=None,
                target_type=None,
                target_values=None,
                skip=None,
                limit=None,
            )
        return [row["id"] for row in rows]


def _caps(site: str, first: datetime, count: int) -> list[SiteCap]:
    return [
        SiteCap(site, first + timedelta(minutes=15 * k), first + timedelta(minutes=15 * (k + 1)), 5.0)
        for k in range(count)
    ]


@pytest.fixture
def vtn_server(db_url: str, tmp_path: Path) -> Iterator[VtnServer]:
    engine = make_engine(db_url)
    prepare_database(engine)
    factory = make_session_factory(engine)
    build_world(factory)  # operators op1, op2 with sites S1, S2
    with session_scope(factory) as s:
        clients = {
            "bl": create_client(s, "control room", "grid_operator"),
            "S1": create_client(s, "S1 agent", "ven", site_id="S1"),
            "S2": create_client(s, "S2 agent", "ven", site_id="S2"),
        }
    notifier = WebhookNotifier()
    vtn = Vtn(factory, notifier)
    for site in ("S1", "S2"):
        vtn.provision_site(site, zone="LESCO", kind="mining", client_id=clients[site].client_id)
    vtn.publish_caps(_caps("S1", HOUR, 2) + _caps("S2", HOUR, 2), {"S1": "mining", "S2": "mining"})
    program_id = vtn.ensure_programs()["mining"]
    settings = Settings.resolve(env={}, data_dir=str(tmp_path), database_url=db_url, token_secret="t" * 40)
    app = create_app(settings)
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield VtnServer(
            f"http://127.0.0.1:{sock.getsockname()[1]}", app, factory, db_url, clients, program_id
        )
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        notifier.close()
        engine.dispose()


def _poll(http: httpx.Client, program_id: str) -> list[str]:
    r = http.get("/events", params={"programID": program_id})
    assert r.status_code == 200, r.text
    return [event["id"] for event in r.json()]


# --------------------------------------------------------------------------- clients


def test_a_disabled_client_is_refused_within_the_recheck_interval(
    factory: sessionmaker[Session],
) -> None:
    build_world(factory)
    with session_scope(factory) as s:
        ven = create_client(s, "S1 agent", "ven", site_id="S1")
        other = create_client(s, "S2 agent", "ven", site_id="S2")
    clock = FakeClock()
    cache = ClientCache(factory, 5.0, clock=clock)
    record = cache.get(ven.client_id)
    assert record is not None and (record.role, record.site_id) == ("ven", "S1")
    assert record.principal({"scope": "read_targets write_reports bogus"}).scopes == {
        "read_targets",
        "write_reports",
    }
    assert cache.get(other.client_id) is not None and len(cache) == 2
    assert cache.peek(ven.client_id) == record and cache.peek(f"{ven.client_id}x") is None
    with session_scope(factory) as s:
        disable_client(s, ven.client_id)
    clock.now_s += 4.9
    assert cache.get(ven.client_id) is not None  # inside the documented bound
    assert cache.peek(ven.client_id) is not None  # what get would say, without the database
    clock.now_s += 0.1
    assert cache.peek(ven.client_id) is None  # a recheck is due: only get may answer
    assert cache.get(ven.client_id) is None  # at the bound: re-read, refused
    assert cache.peek(ven.client_id) is None and cache.peek(other.client_id) is not None
    assert cache.get(other.client_id) is not None and len(cache) == 1
    assert cache.get("cl_unknown") is None
    # with no interval, every lookup reads the database
    with session_scope(factory) as s:
        disable_client(s, other.client_id)
    assert ClientCache(factory, 0.0).get(other.client_id) is None
    assert ClientCache(factory, 0.0).peek(other.client_id) is None  # nothing is ever known without a read
    with pytest.raises(ValueError, match="recheck_s"):
        ClientCache(factory, -1.0)


def test_the_server_refuses_a_disabled_clients_tokens_after_the_recheck(vtn_server: VtnServer) -> None:
    clock = FakeClock()
    vtn_server.app.state.client_cache = ClientCache(vtn_server.factory, 5.0, clock=clock)
    with vtn_server.http("S1") as ven:
        assert _poll(ven, vtn_server.program_id)
        with session_scope(vtn_server.factory) as s:
            disable_client(s, vtn_server.clients["S1"].client_id)
        assert ven.get("/programs").status_code == 200  # known enabled less than 5 s ago
        clock.now_s += 5.0
        refused = ven.get("/programs")
        assert refused.status_code == 401 and "disabled" in refused.json()["detail"]
    # and no new token, at once
    c = vtn_server.clients["S1"]
    answer = httpx.post(
        vtn_server.url + PREFIX + "/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(c.client_id, c.client_secret),
    )
    assert answer.status_code == 401


def test_the_recheck_interval_is_a_setting() -> None:
    assert Settings.resolve(env={}).auth_recheck_s == 5.0
    assert Settings.resolve(env={"OFFTAKE_AUTH_RECHECK_S": "0"}).auth_recheck_s == 0.0
    assert Settings.resolve(env={}, auth_recheck_s=0.5).auth_recheck_s == 0.5
    from offtake.errors import InputError

    for bad in ("-1", "soon", "inf"):
        with pytest.raises(InputError) as info:
            Settings.resolve(env={"OFFTAKE_AUTH_RECHECK_S": bad})
        assert info.value.field == "OFFTAKE_AUTH_RECHECK_S"


# --------------------------------------------------------------------------- counters


def test_a_committed_write_raises_its_types_counter_once_and_a_rollback_does_not(
    factory: sessionmaker[Session],
) -> None:
    engine = factory.kw["bind"]
    prepare_database(engine)  # a second upgrade seeds no counter twice
    types = store.OBJECT_TYPES

    def counters() -> dict[str, int]:
        with engine.connect() as connection:
            return dict(zip(types, store.read_versions(connection, types), strict=True))

    before = counters()
    assert set(before.values()) == {0}
    program = {"programName": "p-counters"}
    with factory() as session:
        service.create(session, PLATFORM, "PROGRAM", program)
        session.rollback()
    assert counters() == before
    with factory() as session:
        created = service.create(session, PLATFORM, "PROGRAM", program).object
        for name in ("e1", "e2"):
            service.create(session, PLATFORM, "EVENT", {"programID": created["id"], "eventName": name})
        session.commit()
    after = counters()
    assert after == {**before, "PROGRAM": 1, "EVENT": 1}
    with factory() as session:
        service.delete(session, PLATFORM, "PROGRAM", created["id"])
        session.commit()
    assert counters() == {**after, "PROGRAM": 2}


# --------------------------------------------------------------------------- listings


def test_event_searches_follow_every_write_and_keep_privacy(vtn_server: VtnServer) -> None:
    program = vtn_server.program_id
    with vtn_server.http("S1") as s1, vtn_server.http("S2") as s2, vtn_server.http("bl") as bl:

        def check() -> tuple[list[str], list[str]]:
            """Poll twice each; both answers equal a fresh computation from the database."""
            seen = []
            for name, http in (("S1", s1), ("S2", s2)):
                first = _poll(http, program)
                assert _poll(http, program) == first == vtn_server.fresh_event_ids(name)
                seen.append(first)
            return seen[0], seen[1]

        one, two = check()
        assert len(one) == len(two) == 1 and one != two  # each VEN sees only its own caps
        cache: ListingCache = vtn_server.app.state.vtn_listing_cache
        assert cache.hits >= 2

        # a write through this server
        created = bl.post(
            "/events",
            json={"programID": program, "eventName": "for-s1", "targets": ["VEN_NAME:S1"]},
        )
        assert created.status_code == 201, created.text
        new_id = created.json()["id"]
        one, two = check()
        assert new_id in one and new_id not in two

        # a write by another engine on the same database, as another process would make
        other_engine = make_engine(vtn_server.db_url)
        try:
            notifier = WebhookNotifier()
            Vtn(make_session_factory(other_engine), notifier).publish_caps(
                _caps("S2", HOUR + timedelta(hours=3), 1), {"S2": "mining"}
            )
            notifier.close()
        finally:
            other_engine.dispose()
        one_after, two_after = check()
        assert one_after == one and len(two_after) == len(two) + 1

        # what a VEN may see changes when its resources change: an event for a group it is
        # not in stays hidden until the programme gives its resource that group
        hidden = bl.post(
            "/events",
            json={"programID": program, "eventName": "north", "targets": ["GROUP:north"]},
        ).json()["id"]
        one, _ = check()
        assert hidden not in one
        ven_id = bl.get("/vens", params={"targetType": "VEN_NAME", "targetValues": "S1"}).json()[0]["id"]
        added = bl.post(
            "/resources",
            json={
                "clientID": vtn_server.clients["S1"].client_id,
                "resourceName": "S1-north",
                "venID": ven_id,
                "targets": ["GROUP:north"],
            },
        )
        assert added.status_code == 201, added.text
        one, two = check()
        assert hidden in one and hidden not in two

        # deletions
        assert bl.delete(f"/events/{new_id}").status_code == 200
        one, _ = check()
        assert new_id not in one

        # the 3.0.1 dialect is cached apart and keeps its own shape of targets
        with httpx.Client(
            base_url=vtn_server.url + "/openadr3/3.0.1",
            headers={"Authorization": s1.headers["Authorization"]},
        ) as legacy:
            events = legacy.get("/events", params={"programID": program}).json()
            assert [e["id"] for e in events] == one
            assert all(isinstance(t, dict) for e in events for t in e.get("targets", []))
        assert all(isinstance(t, str) for e in s1.get("/events").json() for t in e.get("targets", []))

        # the query is checked before the cache is asked
        assert s1.get("/events", params={"programID": program, "limit": "51"}).status_code == 400
        for bad in ({"skip": "abc"}, {"dateStart": "nope"}, {"active": "maybe"}):
            answer = s1.get("/events", params=bad)
            assert answer.status_code == 400 and next(iter(bad)) in answer.json()["detail"]


def test_listing_cache_bounds_and_versions() -> None:
    cache = ListingCache(max_entries=2, max_bytes=10, max_entry_bytes=6)
    cache.put("a", (1,), b"aaaa")
    assert cache.get("a", (1,)) == b"aaaa" and cache.get("a", (2,)) is None
    cache.put("a", (2,), b"AA")
    cache.put("a", (1,), b"old")  # computed from older counters: does not replace
    assert cache.get("a", (2,)) == b"AA"
    cache.put("b", (1,), b"bbbb")
    cache.put("c", (1,), b"cccc")  # third entry: the least recently used ("a") goes
    assert cache.get("a", (2,)) is None and len(cache) == 2
    cache.put("d", (1,), b"ddddd")  # 4 + 5 bytes fit, 4 + 4 + 5 do not
    assert cache.size_bytes <= 10 and cache.get("d", (1,)) == b"ddddd"
    cache.put("e", (1,), b"x" * 7)  # larger than one entry may be
    assert cache.get("e", (1,)) is None


def test_sqlite_writers_share_one_lock_per_engine(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        lock = writer_lock(engine)
        if engine.dialect.name == "sqlite":
            assert lock is writer_lock(engine)
            assert not isinstance(lock, LockType)  # a thread lock and a file lock for other processes
            with lock:
                assert not lock.acquire(blocking=False)  # type: ignore[attr-defined]
        else:
            with lock:
                with writer_lock(engine):
                    pass  # PostgreSQL locks rows itself: nothing is queued here
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- poll lane


def _poll_lane(app: FastAPI) -> PollLane:
    layer: Any = app.middleware_stack
    while layer is not None:
        if isinstance(layer, PollLane):
            return layer
        layer = getattr(layer, "app", None)
    raise AssertionError("the application has no poll lane")


def test_a_repeated_poll_is_answered_from_memory_exactly_as_the_full_route(vtn_server: VtnServer) -> None:
    program = vtn_server.program_id
    with vtn_server.http("S1") as s1, vtn_server.http("bl") as bl:
        query = {"programID": program}
        first = s1.get("/events", params=query)  # computed on the full route, then kept
        assert first.status_code == 200
        lane = _poll_lane(vtn_server.app)
        before = lane.answered
        etag = first.headers["ETag"]
        again = s1.get("/events", params=query, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
        full = s1.get("/events", params=query)
        assert full.content == first.content
        for header in ("ETag", "Cache-Control", "Vary", "Content-Type", "Content-Length"):
            assert full.headers[header] == first.headers[header]
        # from memory on both databases (on PostgreSQL with the counters of a shared read)
        assert lane.answered == before + 2

        # a write changes the counters: the lane cannot answer, the full route does
        created = bl.post("/events", json={"programID": program, "eventName": "lane", "targets": ["VEN_NAME:S1"]})
        assert created.status_code == 201, created.text
        changed = s1.get("/events", params=query, headers={"If-None-Match": etag})
        assert changed.status_code == 200 and created.json()["id"] in [e["id"] for e in changed.json()]
        assert changed.headers["ETag"] != etag

        # what the lane does not answer gets the full route's answer, errors included
        answered = lane.answered
        forged = httpx.get(vtn_server.url + PREFIX + "/events", headers={"Authorization": "Bearer x.y.z"})
        assert forged.status_code == 401 and "WWW-Authenticate" in forged.headers
        assert s1.get("/events", params={"limit": "51"}).status_code == 400
        with_body = s1.request("GET", "/events", params=query, content=b"{}")
        assert with_body.status_code == 200 and with_body.content == changed.content
        assert lane.answered == answered


def test_a_server_starts_knowing_its_clients_and_a_first_poll_reuses_the_lanes_counters(
    vtn_server: VtnServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = {name: client.client_id for name, client in vtn_server.clients.items()}
    started = vtn_server.app.state.client_cache
    assert all(started.peek(client_id) is not None for client_id in ids.values())  # read at start-up
    cache = vtn_server.app.state.client_cache = ClientCache(vtn_server.factory, 3600.0)
    assert cache.warm() == len(ids) and cache.peek(ids["S1"]) is not None
    with session_scope(vtn_server.factory) as s:
        disable_client(s, ids["S2"])
    assert cache.warm() == len(ids) - 1 and cache.peek(ids["S2"]) is None  # the enabled ones only

    reads: list[tuple[str, ...]] = []
    real = store.read_versions_now

    def counted(engine: Any, object_types: tuple[str, ...]) -> tuple[int, ...]:
        reads.append(object_types)
        return real(engine, object_types)

    monkeypatch.setattr(store, "read_versions_now", counted)
    with vtn_server.http("S1") as s1:
        # the first poll: the lane knows the client and reads the counters, the answer is
        # missing, the full route computes it at the lane's counters without reading them again
        first = s1.get("/events", params={"programID": vtn_server.program_id})
        assert first.status_code == 200 and [e["id"] for e in first.json()] == vtn_server.fresh_event_ids("S1")
        assert reads == []
        # a client the lane does not know: the full route reads the counters itself, same answer
        cache.forget(ids["S1"])
        vtn_server.app.state.vtn_listing_cache = ListingCache()
        again = s1.get("/events", params={"programID": vtn_server.program_id})
        assert again.content == first.content and len(reads) == 1


def test_nowait_versions_read_the_committed_counters(factory: sessionmaker[Session]) -> None:
    engine = factory.kw["bind"]
    reader = store.NowaitVersions(engine)
    if engine.dialect.name != "sqlite":
        assert not reader.enabled and reader.read(("EVENT",)) is None
        return
    with engine.connect() as connection:
        assert reader.read(store.OBJECT_TYPES) == store.read_versions(connection, store.OBJECT_TYPES)
    with factory() as session:
        service.create(session, PLATFORM, "PROGRAM", {"programName": "p-nowait"})
        assert reader.read(("PROGRAM",)) == (0,)  # not committed yet
        session.commit()
    assert reader.read(("PROGRAM",)) == (1,)
    with pytest.raises(RuntimeError, match="no row"):
        reader.read(("NOT_A_TYPE",))
    reader.close()
    assert reader.read(("PROGRAM",)) is None
    assert not store.NowaitVersions(make_engine("sqlite://")).enabled


def test_shared_versions_see_every_commit_made_before_the_read(factory: sessionmaker[Session]) -> None:
    engine = factory.kw["bind"]
    reader = SharedVersions(engine)
    if engine.dialect.name != "postgresql":
        assert not reader.enabled and asyncio.run(reader.read(("EVENT",))) is None
        return

    async def scenario() -> None:
        with engine.connect() as connection:
            assert await reader.read(store.OBJECT_TYPES) == store.read_versions(connection, store.OBJECT_TYPES)
        with factory() as session:
            service.create(session, PLATFORM, "PROGRAM", {"programName": "p-shared"})
            session.flush()
            assert await reader.read(("PROGRAM",)) == (0,)  # not committed yet: never waits for it
            session.commit()
        assert await reader.read(("PROGRAM",)) == (1,)
        # polls arriving together share reads, and each sees what was committed before it came
        sent = reader.reads
        many = await asyncio.gather(*(reader.read(("PROGRAM",)) for _ in range(50)))
        assert many == [(1,)] * 50 and reader.reads - sent <= 2
        with factory() as session:
            service.create(session, PLATFORM, "PROGRAM", {"programName": "p-shared-2"})
            session.commit()
        first = asyncio.ensure_future(reader.read(("PROGRAM",)))
        await asyncio.sleep(0)  # its read is in flight
        assert await reader.read(("PROGRAM",)) == (2,) and await first == (2,)
        with pytest.raises(RuntimeError, match="no row"):
            await reader.read(("NOT_A_TYPE",))
        await reader.aclose()
        assert await reader.read(("PROGRAM",)) is None

    asyncio.run(scenario())


def test_shared_versions_give_way_to_the_full_route_when_the_database_is_unreachable(
    factory: sessionmaker[Session],
) -> None:
    engine = factory.kw["bind"]
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    closed = free_socket()  # bound, never listening: connections to it are refused
    port = closed.getsockname()[1]
    unreachable = make_engine(engine.url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False))
    reader = SharedVersions(unreachable, retry_s=60.0)

    async def scenario() -> None:
        started = time.monotonic()
        assert await reader.read(("EVENT",)) is None
        assert await reader.read(("EVENT",)) is None  # resting: not even tried
        assert time.monotonic() - started < 1.0 and reader.reads == 1
        await reader.aclose()

    try:
        asyncio.run(scenario())
    finally:
        closed.close()
