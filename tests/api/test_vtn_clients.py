"""The VTN against real third-party OpenADR clients, over HTTP on 127.0.0.1.

python-oa3-client acts as a VEN and as a business-logic client, toadr3 reads events and
posts a report, two VENs check each other's privacy, reports land in the metering ledger and
a webhook reaches a small real HTTP receiver.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

pytest.importorskip("offtake.api.app", reason="the platform server is needed")
openadr3_client = pytest.importorskip("openadr3_client")
toadr3 = pytest.importorskip("toadr3")

import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from openadr3_client.bl import BlClient  # noqa: E402
from openadr3_client.ven import VenClient  # noqa: E402
from sqlalchemy import select  # noqa: E402

from offtake.api.app import create_app  # noqa: E402
from offtake.identity.credentials import IssuedClient, create_client  # noqa: E402
from offtake.persistence.schema import Operator, Reading, Site  # noqa: E402
from offtake.registry.setup import prepare_database  # noqa: E402
from offtake.settings import Settings  # noqa: E402
from offtake.vtn.operations import Vtn  # noqa: E402
from offtake.vtn.programme import SiteCap  # noqa: E402

PREFIX = "/openadr3/3.1.0"
SITES = {
    "lhr-mine-1": ("LESCO", "mining"),
    "lhr-mine-2": ("LESCO", "mining"),
    "khi-ai-1": ("KE", "ai"),
}
#: The hour the test caps cover: the last whole hour, so that every interval a test reports on is over
#: whatever the minute the suite runs at (the ledger refuses readings of intervals not yet ended).
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A running VTN with its credentials."""

    def __init__(self, base: str, app: FastAPI, creds: dict[str, IssuedClient], vtn: Vtn) -> None:
        self.base = base
        self.app = app
        self.creds = creds
        self.vtn = vtn

    def ven(self, site: str) -> VenClient:
        cred = self.creds[site]
        return VenClient(
            url=self.base + PREFIX, client_id=cred.client_id, client_secret=cred.client_secret
        ).start()

    def bl(self) -> BlClient:
        cred = self.creds["bl"]
        return BlClient(
            url=self.base + PREFIX, client_id=cred.client_id, client_secret=cred.client_secret
        ).start()

    def readings(self, site: str) -> list[Reading]:
        with self.app.state.session_factory() as session:
            return list(
                session.scalars(
                    select(Reading).where(Reading.site_id == site).order_by(Reading.interval_start)
                )
            )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("vtn")
    settings = Settings.resolve(env={}, data_dir=data_dir, token_secret="s" * 40, webhook_allow_private=True)
    app = create_app(settings)
    prepare_database(app.state.engine)
    factory = app.state.session_factory
    creds: dict[str, IssuedClient] = {}
    with factory() as session:
        session.add(Operator(id="op-1", name="Indus Hash", created_at=datetime.now(UTC)))
        session.flush()
        for site, (zone, kind) in SITES.items():
            session.add(
                Site(
                    id=site,
                    operator_id="op-1",
                    zone=zone,
                    kind=kind,
                    connection_w=50_000_000,  # bounds what a reading may show
                    created_at=datetime.now(UTC),
                )
            )
        session.flush()
        creds["bl"] = create_client(session, "control room", "grid_operator")
        for site in SITES:
            creds[site] = create_client(session, f"agent {site}", "ven", site_id=site)
        session.commit()
    from offtake.vtn.notify import WebhookNotifier

    notifier = WebhookNotifier(allow_private=True)
    app.state.vtn_notifier = notifier
    vtn = Vtn(factory, notifier)
    for site, (zone, kind) in SITES.items():
        vtn.provision_site(site, zone=zone, kind=kind, client_id=creds[site].client_id)
    caps = [
        SiteCap(
            site, HOUR + timedelta(minutes=15 * i), HOUR + timedelta(minutes=15 * (i + 1)), 10.0 + i
        )
        for site in SITES
        for i in range(4)
    ]
    vtn.publish_caps(caps, {site: kind for site, (_, kind) in SITES.items()})
    port = _free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield Server(f"http://127.0.0.1:{port}", app, creds, vtn)
    uv.should_exit = True
    thread.join(timeout=10)
    notifier.close()


def _usage_report(
    event_id: str, site: str, start: datetime, energy_wh: list[int]
) -> dict[str, Any]:
    return {
        "eventID": event_id,
        "clientName": site,
        "reportName": None,
        "payloadDescriptors": [
            {
                "objectType": "REPORT_PAYLOAD_DESCRIPTOR",
                "payloadType": "USAGE",
                "readingType": "DIRECT_READ",
                "units": "WH",
            }
        ],
        "resources": [
            {
                "resourceName": site,
                "intervalPeriod": {"start": start.isoformat(), "duration": "PT15M"},
                "intervals": [
                    {"id": i, "payloads": [{"type": "USAGE", "values": [value]}]}
                    for i, value in enumerate(energy_wh)
                ],
            }
        ],
    }


def test_discovery_and_token_by_basic_and_form(server: Server) -> None:
    info = httpx.get(server.base + PREFIX + "/auth/server").json()
    assert info["tokenURL"] == server.base + PREFIX + "/auth/token"
    cred = server.creds["lhr-mine-1"]
    by_form = httpx.post(
        info["tokenURL"],
        data={
            "grant_type": "client_credentials",
            "client_id": cred.client_id,
            "client_secret": cred.client_secret,
        },
    )
    by_basic = httpx.post(
        info["tokenURL"],
        data={"grant_type": "client_credentials", "scope": "read_targets write_reports"},
        auth=(cred.client_id, cred.client_secret),
    )
    assert by_form.status_code == 200 and by_basic.status_code == 200
    assert isinstance(by_basic.json()["scope"], str)
    assert set(by_basic.json()["scope"].split()) == {"read_targets", "write_reports"}
    wrong = httpx.post(
        info["tokenURL"], data={"grant_type": "client_credentials"}, auth=(cred.client_id, "nope")
    )
    assert wrong.status_code == 401


def test_ven_registers_reads_its_caps_and_reports_usage_into_the_ledger(server: Server) -> None:
    ven = server.ven("lhr-mine-1")
    try:
        ven.register("lhr-mine-1")
        ven_obj = ven.api.ven(ven.ven_id)
        assert ven_obj.client_id == server.creds["lhr-mine-1"].client_id
        events = ven.poll_events("surplus-mining")
        assert [e.event_name for e in events] == [f"cap-lhr-mine-1-{HOUR:%Y%m%dT%H%MZ}"]
        event = events[0]
        assert [i.payloads[0].values[0] for i in event.intervals] == [10.0, 11.0, 12.0, 13.0]
        assert event.payload_descriptors[0].units == "MW"
        assert event.resolved_intervals()[3].interval_period.start == HOUR + timedelta(minutes=45)

        start = HOUR - timedelta(hours=1)
        response = ven.create_report(
            _usage_report(event.id, "lhr-mine-1", start, [2_400_000, 2_500_000])
        )
        assert response.status_code == 201, response.text
        report = response.json()
        assert report["clientID"] == server.creds["lhr-mine-1"].client_id
        assert report["createdDateTime"].endswith("Z")
        rows = server.readings("lhr-mine-1")
        assert [(r.interval_start, r.energy_wh) for r in rows] == [
            (start, 2_400_000),
            (start + timedelta(minutes=15), 2_500_000),
        ]
        # the same intervals again are refused by the ledger, and nothing is stored
        again = ven.create_report(_usage_report(event.id, "lhr-mine-1", start, [1, 1]))
        assert again.status_code in (400, 409), again.text
        assert len(ven.api.reports()) == 1
        naive = _usage_report(event.id, "lhr-mine-1", start, [5])
        naive["resources"][0]["intervalPeriod"]["start"] = "2026-03-01T00:00:00"
        refused = ven.create_report(naive)
        assert refused.status_code == 400
        assert "timezone" in refused.json()["detail"]
    finally:
        ven.stop()


def test_business_logic_client_writes_programs_and_events(server: Server) -> None:
    bl = server.bl()
    try:
        names = {p.program_name for p in bl.programs()}
        assert {"surplus-mining", "surplus-ai"} <= names
        created = bl.create_program(
            {"programName": "trial-flex", "intervalPeriod": None, "targets": None}
        )
        assert created.status_code == 201
        program_id = created.json()["id"]
        assert bl.create_program({"programName": "trial-flex"}).status_code == 409
        event = bl.create_event(
            {
                "programID": program_id,
                "eventName": "price-test",
                "targets": ["VEN_NAME:khi-ai-1"],
                "intervalPeriod": {"start": HOUR.isoformat(), "duration": "PT1H"},
                "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [0.07]}]}],
            }
        )
        assert event.status_code == 201, event.text
        event_id = event.json()["id"]
        assert [e.id for e in bl.events(programID=program_id)] == [event_id]
        page = bl.get_events(skip=0, limit=2).json()
        assert len(page) == 2
        assert bl.get_events(limit=51).status_code == 400
        updated = bl.update_event(event_id, {**event.json(), "eventName": "price-test-2"})
        assert updated.json()["eventName"] == "price-test-2"
        deleted = bl.delete_event(event_id)
        assert deleted.status_code == 200 and deleted.json()["id"] == event_id
        assert bl.get_event_by_id(event_id).status_code == 404
        # every report is readable by the business logic, by id
        reports = bl.reports()
        assert reports and bl.report(reports[0].id).id == reports[0].id
    finally:
        bl.stop()


def test_object_privacy_between_two_vens(server: Server) -> None:
    one, two = server.ven("lhr-mine-1"), server.ven("lhr-mine-2")
    try:
        one_events = {e.id for e in one.api.events()}
        two_events = {e.id for e in two.api.events()}
        assert one_events and two_events and not one_events & two_events
        foreign = next(iter(one_events))
        assert two.api.get_event_by_id(foreign).status_code == 404
        assert [v.ven_name for v in two.api.vens()] == ["lhr-mine-2"]
        assert two.api.reports() == []
        one_ven = one.api.find_ven_by_name("lhr-mine-1")
        assert one_ven is not None
        assert two.api.get_ven_by_id(one_ven.id).status_code == 404
        # a VEN may not report on another VEN's event, nor write events
        report = two.api.create_report(_usage_report(foreign, "lhr-mine-2", HOUR, [1]))
        assert report.status_code == 409
        assert two.api.create_event({"programID": "x"}).status_code == 403
        # a VEN bound to a site registers under that site's name only
        assert (
            two.api.create_ven(
                {"objectType": "VEN_VEN_REQUEST", "venName": "lhr-mine-1"}
            ).status_code
            == 403
        )
        assert httpx.get(server.base + PREFIX + "/events").status_code == 401
        assert (
            httpx.get(
                server.base + PREFIX + "/events", headers={"Authorization": "Bearer forged"}
            ).status_code
            == 401
        )
    finally:
        one.stop()
        two.stop()


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Receiver.received.append((self.headers.get("Authorization", ""), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_webhook_subscription_is_called_when_caps_change(server: Server) -> None:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/notify"
    ven = server.ven("lhr-mine-2")
    try:
        program_id = ven.resolve_program_id("surplus-mining")
        created = ven.create_subscription(
            {
                "clientName": "lhr-mine-2",
                "programID": program_id,
                "objectOperations": [
                    {
                        "objects": ["EVENT"],
                        "operations": ["CREATE", "UPDATE"],
                        "callbackUrl": url,
                        "bearerToken": "hook-secret",
                    }
                ],
            }
        )
        assert created.status_code == 201, created.text
        assert created.json()["clientID"] == server.creds["lhr-mine-2"].client_id
        # new caps for both mining sites: only lhr-mine-2's event reaches lhr-mine-2's hook
        later = HOUR + timedelta(hours=2)
        server.vtn.publish_caps(
            [
                SiteCap(site, later, later + timedelta(minutes=15), 3.0)
                for site in ("lhr-mine-1", "lhr-mine-2")
            ],
            {"lhr-mine-1": "mining", "lhr-mine-2": "mining"},
        )
        deadline = time.monotonic() + 10
        while not _Receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert len(_Receiver.received) == 1
        token, note = _Receiver.received[0]
        assert token == "Bearer hook-secret"
        assert note["objectType"] == "EVENT" and note["operation"] == "CREATE"
        assert note["object"]["targets"][0] == "VEN_NAME:lhr-mine-2"
        assert note["object"]["intervals"][0]["payloads"] == [
            {"type": "IMPORT_CAPACITY_LIMIT", "values": [3.0]}
        ]
        subs = ven.subscriptions()
        assert [s.id for s in subs] == [created.json()["id"]]
        assert ven.delete_subscription(created.json()["id"]).json()["id"] == created.json()["id"]
    finally:
        ven.stop()
        receiver.shutdown()
        receiver.server_close()


def test_toadr3_reads_events_and_posts_a_report(server: Server) -> None:
    cred = server.creds["khi-ai-1"]
    base = server.base + "/openadr3/3.0.1"

    async def scenario() -> tuple[list[Any], Any]:
        config = toadr3.OAuthScopeConfig(
            token_url=base + "/auth/token",
            grant_type="client_credentials",
            scope="read_targets write_reports",
            client_id=cred.client_id,
            client_secret=cred.client_secret,
        )
        async with toadr3.ToadrClient(base, config) as client:
            programs = await client.get_programs()
            ai = next(p for p in programs if p.program_name == "surplus-ai")
            events = await client.get_events(program_id=ai.id)
            report = toadr3.models.Report.create_report(
                events[0], client_name="khi-ai-1", report_type="USAGE", report_values=[1_000_000]
            )
            posted = await client.post_report(report)
            return events, posted

    events, posted = asyncio.run(scenario())
    assert len(events) == 1 and events[0].intervals[0].payloads[0].values == [10.0]
    assert posted.client_name == "khi-ai-1"
    rows = server.readings("khi-ai-1")
    # the report covers the event's first 15-minute interval
    assert [(r.interval_start, r.interval_end, r.energy_wh) for r in rows] == [
        (HOUR, HOUR + timedelta(minutes=15), 1_000_000)
    ]


def test_subscription_urls_are_checked_and_tokens_stay_with_their_owner(server: Server) -> None:
    def client(name: str) -> httpx.Client:
        cred = server.creds[name]
        token = httpx.post(
            server.base + PREFIX + "/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(cred.client_id, cred.client_secret),
        ).json()["access_token"]
        return httpx.Client(base_url=server.base + PREFIX, headers={"Authorization": f"Bearer {token}"})

    def body(url: str) -> dict[str, Any]:
        return {
            "clientName": "lhr-mine-1",
            "objectOperations": [
                {"objects": ["REPORT"], "operations": ["CREATE"], "callbackUrl": url, "bearerToken": "ven-only"}
            ],
        }

    with client("lhr-mine-1") as ven, client("lhr-mine-2") as other, client("bl") as bl:
        for url in ("file:///etc/passwd", "gopher://127.0.0.1:70/x"):
            refused = ven.post("/subscriptions", json=body(url))
            assert refused.status_code == 400, refused.text
            assert "objectOperations[0].callbackUrl" in refused.json()["detail"]
        created = ven.post("/subscriptions", json=body("http://127.0.0.1:9/hook"))  # loopback allowed here
        assert created.status_code == 201, created.text
        sub_id = created.json()["id"]
        try:
            assert ven.get(f"/subscriptions/{sub_id}").json()["objectOperations"][0]["bearerToken"] == "ven-only"
            seen = bl.get(f"/subscriptions/{sub_id}").json()
            assert seen["objectOperations"][0]["callbackUrl"] and "bearerToken" not in seen["objectOperations"][0]
            listed = [s for s in bl.get("/subscriptions").json() if s["id"] == sub_id]
            assert listed and "ven-only" not in json.dumps(listed)
            missing = other.get(f"/subscriptions/{sub_id}")
            assert missing.status_code == 404
            assert missing.json()["detail"] == other.get("/subscriptions/no-such-id").json()["detail"].replace(
                "no-such-id", sub_id
            )
        finally:
            assert ven.delete(f"/subscriptions/{sub_id}").status_code == 200


def _http(server: Server, name: str, dialect: str = "3.1.0") -> httpx.Client:
    """A plain HTTP client of the VTN in ``dialect``, with a token of client ``name``."""
    cred = server.creds[name]
    token = httpx.post(
        server.base + PREFIX + "/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(cred.client_id, cred.client_secret),
    ).json()["access_token"]
    return httpx.Client(
        base_url=f"{server.base}/openadr3/{dialect}", headers={"Authorization": f"Bearer {token}"}
    )


def test_401_answers_carry_a_bearer_challenge(server: Server) -> None:
    for path in ("/openadr3/3.1.0/events", "/openadr3/3.0.1/programs", "/api/v1/sites"):
        bare = httpx.get(server.base + path)
        assert bare.status_code == 401, path
        assert bare.headers["www-authenticate"] == 'Bearer realm="offtake"', path
        forged = httpx.get(server.base + path, headers={"Authorization": "Bearer not.a.token"})
        assert forged.status_code == 401, path
        challenge = forged.headers["www-authenticate"]
        assert challenge.startswith('Bearer realm="offtake", error="invalid_token", error_description="'), path
    wrong = httpx.post(
        server.base + PREFIX + "/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(server.creds["lhr-mine-1"].client_id, "wrong"),
    )
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith('Basic realm="offtake"')
    spec = httpx.get(server.base + "/openapi.json").json()
    for path in ("/openadr3/3.1.0/events", "/api/v1/sites"):
        assert "WWW-Authenticate" in spec["paths"][path]["get"]["responses"]["401"]["headers"], path


def test_a_guide_style_report_takes_its_events_period_and_a_retry_is_the_same_report(server: Server) -> None:
    with _http(server, "lhr-mine-2") as ven:
        program = ven.get("/programs", params={"targetType": "PROGRAM_NAME", "targetValues": "surplus-mining"})
        events = ven.get("/events", params={"programID": program.json()[0]["id"]}).json()
        event = next(e for e in events if e["eventName"].startswith("cap-lhr-mine-2-"))
        body = {
            "objectType": "REPORT",
            "programID": event["programID"],
            "eventID": event["id"],
            "clientName": "lhr-mine-2",
            "reportName": "usage",
            "payloadDescriptors": [
                {
                    "objectType": "REPORT_PAYLOAD_DESCRIPTOR",
                    "payloadType": "USAGE",
                    "readingType": "DIRECT_READ",
                    "units": "KWH",
                }
            ],
            "resources": [
                {
                    "resourceName": "lhr-mine-2",
                    "intervals": [{"id": 0, "payloads": [{"type": "USAGE", "values": [1200]}]}],
                }
            ],
        }
        created = ven.post("/reports", json=body)
        assert created.status_code == 201, created.text
        retried = ven.post("/reports", json=body)
        assert retried.status_code == 201, retried.text
        assert retried.json() == created.json()
        assert [r["id"] for r in ven.get("/reports").json()].count(created.json()["id"]) == 1
        assert len(ven.get("/reports", params={"eventID": event["id"]}).json()) == 1
    start = datetime.fromisoformat(event["intervalPeriod"]["start"])
    assert [(r.interval_start, r.interval_end, r.energy_wh) for r in server.readings("lhr-mine-2")] == [
        (start, start + timedelta(minutes=15), 1_200_000)
    ]


class _Receiver30(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        _Receiver30.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_301_subscriber_gets_30_targets_in_its_webhooks(server: Server) -> None:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver30)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/notify"
    hook = {"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": url}
    try:
        with _http(server, "lhr-mine-1", "3.0.1") as ven:
            created = ven.post("/subscriptions", json={"clientName": "lhr-mine-1", "objectOperations": [hook]})
            assert created.status_code == 201, created.text
            later = HOUR + timedelta(hours=3)
            server.vtn.publish_caps(
                [SiteCap("lhr-mine-1", later, later + timedelta(minutes=15), 4.0)], {"lhr-mine-1": "mining"}
            )
            deadline = time.monotonic() + 10
            while not _Receiver30.received and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ven.delete(f"/subscriptions/{created.json()['id']}").status_code == 200
        assert len(_Receiver30.received) == 1
        note = _Receiver30.received[0]
        assert all(isinstance(target, dict) for target in note["targets"]), note["targets"]
        assert {"type": "VEN_NAME", "values": ["lhr-mine-1"]} in note["targets"]
        assert note["object"]["targets"] == note["targets"]
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_a_ven_may_not_take_another_sites_name(server: Server) -> None:
    with _http(server, "lhr-mine-1") as ven:
        taken = ven.post("/vens", json={"objectType": "VEN_VEN_REQUEST", "venName": "khi-ai-1"})
        assert taken.status_code == 403, taken.text
        assert "another site" in taken.json()["detail"] and "'lhr-mine-1'" in taken.json()["detail"]
        free = ven.post("/vens", json={"objectType": "VEN_VEN_REQUEST", "venName": "conformance-ven-1"})
        assert free.status_code == 201, free.text
        assert free.json()["targets"] == ["VEN_NAME:lhr-mine-1"]
        assert ven.delete(f"/vens/{free.json()['id']}").status_code == 200
