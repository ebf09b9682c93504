"""End to end on loopback: VTN (real uvicorn) -> agent -> pyasic -> fake Whatsminers -> Modbus meter
-> USAGE report -> ledger, with an emergency and the VTN going away.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyasic", reason="the agent extra (pyasic) is not installed")
pytest.importorskip("pymodbus", reason="the agent extra (pymodbus) is not installed")

from agent_platform import RATED_W, SITE, Platform, first_ip, publish, start_platform, write_site

from offtake.agent.audit import CommandLog
from offtake.agent.config import load_config
from offtake.agent.fakes.meter import MeterSimulator
from offtake.agent.fakes.whatsminer import FakeFleet
from offtake.agent.meter import register_map
from offtake.agent.runner import Agent, build_agent
from offtake.agent.ven import VenClient
from offtake.vtn.programme import SiteCap

MINERS = 6


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    p = start_platform(tmp_path_factory.mktemp("agent-vtn"))
    yield p
    p.stop()


def _write_site(folder: Path, p: Platform, first: int, meter_port: int, **site: Any) -> Path:
    return write_site(folder, p, first, MINERS, meter_port, **site)


async def _run_until(agent: Agent, check: Any, limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        await agent.step()
        if check():
            return True
        await asyncio.sleep(agent.config.tick_s)
    return False


def test_agent_follows_caps_and_an_emergency_and_reports_into_the_ledger(platform: Platform, tmp_path: Path) -> None:
    first = first_ip()
    # machine 1 has no power target (refuses it), machine 5 cannot be reached but still draws
    fleet = FakeFleet.build(MINERS, refuse=[1], unreachable=[5], first_ip=first)
    rmap = register_map({"map": "pm5000"})
    cap_w = 12_000.0
    cap_events = publish(platform, cap_w / 1e6)
    with fleet, MeterSimulator(fleet.total_draw_w, rmap) as meter:
        config = load_config(_write_site(tmp_path, platform, first, meter.port))
        agent = build_agent(config)

        async def scenario() -> dict[str, Any]:
            out: dict[str, Any] = {}
            try:
                await agent.discover()
                # the cap is reached: the fleet's true draw (meter) is within it, soft curtailment first
                def settled() -> bool:
                    status = agent.status
                    return fleet.total_draw_w() <= cap_w and status.within_cap is True and not status.last_results

                out["capped"] = await _run_until(
                    agent, settled, 15,
                )
                out["draw_capped"] = fleet.total_draw_w()
                out["plan"] = agent.status.plan
                out["limits"] = {m.ip: (m.hashing, m.power_limit_w) for m in fleet.miners}
                # readings reach the ledger
                out["reported"] = await _run_until(agent, lambda: agent.status.reports_sent >= 2, 10)
                # an emergency stops every reachable miner
                out["emergency_events"] = platform.vtn.declare_emergency(
                    [SITE], {SITE: "mining"}, start=datetime.now(UTC) - timedelta(seconds=1),
                    duration=timedelta(minutes=5), message="test trip",
                )  # fmt: skip
                t0 = time.monotonic()
                out["emergency"] = await _run_until(
                    agent, lambda: not any(m.hashing for m in fleet.miners if m.behaviour != "unreachable"), 10
                )
                out["emergency_s"] = time.monotonic() - t0
                out["limit_source"] = agent.status.limit.source if agent.status.limit else None
            finally:
                await agent.close()
            return out

        out = asyncio.run(scenario())
    # the next test on this VTN starts with no event of this one in force
    ended = [e["id"] for e in out.get("emergency_events", [])] + cap_events
    platform.vtn.end_events(ended, end=datetime.now(UTC))
    assert out["capped"], f"cap not reached: draw {out['draw_capped']} W, plan {out['plan']}"
    plan = out["plan"]
    assert plan.fixed_w == pytest.approx(RATED_W)  # the unreachable miner counted at its draw
    assert plan.planned_w <= cap_w
    refusing = fleet.miners[1]
    # soft curtailment first: the machines with a power target run turned down, the one without stops
    tunable = [m for i, m in enumerate(fleet.miners) if i not in (1, 5)]
    assert out["limits"][refusing.ip][0] is False
    limits = out["limits"]
    assert all(limits[m.ip][0] and limits[m.ip][1] < RATED_W for m in tunable), limits
    assert out["reported"]
    readings = platform.readings()
    assert readings and all(r.energy_wh >= 0 for r in readings) and sum(r.energy_wh for r in readings) > 0
    # a 2-second interval at <= 12 kW is at most ~6.7 Wh (plus interpolation slack)
    assert max(r.energy_wh for r in readings) <= cap_w * 2.5 / 3600 + 1
    # each report: the interval's energy (metered), the draw now, the operating state and where the figures came from
    reports = platform.reports()
    assert len(reports) >= 2
    for report in reports:
        kinds = {d["payloadType"]: d.get("readingType") for d in report["payloadDescriptors"]}
        assert kinds == {"USAGE": "DIRECT_READ", "DEMAND": "DIRECT_READ", "OPERATING_STATE": None,
                         "DRAW_SOURCE": None}, kinds  # fmt: skip
        values = {p["type"]: p["values"][0] for p in report["resources"][0]["intervals"][0]["payloads"]}
        assert values["DRAW_SOURCE"] == "METER" and values["DEMAND"] >= 0
        states = {"RUNNING_CURTAILED", "IDLE_CURTAILED", "RUNNING_NORMAL", "IDLE_NORMAL", "ERROR"}
        assert values["OPERATING_STATE"] in states
    assert out["emergency"] and out["limit_source"] == "emergency"
    assert out["emergency_s"] < 5
    lines = (tmp_path / "logs" / "commands.log").read_text().splitlines()
    assert any(json.loads(line)["command"] == "stop" for line in lines)
    assert any(json.loads(line)["to"] == "vtn" for line in lines)


def test_agent_holds_the_last_cap_while_the_vtn_is_away_then_falls_to_the_safe_level(
    platform: Platform, tmp_path: Path
) -> None:
    first = first_ip()
    fleet = FakeFleet.build(3, first_ip=first)
    rmap = register_map({"map": "pm5000"})
    with fleet, MeterSimulator(fleet.total_draw_w, rmap) as meter:
        config = load_config(_write_site(tmp_path, platform, first, meter.port))
        agent = build_agent(config)

        async def scenario() -> tuple[Any, Any, Any]:
            try:
                await agent.discover()
                start = datetime.now(UTC)
                # a cap that ends in 3 s, held from the VTN's answer
                platform.vtn.publish_caps(
                    [SiteCap(SITE, start - timedelta(seconds=1), start + timedelta(seconds=3), 0.006)],
                    {SITE: "mining"},
                )
                await agent.step()
                held = agent.status.limit
                # the VTN goes away: point the agent at a closed port
                agent.ven.base_url = "http://127.0.0.1:9/openadr3/3.1.0"
                agent.ven._token = None
                await asyncio.sleep(agent.config.poll_s)  # the next poll is due
                await agent.step()
                during = (agent.status.limit, agent.status.vtn_reachable)
                await asyncio.sleep(max(0.0, (start + timedelta(seconds=3.2) - datetime.now(UTC)).total_seconds()))
                await agent.step()
                after = agent.status.limit
                return held, during, after
            finally:
                await agent.close()

        held, during, after = asyncio.run(scenario())
    assert held is not None and held.source == "cap" and held.cap_w == pytest.approx(6000)
    assert during[1] is False and during[0] is not None and during[0].cap_w == pytest.approx(6000)
    assert after is not None and after.source == "safe" and after.cap_w == 0.0
    assert not any(m.hashing for m in fleet.miners)


def test_an_agent_registers_its_ven_and_resource_where_the_vtn_has_none(tmp_path: Path) -> None:
    p = start_platform(tmp_path / "vtn", provision=False)
    try:
        config = load_config(write_site(tmp_path, p, first_ip(), 1, None))
        log = CommandLog(None)
        ven = VenClient(config.vtn_url, config.client_id, config.client_secret, log)

        async def go() -> tuple[str, str, list[Any], list[Any]]:
            try:
                first = await ven.register(SITE)
                again = await ven.register(SITE)  # a restart finds both, and registers nothing twice
                vens = await ven.request("GET", "/vens")
                resources = await ven.request("GET", "/resources", params={"venID": first})
                return first, again, vens, resources
            finally:
                await ven.close()

        first, again, vens, resources = asyncio.run(go())
    finally:
        p.stop()
    assert first == again
    assert [v["venName"] for v in vens] == [SITE]
    assert [(r["resourceName"], r["venID"]) for r in resources] == [(SITE, first)]


def test_site_toml_errors_name_the_field(tmp_path: Path) -> None:
    from offtake.errors import InputError

    bad = tmp_path / "site.toml"
    bad.write_text('[site]\nid = "x"\n[vtn]\nurl = "ftp://nope"\nclient_id = "c"\nclient_secret_file = "s"\n')
    (tmp_path / "s").write_text("secret")
    os.chmod(tmp_path / "s", 0o644)
    with pytest.raises(InputError, match="readable by others"):
        load_config(bad)
    os.chmod(tmp_path / "s", 0o600)
    with pytest.raises(InputError, match=r"vtn\.url"):
        load_config(bad)
