"""The live dispatch driver on real databases: registry in, caps out (ledger, reasons, OpenADR).

The rounds are driven by hand at given instants (no clock, no sleeping): the three-zone
test scenario replayed as the grid feed, three sites from its allocation file under real
licences. Expected caps come from the dispatch core itself, fed by hand from the same
allocation file and the same feed, so the driver is checked against the core's rules.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from platform_fixtures import database_url, free_socket, principal
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from offtake.api.app import create_app
from offtake.billing.reconcile import reconcile_site
from offtake.dispatch import Dispatcher, GridState, SiteState, read_allocation
from offtake.identity.credentials import IssuedClient, create_client
from offtake.identity.principal import Principal
from offtake.ledger import MeterReading, ingest_readings
from offtake.live.driver import LiveDispatch, RoundOutcome, interval_bounds
from offtake.live.feed import ScenarioReplayFeed, open_feed
from offtake.live.records import DispatchCap, DispatchRound, GridEmergency, effective_end
from offtake.live.terms import usage_this_year
from offtake.persistence.db import session_scope
from offtake.persistence.schema import AuditEvent, Cap
from offtake.registry import allocations, contracts, licences, sites
from offtake.settings import Settings
from offtake.vtn.notify import WebhookNotifier
from offtake.vtn.operations import Vtn

DATA = Path(__file__).parents[1] / "data"
SCENARIO = DATA / "three-zone"
ALLOCATION = DATA / "allocations" / "three-zone.csv"
FEED = f"scenario:{SCENARIO}"
#: Inside the three-zone scenario's week (2025-01-06 .. 2025-01-12, hourly).
T0 = datetime(2025, 1, 6, tzinfo=UTC)
NOON = T0 + timedelta(hours=12)
SITE_LICENCE = {"mine-south-1": ("op-a", "La"), "mine-north-1": ("op-b", "Lb"), "ai-city-1": ("op-c", "Lc")}


@pytest.fixture(scope="module")
def feed() -> ScenarioReplayFeed:
    loaded = open_feed(FEED)
    assert isinstance(loaded, ScenarioReplayFeed)
    return loaded


@dataclass
class Programme:
    factory: sessionmaker[Session]
    live: LiveDispatch
    grid: Principal
    regulator: Principal


def build_programme(factory: sessionmaker[Session], live_vtn: Vtn | None, feed: ScenarioReplayFeed) -> Programme:
    regulator = principal("regulator", "reg")
    grid = principal("grid_operator", "grid")
    with session_scope(factory) as s:
        for op, kind, lic in (("op-a", "mining", "La"), ("op-b", "mining", "Lb"), ("op-c", "ai_data_centre", "Lc")):
            sites.create_operator(s, regulator, op, f"Operator {op}")
            licences.apply_for_licence(s, regulator, operator_id=op, kind_id=kind, licence_id=lic, at=T0)
            licences.transition_licence(s, regulator, lic, "approved", at=T0)
            licences.transition_licence(s, regulator, lic, "active", at=T0)
        allocations.import_allocation(s, grid, ALLOCATION, valid_from=T0)
        for site, (_, lic) in SITE_LICENCE.items():
            sites.attach_licence(s, grid, site, lic)
        contracts.create_contract(
            s,
            grid,
            site_id="mine-south-1",
            valid_from=T0,
            tariff_usd_per_mwh="80",
            firm_mw=0.0,
            interruptible_mw=150.0,
            max_curtailment_fraction=1.0,
            max_curtailment_duration_h=24.0,
            annual_curtailment_limit=0.05,
            response_time_s=30.0,
            overdraw_tolerance_fraction=0.02,
            overdraw_penalty_usd_per_mwh="200",
            exchange_rate_pkr_per_usd="280",
        )
    return Programme(factory, LiveDispatch(factory, feed, 300, live_vtn), grid, regulator)


@pytest.fixture
def programme(factory: sessionmaker[Session], feed: ScenarioReplayFeed) -> Programme:
    return build_programme(factory, None, feed)


def report_draw(factory: sessionmaker[Session], site: str, start: datetime, mw: float, minutes: int = 5) -> None:
    """A site's meter reports ``mw`` over ``[start, start + minutes)``."""
    end = start + timedelta(minutes=minutes)
    with session_scope(factory) as s:
        ingest_readings(
            s,
            principal("grid_operator", "grid"),
            [MeterReading(site, "m1", start, end, round(mw * 1e6 * minutes / 60))],
        )


def expected_caps(
    feed: ScenarioReplayFeed,
    start: datetime,
    draw_mw: dict[str, float],
    inactive: frozenset[str] = frozenset(),
    emergency_national: bool = False,
    *,
    outside: frozenset[str] = frozenset(),
    protected: frozenset[str] = frozenset(),
) -> dict[str, tuple[float, str]]:
    """The core's caps computed by hand from the allocation file and the same feed."""
    from offtake.dispatch import DispatchPolicy, Reason

    contracts_ = read_allocation(ALLOCATION, feed.zone_ids)
    policy = DispatchPolicy.default(
        interval_s=300.0,
        largest_unit_mw=feed.largest_unit_mw,
        reference_tariff_usd_per_mwh=feed.reference_tariff_usd_per_mwh,
    )
    forecast = feed.surplus_at(start, start + timedelta(minutes=5))
    state = SiteState.initial(contracts_, policy, draw_mw=np.array([draw_mw.get(s, 0.0) for s in contracts_.site_ids]))
    state.licence_active = np.array([s not in inactive for s in contracts_.site_ids])
    state.in_contract = np.array([s not in outside for s in contracts_.site_ids])
    state.protected = np.array([s in protected for s in contracts_.site_ids])
    result = Dispatcher(contracts_, policy).step(
        GridState(
            forecast.surplus_forecast_mw,
            forecast.surplus_sigma_mw,
            national_limit_mw=forecast.national_forecast_mw,
            national_sigma_mw=forecast.national_sigma_mw,
            emergency_national=emergency_national,
        ),
        state,
    )
    return {
        s: (float(result.cap_mw[i]), Reason(int(result.reason[i])).name.lower())
        for i, s in enumerate(contracts_.site_ids)
    }


def caps_of(outcome: RoundOutcome) -> dict[str, tuple[float, str]]:
    return {c.site_id: (c.cap_w / 1e6, c.reason) for c in outcome.caps}


def assert_same(got: dict[str, tuple[float, str]], want: dict[str, tuple[float, str]]) -> None:
    assert got.keys() == want.keys()
    for site, (mw, reason) in want.items():
        assert got[site][0] == pytest.approx(mw, abs=1e-4), site  # readings are whole Wh
        assert got[site][1] == reason, site


# ---------------------------------------------------------------------- the feed


def test_feed_replays_the_assessed_surplus_by_calendar_and_in_a_loop(feed: ScenarioReplayFeed) -> None:
    from offtake import scenario
    from offtake.surplus import assess_surplus

    s = scenario.load(SCENARIO)
    zone = assess_surplus(s).zone_mw[list(feed.zone_ids)]
    # An hour-long interval reads the scenario hour itself (its mean sits at the midpoint).
    at = s.index[30].to_pydatetime()
    got = feed.surplus_at(at, at + timedelta(hours=1))
    np.testing.assert_allclose(got.surplus_forecast_mw, zone.iloc[30].to_numpy())
    assert np.all(got.surplus_sigma_mw > 0) and got.national_forecast_mw is not None
    # A week-long scenario is replayed in a loop: a year later is not the same hour, 52 weeks are.
    later = at + timedelta(weeks=52)
    np.testing.assert_allclose(
        feed.surplus_at(later, later + timedelta(hours=1)).surplus_forecast_mw, got.surplus_forecast_mw
    )
    with pytest.raises(Exception, match="time zone"):
        feed.surplus_at(at.replace(tzinfo=None), at.replace(tzinfo=None) + timedelta(hours=1))


def test_feed_maps_a_full_year_by_month_day_and_hour() -> None:
    import pandas as pd

    index = pd.date_range("2024-06-30T19:00Z", periods=8760, freq="h")
    values = np.arange(8760, dtype=float)[:, None]
    year = ScenarioReplayFeed(
        "scenario:year", index, 3600, values, None, np.ones_like(values), ("z",),
        demand_error_rel_sigma=0.03, hourly_persistence=0.9, largest_unit_mw=None, reference_tariff_usd_per_mwh=70.0,
    )  # fmt: skip
    at = datetime(2031, 3, 10, 7, tzinfo=UTC)
    want = index.get_loc(pd.Timestamp("2025-03-10T07:00Z"))
    assert year.surplus_at(at, at + timedelta(hours=1)).surplus_forecast_mw[0] == want
    leap = datetime(2028, 2, 29, 7, tzinfo=UTC)
    assert year.surplus_at(leap, leap + timedelta(hours=1)).surplus_forecast_mw[0] == index.get_loc(
        pd.Timestamp("2025-02-28T07:00Z")
    )
    assert year.surplus_at(at, at + timedelta(hours=1)).national_forecast_mw is None
    with pytest.raises(Exception, match="grid feed"):
        open_feed("scada:somewhere")


def test_interval_bounds_align_to_the_utc_clock() -> None:
    start, end = interval_bounds(datetime(2025, 1, 6, 17, 7, 31, tzinfo=UTC), 300)
    assert (start, end) == (datetime(2025, 1, 6, 17, 5, tzinfo=UTC), datetime(2025, 1, 6, 17, 10, tzinfo=UTC))
    with pytest.raises(Exception, match="dividing a day"):
        LiveDispatch(sessionmaker(), None, 7, None)
    with pytest.raises(Exception, match="OFFTAKE_DISPATCH_INTERVAL_S"):
        Settings.resolve(env={"OFFTAKE_DISPATCH_INTERVAL_S": "7"})


# ---------------------------------------------------------------------- rounds


def test_round_follows_the_core_stores_reasons_and_is_not_redone(
    programme: Programme, feed: ScenarioReplayFeed
) -> None:
    live, factory = programme.live, programme.factory
    # No reading yet: every site starts from zero and ramps.
    first = live.run_round(NOON + timedelta(seconds=40))
    assert first.created and first.round.interval_start == NOON
    assert_same(caps_of(first), expected_caps(feed, NOON, {}))
    assert {c.draw_source for c in first.caps} == {"none"}
    # Meters report full draw: the next round's caps are the core's from those draws.
    start = NOON + timedelta(minutes=5)
    draws = {"mine-south-1": 70.0, "mine-north-1": 45.0, "ai-city-1": 20.0}
    for site, mw in draws.items():
        report_draw(factory, site, NOON, mw)
    second = live.run_round(start)
    assert_same(caps_of(second), expected_caps(feed, start, draws))
    for cap in second.caps:
        assert cap.cap_w <= cap.allocation_w and cap.draw_source == "reading"
        # the mean of a whole-Wh reading: energy [Wh] x 12 per hour
        assert cap.last_draw_w == round(round(draws[cap.site_id] * 1e6 * 5 / 60) * 12)
    # Zone totals stay within what the zone can deliver after the margin.
    budgets = second.round.detail["zone_budget_w"]
    for zone in feed.zone_ids:
        assert sum(c.cap_w for c in second.caps if c.zone == zone) <= budgets[zone] + 1
    # The same interval again is the stored round, not a new one.
    again = live.run_round(start + timedelta(minutes=4))
    assert not again.created and caps_of(again) == caps_of(second)
    with factory() as s:
        stored = {(c.site_id, c.interval_start): c.cap_w for c in s.scalars(select(Cap))}
        assert stored[("mine-south-1", start)] == round(caps_of(second)["mine-south-1"][0] * 1e6)
        assert len(stored) == 6
        audit = s.scalars(select(AuditEvent).where(AuditEvent.action == "dispatch.round")).all()
        assert len(audit) == 2 and audit[1].detail["reasons"] == dict(
            sorted({r: sum(1 for c in second.caps if c.reason == r) for r in {c.reason for c in second.caps}}.items())
        )


def test_a_suspended_licence_gets_zero(programme: Programme, feed: ScenarioReplayFeed) -> None:
    factory, live = programme.factory, programme.live
    for site in SITE_LICENCE:
        report_draw(factory, site, NOON - timedelta(minutes=5), 40.0)
    with session_scope(factory) as s:
        licences.transition_licence(
            s, programme.regulator, "Lb", "suspended", reason="unpaid", at=NOON - timedelta(minutes=1)
        )
    outcome = live.run_round(NOON)
    caps = {c.site_id: c for c in outcome.caps}
    assert caps["mine-north-1"].cap_w == 0 and caps["mine-north-1"].reason == "suspended"
    assert "suspended" in caps["mine-north-1"].note
    draws = dict.fromkeys(SITE_LICENCE, 40.0)
    assert_same(caps_of(outcome), expected_caps(feed, NOON, draws, inactive=frozenset({"mine-north-1"})))
    assert caps["mine-south-1"].cap_w > 0


def test_emergency_takes_miners_to_zero_and_ai_to_its_floor_then_clears(
    programme: Programme, feed: ScenarioReplayFeed
) -> None:
    factory, live, grid = programme.factory, programme.live, programme.grid
    for site in SITE_LICENCE:
        report_draw(factory, site, NOON - timedelta(minutes=5), 45.0)
    live.run_round(NOON)
    declared = NOON + timedelta(minutes=2)
    emergency, outcome = live.declare_emergency(grid, zone=None, message="loss of 1,100 MW", at=declared)
    assert outcome is not None and outcome.round.interval_start == NOON + timedelta(minutes=5)
    caps = {c.site_id: c for c in outcome.caps}
    assert caps["mine-south-1"].cap_w == 0 and caps["mine-south-1"].reason == "emergency"
    assert caps["mine-north-1"].cap_w == 0 and caps["mine-north-1"].reason == "emergency"
    # AI floor: 50 MW x (1 - 0.3) = 35 MW, below its 45 MW draw.
    assert caps["ai-city-1"].cap_w == 35_000_000 and caps["ai-city-1"].reason == "contract_floor"
    assert_same(
        caps_of(outcome),
        expected_caps(feed, NOON + timedelta(minutes=5), dict.fromkeys(SITE_LICENCE, 45.0), emergency_national=True),
    )
    assert sorted(emergency.site_ids) == sorted(SITE_LICENCE)
    # A zonal emergency elsewhere leaves other zones alone.
    with pytest.raises(Exception, match="unknown zone"):
        live.declare_emergency(grid, zone="atlantis", message="x", at=declared)
    # Cleared: the next round is dispatched without it.
    cleared = live.clear_emergency(grid, emergency.id, at=NOON + timedelta(minutes=7))
    assert cleared.cleared_by == "grid"
    later = live.run_round(NOON + timedelta(minutes=10))
    assert "emergency" not in {c.reason for c in later.caps}
    with factory() as s:
        actions = [a.action for a in s.scalars(select(AuditEvent).where(AuditEvent.object_type == "emergency"))]
        assert actions == ["emergency.declare", "emergency.clear"]
        stored = s.get(GridEmergency, emergency.id)
        assert stored is not None
        assert effective_end(stored) == NOON + timedelta(minutes=7)
    with pytest.raises(Exception, match="may not declare"):
        live.declare_emergency(principal("operator", "c-op", "op-a"), zone=None, message="x", at=declared)


def test_reconciliation_uses_the_recorded_cap(programme: Programme) -> None:
    factory, live = programme.factory, programme.live
    outcome = live.run_round(NOON)
    cap_w = next(c.cap_w for c in outcome.caps if c.site_id == "mine-south-1")
    assert 0 < cap_w < 150_000_000
    # The site draws 150 MW for the 5 minutes its cap was lower.
    energy_wh = 150 * 1_000_000 * 5 // 60
    report_draw(factory, "mine-south-1", NOON, 150.0)
    with factory() as s:
        result = reconcile_site(s, programme.grid, "mine-south-1", NOON, NOON + timedelta(minutes=5))
    [interval] = result.intervals
    assert interval.cap_source == "cap"
    assert interval.allowed_wh == cap_w * 5 // 60
    assert interval.overdraw_wh == energy_wh - interval.allowed_wh > 0
    assert result.penalty_micro_usd == round(interval.overdraw_wh * 200)


# ---------------------------------------------------------------------- over HTTP, with a real VEN


@dataclass
class Served:
    url: str
    app: FastAPI
    programme: Programme
    clients: dict[str, IssuedClient]

    def http(self, name: str) -> httpx.Client:
        c = self.clients[name]
        r = httpx.post(
            f"{self.url}/api/v1/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(c.client_id, c.client_secret),
        )
        assert r.status_code == 200, r.text
        return httpx.Client(
            base_url=f"{self.url}/api/v1", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
        )


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, feed: ScenarioReplayFeed
) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("dispatch")
    for url in database_url(request.param, folder):
        settings = Settings.resolve(env={}, data_dir=str(folder), database_url=url, token_secret="t" * 40)
        app = create_app(settings)
        from offtake.registry.setup import prepare_database

        prepare_database(app.state.engine)
        factory = app.state.session_factory
        notifier = WebhookNotifier()
        app.state.vtn_notifier = notifier
        vtn = Vtn(factory, notifier)
        programme = build_programme(factory, vtn, feed)
        app.state.live_dispatch = programme.live
        with session_scope(factory) as s:
            clients = {
                "grid": create_client(s, "control room", "grid_operator"),
                "regulator": create_client(s, "regulator", "regulator"),
                "op-a": create_client(s, "op-a staff", "operator", operator_id="op-a"),
                "op-b": create_client(s, "op-b staff", "operator", operator_id="op-b"),
                "ven-south": create_client(s, "south agent", "ven", site_id="mine-south-1"),
                "ven-ai": create_client(s, "ai agent", "ven", site_id="ai-city-1"),
            }
        vtn.provision_site("mine-south-1", zone="south", kind="mining", client_id=clients["ven-south"].client_id)
        vtn.provision_site("ai-city-1", zone="city", kind="ai", client_id=clients["ven-ai"].client_id)
        sock = free_socket()
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
            time.sleep(0.02)
        try:
            yield Served(f"http://127.0.0.1:{sock.getsockname()[1]}", app, programme, clients)
        finally:
            server.should_exit = True
            thread.join(15)
            sock.close()
            notifier.close()


def test_a_third_party_ven_reads_its_caps_in_mw(served: Served) -> None:
    from openadr3_client.ven import VenClient

    # Dispatch an interval that has not ended, so the round is published at once.
    now = datetime.now(UTC)
    start, _ = interval_bounds(now, 300)
    outcome = served.programme.live.run_round(now)
    assert outcome.published and outcome.round.published_at is not None
    caps = {c.site_id: c.cap_w / 1e6 for c in outcome.caps}
    for site, program, name in (("mine-south-1", "surplus-mining", "ven-south"), ("ai-city-1", "surplus-ai", "ven-ai")):
        cred = served.clients[name]
        ven = VenClient(
            url=served.url + "/openadr3/3.1.0", client_id=cred.client_id, client_secret=cred.client_secret
        ).start()
        try:
            events = [e for e in ven.poll_events(program) if e.event_name == f"cap-{site}-{start:%Y%m%dT%H%MZ}"]
            assert len(events) == 1
            event = events[0]
            assert event.payload_descriptors[0].units == "MW"
            assert [i.payloads[0].type for i in event.intervals] == ["IMPORT_CAPACITY_LIMIT"]
            assert event.intervals[0].payloads[0].values[0] == pytest.approx(caps[site])
            assert event.resolved_intervals()[0].interval_period.start == start
        finally:
            ven.stop()


def test_emergency_endpoint_is_for_the_control_room_and_reaches_the_ven(served: Served) -> None:
    from openadr3_client.ven import VenClient

    body = {"zone": "south", "message": "south corridor trip", "duration_s": 1800}
    with served.http("op-a") as op, served.http("regulator") as reg:
        assert op.post("/dispatch/emergency", json=body).status_code == 403
        assert reg.post("/dispatch/emergency", json=body).status_code == 403
    with served.http("grid") as grid:
        assert grid.post("/dispatch/emergency", json={**body, "zone": "atlantis"}).status_code == 422
        r = grid.post("/dispatch/emergency", json=body)
        assert r.status_code == 201, r.text
        emergency = r.json()["emergency"]
        assert emergency["scope"] == "zone" and emergency["site_ids"] == ["mine-south-1"]
        assert r.json()["next_round"]["reasons"].get("emergency") == 1
        listed = grid.get("/dispatch/emergency").json()["emergencies"]
        assert emergency["id"] in [e["id"] for e in listed]
        audit = grid.get("/audit", params={"object_type": "emergency"}).json()["events"]
        assert [a["action"] for a in audit if a["object_id"] == emergency["id"]] == ["emergency.declare"]
    cred = served.clients["ven-south"]
    ven = VenClient(
        url=served.url + "/openadr3/3.1.0", client_id=cred.client_id, client_secret=cred.client_secret
    ).start()
    try:
        alerts = [
            e for e in ven.poll_events("surplus-mining") if e.event_name and e.event_name.startswith("emergency-")
        ]
        assert alerts
        payloads = {p.type: p.values[0] for p in alerts[-1].intervals[0].payloads}
        assert payloads["SIMPLE"] == 3 and "south corridor trip" in str(payloads["ALERT_GRID_EMERGENCY"])
    finally:
        ven.stop()
    with served.http("op-a") as op:
        assert op.post(f"/dispatch/emergency/{emergency['id']}/clear").status_code == 403
    with served.http("grid") as grid:
        cleared = grid.post(f"/dispatch/emergency/{emergency['id']}/clear")
        assert (
            cleared.status_code == 200 and cleared.json()["emergency"]["cleared_by"] == served.clients["grid"].client_id
        )
        assert grid.post(f"/dispatch/emergency/{emergency['id']}/clear").status_code == 409


def test_a_national_emergency_shows_each_reader_only_its_own_sites(served: Served) -> None:
    with served.http("grid") as grid:
        r = grid.post("/dispatch/emergency", json={"message": "national shortfall", "duration_s": 600})
        assert r.status_code == 201, r.text
        emergency = r.json()["emergency"]
        assert set(emergency["site_ids"]) == set(SITE_LICENCE)
    try:
        readers = (("op-a", ["mine-south-1"]), ("op-b", ["mine-north-1"]), ("regulator", sorted(SITE_LICENCE)))
        for reader, own in readers:
            with served.http(reader) as client:
                listed = {e["id"]: e for e in client.get("/dispatch/emergency").json()["emergencies"]}
                assert sorted(listed[emergency["id"]]["site_ids"]) == own, reader
        cred = served.clients["ven-south"]
        token = httpx.post(
            f"{served.url}/openadr3/3.1.0/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(cred.client_id, cred.client_secret),
        ).json()["access_token"]
        with httpx.Client(
            base_url=f"{served.url}/openadr3/3.1.0", headers={"Authorization": f"Bearer {token}"}
        ) as ven:
            events = [e for e in ven.get("/events").json() if e["id"] in emergency["vtn_event_ids"]]
            assert events, "the VEN of an affected site sees the emergency event"
            for event in events:
                assert event["targets"] == ["VEN_NAME:mine-south-1"], event["targets"]
                one = ven.get(f"/events/{event['id']}").json()
                assert one["targets"] == ["VEN_NAME:mine-south-1"]
        with served.http("grid") as grid:
            bl_token = grid.headers["Authorization"]
            full = httpx.get(
                f"{served.url}/openadr3/3.1.0/events/{events[0]['id']}", headers={"Authorization": bl_token}
            ).json()
            assert {"VEN_NAME:mine-south-1", "VEN_NAME:mine-north-1"} <= set(full["targets"])
    finally:
        with served.http("grid") as grid:
            assert grid.post(f"/dispatch/emergency/{emergency['id']}/clear").status_code == 200


def test_caps_and_reasons_are_readable_only_by_who_may(served: Served) -> None:
    served.programme.live.run_round(datetime.now(UTC))
    with served.http("regulator") as reg:
        everything = reg.get("/dispatch/caps").json()["caps"]
        assert {c["site_id"] for c in everything} == set(SITE_LICENCE)
        assert all(c["reason"] and c["cap_mw"] <= c["allocation_mw"] for c in everything)
        assert reg.get("/dispatch/rounds").json()["rounds"][0]["feed"].startswith(FEED)
    with served.http("op-a") as op:
        own = op.get("/dispatch/caps").json()["caps"]
        assert {c["site_id"] for c in own} == {"mine-south-1"}
        foreign = op.get("/dispatch/caps", params={"site_id": "mine-north-1"})
        unknown = op.get("/dispatch/caps", params={"site_id": "mine-nowhere-9"})
        assert foreign.status_code == 404 and foreign.text == unknown.text.replace("mine-nowhere-9", "mine-north-1")
        assert op.get("/dispatch/rounds").status_code == 403
        since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        history = op.get("/dispatch/caps", params={"site_id": "mine-south-1", "since": since}).json()["caps"]
        assert history and {c["site_id"] for c in history} == {"mine-south-1"}
    with served.http("op-b") as op:
        assert {c["site_id"] for c in op.get("/dispatch/caps").json()["caps"]} == {"mine-north-1"}
    assert httpx.get(f"{served.url}/api/v1/dispatch/caps").status_code == 401


# ---------------------------------------------------------------------- the clock and the CLI


def test_the_server_dispatches_on_its_own_when_a_feed_is_set(tmp_path: Path, feed: ScenarioReplayFeed) -> None:
    settings = Settings.resolve(env={}, data_dir=str(tmp_path), token_secret="t" * 40, grid_feed=FEED)
    app = create_app(settings)
    from offtake.registry.setup import prepare_database

    prepare_database(app.state.engine)
    build_programme(app.state.session_factory, None, feed)
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        rows: list[DispatchCap] = []
        while not rows and time.monotonic() < deadline:
            time.sleep(0.2)
            with app.state.session_factory() as s:
                rows = list(s.scalars(select(DispatchCap)))
        assert {c.site_id for c in rows} == set(SITE_LICENCE)
        start, _ = interval_bounds(datetime.now(UTC), 300)
        assert rows[0].interval_start in (start, start - timedelta(minutes=5))
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def test_cli_run_once(tmp_path: Path, feed: ScenarioReplayFeed) -> None:
    import json

    from offtake.cli import _register, app
    from offtake.persistence.db import make_engine, make_session_factory
    from offtake.registry.setup import prepare_database

    engine = make_engine(f"sqlite:///{tmp_path / 'offtake.db'}")
    prepare_database(engine)
    build_programme(make_session_factory(engine), None, feed)
    engine.dispose()
    _register()
    runner = CliRunner()
    args = ["dispatch", "run-once", "--at", "2025-01-06T17:02:00+05:00", "--feed", FEED, "--data-dir", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["interval_start"] == "2025-01-06T12:00:00Z" and summary["sites"] == 3 and summary["created"]
    assert summary["reasons"] == dict(sorted(expected_reasons(feed).items()))
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and not json.loads(again.stdout.strip().splitlines()[-1])["created"]
    naive = runner.invoke(
        app, ["dispatch", "run-once", "--at", "2025-01-06T17:02:00", "--feed", FEED, "--data-dir", str(tmp_path)]
    )
    assert naive.exit_code != 0


def expected_reasons(feed: ScenarioReplayFeed) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for _, reason in expected_caps(feed, NOON, {}).values():
        reasons[reason] = reasons.get(reason, 0) + 1
    return reasons


def test_a_site_ignoring_its_cap_is_flagged_with_evidence_and_ordered_off_in_an_emergency(
    programme: Programme,
) -> None:
    """The ignoring miner is flagged after three intervals over its cap; a slow obedient one is not."""
    factory, live, grid = programme.factory, programme.live, programme.grid
    for site in SITE_LICENCE:
        report_draw(factory, site, NOON - timedelta(minutes=5), 45.0)
    live.run_round(NOON)
    for site in SITE_LICENCE:
        report_draw(factory, site, NOON, 45.0)
    live.declare_emergency(grid, zone=None, message="loss of 1,100 MW", at=NOON + timedelta(minutes=2))
    # mine-south-1 keeps drawing 150 MW at cap zero; mine-north-1 sheds with a lag 1.5x its contract.
    tau_s = 1.5 * 30.0
    lag = tau_s / 300.0 * (1.0 - np.exp(-300.0 / tau_s))
    for k, slot in enumerate((5, 10, 15)):
        start = NOON + timedelta(minutes=slot)
        if slot > 5:
            live.run_round(start)
        report_draw(factory, "mine-south-1", start, 150.0)
        report_draw(factory, "mine-north-1", start, 45.0 * lag if k == 0 else 0.0)
        report_draw(factory, "ai-city-1", start, 35.0)
    outcome = live.run_round(NOON + timedelta(minutes=20))
    caps = {c.site_id: c for c in outcome.caps}
    assert caps["mine-south-1"].cap_w == 0 and "ordered off the grid" in caps["mine-south-1"].note
    with factory() as s:
        flags = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "dispatch.cap_ignored")))
        assert [f.object_id for f in flags] == ["mine-south-1"]
        evidence = flags[0].detail["intervals"]
        assert len(evidence) == 3 and all(e["cap_w"] == 0 and e["mean_draw_w"] == 150_000_000 for e in evidence)
        assert flags[0].ledger_seq >= 0 and flags[0].operator_id == "op-a"
        orders = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "dispatch.disconnect_ordered")))
        assert [o.object_id for o in orders] == ["mine-south-1"]
    # Flagged once: the next round does not flag it again.
    live.run_round(NOON + timedelta(minutes=25))
    with factory() as s:
        assert len(list(s.scalars(select(AuditEvent).where(AuditEvent.action == "dispatch.cap_ignored")))) == 1


def test_a_site_outside_its_contract_dates_gets_zero_with_the_reason(
    programme: Programme, feed: ScenarioReplayFeed
) -> None:
    factory, live = programme.factory, programme.live
    for site in SITE_LICENCE:
        report_draw(factory, site, NOON - timedelta(minutes=5), 40.0)
    with session_scope(factory) as s:
        for site, until in (("mine-north-1", NOON - timedelta(hours=1)), ("ai-city-1", None)):
            start = T0 if until is not None else NOON + timedelta(days=1)
            contracts.create_contract(
                s,
                programme.grid,
                site_id=site,
                valid_from=start,
                valid_until=until,
                tariff_usd_per_mwh="80",
                firm_mw=0.0,
                interruptible_mw=100.0,
                max_curtailment_fraction=1.0,
                max_curtailment_duration_h=24.0,
                annual_curtailment_limit=0.05,
                response_time_s=30.0,
                overdraw_tolerance_fraction=0.02,
                overdraw_penalty_usd_per_mwh="200",
                exchange_rate_pkr_per_usd="280",
            )
    outcome = live.run_round(NOON)
    caps = {c.site_id: c for c in outcome.caps}
    assert caps["mine-north-1"].cap_w == 0 and caps["mine-north-1"].reason == "out_of_contract"
    assert "contract ended" in caps["mine-north-1"].note
    assert caps["ai-city-1"].cap_w == 0 and caps["ai-city-1"].reason == "out_of_contract"
    assert "contract starts" in caps["ai-city-1"].note
    # mine-south-1's contract is in force: it is dispatched as the core says.
    draws = dict.fromkeys(SITE_LICENCE, 40.0)
    want = expected_caps(feed, NOON, draws, outside=frozenset({"mine-north-1", "ai-city-1"}))
    assert_same(caps_of(outcome), want)
    assert caps["mine-south-1"].cap_w > 0


def _record_curtailed_rounds(factory: sessionmaker[Session], site: str, before: datetime, count: int) -> None:
    """Rounds as the driver stores them, in which ``site`` was capped to zero by its zone."""
    with session_scope(factory) as s:
        for k in range(count, 0, -1):
            start = before - timedelta(minutes=5 * k)
            stored = DispatchRound(
                interval_start=start,
                interval_end=start + timedelta(minutes=5),
                computed_at=start,
                by_client="grid",
                feed="test",
                sites=1,
                deferred_w=0,
                detail={},
                ledger_seq=-1,
            )
            s.add(stored)
            s.flush()
            s.add(
                DispatchCap(
                    round_id=stored.id,
                    site_id=site,
                    operator_id="op-a",
                    zone="south",
                    kind="mining",
                    interval_start=start,
                    interval_end=start + timedelta(minutes=5),
                    cap_w=0,
                    reason="zone_limit",
                    target_w=0,
                    allocation_w=150_000_000,
                    floor_w=0,
                    last_draw_w=0,
                    draw_source="none",
                    note="",
                    ledger_seq=-1,
                )
            )


def test_a_site_whose_event_limit_is_used_up_is_served_first_from_the_recorded_caps(
    programme: Programme, feed: ScenarioReplayFeed
) -> None:
    factory, live = programme.factory, programme.live
    for site in SITE_LICENCE:
        report_draw(factory, site, NOON - timedelta(minutes=5), 40.0)
    # mine-south-1 (events up to 24 h) has been curtailed for 24 h: one interval more breaks it.
    contracts_ = read_allocation(ALLOCATION, feed.zone_ids)
    _record_curtailed_rounds(factory, "mine-south-1", NOON - timedelta(minutes=5), 287)
    with session_scope(factory) as s:
        usage = usage_this_year(s, ["mine-south-1"], contracts_, NOON, 300.0)
    assert usage.event_h[0] == pytest.approx(287 / 12) and not usage.protected()[0]
    _record_curtailed_rounds(factory, "mine-south-1", NOON, 1)
    with session_scope(factory) as s:
        usage = usage_this_year(s, ["mine-south-1"], contracts_, NOON, 300.0)
    assert usage.event_h[0] == pytest.approx(24.0) and usage.protected()[0]
    assert usage.curtailed_mwh[0] == pytest.approx(150.0 * 24.0)
    outcome = live.run_round(NOON)
    caps = {c.site_id: c for c in outcome.caps}
    assert "curtailment limit used up" in caps["mine-south-1"].note
    draws = dict.fromkeys(SITE_LICENCE, 40.0)
    assert_same(caps_of(outcome), expected_caps(feed, NOON, draws, protected=frozenset({"mine-south-1"})))


def test_curtailment_of_last_year_or_a_suspension_does_not_count(
    programme: Programme, feed: ScenarioReplayFeed
) -> None:
    factory = programme.factory
    contracts_ = read_allocation(ALLOCATION, feed.zone_ids)
    _record_curtailed_rounds(factory, "mine-south-1", datetime(2025, 1, 1, tzinfo=UTC), 10)
    _record_curtailed_rounds(factory, "mine-south-1", NOON, 3)
    with session_scope(factory) as s:
        usage = usage_this_year(s, ["mine-south-1"], contracts_, NOON, 300.0)
    assert usage.event_h[0] == pytest.approx(0.25)  # the 2024 rounds are last year's
    assert usage.curtailed_mwh[0] == pytest.approx(150.0 * 0.25)
    with session_scope(factory) as s:
        query = select(DispatchCap).where(DispatchCap.interval_start == NOON - timedelta(minutes=5))
        last = s.execute(query).scalar_one()
        last.reason = "suspended"
    with session_scope(factory) as s:
        usage = usage_this_year(s, ["mine-south-1"], contracts_, NOON, 300.0)
    assert usage.event_h[0] == 0.0  # the suspension is not curtailment: the event ended
    assert usage.curtailed_mwh[0] == pytest.approx(150.0 * 2 / 12)
