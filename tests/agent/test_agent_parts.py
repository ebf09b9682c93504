"""The agent's parts: the schedule's fail-safe rule, meter register maps, the GPU driver (fake and real NVML)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from offtake.agent.gpu import FakeNvml, GpuDriver, load_nvml
from offtake.agent.machines import Command
from offtake.agent.meter import register_map
from offtake.agent.schedule import limit_at, windows_from_events
from offtake.errors import InputError

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _cap_event(eid: str, start: datetime, values: list[float], units: str = "MW") -> dict[str, Any]:
    return {
        "id": eid, "programID": "p", "priority": 1,
        "payloadDescriptors": [{"payloadType": "IMPORT_CAPACITY_LIMIT", "units": units}],
        "intervalPeriod": {"start": start.isoformat(), "duration": "PT5M"},
        "intervals": [{"id": i, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [v]}]}
                      for i, v in enumerate(values)],
    }  # fmt: skip


def test_the_cap_in_force_then_the_safe_level_when_it_expires() -> None:
    windows = windows_from_events([_cap_event("e1", T0, [2.0, 1.5])])
    assert limit_at(windows, T0 + timedelta(minutes=1), safe_w=0).cap_w == 2e6
    assert limit_at(windows, T0 + timedelta(minutes=6), safe_w=0).cap_w == 1.5e6
    expired = limit_at(windows, T0 + timedelta(minutes=10), safe_w=0)
    assert (expired.source, expired.cap_w) == ("safe", 0)  # never extended silently
    before = limit_at(windows, T0 - timedelta(minutes=1), safe_w=5.0)
    assert (before.source, before.cap_w, before.until) == ("safe", 5.0, T0)


def test_overlapping_caps_take_the_lowest_and_an_emergency_comes_first() -> None:
    emergency = {
        "id": "em", "programID": "p", "priority": 0,
        "intervalPeriod": {"start": T0.isoformat(), "duration": "PT2M"},
        "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [3]},
                                             {"type": "ALERT_GRID_EMERGENCY", "values": ["trip"]}]}],
    }  # fmt: skip
    mild = dict(emergency, id="mild", intervals=[{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}])
    windows = windows_from_events(
        [_cap_event("a", T0, [2.0]), _cap_event("b", T0, [900.0], "KW"), emergency, mild, {"junk": True}]
    )
    now = T0 + timedelta(minutes=1)
    assert limit_at(windows, now, safe_w=0).source == "emergency"
    later = limit_at(windows, T0 + timedelta(minutes=3), safe_w=0)
    assert (later.cap_w, later.event_id) == (900_000.0, "b")


def test_hostile_cap_payloads_are_skipped() -> None:
    bad_units = _cap_event("x", T0, [1.0], "GIGAWATTS")
    negative = _cap_event("y", T0, [-1.0])
    text = _cap_event("z", T0, [1.0])
    text["intervals"][0]["payloads"][0]["values"] = ["lots"]
    assert windows_from_events([bad_units, negative, text]) == []


def test_register_maps_name_the_bad_field() -> None:
    assert register_map({"map": "pm5000"}).power_address == 3059
    with pytest.raises(InputError, match=r"meter\.map"):
        register_map({"map": "nope"})
    with pytest.raises(InputError, match=r"meter\.power_format"):
        register_map({"map": "pm5000", "power_format": "float16"})
    with pytest.raises(InputError, match=r"meter\.energy_address"):
        fields = {"function": "holding", "word_order": "big", "power_address": 0, "power_format": "float32"}
        register_map({**fields, "power_scale": 1, "energy_format": "int64", "energy_scale": 1, "accuracy_fraction": 0})


def _drive(driver: GpuDriver) -> tuple[Any, Any, Any]:
    async def go() -> tuple[Any, Any, Any]:
        infos = await driver.discover()
        results = await driver.apply([Command(infos[0].id, "power", int(infos[0].min_w) + 50),
                                      Command(infos[-1].id, "power", int(infos[-1].max_w) + 1000)])  # fmt: skip
        return infos, results, await driver.read([i.id for i in infos])

    return asyncio.run(go())


def test_fake_gpus_take_power_limits_within_their_range() -> None:
    infos, results, telemetry = _drive(GpuDriver(FakeNvml(2), "n1"))
    assert [i.id for i in infos] == ["n1/gpu0", "n1/gpu1"]
    assert results[0].ok and not results[1].ok and results[1].detail.startswith("refused")
    assert telemetry[0].limit_w == infos[0].min_w + 50 and telemetry[0].power_w == telemetry[0].limit_w


def test_real_nvml_reads_its_gpus() -> None:
    nvml = load_nvml()
    if nvml is None:
        pytest.skip("NVML is absent here (no NVIDIA driver): the fake GPU driver covers the interface")
    driver = GpuDriver(nvml, "real")
    infos = asyncio.run(driver.discover())
    assert infos and all(0 < i.min_w <= i.max_w for i in infos)
    telemetry = asyncio.run(driver.read([i.id for i in infos]))
    assert all(t.reachable and t.power_w is not None and t.power_w > 0 for t in telemetry)
