"""``site.toml``: what one agent needs to know of its site, VTN, machines and meter.

Example::

    [site]
    id = "S1"
    safe_level_mw = 0.0       # contracted level when no cap is in force (0 for miners)
    headroom_fraction = 0.01  # kept below the cap, on top of the meter's accuracy
    response_time_s = 30      # the contract's time to reach a new cap
    max_start_kw = 50         # restart stagger: most rated power started per step

    [vtn]
    url = "http://127.0.0.1:8000/openadr3/3.1.0"
    client_id = "..."
    client_secret_file = "ven.secret"   # owner-only file (0600), relative to this file
    poll_s = 5                # polling period without a webhook subscription [s]
    safety_poll_s = 60        # polling period while subscribed (a lost notification is caught up) [s]

    [webhook]                 # optional: subscribe, and receive new events at once
    listen = "0.0.0.0:8765"   # where the agent listens
    url = "http://agent.site.example:8765/openadr/notify"   # callback URL the VTN calls

    [agent]
    tick_s = 1
    report_interval_s = 300
    telemetry_s = 5           # a telemetry round of every machine at most this often [s]
    rescan_s = 600            # subnet scans repeated this often [s]
    log = "agent-commands.log"
    state = "site.state.json"    # the cap schedule kept across restarts (0600; "" keeps none;
                                 # default: this file's name with .state.json)

    [[asic]]
    hosts = ["10.0.1.1-50"]
    max_w = 3472
    min_w = 1736
    standby_w = 20

    [[asic]]                  # a scanned subnet: only addresses where a miner answers are machines
    scan = ["10.0.2.0/24"]
    max_w = 3500
    min_w = 1500
    standby_w = 20

    [[scheduler]]             # GPU jobs paused and resumed through the job scheduler
    name = "slurm"
    list = ["squeue", "-h", "-o", "%i", "-p", "flex"]
    suspend = ["scontrol", "suspend", "{job}"]
    resume = ["scontrol", "resume", "{job}"]
    states = ["squeue", "-h", "-p", "flex", "-o", "%i %T"]   # or per job: state = [..., "{job}", ...]
    power = ["/opt/site/job-watts"]   # optional: "<job> <watts>" lines (or per job with "{job}"); else nominal
    job_w = 5600
    idle_w = 900

    [meter]                   # or: kind = "telemetry" where the site has no meter
    kind = "modbus"
    host = "10.0.0.5"
    port = 502
    map = "pm5000"
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offtake import units
from offtake.agent.asic import MAX_SCAN, AsicGroup, expand_hosts
from offtake.agent.jobs import SchedulerConfig
from offtake.agent.meter import RegisterMap, register_map
from offtake.errors import InputError

__all__ = ["AgentConfig", "GpuConfig", "MeterConfig", "load_config"]


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """The site meter: ``modbus`` (host, port, device id, register map) or ``telemetry``."""

    kind: str
    host: str = ""
    port: int = 502
    device_id: int = 1
    rmap: RegisterMap | None = None


@dataclass(frozen=True, slots=True)
class GpuConfig:
    """GPUs of this node through NVML (``nvml``), or the fake (``fake``, ``count`` GPUs)."""

    driver: str
    count: int = 0


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Everything the agent reads from ``site.toml`` (see the module docstring)."""

    site_id: str
    vtn_url: str
    client_id: str
    client_secret: str
    safe_w: float = 0.0
    headroom_fraction: float = 0.0
    response_time_s: float = 30.0
    max_start_w: float = float("inf")
    emergency_level: int = 3
    poll_s: float = 5.0
    safety_poll_s: float = 60.0
    tick_s: float = 1.0
    report_interval_s: float = 300.0
    telemetry_s: float = 5.0
    rescan_s: float = 600.0
    webhook_listen: tuple[str, int] | None = None
    webhook_url: str | None = None
    state_path: Path | None = None
    log_path: Path | None = None
    log_max_bytes: int = 5_000_000
    log_backups: int = 5
    asic: tuple[AsicGroup, ...] = ()
    gpu: GpuConfig | None = None
    scheduler: tuple[SchedulerConfig, ...] = ()
    meter: MeterConfig = field(default_factory=lambda: MeterConfig("telemetry"))


def _get(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, path: Path,
         default: Any = ...) -> Any:  # fmt: skip
    if key not in table:
        if default is ...:
            raise InputError("missing", file=path, field=f"{where}.{key}")
        return default
    value = table[key]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise InputError(f"expected a number or text, got {value!r}", file=path, field=f"{where}.{key}")
    if not isinstance(value, kind):
        raise InputError(f"expected {getattr(kind, '__name__', kind)}, got {value!r}", file=path,
                         field=f"{where}.{key}")  # fmt: skip
    return value


def _positive(value: float, path: Path, name: str, *, zero: bool = False) -> float:
    if not (value >= 0 if zero else value > 0):
        raise InputError(f"must be {'non-negative' if zero else 'positive'}, got {value}", file=path, field=name)
    return float(value)


def _secret(vtn: dict[str, Any], path: Path) -> str:
    env = vtn.get("client_secret_env")
    if isinstance(env, str):
        value = os.environ.get(env)
        if not value:
            raise InputError(f"environment variable {env} is not set", file=path, field="vtn.client_secret_env")
        return str(value)
    name = _get(vtn, "client_secret_file", str, "vtn", path)
    secret_path = (path.parent / name).resolve()
    try:
        mode = secret_path.stat().st_mode
        text = secret_path.read_text().strip()
    except OSError as exc:
        raise InputError(f"cannot read the secret file {secret_path}: {exc.strerror}", file=path,
                         field="vtn.client_secret_file") from None  # fmt: skip
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(f"{secret_path} is readable by others; chmod 600 it", file=path,
                         field="vtn.client_secret_file")  # fmt: skip
    if not text:
        raise InputError(f"{secret_path} is empty", file=path, field="vtn.client_secret_file")
    return str(text)


def _addresses(g: dict[str, Any], key: str, where: str, path: Path) -> tuple[str, ...]:
    specs = _get(g, key, list, where, path, [])
    if not all(isinstance(h, str) for h in specs):
        raise InputError("expected a list of addresses, ranges or CIDR blocks", file=path, field=f"{where}.{key}")
    try:
        expand_hosts(specs, field=f"{where}.{key}", limit=MAX_SCAN)
    except InputError as exc:
        raise InputError(exc.message, file=path, field=exc.field) from None
    return tuple(specs)


def _asic(groups: Any, path: Path) -> tuple[AsicGroup, ...]:
    if not isinstance(groups, list):
        raise InputError("expected [[asic]] tables", file=path, field="asic")
    out = []
    for i, g in enumerate(groups):
        where = f"asic[{i}]"
        if not isinstance(g, dict):
            raise InputError("expected a table", file=path, field=where)
        hosts, scan = _addresses(g, "hosts", where, path), _addresses(g, "scan", where, path)
        if not hosts and not scan:
            raise InputError("give 'hosts' (every address a machine) or 'scan' (subnets to search)", file=path,
                             field=where)  # fmt: skip
        max_w = _positive(_get(g, "max_w", (int, float), where, path), path, f"{where}.max_w")
        min_w = _positive(_get(g, "min_w", (int, float), where, path, max_w), path, f"{where}.min_w")
        standby = _positive(_get(g, "standby_w", (int, float), where, path), path, f"{where}.standby_w", zero=True)
        if not standby <= min_w <= max_w:
            raise InputError(f"expected standby_w <= min_w <= max_w, got {standby}, {min_w}, {max_w}", file=path,
                             field=where)  # fmt: skip
        out.append(AsicGroup(hosts, max_w, min_w, standby, scan))
    return tuple(out)


def _argv(table: dict[str, Any], key: str, where: str, path: Path) -> tuple[str, ...]:
    argv = _get(table, key, list, where, path, [])
    if not all(isinstance(a, str) for a in argv):
        raise InputError("expected a command as a list of arguments", file=path, field=f"{where}.{key}")
    return tuple(argv)


def _schedulers(tables: Any, path: Path) -> tuple[SchedulerConfig, ...]:
    if not isinstance(tables, list):
        raise InputError("expected [[scheduler]] tables", file=path, field="scheduler")
    out: list[SchedulerConfig] = []
    for i, t in enumerate(tables):
        where = f"scheduler[{i}]"
        if not isinstance(t, dict):
            raise InputError("expected a table", file=path, field=where)
        jobs = _get(t, "jobs", list, where, path, [])
        num = (int, float)
        config = SchedulerConfig(
            name=units.validate_id(_get(t, "name", str, where, path), f"{where}.name"),
            suspend=_argv(t, "suspend", where, path), resume=_argv(t, "resume", where, path),
            job_w=float(_get(t, "job_w", num, where, path)), idle_w=float(_get(t, "idle_w", num, where, path, 0.0)),
            jobs=tuple(str(j) for j in jobs), list=_argv(t, "list", where, path), state=_argv(t, "state", where, path),
            states=_argv(t, "states", where, path), power=_argv(t, "power", where, path),
            timeout_s=float(_get(t, "timeout_s", num, where, path, 10.0)),
        )  # fmt: skip
        try:
            config.check(where)
        except InputError as exc:
            raise InputError(exc.message, file=path, field=exc.field) from None
        if any(o.name == config.name for o in out):
            raise InputError(f"a second scheduler named '{config.name}'", file=path, field=f"{where}.name")
        out.append(config)
    return tuple(out)


def _webhook(table: dict[str, Any] | None, path: Path) -> tuple[tuple[str, int] | None, str | None]:
    if table is None:
        return None, None
    listen = _get(table, "listen", str, "webhook", path)
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InputError(f"expected host:port, got '{listen}'", file=path, field="webhook.listen")
    url = _get(table, "url", str, "webhook", path, "") or None
    if url is not None and not url.startswith(("http://", "https://")):
        raise InputError(f"expected an http(s) URL, got '{url}'", file=path, field="webhook.url")
    if url is None and host.strip("[]") in ("0.0.0.0", "::", ""):
        raise InputError("listening on every address: give webhook.url, the address the VTN calls", file=path,
                         field="webhook.url")  # fmt: skip
    return (host.strip("[]"), int(port)), url


def _meter(table: dict[str, Any], path: Path) -> MeterConfig:
    kind = _get(table, "kind", str, "meter", path, "telemetry")
    if kind == "telemetry":
        return MeterConfig("telemetry")
    if kind != "modbus":
        raise InputError(f"expected 'modbus' or 'telemetry', got '{kind}'", file=path, field="meter.kind")
    fields = {k: v for k, v in table.items() if k not in ("kind", "host", "port", "device_id")}
    try:
        rmap = register_map(fields)
    except InputError as exc:
        raise InputError(exc.message, file=path, field=exc.field) from None
    host = _get(table, "host", str, "meter", path)
    port = int(_get(table, "port", int, "meter", path, 502))
    return MeterConfig("modbus", host, port, int(_get(table, "device_id", int, "meter", path, 1)), rmap)


def load_config(path: Path) -> AgentConfig:
    """Read and check ``site.toml``.

    Raises
    ------
    InputError
        Naming the file and the field.
    """
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=path) from None
    site = _get(data, "site", dict, "", path)
    vtn = _get(data, "vtn", dict, "", path)
    agent = _get(data, "agent", dict, "", path, {})
    site_id = units.validate_id(_get(site, "id", str, "site", path), "site.id")
    gpu = data.get("gpu")
    gpu_cfg = None
    if gpu is not None:
        driver = _get(gpu, "driver", str, "gpu", path)
        if driver not in ("nvml", "fake"):
            raise InputError(f"expected 'nvml' or 'fake', got '{driver}'", file=path, field="gpu.driver")
        gpu_cfg = GpuConfig(driver, int(_get(gpu, "count", int, "gpu", path, 0)))
    log = _get(agent, "log", str, "agent", path, "")
    # beside this file, named after it: two sites' files in one folder keep separate schedules
    state = _get(agent, "state", str, "agent", path, f"{path.stem}.state.json")
    listen, hook_url = _webhook(_get(data, "webhook", dict, "", path, None), path)
    num = (int, float)
    config = AgentConfig(
        site_id=site_id,
        vtn_url=_get(vtn, "url", str, "vtn", path),
        client_id=_get(vtn, "client_id", str, "vtn", path),
        client_secret=_secret(vtn, path),
        safe_w=_positive(_get(site, "safe_level_mw", num, "site", path, 0.0), path, "site.safe_level_mw", zero=True)
        * units.W_PER_MW,
        headroom_fraction=_positive(_get(site, "headroom_fraction", num, "site", path, 0.0), path,
                                    "site.headroom_fraction", zero=True),
        response_time_s=_positive(_get(site, "response_time_s", num, "site", path, 30.0), path, "site.response_time_s"),
        max_start_w=_positive(_get(site, "max_start_kw", num, "site", path, float("inf")), path, "site.max_start_kw")
        * 1000.0,
        emergency_level=int(_get(site, "emergency_level", int, "site", path, 3)),
        poll_s=_positive(_get(vtn, "poll_s", num, "vtn", path, 5.0), path, "vtn.poll_s"),
        safety_poll_s=_positive(_get(vtn, "safety_poll_s", num, "vtn", path, 60.0), path, "vtn.safety_poll_s"),
        telemetry_s=_positive(_get(agent, "telemetry_s", num, "agent", path, 5.0), path, "agent.telemetry_s"),
        rescan_s=_positive(_get(agent, "rescan_s", num, "agent", path, 600.0), path, "agent.rescan_s"),
        webhook_listen=listen,
        webhook_url=hook_url,
        state_path=(path.parent / state) if state else None,
        tick_s=_positive(_get(agent, "tick_s", num, "agent", path, 1.0), path, "agent.tick_s"),
        report_interval_s=_positive(_get(agent, "report_interval_s", num, "agent", path, 300.0), path,
                                    "agent.report_interval_s"),
        log_path=(path.parent / log) if log else None,
        asic=_asic(data.get("asic", []), path),
        gpu=gpu_cfg,
        scheduler=_schedulers(data.get("scheduler", []), path),
        meter=_meter(_get(data, "meter", dict, "", path, {}), path),
    )  # fmt: skip
    if not config.vtn_url.startswith(("http://", "https://")):
        raise InputError(f"expected an http(s) URL, got '{config.vtn_url}'", file=path, field="vtn.url")
    if not config.asic and config.gpu is None and not config.scheduler:
        raise InputError("no machines: give [[asic]] groups, a [gpu] table or [[scheduler]] tables", file=path)
    return config
