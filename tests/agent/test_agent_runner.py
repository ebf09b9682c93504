"""The runner's own rules, with a site's own driver behind the driver interface."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


class OneUnreachable(Driver):
    """m1 answers and takes commands; m2 has never answered (its draw is unknown)."""

    kind = "mixed"

    def __init__(self) -> None:
        self.running = True

    async def discover(self) -> list[MachineInfo]:
        return [MachineInfo(m, self.kind, "x", 500, 1000, 10, False) for m in ("m1", "m2")]

    async def read(self, ids: Sequence[str]) -> list[Telemetry]:
        return [Telemetry(m, True, self.running, 1000.0 if self.running else 10.0) if m == "m1"
                else Telemetry(m, False) for m in ids]  # fmt: skip

    async def apply(self, commands: Sequence[Command]) -> list[CommandResult]:
        out = []
        for c in commands:
            if c.machine_id == "m1":
                self.running = c.action != "stop"
            out.append(CommandResult(c, c.machine_id == "m1", c.action if c.machine_id == "m1" else "unreachable"))
        return out


def test_a_cap_not_reached_after_the_response_time_is_reported_with_the_reason(tmp_path: Path) -> None:
    driver = OneUnreachable()
    config = AgentConfig("s1", "http://127.0.0.1:9/x", "c", "s", poll_s=3600, response_time_s=0.0)
    log_path = tmp_path / "commands.log"
    agent = Agent(config, [driver], TelemetryMeter(), CommandLog(log_path))
    now = datetime.now(UTC)
    cap = {"id": "cap", "programID": "p", "priority": 1,
           "payloadDescriptors": [{"payloadType": "IMPORT_CAPACITY_LIMIT", "units": "KW"}],
           "intervalPeriod": {"start": (now - timedelta(seconds=1)).isoformat(), "duration": "PT5M"},
           "intervals": [{"id": 0, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [0.5]}]}]}  # fmt: skip

    async def go() -> tuple[bool | None, str]:
        try:
            await agent.discover()
            await agent.read_machines()
            agent.notified({"objectType": "EVENT", "operation": "CREATE", "object": cap})
            await agent.step()
            await agent.step()
            return agent.status.within_cap, agent.status.problem
        finally:
            await agent.close()

    within, problem = asyncio.run(go())
    # m1 stopped (10 W) but m2, never read, counts at its maximum (1000 W): above 500 W, and the agent says why
    assert driver.running is False
    assert within is False and "above cap 500 W" in problem and "1 machine(s) unreachable" in problem
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert next(line for line in lines if line["command"] == "cap-not-reached")["body"]["unreachable"] == ["m2"]


def test_the_operating_state_says_whether_machines_run_and_under_what() -> None:
    from offtake.agent.runner import operating_state
    from offtake.agent.schedule import Limit

    cap, safe = Limit(5000.0, "cap", "e", None), Limit(2000.0, "safe", None, None)
    zero = Limit(0.0, "emergency", "x", None)
    assert operating_state(True, cap, running=True) == "RUNNING_CURTAILED"
    assert operating_state(None, cap, running=False) == "IDLE_CURTAILED"
    assert operating_state(True, safe, running=True) == "RUNNING_NORMAL"
    assert operating_state(True, safe, running=False) == "IDLE_NORMAL"
    assert operating_state(True, zero, running=True) == "IDLE_CURTAILED"  # nothing may run under a zero cap
    assert operating_state(False, cap, running=True) == "ERROR"


def test_the_command_log_rotates_and_keeps_only_its_backups(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "commands.log"
    log = CommandLog(path, max_bytes=2_000, backups=2)
    for i in range(200):
        log.record("m1", "power", i, "ok")
    log.close()
    assert sorted(p.name for p in path.parent.iterdir()) == ["commands.log", "commands.log.1", "commands.log.2"]
    kept = [json.loads(line) for p in (path.with_suffix(".log.2"), path.with_suffix(".log.1"), path)
            for line in p.read_text().splitlines()]  # fmt: skip
    assert all(p.stat().st_size <= 2_000 for p in path.parent.iterdir())
    bodies = [line["body"] for line in kept]
    assert bodies == list(range(bodies[0], 200))  # the newest kept in order, the oldest rotated away
    assert bodies[0] > 0
