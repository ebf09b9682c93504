"""The ASIC driver's privileged-API tokens: fetched at discovery, so a cap pays no token exchange; renewed in time."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("pyasic", reason="the agent extra (pyasic) is not installed")

from agent_platform import first_ip

from offtake.agent import asic
from offtake.agent.asic import AsicDriver, AsicGroup
from offtake.agent.fakes.whatsminer import FakeFleet
from offtake.agent.machines import Command


def test_a_cap_after_discovery_sends_only_the_power_target_and_tokens_are_renewed_in_the_telemetry_round() -> None:
    first = first_ip()
    with FakeFleet.build(3, first_ip=first) as fleet:
        ips = [m.ip for m in fleet.miners]
        driver = AsicDriver([AsicGroup(tuple(ips), 3472, 1736, 20)])

        async def go() -> tuple[list[list[str]], list[list[str]], list[list[str]], list[bool]]:
            await driver.discover()
            at_discovery = [list(m.commands) for m in fleet.miners]
            for m in fleet.miners:
                m.commands.clear()
            results = await driver.apply([Command(ip, "power", 3000) for ip in ips])
            on_cap = [list(m.commands) for m in fleet.miners]
            for m in fleet.miners:
                m.commands.clear()
            driver._token_at[ips[0]] -= asic._TOKEN_S + 1  # the first miner's token is getting old
            await driver.read(ips)
            on_read = [[c for c in m.commands if c == "get_token"] for m in fleet.miners]
            return at_discovery, on_cap, on_read, [r.ok for r in results]

        at_discovery, on_cap, on_read, ok = asyncio.run(go())
    assert all("get_token" in c for c in at_discovery)
    assert all(ok) and on_cap == [["adjust_power_limit"]] * 3  # no token exchange on the way to the cap
    assert on_read == [["get_token"], [], []]
    assert all(m.power_limit_w == 3000 for m in fleet.miners)
