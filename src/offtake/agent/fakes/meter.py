"""A Modbus TCP site meter simulator (pymodbus' server) whose reading is the fleet's true draw.

It integrates a ``draw_w()`` callable (e.g. :meth:`FakeFleet.total_draw_w`) every tenth of a
second into an energy counter and serves power and energy in the registers of a
:class:`~offtake.agent.meter.RegisterMap`, answering on its own event loop thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from offtake import units
from offtake.agent.meter import FORMATS, RegisterMap

__all__ = ["MeterSimulator"]


class MeterSimulator:
    """A fake meter on ``host:port`` (device id 1 and any other).

    Parameters
    ----------
    draw_w
        The true draw now [W].
    rmap
        Register map to serve.
    host, port
        Where to listen (port 0 picks a free one; see :attr:`port` after :meth:`start`).
    step_s
        Integration step [s].
    """

    def __init__(self, draw_w: Callable[[], float], rmap: RegisterMap, *, host: str = "127.0.0.1",
                 port: int = 0, step_s: float = 0.1) -> None:  # fmt: skip
        self.rmap = rmap
        self.host, self.port = host, port
        self.energy_wh = 0.0
        self.power_w = draw_w()
        self._draw = draw_w
        self._step = step_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-meter", daemon=True)
        self._server: Any = None
        self._integrator: asyncio.Task[None] | None = None
        self.requests = 0

    def _registers(self, value: float, fmt: str, scale: float) -> list[int]:
        from pymodbus.client.mixin import ModbusClientMixin

        raw: float | int = value / scale
        if not fmt.startswith("float"):
            raw = round(raw)
        dtype = getattr(ModbusClientMixin.DATATYPE, fmt.upper())
        return list(ModbusClientMixin.convert_to_registers(raw, dtype, word_order=self.rmap.word_order))

    async def _action(self, function_code: int, start_address: int, address: int, count: int,
                      current_registers: list[int], set_values: Any) -> None:  # fmt: skip
        self.requests += 1
        r = self.rmap
        for addr, regs in (
            (r.power_address, self._registers(self.power_w, r.power_format, r.power_scale)),
            (r.energy_address, self._registers(self.energy_wh, r.energy_format, r.energy_scale)),
        ):
            for i, reg in enumerate(regs):
                offset = addr + i - start_address
                if 0 <= offset < len(current_registers):
                    current_registers[offset] = reg

    async def _integrate(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(self._step)
            now = time.monotonic()
            power = self._draw()
            self.energy_wh += (self.power_w + power) / 2 * (now - last) / units.S_PER_H
            self.power_w, last = power, now

    def start(self) -> MeterSimulator:
        """Listen and start integrating."""
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        r = self.rmap
        lo = min(r.power_address, r.energy_address)
        hi = max(r.power_address + FORMATS[r.power_format], r.energy_address + FORMATS[r.energy_format])
        if self.port == 0:
            import socket

            with socket.socket() as sock:
                sock.bind((self.host, 0))
                self.port = int(sock.getsockname()[1])
        device = SimDevice(id=0, simdata=[SimData(lo, count=hi - lo, values=0, datatype=DataType.REGISTERS)],
                           action=self._action)  # fmt: skip
        self._thread.start()

        async def begin() -> None:
            self._server = ModbusTcpServer(device, address=(self.host, self.port))
            await self._server.serve_forever(background=True)
            self._integrator = asyncio.get_running_loop().create_task(self._integrate())

        asyncio.run_coroutine_threadsafe(begin(), self._loop).result(timeout=30)
        return self

    def stop(self) -> None:
        """Stop serving and stop the loop thread."""

        async def end() -> None:
            if self._integrator is not None:
                self._integrator.cancel()
            if self._server is not None:
                await self._server.shutdown()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(end(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> MeterSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
