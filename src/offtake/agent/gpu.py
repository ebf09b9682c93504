"""GPUs of a node through NVML power limits (nvidia-ml-py), behind the same driver interface.

A GPU always takes a power target (``nvmlDeviceSetPowerManagementLimit``, within the
device's limit constraints); NVML cannot stop work, so *stop* sets the lowest limit (a
job-scheduler hook that pauses jobs is a site's own driver). Setting a limit needs root on
the node; a refusal is reported as such. Where NVML is absent, :class:`FakeNvml` speaks the
same calls with a simple physical model (draw follows the limit under a full load).
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Sequence
from importlib import resources
from typing import Any

from offtake.agent.config import GpuConfig
from offtake.agent.machines import Command, CommandResult, Driver, MachineInfo, Telemetry

__all__ = ["FakeNvml", "GpuDriver", "load_nvml"]

_MW_PER_W = 1000.0


class _FakeHandle:
    def __init__(self, index: int, spec: dict[str, Any]) -> None:
        self.index = index
        self.name = str(spec["name"])
        self.min_mw = int(spec["min_limit_w"] * _MW_PER_W)
        self.max_mw = int(spec["max_limit_w"] * _MW_PER_W)
        self.limit_mw = self.max_mw
        self.idle_mw = int(spec["idle_w"] * _MW_PER_W)


class FakeNvml:
    """The subset of ``pynvml`` the driver uses, for nodes without an NVIDIA driver.

    Parameters
    ----------
    count
        GPUs on the fake node (parameters from ``offtake/data/agent/fake_fleet.toml``).
    """

    class NVMLError(Exception):
        """Raised like ``pynvml.NVMLError``."""

    NVML_TEMPERATURE_GPU = 0

    def __init__(self, count: int) -> None:
        spec = tomllib.loads(resources.files("offtake.data").joinpath("agent/fake_fleet.toml").read_text())["gpu"]
        self.handles = [_FakeHandle(i, spec) for i in range(count)]

    def nvmlInit(self) -> None:
        """Start (nothing to do)."""

    def nvmlShutdown(self) -> None:
        """Stop (nothing to do)."""

    def nvmlDeviceGetCount(self) -> int:
        """Return the number of GPUs."""
        return len(self.handles)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _FakeHandle:
        """Handle of GPU ``index``."""
        return self.handles[index]

    def nvmlDeviceGetName(self, h: _FakeHandle) -> str:
        """Product name."""
        return h.name

    def nvmlDeviceGetPowerManagementLimitConstraints(self, h: _FakeHandle) -> tuple[int, int]:
        """(min, max) settable limit [mW]."""
        return h.min_mw, h.max_mw

    def nvmlDeviceGetPowerManagementLimit(self, h: _FakeHandle) -> int:
        """Present limit [mW]."""
        return h.limit_mw

    def nvmlDeviceSetPowerManagementLimit(self, h: _FakeHandle, limit_mw: int) -> None:
        """Set the limit [mW]; outside the constraints raises ``NVMLError``."""
        if not h.min_mw <= limit_mw <= h.max_mw:
            raise self.NVMLError("Invalid Argument")
        h.limit_mw = limit_mw

    def nvmlDeviceGetPowerUsage(self, h: _FakeHandle) -> int:
        """Draw [mW]: a fully loaded GPU draws its limit."""
        return max(h.idle_mw, h.limit_mw)

    def nvmlDeviceGetTemperature(self, h: _FakeHandle, sensor: int) -> int:
        """Core temperature [°C], warmer with power."""
        return 35 + round(40 * h.limit_mw / h.max_mw)


def load_nvml() -> Any | None:
    """Return the ``pynvml`` module initialised, or ``None`` where NVML is absent."""
    try:
        import pynvml  # type: ignore[import-untyped]

        pynvml.nvmlInit()
    except Exception:  # pynvml raises NVMLError_LibraryNotFound, or the module is missing
        return None
    return pynvml


class GpuDriver(Driver):
    """The GPUs of this node.

    Parameters
    ----------
    nvml
        ``pynvml`` (initialised) or a :class:`FakeNvml`.
    node
        Name of the node, the prefix of the machine ids (``node/gpu0``).
    """

    kind = "gpu"

    def __init__(self, nvml: Any, node: str = "local") -> None:
        self._nvml = nvml
        self._node = node
        self._handles: dict[str, Any] = {}
        self._info: dict[str, MachineInfo] = {}

    @classmethod
    def from_config(cls, config: GpuConfig) -> GpuDriver:
        """NVML for ``driver = "nvml"`` (an error when absent), the fake for ``driver = "fake"``."""
        if config.driver == "fake":
            return cls(FakeNvml(config.count), "fake")
        nvml = load_nvml()
        if nvml is None:
            from offtake.errors import InputError

            raise InputError("NVML is not available on this node (no NVIDIA driver)", field="gpu.driver")
        return cls(nvml)

    async def discover(self) -> list[MachineInfo]:
        """One machine per GPU, its power-limit range from NVML."""
        n = self._nvml
        for i in range(n.nvmlDeviceGetCount()):
            h = n.nvmlDeviceGetHandleByIndex(i)
            lo, hi = n.nvmlDeviceGetPowerManagementLimitConstraints(h)
            mid = f"{self._node}/gpu{i}"
            self._handles[mid] = h
            name = n.nvmlDeviceGetName(h)
            self._info[mid] = MachineInfo(mid, self.kind, str(name), lo / _MW_PER_W, hi / _MW_PER_W, lo / _MW_PER_W,
                                          True)  # fmt: skip
        return list(self._info.values())

    def machines(self) -> list[MachineInfo]:
        """Return the GPUs found."""
        return list(self._info.values())

    def _read_one(self, mid: str) -> Telemetry:
        n, h = self._nvml, self._handles.get(mid)
        if h is None:
            return Telemetry(mid, False)
        try:
            limit_w = n.nvmlDeviceGetPowerManagementLimit(h) / _MW_PER_W
            running = limit_w > self._info[mid].min_w  # at the lowest limit counts as stopped
            return Telemetry(mid, True, running, n.nvmlDeviceGetPowerUsage(h) / _MW_PER_W, limit_w, None,
                             float(n.nvmlDeviceGetTemperature(h, 0)))  # fmt: skip
        except Exception:  # NVMLError: the GPU fell off the bus, or the driver is gone
            return Telemetry(mid, False)

    async def read(self, ids: Sequence[str]) -> list[Telemetry]:
        """Draw, limit and temperature of each GPU."""
        return await asyncio.to_thread(lambda: [self._read_one(m) for m in ids])

    def _apply_one(self, c: Command) -> CommandResult:
        info, h = self._info.get(c.machine_id), self._handles.get(c.machine_id)
        if info is None or h is None:
            return CommandResult(c, False, "unreachable")
        watts = info.min_w if c.action == "stop" else info.max_w if c.action == "resume" else float(c.power_w or 0)
        try:
            self._nvml.nvmlDeviceSetPowerManagementLimit(h, int(watts * _MW_PER_W))
        except Exception as exc:  # NVMLError_NoPermission without root, InvalidArgument out of range
            return CommandResult(c, False, f"refused: power limit {watts:.0f} W: {exc}")
        return CommandResult(c, True, f"power limit {watts:.0f} W")

    async def apply(self, commands: Sequence[Command]) -> list[CommandResult]:
        """Set power limits (stop: the lowest; resume: the highest)."""
        return await asyncio.to_thread(lambda: [self._apply_one(c) for c in commands])
