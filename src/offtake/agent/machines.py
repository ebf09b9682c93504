"""One interface for every kind of machine a site runs: ASICs, GPUs, or a site's own.

A driver finds its machines, reads their telemetry and carries out commands (a power
target, stop, resume). Everything is asynchronous so that thousands of machines are talked
to at once; each driver bounds its own concurrency and timeouts.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Command", "CommandResult", "Driver", "MachineInfo", "Telemetry"]


@dataclass(frozen=True, slots=True)
class MachineInfo:
    """A machine as found by its driver.

    Attributes
    ----------
    id
        Unique within the site (an address, or ``node/gpu-index``).
    kind
        ``asic`` or ``gpu`` (or a site's own driver's name).
    model
        Model as the machine reports it.
    min_w, max_w
        Range of power targets [W]; for a machine without a power target ``max_w`` is its
        rated draw.
    standby_w
        Draw when stopped [W].
    power_target
        Whether the firmware takes a power target.
    """

    id: str
    kind: str
    model: str
    min_w: float
    max_w: float
    standby_w: float
    power_target: bool


@dataclass(frozen=True, slots=True)
class Telemetry:
    """One reading of one machine.

    Attributes
    ----------
    id
        Machine id.
    reachable
        Whether it answered.
    running
        Hashing or computing, if known.
    power_w
        Draw [W], if reported.
    limit_w
        Present power target [W], if reported.
    work_rate
        Hashrate [TH/s] for an ASIC, utilisation [%] for a GPU, if reported.
    temperature_c
        Hottest reported temperature [°C], if any.
    nominal
        Whether ``power_w`` is a configured nominal value rather than a measurement.
    """

    id: str
    reachable: bool
    running: bool | None = None
    power_w: float | None = None
    limit_w: float | None = None
    work_rate: float | None = None
    temperature_c: float | None = None
    nominal: bool = False


@dataclass(frozen=True, slots=True)
class Command:
    """What to tell a machine: ``power`` (with ``power_w``), ``stop`` or ``resume``."""

    machine_id: str
    action: Literal["power", "stop", "resume"]
    power_w: int | None = None


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The machine's answer to a command.

    Attributes
    ----------
    command
        The command sent.
    ok
        Whether the machine accepted it.
    detail
        The answer or the failure (``refused``, ``unreachable``, ``timeout: ...``).
    """

    command: Command
    ok: bool
    detail: str


class Driver(abc.ABC):
    """A kind of machine behind the agent."""

    kind: str = "machine"

    @abc.abstractmethod
    async def discover(self) -> list[MachineInfo]:
        """Find the machines this driver controls (unreachable ones included where known)."""

    @abc.abstractmethod
    async def read(self, ids: Sequence[str]) -> list[Telemetry]:
        """Read the telemetry of the given machines, one entry per id, in order."""

    @abc.abstractmethod
    async def apply(self, commands: Sequence[Command]) -> list[CommandResult]:
        """Carry out commands, at most one per machine, concurrently; one result each."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (default: nothing to release)."""
