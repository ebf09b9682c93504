"""The cap schedule kept across restarts: written owner-only and atomically, read back before the first plan."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("pyasic", reason="the agent extra (pyasic) is not installed")

from agent_platform import RATED_W, first_ip

from offtake.agent.config import load_config
from offtake.agent.fakes.whatsminer import FakeFleet
from offtake.agent.runner import build_agent
from offtake.agent.schedule import Window
from offtake.agent.state import load_schedule, save_schedule
from offtake.errors import InputError

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_the_schedule_round_trips_owner_only_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "agent-state.json"
    windows = [Window("e1", "cap", NOW, NOW + timedelta(minutes=5), 7000.0, 1),
               Window("em", "emergency", NOW, NOW + timedelta(minutes=2), None, 0)]  # fmt: skip
    save_schedule(path, windows, "e1", NOW)
    save_schedule(path, windows[:1], "e1", NOW + timedelta(seconds=1))  # replaced whole
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["agent-state.json"]
    saved = load_schedule(path)
    assert saved is not None and list(saved.windows) == windows[:1] and saved.last_event_id == "e1"
    save_schedule(path, windows, None, NOW)
    again = load_schedule(path)
    assert again is not None and list(again.windows) == windows
    assert load_schedule(tmp_path / "none.json") is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", "not JSON"),
        (json.dumps({"version": 9, "windows": []}), "version"),
        (json.dumps({"version": 1, "windows": {}}), "windows"),
        (json.dumps({"version": 1, "saved_at": NOW.isoformat(), "windows": [
            {"kind": "cap", "start": NOW.isoformat(), "end": NOW.isoformat(), "cap_w": -5}]}), r"windows\[0\]\.cap_w"),
        (json.dumps({"version": 1, "saved_at": NOW.isoformat(), "windows": [
            {"kind": "cap", "start": "2026-03-01T12:00:00", "end": NOW.isoformat(), "cap_w": 5}]}),
         r"windows\[0\]\.start"),
        (json.dumps({"version": 1, "saved_at": NOW.isoformat(), "windows": [{"kind": "boost"}]}), r"windows\[0\]"),
    ],
)  # fmt: skip
def test_a_damaged_schedule_is_refused_naming_the_field(tmp_path: Path, body: str, field: str) -> None:
    path = tmp_path / "agent-state.json"
    path.write_text(body)
    with pytest.raises(InputError, match=field):
        load_schedule(path)


def _site(folder: Path, first: int, miners: int) -> Path:
    """A site whose VTN is away (a closed port): only the kept schedule can tell the cap."""
    (folder / "ven.secret").write_text("s")
    (folder / "ven.secret").chmod(0o600)
    b, c, d = (first >> 16) & 0xFF, (first >> 8) & 0xFF, first & 0xFF
    path = folder / "site.toml"
    path.write_text(f'[site]\nid = "restart-site"\nsafe_level_mw = 0.0\nmax_start_kw = 100\n'
                    f'[vtn]\nurl = "http://127.0.0.1:9/openadr3/3.1.0"\nclient_id = "c"\n'
                    f'client_secret_file = "ven.secret"\npoll_s = 0.2\n'
                    f'[agent]\ntick_s = 0.2\ntelemetry_s = 0.2\nlog = "commands.log"\n'
                    f'[[asic]]\nhosts = ["127.{b}.{c}.{d}-{d + miners - 1}"]\nmax_w = {RATED_W}\nmin_w = 1736\n'
                    f'standby_w = 20\n')  # fmt: skip
    return path


def _restart(config_path: Path, fleet: FakeFleet) -> tuple[list[tuple[bool, float]], str | None, bool]:
    """Start an agent, run exactly one tick; return each miner's (hashing, limit) after it."""
    config = load_config(config_path)
    agent = build_agent(config)

    async def go() -> tuple[str | None, bool]:
        try:
            await agent.run(asyncio.Event(), max_ticks=1)
            return (agent.status.limit.source if agent.status.limit else None), agent.status.restored
        finally:
            await agent.close()

    source, restored = asyncio.run(go())
    return [(m.hashing, m.power_limit_w) for m in fleet.miners], source, restored


def test_after_a_restart_the_kept_cap_applies_before_any_machine_resumes(tmp_path: Path) -> None:
    first = first_ip()
    config_path = _site(tmp_path, first, 4)
    now = datetime.now(UTC)
    cap_w = 2.5 * RATED_W
    save_schedule(tmp_path / "site.state.json", [Window("e1", "cap", now - timedelta(minutes=1),
                                                         now + timedelta(minutes=5), cap_w, 1)], "e1", now)  # fmt: skip
    with FakeFleet.build(4, first_ip=first) as fleet:
        # the site came back from a power cut: three miners hash at full power, one is still off
        fleet.miners[3].hashing = False
        after, source, restored = _restart(config_path, fleet)
    assert restored and source == "cap"
    hashing = [m for m in after if m[0]]
    assert after[3][0] is False  # not resumed by the first plan after the start
    assert sum(limit for _, limit in hashing) + 20 <= cap_w
    assert len(hashing) == 3


def test_after_a_restart_an_expired_cap_gives_the_safe_level(tmp_path: Path) -> None:
    first = first_ip()
    config_path = _site(tmp_path, first, 3)
    now = datetime.now(UTC)
    save_schedule(tmp_path / "site.state.json", [Window("e1", "cap", now - timedelta(minutes=10),
                                                         now - timedelta(minutes=5), 1e6, 1)], "e1", now)  # fmt: skip
    with FakeFleet.build(3, first_ip=first) as fleet:
        after, source, restored = _restart(config_path, fleet)
    assert restored and source == "safe"
    assert not any(h for h, _ in after)  # safe level 0 for miners: every one stopped


def test_a_damaged_schedule_file_means_the_safe_level_and_says_why(tmp_path: Path) -> None:
    first = first_ip()
    config_path = _site(tmp_path, first, 2)
    (tmp_path / "site.state.json").write_text("{broken")
    with FakeFleet.build(2, first_ip=first) as fleet:
        after, source, restored = _restart(config_path, fleet)
    assert not restored and source == "safe" and not any(h for h, _ in after)
    lines = [json.loads(line) for line in (tmp_path / "commands.log").read_text().splitlines()]
    assert any(line["command"] == "state-not-restored" and "not JSON" in line["answer"] for line in lines)
