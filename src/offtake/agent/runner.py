"""The agent's loop: caps in from the VTN, machine settings out, meter readings back.

Events come from polling the VTN and, where ``[webhook]`` is configured and the VTN accepts the
subscription, from its notifications: a notified event wakes the loop at once, and polling
slows to ``safety_poll_s`` (it still catches up with a lost notification). A refused
subscription, or a listener that could not start, is tried again with a doubling wait (from
``poll_s`` up to ``safety_poll_s``) while the agent polls. The schedule is
kept on disk (:mod:`offtake.agent.state`) whenever it changes and read back at start, so
after a restart the cap in force (or the safe level) applies before any machine resumes.

Every tick: poll the VTN when due (keeping the last schedule when it cannot be reached),
take the limit in force now (:func:`~offtake.agent.schedule.limit_at`), read the machines,
plan the fleet (:func:`~offtake.agent.plan.plan_fleet`), send the commands that lower draw
before those that raise it, read the meter, and at each report boundary post the interval's
energy. The first plan after a start resumes no machine, so the current cap is applied
before anything restarts. After the contract's response time the agent checks, from the
meter (or telemetry), that the site is within the cap, and says why when it is not.
A limit that changed is applied from what is known of the machines before they are read
again, so an emergency waits for no telemetry. :meth:`Agent.run` reads telemetry in the
background (a round every ``telemetry_s`` at most) so a large fleet's round never delays a cap.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from offtake.agent.audit import CommandLog
from offtake.agent.config import AgentConfig
from offtake.agent.machines import Command, CommandResult, Driver, MachineInfo, Telemetry
from offtake.agent.meter import MeterReading, ModbusMeter, TelemetryMeter
from offtake.agent.plan import FleetPlan, MachineView, plan_fleet
from offtake.agent.schedule import Limit, Window, limit_at, windows_from_events
from offtake.agent.state import load_schedule, save_schedule
from offtake.agent.ven import VenClient, VtnRefused, VtnUnavailable, usage_report
from offtake.agent.webhook import WebhookListener
from offtake.errors import InputError

__all__ = ["Agent", "AgentStatus", "Meter", "build_agent", "make_meter", "next_backoff", "operating_state"]

_STUCK_S = 30.0
_MAX_PENDING = 10_000
#: Longest wait for a telemetry round in flight when the agent stops [s].
_STOP_S = 15.0


class Meter(Protocol):
    """A source of the site's draw (a Modbus meter or summed telemetry)."""

    @property
    def source(self) -> str:
        """``meter`` or ``telemetry``."""
        ...

    async def read(self) -> MeterReading:
        """Read power and the energy counter."""
        ...

    async def close(self) -> None:
        """Release the connection."""
        ...


@dataclass
class AgentStatus:
    """What the agent last did, for an operator's screen and for tests."""

    limit: Limit | None = None
    plan: FleetPlan | None = None
    power_w: float | None = None
    vtn_reachable: bool = False
    within_cap: bool | None = None
    problem: str = ""
    reports_sent: int = 0
    reports_pending: int = 0
    commands_sent: int = 0
    commands_failed: int = 0
    subscribed: bool = False
    notifications: int = 0
    restored: bool = False
    last_results: list[CommandResult] = field(default_factory=list)


class Agent:
    """One site's agent.

    Parameters
    ----------
    config
        The site's configuration.
    drivers
        Machine drivers (see :func:`build_agent`).
    meter
        The site meter, or a :class:`TelemetryMeter`.
    log
        The command log.
    """

    def __init__(self, config: AgentConfig, drivers: Sequence[Driver], meter: Meter, log: CommandLog) -> None:
        self.config = config
        self.drivers = list(drivers)
        self.meter = meter
        self.log = log
        self.ven = VenClient(config.vtn_url, config.client_id, config.client_secret, log)
        self.status = AgentStatus()
        self._windows: list[Window] = []
        self._events: dict[str, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self._listener: WebhookListener | None = None
        self._subscription: str | None = None
        self._subscribe_backoff_s = 0.0  # the last wait before subscribing again [s]
        self._subscribe_retry_at = 0.0  # monotonic time of the next try
        self._during_poll: dict[str, dict[str, Any] | None] | None = None  # notifications while a poll runs
        self._machines: dict[str, tuple[Driver, MachineInfo]] = {}
        self._telemetry: dict[str, Telemetry] = {}
        self._last_draw: dict[str, float] = {}
        self._nominal: set[str] = set()  # machines whose last draw is a configured value, not a measurement
        self._stuck_until: dict[str, float] = {}
        self._next_poll = 0.0
        self._applied = False
        self._limit_since: tuple[float, float] = (math.nan, 0.0)  # (cap, monotonic time it began)
        self._last_event_id: str | None = None
        self._pending: list[dict[str, Any]] = []
        self._report_start: datetime | None = None
        self._report_energy: float | None = None
        self._prev_reading: tuple[datetime, MeterReading] | None = None

    # ------------------------------------------------------------------ VTN
    async def poll(self) -> None:
        """Fetch the events; on failure keep the last schedule (the fail-safe rule does the rest)."""
        try:
            if self.ven.ven_id is None:
                await self.ven.register(self.config.site_id)
            await self._subscribe()
            self._during_poll = {}
            events = await self.ven.events()
        except (VtnUnavailable, VtnRefused) as exc:
            if self.status.vtn_reachable:
                self.log.record("agent", "vtn-lost", None, str(exc))
            self.status.vtn_reachable = False
            return
        finally:
            during, self._during_poll = self._during_poll, None
        self.status.vtn_reachable = True
        self._events = {str(e.get("id", i)): e for i, e in enumerate(events)}
        # a notification that came while the answer was on its way may be newer than the answer
        for event_id, body in (during or {}).items():
            if body is None:
                self._events.pop(event_id, None)
            else:
                self._events[event_id] = body
        self._set_windows()

    def _set_windows(self) -> None:
        windows = windows_from_events(self._events.values(), emergency_level=self.config.emergency_level)
        caps = [w for w in windows if w.kind == "cap"]
        if caps:
            self._last_event_id = caps[-1].event_id
        if windows != self._windows and self.config.state_path is not None:
            try:
                save_schedule(self.config.state_path, windows, self._last_event_id, datetime.now(UTC))
            except OSError as exc:
                self.log.record("agent", "state-not-saved", str(self.config.state_path), str(exc))
        self._windows = windows

    def restore(self) -> None:
        """Read the schedule kept by an earlier run (a file that cannot be read: none, and say why)."""
        path = self.config.state_path
        if path is None:
            return
        try:
            saved = load_schedule(path)
        except InputError as exc:
            self.status.problem = f"schedule not restored: {exc}"
            self.log.record("agent", "state-not-restored", str(path), str(exc))
            return
        if saved is None:
            return
        self._windows = list(saved.windows)
        self._last_event_id = saved.last_event_id
        self.status.restored = True
        self.log.record("agent", "state-restored", str(path), f"{len(saved.windows)} window(s)")

    # ------------------------------------------------------------------ webhook
    async def _subscribe(self) -> None:
        """Start the listener and subscribe where a webhook is configured; subscribe again if the VTN lost it.

        A listener that cannot start or a subscription the VTN refuses is tried again later,
        the wait doubling from ``poll_s`` up to ``safety_poll_s`` (see :func:`next_backoff`);
        the agent polls meanwhile.
        """
        if self.config.webhook_listen is None:
            return
        if self._subscription is not None:
            try:
                await self.ven.request("GET", f"/subscriptions/{self._subscription}")
                return
            except VtnRefused:
                self.log.record("agent", "subscription-lost", self._subscription, "subscribing again")
                self._subscription, self.status.subscribed = None, False
        if time.monotonic() < self._subscribe_retry_at:
            return
        if self._listener is None:
            host, port = self.config.webhook_listen
            listener = WebhookListener(host, port, self.notified, self.config.webhook_url)
            try:
                await listener.start()
            except OSError as exc:  # the port is taken, or the address is not this host's: poll meanwhile
                wait = self._defer_subscription()
                self.status.problem = f"webhook: cannot listen on {host}:{port}: {exc.strerror}; polling"
                self.log.record("agent", "webhook-not-started", f"{host}:{port}",
                                f"{exc}; polling, trying again in {wait:g} s")  # fmt: skip
                return
            self._listener = listener
        try:
            self._subscription = await self.ven.subscribe(self.config.site_id, self._listener.url,
                                                          self._listener.token)  # fmt: skip
        except VtnRefused as exc:
            # e.g. a VTN that calls no private address: poll meanwhile, say so, and ask again later
            wait = self._defer_subscription()
            self.log.record("agent", "subscription-refused", self._listener.url,
                            f"{exc}; polling, trying again in {wait:g} s")  # fmt: skip
            return
        self._subscribe_backoff_s = 0.0
        self.status.subscribed = True
        self.log.record("agent", "subscribed", self._listener.url, self._subscription)

    def _defer_subscription(self) -> float:
        """Set when to try subscribing again; return the wait [s]."""
        self._subscribe_backoff_s = next_backoff(self._subscribe_backoff_s, self.config.poll_s,
                                                 self.config.safety_poll_s)  # fmt: skip
        self._subscribe_retry_at = time.monotonic() + self._subscribe_backoff_s
        return self._subscribe_backoff_s

    def notified(self, notification: dict[str, Any]) -> None:
        """Take one webhook notification: an event created, updated or deleted; wake the loop."""
        body = notification.get("object")
        if notification.get("objectType") != "EVENT" or not isinstance(body, dict) or "id" not in body:
            return
        self.status.notifications += 1
        deleted = notification.get("operation") == "DELETE"
        if deleted:
            self._events.pop(str(body["id"]), None)
        else:
            self._events[str(body["id"])] = body
        if self._during_poll is not None:
            self._during_poll[str(body["id"])] = None if deleted else body
        self.log.record("vtn", "notification", {"operation": notification.get("operation"), "event": body["id"]},
                        "taken")  # fmt: skip
        self._set_windows()
        self._wake.set()

    # ------------------------------------------------------------------ machines
    async def discover(self) -> None:
        """Find every driver's machines."""
        for driver in self.drivers:
            for info in await driver.discover():
                self._machines[info.id] = (driver, info)

    def _refresh_infos(self) -> None:
        for driver in self.drivers:
            machines = getattr(driver, "machines", None)
            if callable(machines):
                for info in machines():
                    self._machines[info.id] = (driver, info)

    async def read_machines(self) -> list[Telemetry]:
        """Read every machine's telemetry (all drivers at once)."""
        per_driver: dict[int, list[str]] = {}
        for mid, (driver, _) in self._machines.items():
            per_driver.setdefault(id(driver), []).append(mid)
        drivers = {id(d): d for d in self.drivers}
        results = await asyncio.gather(*(drivers[k].read(ids) for k, ids in per_driver.items()))
        out = [t for batch in results for t in batch]
        for t in out:
            self._telemetry[t.id] = t
            if t.reachable and t.power_w is not None:
                self._last_draw[t.id] = t.power_w
                if t.nominal:
                    self._nominal.add(t.id)
                else:
                    self._nominal.discard(t.id)
        if isinstance(self.meter, TelemetryMeter):
            total, nominal = self._counted_draw()
            self.meter.feed(total, nominal_w=nominal)
        return out

    def _counted_draw(self) -> tuple[float, float]:
        """Return the fleet's draw as counted [W] and the part of it that is nominal, not measured [W]."""
        total = nominal = 0.0
        for mid, (_, info) in self._machines.items():
            draw = self._last_draw.get(mid)
            if draw is None or mid in self._nominal:  # never read: counted at its maximum
                draw = info.max_w if draw is None else draw
                nominal += draw
            total += draw
        return total, nominal

    def views(self, now: float) -> list[MachineView]:
        """Return what the planner knows of each machine now."""
        out = []
        for mid, (_, info) in self._machines.items():
            t = self._telemetry.get(mid)
            reachable = t is not None and t.reachable
            controllable = reachable and self._stuck_until.get(mid, 0.0) <= now
            running = bool(t.running) if t is not None and t.running is not None else True
            out.append(MachineView(mid, info.min_w, info.max_w, info.standby_w, info.power_target, controllable,
                                   running, self._last_draw.get(mid)))  # fmt: skip
        return out

    def commands_for(self, plan: FleetPlan) -> tuple[list[Command], list[Command]]:
        """Commands that lower draw, then commands that raise it."""
        lower: list[Command] = []
        raise_: list[Command] = []
        for mid, target in plan.targets.items():
            t = self._telemetry.get(mid)
            running = t.running if t is not None else None
            _, info = self._machines[mid]
            if not target.run:
                if running is not False:
                    lower.append(Command(mid, "stop"))
            elif target.power_w is not None and info.power_target:
                limit = t.limit_w if t is not None else None
                if running is False:
                    raise_.append(Command(mid, "power", target.power_w))
                elif limit is None or abs(limit - target.power_w) >= 1.0:
                    higher = limit is not None and target.power_w > limit
                    (raise_ if higher else lower).append(Command(mid, "power", target.power_w))
            elif running is False:
                raise_.append(Command(mid, "resume"))
        return lower, raise_

    async def send(self, commands: Sequence[Command]) -> list[CommandResult]:
        """Send commands through their drivers and log each answer."""
        by_driver: dict[int, list[Command]] = {}
        for c in commands:
            by_driver.setdefault(id(self._machines[c.machine_id][0]), []).append(c)
        drivers = {id(d): d for d in self.drivers}
        batches = await asyncio.gather(*(drivers[k].apply(cs) for k, cs in by_driver.items()))
        results = [r for batch in batches for r in batch]
        now = time.monotonic()
        for r in results:
            self.log.record(r.command.machine_id, r.command.action, r.command.power_w, r.detail)
            if not r.ok and not r.detail.startswith("refused: power target"):
                self._stuck_until[r.command.machine_id] = now + _STUCK_S
            if r.ok and r.command.machine_id in self._telemetry:
                self._telemetry[r.command.machine_id] = self._after(self._telemetry[r.command.machine_id], r.command)
        self.status.commands_sent += len(results)
        self.status.commands_failed += sum(not r.ok for r in results)
        self.status.last_results = results
        return results

    @staticmethod
    def _after(t: Telemetry, c: Command) -> Telemetry:
        running = c.action != "stop"
        limit = float(c.power_w) if c.action == "power" and c.power_w is not None else t.limit_w
        return Telemetry(t.id, t.reachable, running, t.power_w, limit, t.work_rate, t.temperature_c, t.nominal)

    # ------------------------------------------------------------------ one tick
    async def apply_limit(self, limit: Limit, now: float) -> FleetPlan:
        """Plan under ``limit`` and send the commands (lowering first)."""
        accuracy = getattr(getattr(self.meter, "rmap", None), "accuracy_fraction", 0.0)
        headroom = limit.cap_w * (accuracy + self.config.headroom_fraction)
        max_start = self.config.max_start_w if self._applied else 0.0
        plan = plan_fleet(limit.cap_w, self.views(now), headroom_w=headroom, max_start_w=max_start)
        lower, raise_ = self.commands_for(plan)
        if lower:
            await self.send(lower)
        if raise_:
            await self.send(raise_)
        self._refresh_infos()
        return plan

    async def _stop_the_rest(self, limit: Limit) -> None:
        """In an emergency, also tell the machines whose last read failed to stop (best effort).

        A read that timed out is no proof that a command will: the plan counts such machines
        at their last draw and sends them nothing, so an emergency tries them once more.
        """
        rest = [Command(mid, "stop") for mid in self._machines
                if not (t := self._telemetry.get(mid)) or not t.reachable]  # fmt: skip
        if rest:
            self.log.record("agent", "emergency-stop-unread", {"machines": len(rest), "event": limit.event_id},
                            "sent")  # fmt: skip
            await self.send(rest)

    async def step(self, *, read: bool = True) -> AgentStatus:
        """One tick of the loop; returns the status (``read=False``: telemetry is read elsewhere)."""
        mono = time.monotonic()
        wall = datetime.now(UTC)
        self.status.last_results = []
        if mono >= self._next_poll:
            await self.poll()
            self._next_poll = mono + (self.config.safety_poll_s if self._subscription else self.config.poll_s)
        limit = limit_at(self._windows, wall, safe_w=self.config.safe_w)
        if limit.cap_w != self._limit_since[0]:
            self.log.record("agent", "limit", {"cap_w": limit.cap_w, "source": limit.source,
                                               "event": limit.event_id}, "in force")  # fmt: skip
            self._limit_since = (limit.cap_w, mono)
            self.status.limit = limit  # in force from now, while the machines are told
            if self._telemetry:
                await self.apply_limit(limit, mono)  # at once, from what is known: reading waits
            if limit.source == "emergency":
                await self._stop_the_rest(limit)
        if read:
            await self.read_machines()
        plan = await self.apply_limit(limit, mono)
        self.status.limit, self.status.plan = limit, plan
        self._applied = True  # from the next tick on, stopped machines may be resumed (staggered)
        await self._metering(wall, mono, limit)
        await self._flush_reports()
        return self.status

    async def _metering(self, wall: datetime, mono: float, limit: Limit) -> None:
        try:
            reading = await self.meter.read()
        except OSError as exc:
            self.status.problem = f"meter: {exc}"
            self.log.record("meter", "read", None, f"failed: {exc}")
            return
        self.status.power_w = reading.power_w
        self._confirm(limit, reading, mono)
        self._account(wall, reading, limit)

    def _confirm(self, limit: Limit, reading: MeterReading, mono: float) -> None:
        cap, since = self._limit_since
        allowed = cap * (1 + getattr(getattr(self.meter, "rmap", None), "accuracy_fraction", 0.0)) + 1.0
        if reading.power_w <= allowed:
            self.status.within_cap, self.status.problem = True, ""
            return
        if mono - since < self.config.response_time_s:
            return  # still within the contract's response time
        unreachable = [m for m, t in self._telemetry.items() if not t.reachable]
        stuck = [m for m, until in self._stuck_until.items() if until > mono]
        why = f"{len(unreachable)} machine(s) unreachable, {len(stuck)} refused or timed out"
        plan = self.status.plan
        if plan is not None and not plan.feasible:
            why += "; the draw of machines that cannot be commanded and the standby of stopped ones exceed it"
        problem = f"draw {reading.power_w:.0f} W above cap {cap:.0f} W after {mono - since:.0f} s: {why}"
        if problem.split(" after")[0] != self.status.problem.split(" after")[0]:
            self.log.record("agent", "cap-not-reached", {"unreachable": unreachable[:50], "stuck": stuck[:50]}, problem)
        self.status.within_cap, self.status.problem = False, problem

    def _boundary(self, wall: datetime) -> datetime:
        step = self.config.report_interval_s
        epoch = wall.timestamp()
        return datetime.fromtimestamp(math.floor(epoch / step) * step, UTC)

    def _account(self, wall: datetime, reading: MeterReading, limit: Limit) -> None:
        if self._report_start is None or self._report_energy is None:
            self._report_start, self._report_energy = wall, reading.energy_wh
            self._prev_reading = (wall, reading)
            return
        boundary = self._boundary(wall)
        if boundary > self._report_start and self._prev_reading is not None:
            prev_wall, prev = self._prev_reading
            span = (wall - prev_wall).total_seconds()
            share = (boundary - prev_wall).total_seconds() / span if span > 0 else 1.0
            energy_at = prev.energy_wh + (reading.energy_wh - prev.energy_wh) * min(1.0, max(0.0, share))
            self._queue_report(self._report_start, boundary, energy_at - self._report_energy, reading, limit)
            self._report_start, self._report_energy = boundary, energy_at
        self._prev_reading = (wall, reading)

    def _queue_report(self, start: datetime, end: datetime, energy_wh: float, reading: MeterReading,
                      limit: Limit) -> None:  # fmt: skip
        event_id = limit.event_id if limit.source == "cap" else self._last_event_id
        plan = self.status.plan
        running = plan is not None and any(t.run for t in plan.targets.values())
        state = operating_state(self.status.within_cap, limit, running=running)
        body = usage_report(event_id or "", self.config.site_id, start, end - start, round(max(0.0, energy_wh)),
                            reading_type="DIRECT_READ" if reading.source == "meter" else "ESTIMATED",
                            power_w=reading.power_w, state=state, source=_draw_source(reading))  # fmt: skip
        if len(self._pending) >= _MAX_PENDING:
            self.log.record("agent", "report-dropped", self._pending.pop(0)["reportName"], "queue full")
        self._pending.append(body)

    async def _flush_reports(self) -> None:
        while self._pending:
            body = self._pending[0]
            if not body["eventID"]:
                if self._last_event_id is None:
                    break  # no event known yet to report against; keep it
                body["eventID"] = self._last_event_id
            try:
                await self.ven.post_report(body)
            except VtnUnavailable:
                break
            except VtnRefused as exc:
                self.log.record("vtn", "report-refused", body["reportName"], str(exc))
            else:
                self.status.reports_sent += 1
            self._pending.pop(0)
        self.status.reports_pending = len(self._pending)

    # ------------------------------------------------------------------ run
    async def run(self, stop: asyncio.Event, *, max_ticks: int | None = None) -> AgentStatus:
        """Discover the machines, restore the schedule and run ticks until ``stop`` is set (or ``max_ticks`` ran).

        Telemetry is read by a background task (a round every ``telemetry_s`` at most); a
        notification wakes the loop before its tick is due.
        """
        await self.discover()
        self.restore()
        await self.read_machines()
        halt = asyncio.Event()
        reader = asyncio.create_task(self._telemetry_loop(stop, halt))
        scanner = asyncio.create_task(self._scan_loop(stop, halt))
        ticks = 0
        try:
            while not stop.is_set() and (max_ticks is None or ticks < max_ticks):
                started = time.monotonic()
                self._wake.clear()
                await self.step(read=False)
                ticks += 1
                wait = max(0.0, self.config.tick_s - (time.monotonic() - started))
                await _first(stop, self._wake, wait)
        finally:
            halt.set()
            # a telemetry round in flight ends by itself (cancelling it would leave pyasic's connections open)
            await asyncio.wait({reader, scanner}, timeout=_STOP_S)
            reader.cancel()
            scanner.cancel()
            await asyncio.gather(reader, scanner, return_exceptions=True)
        return self.status

    async def _telemetry_loop(self, stop: asyncio.Event, halt: asyncio.Event) -> None:
        while not (stop.is_set() or halt.is_set()):
            started = time.monotonic()
            await self.read_machines()
            await _first(stop, halt, max(0.0, self.config.telemetry_s - (time.monotonic() - started)))

    async def _scan_loop(self, stop: asyncio.Event, halt: asyncio.Event) -> None:
        """Scan the subnets again every ``rescan_s``, in the background (a scan of silent addresses is slow)."""
        while True:
            await _first(stop, halt, self.config.rescan_s)
            if stop.is_set() or halt.is_set():
                return
            await self.rescan()

    async def rescan(self) -> None:
        """Scan the drivers' subnets again and take the machines found."""
        for driver in self.drivers:
            scan = getattr(driver, "scan", None)
            if callable(scan):
                found = await scan()
                if found:
                    self.log.record("agent", "scan", None, f"{len(found)} new machine(s)")
        self._refresh_infos()

    async def close(self) -> None:
        """Unsubscribe, close the listener, the VTN client, the meter, the drivers and the log."""
        if self._subscription is not None:
            try:
                async with asyncio.timeout(5):
                    await self.ven.unsubscribe(self._subscription)
            except (VtnUnavailable, VtnRefused, TimeoutError):
                pass
            self._subscription = None
        if self._listener is not None:
            await self._listener.close()
        await self.ven.close()
        await self.meter.close()
        for driver in self.drivers:
            await driver.close()
        self.log.close()


def operating_state(within_cap: bool | None, limit: Limit, *, running: bool) -> str:
    """Return the OpenADR ``OPERATING_STATE`` of a report.

    ``ERROR`` when the site is not within its cap after the response time; otherwise
    ``RUNNING_*`` when any machine runs and ``IDLE_*`` when none does, ``*_CURTAILED`` under a
    cap or an emergency and ``*_NORMAL`` at the contract's safe level (no cap in force).
    """
    if within_cap is False:
        return "ERROR"
    activity = "RUNNING" if running and limit.cap_w > 0 else "IDLE"
    return f"{activity}_{'NORMAL' if limit.source == 'safe' else 'CURTAILED'}"


def _draw_source(reading: MeterReading) -> str:
    """Where a report's figures come from: ``METER``, ``TELEMETRY``, or ``TELEMETRY_PARTLY_NOMINAL``."""
    if reading.source == "meter":
        return "METER"
    return "TELEMETRY_PARTLY_NOMINAL" if reading.nominal_w > 0 else "TELEMETRY"


def next_backoff(previous_s: float, poll_s: float, safety_poll_s: float) -> float:
    """Return the next wait before subscribing again [s]: ``poll_s`` first, then doubling, at most ``safety_poll_s``."""
    first = min(poll_s, safety_poll_s)
    return first if previous_s <= 0 else min(max(first, 2 * previous_s), max(first, safety_poll_s))


async def _first(stop: asyncio.Event, wake: asyncio.Event | None, timeout_s: float) -> None:
    """Wait until ``stop`` or ``wake`` is set, at most ``timeout_s`` [s]."""
    waits = [asyncio.ensure_future(e.wait()) for e in (stop, wake) if e is not None]
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def make_meter(config: AgentConfig) -> Meter:
    """Return the configured meter (Modbus) or a telemetry integrator."""
    m = config.meter
    if m.kind == "modbus" and m.rmap is not None:
        return ModbusMeter(m.host, m.port, m.device_id, m.rmap)
    return TelemetryMeter()


def build_agent(config: AgentConfig) -> Agent:
    """Build the agent of a configuration: its drivers, meter and command log."""
    from offtake.agent.asic import AsicDriver

    drivers: list[Driver] = []
    if config.asic:
        drivers.append(AsicDriver(config.asic))
    if config.gpu is not None:
        from offtake.agent.gpu import GpuDriver

        drivers.append(GpuDriver.from_config(config.gpu))
    if config.scheduler:
        from offtake.agent.jobs import JobHookDriver

        drivers.extend(JobHookDriver(s) for s in config.scheduler)
    log = CommandLog(config.log_path, max_bytes=config.log_max_bytes, backups=config.log_backups)
    return Agent(config, drivers, make_meter(config), log)
