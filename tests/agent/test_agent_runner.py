"""The runner's own rules, with a site's own driver behind the driver interface."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from offtake.agent.audit import CommandLog
from offtake.agent.config import AgentConfig
from offtake.agent.machines import Command, CommandResult, Driver, MachineInfo, Telemetry
from offtake.agent.meter import TelemetryMeter
from offtake.agent.runner import Agent


class FlakyReads(Driver):
    """Two machines; the second's reads time out, but it still takes commands."""

    kind = "flaky"

    def __init__(self) -> None:
        self.running = {"m1": True, "m2": True}
        self.sent: list[Command] = []

    async def discover(self) -> list[MachineInfo]:
        return [MachineInfo(m, self.kind, "x", 500, 1000, 10, False) for m in self.running]

    async def read(self, ids: Sequence[str]) -> list[Telemetry]:
        return [Telemetry(m, True, self.running[m], 1000.0) if m == "m1" else Telemetry(m, False) for m in ids]

    async def apply(self, commands: Sequence[Command]) -> list[CommandResult]:
        self.sent.extend(commands)
        for c in commands:
            self.running[c.machine_id] = c.action != "stop"
        return [CommandResult(c, True, c.action) for c in commands]


def _emergency(now: datetime) -> dict[str, object]:
    return {"id": "em", "programID": "p", "priority": 0,
            "intervalPeriod": {"start": (now - timedelta(seconds=1)).isoformat(), "duration": "PT5M"},
            "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [3]}]}]}  # fmt: skip


def test_an_emergency_also_stops_machines_whose_last_read_failed() -> None:
    driver = FlakyReads()
    config = AgentConfig("s1", "http://127.0.0.1:9/x", "c", "s", poll_s=3600)
    agent = Agent(config, [driver], TelemetryMeter(), CommandLog(None))

    async def go() -> tuple[str | None, list[str]]:
        try:
            await agent.discover()
            await agent.read_machines()
            # the notification path: the VTN itself is away (a closed port)
            agent.notified({"objectType": "EVENT", "operation": "CREATE", "object": _emergency(datetime.now(UTC))})
            agent.notified({"objectType": "PROGRAM", "operation": "CREATE", "object": {"id": "ignored"}})
            await agent.step()
            return (agent.status.limit.source if agent.status.limit else None), [c.machine_id for c in driver.sent]
        finally:
            await agent.close()

    source, sent = asyncio.run(go())
    assert source == "emergency"
    assert not any(driver.running.values())
    assert sorted(set(sent)) == ["m1", "m2"]
    assert agent.status.notifications == 1


def test_a_notification_during_a_poll_is_not_undone_by_the_older_answer() -> None:
    driver = FlakyReads()
    agent = Agent(AgentConfig("s1", "http://127.0.0.1:9/x", "c", "s", poll_s=3600), [driver], TelemetryMeter(),
                  CommandLog(None))  # fmt: skip
    emergency = _emergency(datetime.now(UTC))

    async def registered(site_id: str) -> str:
        agent.ven.ven_id = "ven-1"
        return "ven-1"

    async def answer_computed_before_the_emergency() -> list[dict[str, object]]:
        # the VTN answered the poll, then declared the emergency and notified before the answer arrived
        agent.notified({"objectType": "EVENT", "operation": "CREATE", "object": emergency})
        return []

    agent.ven.register = registered  # type: ignore[method-assign]
    agent.ven.events = answer_computed_before_the_emergency  # type: ignore[method-assign]

    async def go() -> str | None:
        try:
            await agent.discover()
            await agent.step()
            return agent.status.limit.source if agent.status.limit else None
        finally:
            await agent.close()

    assert asyncio.run(go()) == "emergency"
    assert not any(driver.running.values())
