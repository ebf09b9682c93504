"""A fleet of fake MicroBT Whatsminers on loopback addresses, speaking the Whatsminer API v2.

Each fake listens on ``<ip>:4028`` (one 127.0.0.x address per machine) and answers the
cgminer-style JSON API that pyasic's ``BTMinerV2`` backend uses, unmodified:

* plain commands (``version``, ``devdetails``, ``get_version``, ``summary``, ``status``,
  ``get_token``): one JSON object per TCP connection, the reply closes the connection;
* privileged commands (``adjust_power_limit``, ``power_off``, ``power_on``): the Whatsminer
  v2 scheme, ``{"enc": 1, "data": base64(AES-256-ECB(json))}`` with the key
  ``sha256(md5crypt(password, salt))`` and a ``token`` signed from the ``time`` and
  ``newsalt`` that ``get_token`` handed out; replies are encrypted the same way.

Physics: the draw follows the target (power limit when hashing, standby when powered off)
at a ramp rate; hashrate is proportional to the draw above standby. A miner may be
*unreachable* (nothing listens, it keeps drawing what it drew) or *refuse* power limits
(firmware without a power target: ``adjust_power_limit`` answers an error, stop and resume
work). Parameters come from ``offtake/data/agent/fake_fleet.toml``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import json
import secrets
import threading
import time
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["API_PORT", "FakeFleet", "FakeMiner", "MinerSpec", "loopback_ips"]

#: The cgminer/Whatsminer API port (pyasic's factory hard-codes it).
API_PORT = 4028
_PASSWORD = "admin"
_API_VERSION = "2.0.5"
_FIRMWARE = "20230911.12.Rel"
_OK = "API command OK"
#: A connection that sends no whole request within this time is closed [s].
_IDLE_S = 10.0
#: Longest request accepted [bytes].
_MAX_REQUEST = 65536
Behaviour = Literal["normal", "refuses_power_limit", "unreachable"]


@dataclass(frozen=True, slots=True)
class MinerSpec:
    """Physical parameters of one simulated machine (see ``fake_fleet.toml``).

    Attributes
    ----------
    model
        Model string as the firmware reports it (``devdetails``).
    rated_w
        Draw at full power [W].
    rated_hashrate_ths
        Hashrate at ``rated_w`` [TH/s].
    standby_w
        Draw with hashing stopped [W].
    min_power_limit_w
        Lowest power limit the firmware accepts [W].
    ramp_w_per_s
        Rate at which the draw follows its target [W/s].
    """

    model: str
    rated_w: float
    rated_hashrate_ths: float
    standby_w: float
    min_power_limit_w: float
    ramp_w_per_s: float

    @classmethod
    def whatsminer(cls) -> MinerSpec:
        """Return the Whatsminer parameters shipped in ``fake_fleet.toml``."""
        text = resources.files("offtake.data").joinpath("agent/fake_fleet.toml").read_text()
        data = tomllib.loads(text)["whatsminer"]
        return cls(
            model=str(data["model"]),
            rated_w=float(data["rated_w"]),
            rated_hashrate_ths=float(data["rated_hashrate_ths"]),
            standby_w=float(data["standby_w"]),
            min_power_limit_w=float(data["min_power_limit_w"]),
            ramp_w_per_s=float(data["ramp_w_per_s"]),
        )


def loopback_ips(count: int, first: int = 2) -> list[str]:
    """Return ``count`` loopback addresses from ``127.0.0.<first>`` on (skipping .0 and .255)."""
    ips: list[str] = []
    n = first
    while len(ips) < count:
        b, c, d = (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF
        if d not in (0, 255):
            ips.append(f"127.{b}.{c}.{d}")
        n += 1
    return ips


def _md5crypt_part(word: str, salt: str) -> str:
    from passlib.hash import md5_crypt

    return str(md5_crypt.hash(word, salt=salt)).split("$")[3]


def _aes(key_source: str) -> Cipher[Any]:
    key = binascii.unhexlify(hashlib.sha256(key_source.encode()).hexdigest().encode())
    return Cipher(algorithms.AES(key), modes.ECB())


@dataclass
class FakeMiner:
    """One simulated Whatsminer: firmware state, physics and the API answers."""

    ip: str
    spec: MinerSpec
    behaviour: Behaviour = "normal"
    power_limit_w: float = 0.0
    hashing: bool = True
    draw_w: float = 0.0
    commands: list[str] = field(default_factory=list)
    _t: float = field(default_factory=time.monotonic)
    changed_at: float = 0.0
    _salt: str = field(default_factory=lambda: secrets.token_hex(4))
    _token: str | None = None
    _host_passwd: str = ""
    _cipher: Cipher[Any] | None = None

    def __post_init__(self) -> None:
        if not self.power_limit_w:
            self.power_limit_w = self.spec.rated_w
        if not self.draw_w:
            self.draw_w = self.power_limit_w if self.hashing else self.spec.standby_w

    # ------------------------------------------------------------------ physics
    def target_w(self) -> float:
        """Return the draw the machine is heading for [W]."""
        return self.power_limit_w if self.hashing else self.spec.standby_w

    def advance(self, now: float | None = None) -> float:
        """Move the draw towards its target up to ``now`` and return it [W]."""
        now = time.monotonic() if now is None else now
        step = max(0.0, now - self._t) * self.spec.ramp_w_per_s
        self._t = now
        target = self.target_w()
        if self.draw_w < target:
            self.draw_w = min(target, self.draw_w + step)
        else:
            self.draw_w = max(target, self.draw_w - step)
        return self.draw_w

    def hashrate_ths(self) -> float:
        """Return the hashrate at the present draw [TH/s]."""
        useful = max(0.0, self.draw_w - self.spec.standby_w)
        return self.spec.rated_hashrate_ths * useful / (self.spec.rated_w - self.spec.standby_w)

    # ------------------------------------------------------------------ protocol
    def _status(self, code: int, msg: Any, ok: bool = True) -> dict[str, Any]:
        return {"STATUS": "S" if ok else "E", "When": int(time.time()), "Code": code, "Msg": msg,
                "Description": ""}  # fmt: skip

    def _cg_status(self, msg: str) -> list[dict[str, Any]]:
        return [{"STATUS": "S", "When": int(time.time()), "Code": 11, "Msg": msg, "Description": "btminer"}]

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """Return the reply to one decoded request (plain or encrypted)."""
        if request.get("enc") == 1:
            return self._privileged(str(request.get("data", "")))
        command = str(request.get("command", ""))
        self.commands.append(command)
        self.advance()
        if command == "version":
            return {"STATUS": self._cg_status("BTMiner versions"),
                    "VERSION": [{"BTMiner": _API_VERSION, "API": "3.1", "Type": self.spec.model}]}  # fmt: skip
        if command == "devdetails":
            return {"STATUS": self._cg_status("Device Details"),
                    "DEVDETAILS": [{"DEVDETAILS": 0, "Name": "SM", "ID": i, "Driver": "bitmicro",
                                    "Kernel": "", "Model": self.spec.model} for i in range(3)]}  # fmt: skip
        if command == "get_version":
            return self._status(131, {"api_ver": _API_VERSION, "fw_ver": _FIRMWARE, "platform": "H6OS"})
        if command == "summary":
            return {"STATUS": self._cg_status("Summary"), "SUMMARY": [self._summary()]}
        if command == "status":
            return self._status(131, {"mineroff": "false" if self.hashing else "true", "mineroff_reason": ""})
        if command == "get_token":
            time_s = str(int(time.time()))[-4:]
            newsalt = secrets.token_hex(4)
            # the sign a privileged command must carry, worked out once per token
            self._token = _md5crypt_part(self._passwd() + time_s, newsalt)
            return self._status(134, {"time": time_s, "salt": self._salt, "newsalt": newsalt})
        return self._status(14, "invalid cmd", ok=False)

    def _summary(self) -> dict[str, Any]:
        mhs = self.hashrate_ths() * 1e6
        return {"Elapsed": 1000, "MHS av": mhs, "MHS 1m": mhs, "MHS 5m": mhs, "Power": round(self.draw_w),
                "Power Limit": round(self.power_limit_w), "Env Temp": 30.0, "Temperature": 60.0,
                "Firmware Version": f"'{_FIRMWARE}'", "MAC": "C6:07:00:00:00:01",
                "Factory GHS": round(self.spec.rated_hashrate_ths * 1000)}  # fmt: skip

    def _passwd(self) -> str:
        if not self._host_passwd:
            self._host_passwd = _md5crypt_part(_PASSWORD, self._salt)
        return self._host_passwd

    def _privileged(self, data: str) -> dict[str, Any]:
        if self._cipher is None:
            self._cipher = _aes(self._passwd())
        cipher = self._cipher
        try:
            decryptor = cipher.decryptor()
            plain = decryptor.update(base64.decodebytes(data.encode())).rstrip(b"\0")
            cmd = json.loads(plain.decode())
        except (ValueError, binascii.Error):
            return self._status(23, "invalid json", ok=False)
        if self._token is None or cmd.get("token") != self._token:
            return self._status(45, "Permission denied", ok=False)
        name = str(cmd.get("cmd", ""))
        self.commands.append(name)
        self.advance()
        reply = self._execute(name, cmd)
        text = json.dumps(reply)
        text += "\0" * (-len(text) % 16)
        encryptor = cipher.encryptor()
        return {"enc": base64.encodebytes(encryptor.update(text.encode())).decode().replace("\n", "")}

    def _execute(self, name: str, cmd: dict[str, Any]) -> dict[str, Any]:
        if name == "adjust_power_limit":
            if self.behaviour == "refuses_power_limit":
                return self._status(14, "invalid cmd", ok=False)
            try:
                limit = float(cmd.get("power_limit", ""))
            except ValueError:
                return self._status(14, "invalid power_limit", ok=False)
            if not self.spec.min_power_limit_w <= limit <= self.spec.rated_w:
                return self._status(14, f"power_limit out of range {self.spec.min_power_limit_w:.0f}..", ok=False)
            self.power_limit_w = limit
            self.changed_at = time.time()
            return self._status(131, _OK)
        if name in ("power_off", "power_on"):
            self.hashing = name == "power_on"
            self.changed_at = time.time()
            return self._status(131, _OK)
        return self._status(14, "invalid cmd", ok=False)


class _MinerProtocol(asyncio.Protocol):
    """One API connection: gather one JSON request, answer it, close (as the firmware does)."""

    def __init__(self, miner: FakeMiner) -> None:
        self._miner = miner
        self._data = b""
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._timer = asyncio.get_running_loop().call_later(_IDLE_S, transport.close)

    def data_received(self, data: bytes) -> None:
        self._data += data
        try:
            request = json.loads(self._data.decode())
        except (ValueError, UnicodeDecodeError):
            if len(self._data) > _MAX_REQUEST:
                self._close()
            return
        reply = self._miner.answer(request if isinstance(request, dict) else {})
        if self._transport is not None:
            self._transport.write(json.dumps(reply).encode())
        self._close()

    def _close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._transport is not None:
            self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()


class FakeFleet:
    """Many fake miners served by one event loop in a background thread.

    Parameters
    ----------
    miners
        The machines; unreachable ones get no listener but still draw power.

    Examples
    --------
    >>> with FakeFleet.build(3) as fleet:  # doctest: +SKIP
    ...     fleet.total_draw_w()
    """

    def __init__(self, miners: Iterable[FakeMiner]) -> None:
        self.miners = list(miners)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-fleet", daemon=True)
        self._servers: list[asyncio.Server] = []
        self._lock = threading.Lock()

    @classmethod
    def build(
        cls, count: int, *, refuse: Iterable[int] = (), unreachable: Iterable[int] = (), first_ip: int = 2
    ) -> FakeFleet:
        """Return a fleet of ``count`` Whatsminers; ``refuse``/``unreachable`` are indices."""
        spec = MinerSpec.whatsminer()
        refusing, down = set(refuse), set(unreachable)
        miners = [
            FakeMiner(ip, spec, "unreachable" if i in down else "refuses_power_limit" if i in refusing else "normal")
            for i, ip in enumerate(loopback_ips(count, first_ip))
        ]
        return cls(miners)

    def start(self) -> FakeFleet:
        """Open every reachable miner's API port and start the loop."""
        self._thread.start()

        async def open_all() -> None:
            for miner in self.miners:
                if miner.behaviour == "unreachable":
                    continue

                server = await self._loop.create_server(functools.partial(_MinerProtocol, miner), miner.ip, API_PORT,
                                                        backlog=128)  # fmt: skip
                self._servers.append(server)

        asyncio.run_coroutine_threadsafe(open_all(), self._loop).result(timeout=60)
        return self

    def stop(self) -> None:
        """Close every port and stop the loop thread."""

        async def close_all() -> None:
            for server in self._servers:
                server.close()
            for server in self._servers:
                await server.wait_closed()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> FakeFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def total_draw_w(self) -> float:
        """Return the fleet's true draw now [W] (what a site meter sees)."""
        now = time.monotonic()
        with self._lock:
            return sum(miner.advance(now) for miner in self.miners)
