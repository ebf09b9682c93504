"""ASIC miners through pyasic: discovery, power targets, stop and resume, telemetry.

pyasic picks the backend of each address itself (``pyasic.get_miner`` probes the
cgminer-style API on TCP 4028 and the web interfaces). A backend *takes a power target* when
it overrides ``set_power_limit`` (Braiins OS, Whatsminer, VNish, LuxOS, ...); stock firmware
without one is stopped and resumed instead, and so is a machine whose firmware refuses a
power target at run time (twice in a row: it is remembered). Every configured address is a machine of the
site: one that does not answer still counts, at its last measured draw or its rating.

A group may instead name subnets to *scan* (CIDR blocks or ranges): every address is probed on the
API port, with bounded concurrency and a short timeout, and those where pyasic finds a miner
become machines of the site (and stay so: a machine found once and silent later still counts).
Scans are repeated by the agent (``rescan_s``) to find machines added since.

Commands have their own concurrency bound, apart from telemetry and discovery, so a new cap is
never queued behind a telemetry round.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from offtake.agent.machines import Command, CommandResult, Driver, MachineInfo, Telemetry
from offtake.errors import InputError

__all__ = ["MAX_SCAN", "AsicDriver", "AsicGroup", "expand_hosts"]

_T = TypeVar("_T")
#: Refused power targets in a row after which a machine is stopped and resumed instead.
_REFUSALS = 2
#: Age after which a privileged-API token is fetched again, before pyasic's 30 minutes run out [s].
_TOKEN_S = 20 * 60.0
#: The cgminer-style API port every backend answers on (pyasic's factory probes it too).
API_PORT = 4028
#: Most addresses one group may scan (a /16).
MAX_SCAN = 65_536
#: Longest wait for a scanned address to accept a connection [s].
_PROBE_S = 1.0


@dataclass(frozen=True, slots=True)
class AsicGroup:
    """A group of like machines, as a site describes them in ``site.toml``.

    Attributes
    ----------
    hosts
        Addresses: single IPs, pyasic ranges (``10.0.1.1-50``) or CIDR blocks; every address
        is a machine of the site.
    max_w
        Rated draw, the highest power target [W].
    min_w
        Lowest power target the firmware accepts [W].
    standby_w
        Draw with hashing stopped [W].
    scan
        Subnets (CIDR blocks or ranges) searched for miners; only addresses where one answers
        are machines.
    """

    hosts: tuple[str, ...]
    max_w: float
    min_w: float
    standby_w: float
    scan: tuple[str, ...] = ()


def expand_hosts(specs: Sequence[str], *, field: str = "hosts", limit: int | None = None) -> list[str]:
    """Expand IPs, pyasic octet ranges and CIDR blocks into addresses.

    Parameters
    ----------
    specs
        The entries.
    field
        Named in errors.
    limit
        Most addresses in all (checked before anything is expanded).

    Raises
    ------
    InputError
        Naming the field and the bad entry, or the count above ``limit``.
    """
    parsed: list[ipaddress.IPv4Network | ipaddress.IPv6Network | list[range]] = []
    count = 0
    for spec in specs:
        try:
            if "/" in spec:
                net = ipaddress.ip_network(spec, strict=False)
                parsed.append(net)
                count += max(1, net.num_addresses - 2)
                continue
            octets = spec.split(".")
            if len(octets) != 4:
                raise ValueError("expected four octets")
            ranges = []
            for octet in octets:
                lo, _, hi = octet.partition("-")
                a, b = int(lo), int(hi or lo)
                if not 0 <= a <= b <= 255:
                    raise ValueError(f"octet range '{octet}' is not within 0..255")
                ranges.append(range(a, b + 1))
            parsed.append(ranges)
            count += len(ranges[0]) * len(ranges[1]) * len(ranges[2]) * len(ranges[3])
        except ValueError as exc:
            raise InputError(f"'{spec}' is not an address, range or CIDR block ({exc})", field=field) from None
    if limit is not None and count > limit:
        raise InputError(f"{count} addresses; at most {limit}", field=field)
    out: list[str] = []
    for item in parsed:
        if isinstance(item, list):
            r = item
            out.extend(f"{a}.{b}.{c}.{d}" for a in r[0] for b in r[1] for c in r[2] for d in r[3])
        else:
            out.extend(str(ip) for ip in item.hosts())
    return out


class AsicDriver(Driver):
    """Miners behind pyasic.

    Parameters
    ----------
    groups
        The site's machine groups.
    timeout_s
        Longest wait for one machine's answer [s].
    concurrency
        Most machines commanded at once.
    read_concurrency
        Most machines read (telemetry, discovery, scan probes) at once. Kept lower than
        ``concurrency``: the timeout runs from the moment a read starts, and a read among
        hundreds in flight on a busy host waits for the whole round and would be taken
        for an unreachable machine.
    """

    kind = "asic"

    def __init__(self, groups: Sequence[AsicGroup], *, timeout_s: float = 5.0, concurrency: int = 512,
                 read_concurrency: int = 64) -> None:  # fmt: skip
        self._groups = {ip: g for g in groups for ip in expand_hosts(g.hosts, limit=MAX_SCAN)}
        self._scans = [(g, expand_hosts(g.scan, field="scan", limit=MAX_SCAN)) for g in groups if g.scan]
        self._miners: dict[str, Any] = {}
        self._info: dict[str, MachineInfo] = {}
        self._running: dict[str, bool] = {}
        self._timeout = timeout_s
        self._gate = asyncio.Semaphore(read_concurrency)
        self._command_gate = asyncio.Semaphore(concurrency)
        self._refusals: dict[str, int] = {}
        self._token_at: dict[str, float] = {}
        import pyasic.settings

        # pyasic's discovery gives up after its own timeout (3 s by default); under load a
        # slow but healthy miner must not be taken for an absent one.
        pyasic.settings.update("factory_get_timeout", max(1, round(timeout_s)))

    async def _bounded(self, coro: Awaitable[_T], *, command: bool = False) -> _T:
        async with self._command_gate if command else self._gate, asyncio.timeout(self._timeout):
            return await coro

    async def _probe(self, ip: str) -> bool:
        """Whether something accepts a connection on the miner API port of ``ip``."""
        try:
            async with self._gate, asyncio.timeout(_PROBE_S):
                _, writer = await asyncio.open_connection(ip, API_PORT)
        except (TimeoutError, OSError):
            return False
        writer.close()
        return True

    async def scan(self) -> list[str]:
        """Probe the groups' subnets; return the addresses where a miner was newly found."""
        found: list[str] = []

        async def one(group: AsicGroup, ip: str) -> None:
            if ip in self._miners or not await self._probe(ip):
                return
            known = self._groups.get(ip)
            self._groups[ip] = group
            if await self._connect(ip) is not None:
                found.append(ip)
            elif known is None:
                del self._groups[ip]

        await asyncio.gather(*(one(g, ip) for g, ips in self._scans for ip in ips))
        return sorted(found, key=ipaddress.ip_address)

    async def _warm(self, ip: str, miner: Any) -> None:
        """Fetch the privileged-API token now (Whatsminer), so that a cap does not wait for it.

        pyasic keeps a token 30 minutes; it is fetched again here after :data:`_TOKEN_S`, in the
        telemetry round, before it runs out.
        """
        get_token = getattr(getattr(miner, "rpc", None), "get_token", None)
        if not callable(get_token):
            return
        miner.rpc.token = None
        try:
            await self._bounded(get_token())
        except Exception:  # pyasic raises APIError and parse errors; the command fetches it again
            return
        self._token_at[ip] = time.monotonic()

    async def _connect(self, ip: str) -> Any | None:
        import pyasic

        if ip in self._miners:
            return self._miners[ip]
        try:
            miner = await self._bounded(pyasic.get_miner(ip))
        except (TimeoutError, OSError):
            return None
        if miner is not None:
            self._miners[ip] = miner
            self._info[ip] = self._describe(ip, miner)
            await self._warm(ip, miner)
        return miner

    def _describe(self, ip: str, miner: Any) -> MachineInfo:
        from pyasic.miners.base import BaseMiner

        group = self._groups[ip]
        takes_target = type(miner).set_power_limit is not BaseMiner.set_power_limit
        model = str(getattr(miner, "model", None) or type(miner).__name__)
        return MachineInfo(ip, self.kind, model, group.min_w, group.max_w, group.standby_w, takes_target)

    async def discover(self) -> list[MachineInfo]:
        """Find every configured address's backend (unanswered ones are listed too) and scan the subnets."""
        await asyncio.gather(*(self._connect(ip) for ip in list(self._groups)))
        await self.scan()
        return self.machines()

    def machines(self) -> list[MachineInfo]:
        """Every configured machine, found or not, in address order."""
        out = []
        for ip, g in self._groups.items():
            unknown = MachineInfo(ip, self.kind, "unknown", g.min_w, g.max_w, g.standby_w, False)
            out.append(self._info.get(ip) or unknown)
        return out

    async def _read_one(self, ip: str) -> Telemetry:
        from pyasic.miners.data import DataOptions

        miner = await self._connect(ip)
        if miner is None:
            return Telemetry(ip, reachable=False)
        if ip in self._token_at and time.monotonic() - self._token_at[ip] > _TOKEN_S:
            await self._warm(ip, miner)
        include = [DataOptions.WATTAGE, DataOptions.WATTAGE_LIMIT, DataOptions.HASHRATE, DataOptions.IS_MINING,
                   DataOptions.ENVIRONMENT_TEMP]  # fmt: skip
        try:
            data = await self._bounded(miner.get_data(include=include))
        except (TimeoutError, OSError):
            return Telemetry(ip, reachable=False)
        if data.wattage is None and data.hashrate is None:
            return Telemetry(ip, reachable=False)
        running = bool(data.is_mining)
        self._running[ip] = running
        hashrate = float(data.hashrate) if data.hashrate is not None else None
        return Telemetry(
            ip, True, running,
            float(data.wattage) if data.wattage is not None else None,
            float(data.wattage_limit) if data.wattage_limit is not None else None,
            hashrate, float(data.env_temp) if data.env_temp is not None else None,
        )  # fmt: skip

    async def read(self, ids: Sequence[str]) -> list[Telemetry]:
        """Read wattage, power limit, hashrate, mining state and temperature of each machine."""
        return list(await asyncio.gather(*(self._read_one(ip) for ip in ids)))

    async def _call(self, command: Command, call: Callable[[], Awaitable[bool]], what: str) -> CommandResult | None:
        try:
            ok = await self._bounded(call(), command=True)
        except TimeoutError:
            return CommandResult(command, False, f"timeout: {what}")
        except OSError as exc:
            return CommandResult(command, False, f"unreachable: {what}: {exc}")
        return None if ok else CommandResult(command, False, f"refused: {what}")

    async def _apply_one(self, command: Command) -> CommandResult:
        ip = command.machine_id
        miner = await self._connect(ip)
        if miner is None:
            return CommandResult(command, False, "unreachable")
        if command.action == "stop":
            failed = await self._call(command, miner.stop_mining, "stop")
            if failed is None:
                self._running[ip] = False
            return failed or CommandResult(command, True, "stopped")
        if not self._running.get(ip, True):
            failed = await self._call(command, miner.resume_mining, "resume")
            if failed is not None:
                return failed
            self._running[ip] = True
        if command.action == "resume":
            return CommandResult(command, True, "resumed")
        watts = int(command.power_w or 0)
        failed = await self._call(command, lambda: miner.set_power_limit(watts), f"power target {watts} W")
        if failed is None:
            self._refusals.pop(ip, None)
            return CommandResult(command, True, f"power target {watts} W")
        if failed.detail.startswith("refused"):
            # pyasic answers False for a firmware refusal and for a dropped connection alike:
            # a machine loses its power target (stop/resume from then on) after two refusals.
            self._refusals[ip] = self._refusals.get(ip, 0) + 1
            if self._refusals[ip] >= _REFUSALS:
                self._info[ip] = replace(self._info[ip], power_target=False)
        return failed

    async def apply(self, commands: Sequence[Command]) -> list[CommandResult]:
        """Send power targets, stops and resumes, all machines at once."""
        return list(await asyncio.gather(*(self._apply_one(c) for c in commands)))
