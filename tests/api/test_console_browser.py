"""The web console in a real browser (Playwright driving Debian's chromium), one role at a time.

A real server (uvicorn on 127.0.0.1) replays the three-zone scenario as its grid feed and
dispatches on its own; every request the browser makes is checked to stay on 127.0.0.1.
Screenshots of each main page go to ``$OFFTAKE_SCREENSHOTS`` (CI keeps that folder) or to a
temporary folder.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from platform_fixtures import free_socket, principal
from playwright.sync_api import Browser, Page, Route, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from offtake import scenario
from offtake.api.app import create_app
from offtake.identity.users import create_user
from offtake.ledger import merkle
from offtake.ledger import store as ledger_store
from offtake.ledger.audit import record_change
from offtake.ledger.encoding import format_time
from offtake.ledger.export import verify_export
from offtake.ledger.ingest import MeterReading, ingest_readings
from offtake.ledger.signing import load_public_key
from offtake.live.compliance import FLAG_ACTION
from offtake.live.records import DispatchCap, GridEmergency
from offtake.persistence.db import make_engine, make_session_factory, session_scope
from offtake.persistence.schema import AuditEvent
from offtake.registry import allocations, licences, sites
from offtake.registry.setup import prepare_database
from offtake.settings import Settings
from offtake.units import WH_PER_MWH

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)

DATA = Path(__file__).parents[1] / "data"
FEED = f"scenario:{DATA / 'three-zone'}"
ALLOCATION = DATA / "allocations" / "three-zone.csv"
PASSWORD = "correct horse battery"
USERS = {
    "control": ("grid_operator", None),
    "reg": ("regulator", None),
    "opa": ("operator", "op-a"),
    "opb": ("operator", "op-b"),
    "office": ("programme_office", None),
}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass
class Console:
    url: str
    factory: sessionmaker[Session]
    shots: Path
    foreign: list[str] = field(default_factory=list)


def _build(factory: sessionmaker[Session]) -> None:
    regulator = principal("regulator", "reg")
    grid = principal("grid_operator", "grid")
    start = datetime.now(UTC) - timedelta(days=1)
    with session_scope(factory) as s:
        for op, kind, lic in (("op-a", "mining", "La"), ("op-b", "mining", "Lb"), ("op-c", "ai_data_centre", "Lc")):
            sites.create_operator(s, regulator, op, f"Operator {op}")
            licences.apply_for_licence(s, regulator, operator_id=op, kind_id=kind, licence_id=lic, at=start)
            licences.transition_licence(s, regulator, lic, "approved", at=start)
            licences.transition_licence(s, regulator, lic, "active", at=start)
        licences.apply_for_licence(s, regulator, operator_id="op-b", kind_id="mining", licence_id="Lnew", at=start)
        allocations.import_allocation(s, grid, ALLOCATION, valid_from=start)
        for site, lic in (("mine-south-1", "La"), ("mine-north-1", "Lb"), ("ai-city-1", "Lc")):
            sites.attach_licence(s, grid, site, lic)
        for name, (role, operator) in USERS.items():
            create_user(s, name, role, PASSWORD, operator_id=operator)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp("console")
    shutil.copytree(DATA / "three-zone", folder / "scenarios" / "three-zone")
    url = f"sqlite:///{folder / 'offtake.db'}"
    engine = make_engine(url)
    prepare_database(engine)
    factory = make_session_factory(engine)
    _build(factory)
    settings = Settings.resolve(env={}, data_dir=str(folder), database_url=url, grid_feed=FEED)
    app = create_app(settings)
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not _dispatched(factory):
        assert time.monotonic() < deadline, "the server dispatched no round within 60 s"
        time.sleep(0.2)
    shots = Path(os.environ.get("OFFTAKE_SCREENSHOTS") or folder / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    try:
        yield Console(f"http://127.0.0.1:{sock.getsockname()[1]}", factory, shots)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
        engine.dispose()


def _dispatched(factory: sessionmaker[Session]) -> bool:
    with factory() as s:
        return s.scalars(select(DispatchCap.id).limit(1)).first() is not None


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})

    context.route("**/*", lambda route: _local_only(route, console))
    opened = context.new_page()
    yield opened
    context.close()
    assert console.foreign == [], f"requests left 127.0.0.1: {console.foreign}"


def _local_only(route: Route, console: Console) -> None:
    """Let requests to 127.0.0.1 through; record and refuse any other."""
    if urlsplit(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        console.foreign.append(route.request.url)
        route.abort()


def sign_in(page: Page, console: Console, name: str) -> None:
    page.goto(console.url + "/")
    assert "/login" in page.url
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def caps_in_page(page: Page) -> dict[str, tuple[str, str]]:
    rows = page.locator("#sites-table tbody tr")
    out = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        cap, reason = row.locator("td.cap").inner_text(), row.locator("td.reason").inner_text()
        out[str(row.get_attribute("data-site"))] = (cap, reason)
    return out


def test_control_room_declares_an_emergency_and_sees_the_caps_fall(
    page: Page, console: Console, browser: Browser
) -> None:
    sign_in(page, console, "control")
    assert page.url.endswith("/control")
    before = caps_in_page(page)
    assert set(before) == {"mine-south-1", "mine-north-1", "ai-city-1"}
    assert page.locator("#no-emergency").is_visible()
    page.screenshot(path=str(console.shots / "control-room.png"), full_page=True)

    watcher = browser.new_context().new_page()
    watcher.context.route("**/*", lambda r: _local_only(r, console))
    sign_in(watcher, console, "control")
    watcher.wait_for_selector("#live[data-stream='open']")

    page.get_by_label("Reason (the sites read it)").fill("frequency excursion")
    page.get_by_role("button", name="Declare emergency").click()
    assert "tick the confirmation box" in page.content()
    page.get_by_label("Reason (the sites read it)").fill("frequency excursion")
    page.get_by_label("I confirm").check()
    page.get_by_role("button", name="Declare emergency").click()
    page.wait_for_selector("#emergencies")
    after = caps_in_page(page)
    assert after["mine-south-1"] == ("0.0", "emergency")
    assert after["mine-north-1"] == ("0.0", "emergency")
    # the other viewer's page follows by itself, without a reload
    watcher.wait_for_selector("#emergencies", timeout=10_000)
    assert caps_in_page(watcher)["mine-north-1"] == ("0.0", "emergency")
    page.screenshot(path=str(console.shots / "control-room-emergency.png"), full_page=True)

    page.locator("#emergencies button", has_text="Clear").first.click()
    page.wait_for_selector("#no-emergency")
    watcher.wait_for_selector("#no-emergency", timeout=10_000)
    watcher.context.close()


def test_control_room_map_shows_every_zone_and_corridor(page: Page, console: Console) -> None:
    sign_in(page, console, "control")
    grid_map = page.get_by_role("img", name="Schematic map of the zones and corridors", exact=False)
    assert grid_map.is_visible()
    zones, corridors = scenario.load_layout(DATA / "three-zone")
    drawn = page.locator("#grid-map g.zone").evaluate_all("gs => gs.map(g => g.dataset.zone)")
    assert sorted(drawn) == sorted(z.id for z in zones)
    lines = page.locator("#grid-map line").evaluate_all("ls => ls.map(l => l.dataset.corridor)")
    assert sorted(lines) == sorted(c.id for c in corridors)
    for zone in zones:  # each zone's fill tells how much of its deliverable power the caps use
        row = page.locator("table.zones tbody tr", has=page.locator(f"th:text-is('{zone.id}')"))
        caps, budget = (float(row.locator("td.num").nth(i).inner_text().replace(",", "")) for i in (1, 0))
        use = page.locator(f"#grid-map g[data-zone='{zone.id}']").get_attribute("data-use")
        assert use == ("use-0" if budget <= 0 else "use-5" if caps >= budget else use), zone.id
        assert use != "use-0" or budget <= 0
        assert zone.id in str(page.locator("#map-desc").text_content())
    page.locator("#grid-map").screenshot(path=str(console.shots / "control-room-map.png"))


def test_control_room_filters_and_sorts_sites(page: Page, console: Console) -> None:
    sign_in(page, console, "control")
    page.get_by_label("Filter").fill("north")
    visible = page.locator("#sites-table tbody tr:not([hidden])")
    assert visible.count() == 1
    assert visible.first.get_attribute("data-site") == "mine-north-1"
    page.get_by_label("Filter").fill("")
    page.locator("#sites-table thead th", has_text="Allocation").click()
    order = page.locator("#sites-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.site)")
    with console.factory() as s:
        allocation = {c.site_id: c.allocation_w for c in s.scalars(select(DispatchCap))}
    assert order == sorted(allocation, key=lambda k: allocation[k])


def test_regulator_approves_a_licence_and_checks_a_proof_in_the_browser(page: Page, console: Console) -> None:
    sign_in(page, console, "reg")
    assert page.url.endswith("/regulator")
    row = page.locator("tr[data-licence='Lnew']")
    assert row.locator("td.state").inner_text() == "applied"
    row.get_by_label("Max MW", exact=True).fill("12.5")  # the regulator sets the limits as it approves
    row.get_by_role("button", name="Approve licence Lnew").click()
    page.wait_for_load_state()
    assert page.locator("tr[data-licence='Lnew'] td.state").inner_text() == "approved"
    with console.factory() as s:
        approved = licences.get_licence(s, principal("regulator", "r"), "Lnew")
        assert approved.state == "approved" and approved.limits == {"max_mw": 12.5}
        size = ledger_store.tree_head(s).size
    page.screenshot(path=str(console.shots / "regulator.png"), full_page=True)

    seq = size - 1
    page.get_by_label("Check an entry's inclusion proof, entry number").fill(str(seq))
    page.get_by_role("button", name="Check").click()
    result = page.locator("#proof-result[data-verified]")
    result.wait_for()
    assert result.get_attribute("data-verified") == "yes"
    with console.factory() as s:  # the browser agrees with the library
        proof = ledger_store.inclusion_proof(s, seq)
        entry = ledger_store.get_entry(s, seq)
    assert merkle.verify_inclusion(
        merkle.leaf_hash(entry.data), seq, proof["size"], [bytes.fromhex(h) for h in proof["path"]],
        bytes.fromhex(proof["root"]),
    )
    # a tampered path is refused by the same page code
    flip_last_digit = "el => { el.dataset.data = el.dataset.data.replace(/.$/, c => c === '0' ? '1' : '0'); }"
    page.locator("#proof").evaluate(flip_last_digit)
    assert page.evaluate("() => verifyInclusion(document.getElementById('proof'))") is False


def test_an_operator_sees_only_its_own_sites_and_cannot_reach_others(page: Page, console: Console) -> None:
    sign_in(page, console, "opa")
    assert page.url.endswith("/operator")
    shown = page.locator("section[data-site]").evaluate_all("els => els.map(e => e.dataset.site)")
    assert shown == ["mine-south-1"]
    assert "mine-north-1" not in page.content()
    _check_caps_now_and_ahead(page, console)
    # curtailment against the contract's limits: 5 % of 150 MW over a year, 24 h events, 100 % depth
    limits = page.locator("table.curtailment td.limit").all_inner_texts()
    assert limits == ["65,700.0 MWh", "100 % of allocation", "24.00 h"]
    with console.factory() as s:
        caps = s.scalars(select(DispatchCap).where(DispatchCap.site_id == "mine-south-1")).all()
        curtailed = sum(
            (c.allocation_w - c.cap_w) * (c.interval_end - c.interval_start).total_seconds() / 3600 / WH_PER_MWH
            for c in caps
            if c.interval_start < datetime.now(UTC)
        )
    used = float(page.locator("table.curtailment td.used").first.inner_text().split()[0].replace(",", ""))
    assert used == pytest.approx(curtailed, abs=0.06)  # shown to 0.1 MWh
    page.screenshot(path=str(console.shots / "operator.png"), full_page=True)
    for path in ("/control", "/control/live", "/regulator", "/regulator/proof?seq=0"):
        answer = page.goto(console.url + path)
        assert answer is not None and answer.status == 403, path
        assert "mine-north-1" not in page.content()
    page.goto(console.url + "/operator/bills?site_id=mine-north-1&month=2025-01")
    other = page.locator("p.message").inner_text()
    assert page.locator("#bill").count() == 0
    page.goto(console.url + "/operator/bills?site_id=no-such-site&month=2025-01")
    unknown = page.locator("p.message").inner_text()
    assert other.replace("mine-north-1", "X") == unknown.replace("no-such-site", "X")  # another's = unknown
    assert page.locator("#bill").count() == 0


def _check_caps_now_and_ahead(page: Page, console: Console) -> None:
    """The operator's "now" cap is the one in force, "ahead" the next dispatched, as recorded."""
    for _ in range(3):  # a round may land while the page loads: then look again
        before = datetime.now(UTC)
        page.reload()
        shown_now = page.locator(".cap-now").inner_text()
        shown_ahead = page.locator(".cap-ahead").inner_text()
        after = datetime.now(UTC)
        with console.factory() as s:
            rows = s.scalars(select(DispatchCap).where(DispatchCap.site_id == "mine-south-1")).all()
        in_force = [c for c in rows if c.interval_start <= before and c.interval_end > after]
        ahead = sorted((c for c in rows if c.interval_start > after), key=lambda c: c.interval_start)
        if len(in_force) == 1:
            assert shown_now == f"{in_force[0].cap_w / 1e6:,.1f}"
            assert shown_ahead == (f"{ahead[0].cap_w / 1e6:,.1f}" if ahead else "—")
            assert page.locator("table.caps tr[data-when='now']").count() == 1
            return
    pytest.fail("no cap in force while the operator's page loaded")


def test_an_operator_applies_for_a_licence_without_limits(page: Page, console: Console) -> None:
    sign_in(page, console, "opa")
    page.get_by_label("Apply for a licence of kind").select_option("mining")
    page.get_by_label("Reference").fill("second site")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    assert "applied for licence" in page.locator("p.message").inner_text()
    with console.factory() as s:
        mine = licences.list_licences(s, principal("operator", "c", "op-a"), operator_id="op-a")
    applied = [lic for lic in mine if lic.reference == "second site"]
    assert len(applied) == 1 and applied[0].state == "applied" and not applied[0].limits
    assert page.locator(f"tr[data-licence='{applied[0].id}'] td.state").inner_text() == "applied"


def test_sign_out_ends_the_session_and_wrong_passwords_lock_the_account(page: Page, console: Console) -> None:
    sign_in(page, console, "opb")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login**")
    page.goto(console.url + "/operator")
    assert "/login" in page.url
    for _ in range(5):
        page.get_by_label("Name").fill("opb")
        page.get_by_label("Password").fill("wrong password!")
        page.get_by_role("button", name="Sign in").click()
        assert "wrong name or password" in page.content()
    sign_in(page, console, "opb")  # the right password no longer opens a locked account
    assert "/login" in page.url
    with console.factory() as s:  # signing in and out and the lockout are audited under the person's name
        events = s.scalars(select(AuditEvent).where(AuditEvent.object_type == "user", AuditEvent.object_id == "opb"))
        actions = [(e.action, e.client_id) for e in events]
    assert actions == [
        ("console.sign_in", "user:opb"),
        ("console.sign_out", "user:opb"),
        ("console.locked", "user:opb"),
    ]


def test_a_form_from_another_site_or_without_the_csrf_token_is_refused(page: Page, console: Console) -> None:
    sign_in(page, console, "control")
    answer = page.request.post(
        console.url + "/control/emergency",
        form={"reason": "x", "confirm": "yes", "csrf": "forged"},
    )
    assert answer.status == 403
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    answer = page.request.post(
        console.url + "/control/emergency",
        form={"reason": "x", "confirm": "yes", "csrf": str(csrf)},
        headers={"Origin": "http://evil.example"},
    )
    assert answer.status == 403
    answer = page.request.post(
        console.url + "/logout", headers={"Origin": "http://evil.example"}
    )
    assert answer.status == 403
    with console.factory() as s:
        assert s.scalars(select(GridEmergency).where(GridEmergency.message == "x")).first() is None


def test_api_docs_are_served_from_the_package(page: Page, console: Console) -> None:
    page.goto(console.url + "/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "offtake" in page.locator(".swagger-ui .info .title").inner_text()


AXE = DATA / "axe-core" / "axe.min.js"
SERIOUS = (
    "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    ".filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id)"
)


@pytest.mark.parametrize(
    ("user", "path"),
    [("control", "/control"), ("reg", "/regulator"), ("reg", "/regulator/violations"), ("opa", "/operator")],
)
def test_pages_pass_the_axe_core_accessibility_check(page: Page, console: Console, user: str, path: str) -> None:
    sign_in(page, console, user)
    page.goto(console.url + path)
    page.add_script_tag(path=str(AXE))
    serious = SERIOUS
    assert page.evaluate(serious) == []
    page.evaluate("() => document.body.append(document.createElement('button'))")  # the check can fail
    assert "button-name" in page.evaluate(serious)


def test_programme_office_runs_an_assessment_in_the_background_and_opens_its_report(
    page: Page, console: Console
) -> None:
    sign_in(page, console, "office")
    assert page.url.endswith("/programme")
    page.get_by_label("Run", exact=True).select_option("assess")
    page.get_by_label("Scenario", exact=True).select_option("three-zone")
    page.get_by_role("button", name="Start").click()
    page.wait_for_load_state()
    row = page.locator("#runs-table tbody tr").first
    row.locator("a", has_text="report").wait_for(timeout=120_000)  # the page follows the run by itself
    assert row.get_attribute("data-state") == "done"
    assert "s" in row.locator("td.num").inner_text()
    page.screenshot(path=str(console.shots / "programme.png"), full_page=True)
    row.locator("a", has_text="report").click()
    page.wait_for_load_state()
    assert "<html" in page.content().lower() and "three-zone" in page.content()


def test_regulator_downloads_the_ledger_export_and_its_key_and_verifies_them_offline(
    page: Page, console: Console, browser: Browser, tmp_path: Path
) -> None:
    sign_in(page, console, "reg")
    with page.expect_download() as key_download:
        page.get_by_role("link", name="Download the public key").click()
    key_file = tmp_path / key_download.value.suggested_filename
    key_download.value.save_as(key_file)
    with page.expect_download() as export_download:
        page.get_by_role("link", name="Download the ledger export").click()
    export_file = tmp_path / export_download.value.suggested_filename
    export_download.value.save_as(export_file)
    with console.factory() as s:
        size = ledger_store.tree_head(s).size
    report = verify_export(export_file, load_public_key(key_file))
    assert report.ok, report
    assert report.entries >= size - 1  # the sign-in above may be the only entry since
    lines = export_file.read_text().splitlines()
    lines[1] = lines[1].replace('"', "'", 1)  # the same check finds an altered entry
    export_file.write_text("\n".join(lines) + "\n")
    assert not verify_export(export_file, load_public_key(key_file)).ok
    other = browser.new_context()  # another role cannot download it
    other.route("**/*", lambda r: _local_only(r, console))
    operator_page = other.new_page()
    sign_in(operator_page, console, "opa")
    for path in ("/regulator/ledger/export", "/regulator/ledger/public-key.pem", "/regulator/violations"):
        assert operator_page.request.get(console.url + path).status == 403, path
    other.close()


def _seed_violations(console: Console) -> dict[str, int]:
    """An over-draw by mine-south-1, a site drawing with no licence, and a site flagged for ignoring caps."""
    grid = principal("grid_operator", "grid")
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    with session_scope(console.factory) as s:
        sites.create_site(s, grid, site_id="rogue-1", operator_id="op-c", zone="city", kind="mining", connection_mw=20)
        over = ingest_readings(  # 200 MWh in an hour against an allocation of 150 MW (before any cap)
            s, principal("operator", "opa", "op-a"),
            [MeterReading("mine-south-1", "m1", hour, hour + timedelta(hours=1), 200 * WH_PER_MWH)],
        )  # fmt: skip
        rogue = ingest_readings(
            s, principal("operator", "opc", "op-c"),
            [MeterReading("rogue-1", "m1", hour, hour + timedelta(hours=1), 10 * WH_PER_MWH)],
        )  # fmt: skip
        evidence = {
            "site_id": "mine-north-1",
            "intervals": [{"interval_start": format_time(hour), "cap_w": 10_000_000, "mean_draw_w": 60_000_000,
                           "allowed_w": 12_000_000, "threshold_w": 1_000_000}],
        }  # fmt: skip
        flag = record_change(s, grid, FLAG_ACTION, "site", "mine-north-1", evidence, operator_id="op-b")
        return {"over": over.items[0].seq, "rogue": rogue.items[0].seq, "flag": flag.ledger_seq}


def test_regulator_sees_violations_with_their_evidence(page: Page, console: Console) -> None:
    seqs = _seed_violations(console)
    sign_in(page, console, "reg")
    page.get_by_role("link", name="Violations").click()
    page.wait_for_load_state()
    over = page.locator("#overdraw tr[data-site='mine-south-1']")
    assert over.count() == 1
    cells = over.locator("td.num")
    assert cells.nth(0).inner_text() == "200.000" and cells.nth(1).inner_text() == "150.000"
    assert cells.nth(2).inner_text() == "50.000"
    assert str(seqs["over"]) in over.locator("td.seqs").inner_text()
    rogue = page.locator("#unlicensed tr[data-site='rogue-1']")
    assert "no licence attached" in rogue.locator("td.reason").inner_text()
    assert str(seqs["rogue"]) in rogue.locator("td.seqs").inner_text()
    assert page.locator("#overdraw tr[data-site='rogue-1']").count() == 0  # not billed as over-draw too
    flag = page.locator("#flags tr[data-site='mine-north-1']")
    assert "ignoring caps" in flag.inner_text() and "draw 60.0" in flag.inner_text()
    page.screenshot(path=str(console.shots / "violations.png"), full_page=True)
    page.add_script_tag(path=str(AXE))  # accessible with its tables filled, too
    assert page.evaluate(SERIOUS) == []
    flag.get_by_role("link", name=f"inclusion proof of ledger entry {seqs['flag']}").click()
    page.locator("#proof-result[data-verified]").wait_for()
    assert page.locator("#proof-result").get_attribute("data-verified") == "yes"
    assert "dispatch.cap_ignored" in page.content()
    for days in ("0", "32"):  # outside 1..31 days: said so, the default period shown
        answer = page.goto(console.url + f"/regulator/violations?days={days}")
        assert answer is not None and answer.status == 400
        assert "must be 1 to 31 days" in page.locator("p.message").inner_text()
        assert page.locator("#overdraw tr[data-site='mine-south-1']").count() == 1


def test_operators_see_their_certificates_and_the_regulator_sees_all(page: Page, console: Console) -> None:
    from offtake.certificates import ShareTable, issue_certificates, retire_certificate, transfer_certificate

    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
    opa, opb = principal("operator", "opa", "op-a"), principal("operator", "opb", "op-b")
    shares = ShareTable({("south", hour): {"solar_pv": 250_000}, ("south", hour + timedelta(hours=1)): {}}, "test")
    with session_scope(console.factory) as s:
        ingest_readings(s, opa, [MeterReading("mine-south-1", "m-cert", hour, hour + timedelta(hours=1), 40_000_000)])
        issued = issue_certificates(
            s, principal("grid_operator", "grid"), "mine-south-1", hour, hour + timedelta(hours=2), shares
        )
        cid = issued.certificates[0].id  # 10 MWh of solar
        transfer_certificate(s, opa, cid, "op-a", "op-b", 4_000_000)
        retire_certificate(s, opa, cid, "op-a", 1_500_000, beneficiary="Lahore AI campus", claim="hourly match")
        retire_certificate(s, opb, cid, "op-b", 500_000, beneficiary="op-b's own load", claim="hourly match")
    sign_in(page, console, "opa")
    page.get_by_role("link", name="Certificates").click()
    page.wait_for_selector("#holdings")
    assert page.locator("#cert-scope").inner_text() == "operator op-a"
    assert page.locator("#holdings tr[data-holder='op-a'] td.num").all_inner_texts() == ["4.500000"]
    assert page.locator("#holdings tr[data-holder='op-b']").count() == 0
    assert page.locator("#retirements tbody tr").first.get_attribute("data-holder") == "op-a"
    assert "op-b's own load" not in page.content() and page.locator("#retirements tbody tr").count() == 1
    page.screenshot(path=str(console.shots / "certificates-operator.png"), full_page=True)
    page.add_script_tag(path=str(AXE))
    assert page.evaluate(SERIOUS) == []
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, console, "reg")
    page.goto(console.url + "/certificates")
    assert page.locator("#cert-scope").inner_text() == "every operator"
    held = dict(
        zip(
            page.locator(f"#holdings tr[data-certificate='{cid}']").evaluate_all("rs => rs.map(r => r.dataset.holder)"),
            page.locator(f"#holdings tr[data-certificate='{cid}'] td.num").all_inner_texts(),
            strict=True,
        )
    )
    assert held == {"op-a": "4.500000", "op-b": "3.500000"}
    holders = page.locator("#retirements tbody tr").evaluate_all("rs => rs.map(r => r.dataset.holder)")
    assert {"op-a", "op-b"} <= set(holders)
    page.screenshot(path=str(console.shots / "certificates-regulator.png"), full_page=True)
