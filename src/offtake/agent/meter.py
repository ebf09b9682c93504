"""The site meter: power and an energy counter over Modbus TCP, or the sum of telemetry.

The register map is data (``offtake/data/agent/meter_maps.toml``, or fields in ``site.toml``):
function code, addresses, formats, word order and scale to W and Wh. A site without a meter
integrates the sum of its machines' reported draw instead, and its reports say so
(``readingType`` ``ESTIMATED`` rather than ``DIRECT_READ``, and a ``DRAW_SOURCE`` payload that
says whether some of the draws summed were configured nominal values, not measurements).
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from offtake import units
from offtake.errors import InputError

__all__ = ["FORMATS", "MeterReading", "ModbusMeter", "RegisterMap", "TelemetryMeter", "register_map"]

#: Register formats and how many 16-bit registers each takes.
FORMATS: dict[str, int] = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "int64": 4, "uint64": 4,
                           "float32": 2, "float64": 4}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RegisterMap:
    """Where a meter keeps its total active power and imported energy.

    Attributes
    ----------
    function
        ``holding`` (function code 3) or ``input`` (function code 4).
    word_order
        ``big`` (most significant word first) or ``little``.
    power_address, energy_address
        0-based register addresses.
    power_format, energy_format
        One of :data:`FORMATS`.
    power_scale
        Raw power times this is W [W per raw unit].
    energy_scale
        Raw energy times this is Wh [Wh per raw unit].
    accuracy_fraction
        The meter's accuracy class as a fraction (0.005 for class 0.5S) [-].
    """

    function: Literal["holding", "input"]
    word_order: Literal["big", "little"]
    power_address: int
    power_format: str
    power_scale: float
    energy_address: int
    energy_format: str
    energy_scale: float
    accuracy_fraction: float


def register_map(data: Mapping[str, Any], *, where: str = "meter") -> RegisterMap:
    """Build a register map from a named map (``map = "pm5000"``) and/or explicit fields.

    Raises
    ------
    InputError
        Naming the field that is missing or wrong.
    """
    merged: dict[str, Any] = {}
    if "map" in data:
        maps = tomllib.loads(resources.files("offtake.data").joinpath("agent/meter_maps.toml").read_text())
        if data["map"] not in maps:
            raise InputError(f"unknown meter map '{data['map']}'; known: {sorted(maps)}", field=f"{where}.map")
        merged.update(maps[data["map"]])
    merged.update({k: v for k, v in data.items() if k != "map"})
    try:
        rmap = RegisterMap(
            function=merged["function"], word_order=merged["word_order"],
            power_address=int(merged["power_address"]), power_format=str(merged["power_format"]),
            power_scale=float(merged["power_scale"]), energy_address=int(merged["energy_address"]),
            energy_format=str(merged["energy_format"]), energy_scale=float(merged["energy_scale"]),
            accuracy_fraction=float(merged["accuracy_fraction"]),
        )  # fmt: skip
    except KeyError as exc:
        raise InputError("missing; give it or name a map with 'map'", field=f"{where}.{exc.args[0]}") from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad value ({exc})", field=where) from None
    if rmap.function not in ("holding", "input"):
        raise InputError("expected 'holding' or 'input'", field=f"{where}.function")
    if rmap.word_order not in ("big", "little"):
        raise InputError("expected 'big' or 'little'", field=f"{where}.word_order")
    for name in ("power_format", "energy_format"):
        if getattr(rmap, name) not in FORMATS:
            raise InputError(f"expected one of {sorted(FORMATS)}", field=f"{where}.{name}")
    if not 0 <= rmap.accuracy_fraction < 1:
        raise InputError("expected a fraction in [0, 1)", field=f"{where}.accuracy_fraction")
    return rmap


@dataclass(frozen=True, slots=True)
class MeterReading:
    """One reading of the site's draw.

    Attributes
    ----------
    at
        Monotonic time of the reading [s].
    power_w
        Total active power [W].
    energy_wh
        Imported-energy counter [Wh] (a meter's register, or the agent's integral).
    source
        ``meter`` or ``telemetry``.
    nominal_w
        Of ``power_w``, the part taken from configured nominal draws rather than measured [W]
        (summed telemetry only: machines that report no measured draw, or were never read).
    """

    at: float
    power_w: float
    energy_wh: float
    source: Literal["meter", "telemetry"]
    nominal_w: float = 0.0


def _datatype(client: Any, fmt: str) -> Any:
    return getattr(client.DATATYPE, fmt.upper())


class ModbusMeter:
    """A site meter on Modbus TCP (pymodbus client).

    Parameters
    ----------
    host, port
        Where the meter listens.
    device_id
        Modbus unit (device) id.
    rmap
        Its register map.
    timeout_s
        Longest wait for an answer [s].
    """

    source: Literal["meter"] = "meter"

    def __init__(self, host: str, port: int, device_id: int, rmap: RegisterMap, *, timeout_s: float = 3.0) -> None:
        self.rmap = rmap
        self._device = device_id
        self._where = (host, port, timeout_s)
        self._client: Any = None

    async def _value(self, address: int, fmt: str, scale: float) -> float:
        if self._client is None:  # made inside the running loop, as pymodbus requires
            from pymodbus.client import AsyncModbusTcpClient

            host, port, timeout_s = self._where
            self._client = AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=1)
        client = self._client
        if not client.connected:
            await client.connect()
        read = client.read_holding_registers if self.rmap.function == "holding" else client.read_input_registers
        response = await read(address, count=FORMATS[fmt], device_id=self._device)
        if response.isError():
            raise OSError(f"meter answered an error reading address {address}: {response}")
        raw = client.convert_from_registers(response.registers, _datatype(client, fmt), word_order=self.rmap.word_order)
        if not isinstance(raw, int | float):
            raise OSError(f"meter register {address} did not decode to a number")
        return float(raw) * scale

    async def read(self) -> MeterReading:
        """Read power and the energy counter.

        Raises
        ------
        OSError
            When the meter does not answer or answers an error.
        """
        from pymodbus.exceptions import ModbusException

        r = self.rmap
        try:
            power = await self._value(r.power_address, r.power_format, r.power_scale)
            energy = await self._value(r.energy_address, r.energy_format, r.energy_scale)
        except ModbusException as exc:
            raise OSError(f"meter did not answer: {exc}") from exc
        return MeterReading(time.monotonic(), power, energy, "meter")

    async def close(self) -> None:
        """Close the connection."""
        if self._client is not None:
            self._client.close()


class TelemetryMeter:
    """The sum of machines' reported draw, integrated over time, for a site without a meter.

    The agent feeds it the fleet's summed draw at each telemetry round (:meth:`feed`).
    """

    source: Literal["telemetry"] = "telemetry"
    accuracy_fraction = 0.0

    def __init__(self) -> None:
        self._at: float | None = None
        self._power = 0.0
        self._energy = 0.0
        self._nominal = 0.0

    def feed(self, power_w: float, at: float | None = None, *, nominal_w: float = 0.0) -> None:
        """Add the summed draw [W] read at monotonic time ``at`` [s] (trapezoids); ``nominal_w`` of it is nominal."""
        now = time.monotonic() if at is None else at
        if self._at is not None and now > self._at:
            self._energy += (self._power + power_w) / 2 * (now - self._at) / units.S_PER_H
        self._at, self._power, self._nominal = now, power_w, nominal_w

    async def read(self) -> MeterReading:
        """Return the last summed draw and the integral so far."""
        return MeterReading(self._at if self._at is not None else time.monotonic(), self._power, self._energy,
                            "telemetry", self._nominal)  # fmt: skip

    async def close(self) -> None:
        """Nothing to close."""
