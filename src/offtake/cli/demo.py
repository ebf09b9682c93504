"""``offtake demo``: the whole programme on one machine, live, then cleaned up.

The platform server (real uvicorn on 127.0.0.1, live dispatch on the clock from the bundled
scenario's grid feed, short dispatch intervals), a regulator and a control room registering
operators, licences, a generated allocation, contracts and OAuth clients; one site agent per
site (in this process) with a fake Whatsminer fleet on its own loopback block and a Modbus
meter simulator, subscribed to its events with a webhook on loopback (the demo's server, and
only it, is set to call loopback addresses) and polling as a fallback; an emergency half way
through; every few seconds the caps, draws, reports, how each agent gets its events and the
ledger size; at the end each site's bill so far. Everything started is stopped at the end:
the agents, fleets, meters and the server; the temporary folder is removed unless kept.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["DemoSite", "run_demo"]

_DEMO_BLOCK = 79  # loopback block 127.79.<site>.x for the fake fleets
_INTERVAL_S = 10  # dispatch interval of the demo [s]
_POLL_S = 1  # the agents' polling period until subscribed [s]
_SAFETY_POLL_S = 10  # and once subscribed with a webhook [s]


@dataclass
class DemoSite:
    """One demo site: its id, zone, OAuth client and, once running, fleet, meter and agent."""

    site_id: str
    zone: str
    client_id: str = ""
    client_secret: str = ""
    fleet: Any = None
    meter: Any = None
    agent: Any = None


def _zones(scenario: str) -> list[str]:
    """Zone ids of a bundled scenario (by name) or of a scenario folder."""
    from importlib import resources

    folder = Path(scenario)
    text = (
        (folder / "scenario.toml").read_text()
        if folder.is_dir()
        else resources.files("offtake.data").joinpath(f"scenarios/{scenario}/scenario.toml").read_text()
    )
    return [str(z["id"]) for z in tomllib.loads(text)["zones"]]


def _register(app: Any, sites: list[DemoSite], allocation: Path, rated_mw: float) -> None:
    """Register operators, licences, the allocation, contracts, VEN clients; provision the VENs."""
    from offtake.api.lifecycle import live_dispatch
    from offtake.identity.credentials import create_client
    from offtake.identity.principal import ROLE_SCOPES, Principal
    from offtake.persistence.db import session_scope
    from offtake.registry import allocations, contracts, licences
    from offtake.registry import sites as registry_sites

    regulator = Principal("demo-regulator", "regulator", None, ROLE_SCOPES["regulator"], None)
    grid = Principal("demo-control-room", "grid_operator", None, ROLE_SCOPES["grid_operator"], None)
    t0 = datetime.now(UTC) - timedelta(days=1)
    from offtake.allocation import ALLOCATION_COLUMNS

    lines = [",".join(ALLOCATION_COLUMNS)] + [
        f"{s.site_id},op-{i},{s.zone},mining,0,{rated_mw},{rated_mw},1.0,24,0.05,30,80,0,0,0,0"
        for i, s in enumerate(sites)
    ]
    allocation.write_text("\n".join(lines) + "\n")
    with session_scope(app.state.session_factory) as s:
        for i in range(len(sites)):
            registry_sites.create_operator(s, regulator, f"op-{i}", f"Demo operator {i}")
            licences.apply_for_licence(s, regulator, operator_id=f"op-{i}", kind_id="mining", licence_id=f"L{i}", at=t0)
            licences.transition_licence(s, regulator, f"L{i}", "approved", at=t0)
            licences.transition_licence(s, regulator, f"L{i}", "active", at=t0)
        allocations.import_allocation(s, grid, allocation, valid_from=t0)
        for i, site in enumerate(sites):
            registry_sites.attach_licence(s, grid, site.site_id, f"L{i}")
            contracts.create_contract(
                s, grid, site_id=site.site_id, valid_from=t0, tariff_usd_per_mwh="80", firm_mw=0.0,
                interruptible_mw=rated_mw, max_curtailment_fraction=1.0, max_curtailment_duration_h=24.0,
                annual_curtailment_limit=0.05, response_time_s=30.0, overdraw_tolerance_fraction=0.02,
                overdraw_penalty_usd_per_mwh="200", exchange_rate_pkr_per_usd="280",
            )  # fmt: skip
            issued = create_client(s, f"agent {site.site_id}", "ven", site_id=site.site_id)
            site.client_id, site.client_secret = issued.client_id, issued.client_secret
    vtn = live_dispatch(app).vtn
    assert vtn is not None  # the application's live driver always has the VTN
    for site in sites:
        vtn.provision_site(site.site_id, zone=site.zone, kind="mining", client_id=site.client_id)


def _seed_draw(app: Any, sites: list[DemoSite], rated_mw: float) -> None:
    """Meter each site at its allocation over the last interval, as if it had been running.

    Dispatch ramps a site back up from its last metered draw (10 % of its allocation a minute);
    without this a fresh site would start from nothing and take ten minutes to reach its cap.
    """
    from offtake import units
    from offtake.identity.principal import ROLE_SCOPES, Principal
    from offtake.ledger import MeterReading, ingest_readings
    from offtake.persistence.db import session_scope

    grid = Principal("demo-control-room", "grid_operator", None, ROLE_SCOPES["grid_operator"], None)
    now = datetime.now(UTC).timestamp()
    end = datetime.fromtimestamp(now - now % _INTERVAL_S, UTC)
    start = end - timedelta(seconds=_INTERVAL_S)
    energy = round(rated_mw * units.WH_PER_MWH * _INTERVAL_S / units.S_PER_H)
    with session_scope(app.state.session_factory) as s:
        ingest_readings(s, grid, [MeterReading(site.site_id, "demo-meter", start, end, energy) for site in sites])


def _site_toml(folder: Path, url: str, site: DemoSite, index: int, miners: int, meter_port: int) -> Path:
    from offtake.agent.fakes.whatsminer import MinerSpec

    spec = MinerSpec.whatsminer()  # the fake fleet's machines, as the agent is told of them
    secret = folder / f"{site.site_id}.secret"
    secret.write_text(site.client_secret)
    secret.chmod(0o600)
    path = folder / f"{site.site_id}.toml"
    path.write_text(f"""[site]
id = "{site.site_id}"
safe_level_mw = 0.0
response_time_s = 10
max_start_kw = 10

[vtn]
url = "{url}/openadr3/3.1.0"
client_id = "{site.client_id}"
client_secret_file = "{secret.name}"
poll_s = {_POLL_S}
safety_poll_s = {_SAFETY_POLL_S}

[webhook]
listen = "127.0.0.1:0"

[agent]
tick_s = 1
report_interval_s = 10
log = "logs/{site.site_id}-commands.log"

[[asic]]
hosts = ["127.{_DEMO_BLOCK}.{index + 1}.2-{miners + 1}"]
max_w = {spec.rated_w:g}
min_w = {spec.min_power_limit_w:g}
standby_w = {spec.standby_w:g}

[meter]
kind = "modbus"
host = "127.0.0.1"
port = {meter_port}
map = "pm5000"
""")
    return path


def _start_server(app: Any) -> tuple[Any, threading.Thread, str, Any]:
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the demo server did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}", sock


def _ledger_size(app: Any) -> tuple[int, int]:
    from sqlalchemy import func, select

    from offtake.persistence.schema import LedgerEntry, Reading

    with app.state.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(LedgerEntry)) or 0), int(
            s.scalar(select(func.count()).select_from(Reading)) or 0
        )


def _print_round(echo: Callable[[str], None], app: Any, sites: list[DemoSite], elapsed: float) -> None:
    entries, readings = _ledger_size(app)
    echo(f"[{elapsed:5.0f} s] ledger: {entries} entries, {readings} readings")
    for site in sites:
        status = site.agent.status
        cap = f"{status.limit.cap_w / 1000:7.1f} kW ({status.limit.source})" if status.limit else "   -"
        draw = f"{status.power_w / 1000:6.1f} kW" if status.power_w is not None else "  -"
        hashing = sum(m.hashing for m in site.fleet.miners)
        problem = f", {status.problem}" if status.within_cap is False else ""
        events = f"webhook ({status.notifications} notified)" if status.subscribed else "polling"
        echo(f"    {site.site_id}: cap {cap}, metered {draw}, {hashing}/{len(site.fleet.miners)} hashing, "
             f"{status.reports_sent} reports, events by {events}{problem}")  # fmt: skip


def _bills(echo: Callable[[str], None], app: Any, sites: list[DemoSite]) -> None:
    from offtake.billing.bills import monthly_bill
    from offtake.identity.principal import ROLE_SCOPES, Principal

    grid = Principal("demo-control-room", "grid_operator", None, ROLE_SCOPES["grid_operator"], None)
    month = datetime.now(UTC).strftime("%Y-%m")
    with app.state.session_factory() as s:
        for site in sites:
            bill = monthly_bill(s, grid, site.site_id, month).as_dict()
            echo(f"    bill {site.site_id} {month} so far: {bill['total_usd']} USD ({bill['total_pkr']} PKR)")


async def _run_agents(echo: Callable[[str], None], app: Any, sites: list[DemoSite], duration_s: float) -> None:
    from offtake.api.lifecycle import live_dispatch
    from offtake.identity.principal import ROLE_SCOPES, Principal

    stop = asyncio.Event()
    tasks = [asyncio.create_task(site.agent.run(stop)) for site in sites]
    started = time.monotonic()
    declared = False
    grid = Principal("demo-control-room", "grid_operator", None, ROLE_SCOPES["grid_operator"], None)
    try:
        while (elapsed := time.monotonic() - started) < duration_s:
            await asyncio.sleep(min(5.0, max(0.1, duration_s - elapsed)))
            elapsed = time.monotonic() - started
            if not declared and elapsed >= duration_s / 2:
                declared = True
                echo(f"[{elapsed:5.0f} s] control room declares a national emergency for 15 s")
                await asyncio.to_thread(live_dispatch(app).declare_emergency, grid, zone=None, message="demo trip",
                                        at=datetime.now(UTC), duration=timedelta(seconds=15))  # fmt: skip
            _print_round(echo, app, sites, elapsed)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for site in sites:
            await site.agent.close()


def run_demo(
    echo: Callable[[str], None], *, duration_s: float, sites: int, miners: int, scenario: str, keep: Path | None
) -> None:
    """Run the demo (see the module docstring) and clean up after it."""
    from offtake.agent.config import load_config
    from offtake.agent.fakes.meter import MeterSimulator
    from offtake.agent.fakes.whatsminer import FakeFleet
    from offtake.agent.meter import register_map
    from offtake.agent.runner import build_agent
    from offtake.api.app import create_app
    from offtake.registry.setup import prepare_database
    from offtake.settings import Settings

    folder = keep or Path(tempfile.mkdtemp(prefix="offtake-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    zones = _zones(scenario)
    demo_sites = [DemoSite(f"demo-mine-{i + 1}", zones[i % len(zones)]) for i in range(sites)]
    # the agents subscribe with webhooks on loopback: this server (and only this demo's) may call them
    settings = Settings.resolve(env={}, data_dir=str(folder), grid_feed=f"scenario:{scenario}",
                                dispatch_interval_s=_INTERVAL_S, webhook_allow_private=True)  # fmt: skip
    app = create_app(settings)
    prepare_database(app.state.engine)
    from offtake.agent.fakes.whatsminer import MinerSpec
    from offtake.units import W_PER_MW

    rated_mw = round(miners * MinerSpec.whatsminer().rated_w / W_PER_MW, 6)
    _register(app, demo_sites, folder / "allocation.csv", rated_mw)
    echo(f"registered {sites} sites, their operators, licences, contracts and VEN clients in {folder}")
    echo(f"assessing scenario {scenario} for the grid feed (tens of seconds on a small machine)")
    from offtake.api.lifecycle import live_dispatch

    _ = live_dispatch(app).feed
    _seed_draw(app, demo_sites, rated_mw)
    server = thread = sock = None
    rmap = register_map({"map": "pm5000"})
    try:
        server, thread, url, sock = _start_server(app)
        echo(f"server on {url}; live dispatch every {_INTERVAL_S} s from scenario:{scenario}")
        echo("agents subscribe with webhooks on loopback (this demo's server allows loopback callbacks); "
             f"each polls every {_POLL_S} s until subscribed and every {_SAFETY_POLL_S} s after, as a fallback")
        for i, site in enumerate(demo_sites):
            site.fleet = FakeFleet.build(miners, first_ip=(_DEMO_BLOCK << 16) + ((i + 1) << 8) + 2).start()
            site.meter = MeterSimulator(site.fleet.total_draw_w, rmap).start()
            site.agent = build_agent(load_config(_site_toml(folder, url, site, i, miners, site.meter.port)))
        asyncio.run(_run_agents(echo, app, demo_sites, duration_s))
        _bills(echo, app, demo_sites)
    finally:
        for site in demo_sites:
            for part in (site.meter, site.fleet):
                if part is not None:
                    part.stop()
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(30)
        if sock is not None:
            sock.close()
        notifier = getattr(app.state, "vtn_notifier", None)
        if notifier is not None:
            notifier.close()
        app.state.engine.dispose()
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
        echo("demo stopped: agents, fake fleets, meters and the server are down")
