"""The job-scheduler hook driver against a fake scheduler script, and its ``site.toml`` table."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from offtake.agent.audit import CommandLog
from offtake.agent.config import AgentConfig, load_config
from offtake.agent.jobs import JobHookDriver, SchedulerConfig
from offtake.agent.machines import Command, Telemetry
from offtake.agent.meter import MeterReading, TelemetryMeter
from offtake.agent.runner import Agent, _draw_source
from offtake.agent.schedule import Limit
from offtake.agent.ven import usage_report
from offtake.errors import InputError

FAKE = [sys.executable, "-m", "offtake.agent.fakes.scheduler"]


def _scheduler(tmp_path: Path, jobs: dict[str, str], *, batch: bool = False) -> tuple[SchedulerConfig, Path]:
    """Jobs of the fake scheduler; states read one job a call, or all at once (``batch``)."""
    state = tmp_path / "jobs.json"
    state.write_text(json.dumps(jobs))
    base = [*FAKE, str(state)]
    config = SchedulerConfig(name="slurm", suspend=(*base, "suspend", "{job}"), resume=(*base, "resume", "{job}"),
                             job_w=5600, idle_w=900, list=(*base, "list"),
                             state=() if batch else (*base, "state", "{job}"),
                             states=(*base, "states") if batch else ())  # fmt: skip
    return config, state


def test_jobs_are_listed_suspended_and_resumed_and_a_refusal_says_why(tmp_path: Path) -> None:
    config, state = _scheduler(tmp_path, {"101": "RUNNING", "102": "RUNNING", "103": "LOCKED",
                                          "bad;rm -rf /": "RUNNING"})  # fmt: skip
    driver = JobHookDriver(config)

    async def go() -> tuple[list[str], list[str], list[bool | None], list[bool | None]]:
        infos = await driver.discover()
        results = await driver.apply([Command("slurm/101", "stop"), Command("slurm/103", "stop"),
                                      Command("slurm/999", "stop")])  # fmt: skip
        after = await driver.read([i.id for i in infos])
        back = await driver.apply([Command("slurm/101", "resume")])
        again = await driver.read(["slurm/101"])
        details = [r.detail for r in results + back]
        return [i.id for i in infos], details, [t.running for t in after], [t.running for t in again]

    ids, details, after, again = asyncio.run(go())
    assert ids == ["slurm/101", "slurm/102", "slurm/103"]  # the id that is not a plain name is skipped
    assert details[0] == "suspended" and details[3] == "resumed"
    assert details[1].startswith("refused: suspend (exit 1)") and "locked by its owner" in details[1]
    assert details[2].startswith("unreachable")
    assert after == [False, True, True] and again == [True]
    assert json.loads(state.read_text())["101"] == "RUNNING"


def test_a_command_that_hangs_times_out_and_a_missing_program_is_refused(tmp_path: Path) -> None:
    hang = SchedulerConfig(name="s", suspend=(sys.executable, "-c", "import time; time.sleep(30)", "{job}"),
                           resume=("/nonexistent/scontrol", "resume", "{job}"), job_w=100, jobs=("7",),
                           timeout_s=0.5)  # fmt: skip
    driver = JobHookDriver(hang)

    async def go() -> list[str]:
        await driver.discover()
        return [r.detail for r in await driver.apply([Command("s/7", "stop")])] + [
            r.detail for r in await driver.apply([Command("s/7", "resume")])
        ]

    details = asyncio.run(go())
    assert details[0].startswith("timeout: suspend")
    assert details[1].startswith("refused: resume (exit 127)") and "cannot run" in details[1]


def test_the_agent_suspends_just_enough_jobs_under_a_cap(tmp_path: Path) -> None:
    config, state = _scheduler(tmp_path, {str(j): "RUNNING" for j in range(1, 7)}, batch=True)
    agent_config = AgentConfig(site_id="gpu-site", vtn_url="http://127.0.0.1:9/x", client_id="c", client_secret="s",
                               scheduler=(config,))  # fmt: skip
    agent = Agent(agent_config, [JobHookDriver(config)], TelemetryMeter(), CommandLog(None))

    async def go() -> tuple[float, list[bool | None]]:
        try:
            await agent.discover()
            await agent.read_machines()
            plan = await agent.apply_limit(Limit(20_000.0, "cap", "e", None), 0.0)
            return plan.planned_w, [t.running for t in await agent.read_machines()]
        finally:
            await agent.close()

    planned, read_back = asyncio.run(go())
    jobs = json.loads(state.read_text())
    running = sum(v == "RUNNING" for v in jobs.values())
    # 6 jobs of 5.6 kW (0.9 kW suspended) under 20 kW: 3 run (16.8 + 2.7 = 19.5 kW), 3 are suspended
    assert running == 3 and planned <= 20_000
    assert read_back.count(False) == 3 and read_back.count(True) == 3  # one `states` call reads them all
    assert running * config.job_w + (6 - running) * config.idle_w <= 20_000


@pytest.mark.parametrize("per_job", [False, True])
def test_measured_job_draws_are_used_and_jobs_without_one_are_counted_nominal(tmp_path: Path, per_job: bool) -> None:
    config, state = _scheduler(tmp_path, {"1": "RUNNING", "2": "RUNNING", "3": "SUSPENDED", "4": "RUNNING",
                                          "5": "RUNNING"}, batch=True)  # fmt: skip
    base = [*FAKE, str(state), "power"]
    config = replace(config, power=(*base, "{job}") if per_job else tuple(base))
    # job 1 measured, job 3 measured while suspended; 2 hostile, 4 negative, 5 no reading at all
    state.with_suffix(".json.watts.json").write_text(json.dumps({"1": 4321.5, "2": "nan", "3": 850, "4": -10}))
    agent_config = AgentConfig(site_id="gpu-site", vtn_url="http://127.0.0.1:9/x", client_id="c", client_secret="s",
                               scheduler=(config,))  # fmt: skip
    meter = TelemetryMeter()
    agent = Agent(agent_config, [JobHookDriver(config)], meter, CommandLog(None))

    async def go() -> tuple[list[Telemetry], MeterReading]:
        try:
            await agent.discover()
            return await agent.read_machines(), await meter.read()
        finally:
            await agent.close()

    read, reading = asyncio.run(go())
    by_id = {t.id: t for t in read}
    assert (by_id["slurm/1"].power_w, by_id["slurm/1"].nominal) == (4321.5, False)
    assert (by_id["slurm/3"].power_w, by_id["slurm/3"].nominal, by_id["slurm/3"].running) == (850, False, False)
    for job in ("2", "4", "5"):
        assert (by_id[f"slurm/{job}"].power_w, by_id[f"slurm/{job}"].nominal) == (config.job_w, True)
    assert reading.power_w == 4321.5 + 850 + 3 * config.job_w and reading.nominal_w == 3 * config.job_w
    body = usage_report("e", "gpu-site", datetime.now(UTC), timedelta(seconds=60), 1, reading_type="ESTIMATED",
                        power_w=reading.power_w, state="IDLE_NORMAL", source=_draw_source(reading))  # fmt: skip
    payloads = {p["type"]: p["values"] for p in body["resources"][0]["intervals"][0]["payloads"]}
    assert payloads["DRAW_SOURCE"] == ["TELEMETRY_PARTLY_NOMINAL"]
    # summed telemetry is no meter read: neither the energy nor the draw is reported as one
    assert {d["payloadType"]: d.get("readingType") for d in body["payloadDescriptors"]} == {
        "USAGE": "ESTIMATED", "DEMAND": "ESTIMATED", "OPERATING_STATE": None, "DRAW_SOURCE": None}  # fmt: skip
    assert {d["payloadType"] for d in body["payloadDescriptors"]} == set(payloads)


def test_a_site_whose_every_job_is_measured_reports_telemetry_not_nominal(tmp_path: Path) -> None:
    config, state = _scheduler(tmp_path, {"1": "RUNNING", "2": "SUSPENDED"}, batch=True)
    config = replace(config, power=(*FAKE, str(state), "power"))
    state.with_suffix(".json.watts.json").write_text(json.dumps({"1": 5000, "2": 700}))
    meter = TelemetryMeter()
    agent = Agent(AgentConfig(site_id="g", vtn_url="http://127.0.0.1:9/x", client_id="c", client_secret="s",
                              scheduler=(config,)), [JobHookDriver(config)], meter, CommandLog(None))  # fmt: skip

    async def go() -> MeterReading:
        try:
            await agent.discover()
            await agent.read_machines()
            return await meter.read()
        finally:
            await agent.close()

    reading = asyncio.run(go())
    assert (reading.power_w, reading.nominal_w, _draw_source(reading)) == (5700, 0.0, "TELEMETRY")


def _toml(tmp_path: Path, scheduler: str) -> Path:
    (tmp_path / "s").write_text("secret")
    (tmp_path / "s").chmod(0o600)
    path = tmp_path / "site.toml"
    path.write_text('[site]\nid = "g1"\n[vtn]\nurl = "http://127.0.0.1:9/x"\nclient_id = "c"\n'
                    f'client_secret_file = "s"\n{scheduler}')  # fmt: skip
    return path


def test_scheduler_tables_are_read_and_bad_ones_name_the_field(tmp_path: Path) -> None:
    good = '[[scheduler]]\nname = "slurm"\njobs = ["1", "2"]\nsuspend = ["scontrol", "suspend", "{job}"]\n' \
           'resume = ["scontrol", "resume", "{job}"]\njob_w = 5600\nidle_w = 900\n'
    config = load_config(_toml(tmp_path, good))
    assert config.scheduler[0].suspend == ("scontrol", "suspend", "{job}") and config.scheduler[0].jobs == ("1", "2")
    assert config.state_path == tmp_path / "site.state.json"  # named after the site file: one per site
    cases = {
        good.replace('"suspend", "{job}"', '"suspend"'): r"scheduler\[0\]\.suspend",
        good.replace('jobs = ["1", "2"]', 'jobs = ["1 2"]'): r"scheduler\[0\]\.jobs",
        good.replace('jobs = ["1", "2"]\n', ""): r"scheduler\[0\]",
        good.replace("idle_w = 900", "idle_w = 9000"): r"scheduler\[0\]",
        good.replace('suspend = ["scontrol", "suspend", "{job}"]', 'suspend = "scontrol suspend {job}"'):
            r"scheduler\[0\]\.suspend",
    }  # fmt: skip
    for text, field in cases.items():
        with pytest.raises(InputError, match=field):
            load_config(_toml(tmp_path, text))
