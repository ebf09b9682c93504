"""Discovery by subnet scan: only addresses where a miner answers become machines; rescans find new ones."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

pytest.importorskip("pyasic", reason="the agent extra (pyasic) is not installed")

from offtake.agent.asic import AsicDriver, AsicGroup
from offtake.agent.config import load_config
from offtake.agent.fakes.whatsminer import FakeFleet
from offtake.errors import InputError


def test_a_scan_finds_the_answering_miners_of_a_subnet_and_a_rescan_the_new_ones() -> None:
    block = random.randint(1, 250)
    base = (79 << 16) + (block << 8)
    first = FakeFleet.build(6, unreachable=[2], first_ip=base + 10)
    later = FakeFleet.build(2, first_ip=base + 200)
    driver = AsicDriver([AsicGroup((), 3472, 1736, 20, scan=(f"127.79.{block}.0/24",))], timeout_s=5)

    async def go() -> tuple[list[str], list[str], list[str]]:
        infos = await driver.discover()
        later.start()
        try:
            found = await driver.scan()
            return [i.id for i in infos], found, [i.id for i in driver.machines()]
        finally:
            later.stop()

    with first:
        found_first, found_later, machines = asyncio.run(go())
    answering = [m.ip for m in first.miners if m.behaviour != "unreachable"]
    assert found_first == answering  # the silent address is not a machine; nothing else in the /24 either
    assert found_later == [m.ip for m in later.miners]
    assert machines == answering + found_later
    assert all(i.model != "unknown" for i in driver.machines())


def _toml(tmp_path: Path, asic: str) -> Path:
    (tmp_path / "s").write_text("secret")
    (tmp_path / "s").chmod(0o600)
    path = tmp_path / "site.toml"
    path.write_text('[site]\nid = "a1"\n[vtn]\nurl = "http://127.0.0.1:9/x"\nclient_id = "c"\n'
                    f'client_secret_file = "s"\n[[asic]]\nmax_w = 3400\nstandby_w = 20\n{asic}')  # fmt: skip
    return path


def test_scan_tables_are_read_and_bad_ones_name_the_field(tmp_path: Path) -> None:
    config = load_config(_toml(tmp_path, 'scan = ["10.1.0.0/24", "10.1.1.1-20"]\n'))
    assert config.asic[0].scan == ("10.1.0.0/24", "10.1.1.1-20") and config.asic[0].hosts == ()
    cases = {'scan = ["10.0.0.0/8"]\n': r"asic\[0\]\.scan", 'scan = ["10.1.0.300/24"]\n': r"asic\[0\]\.scan",
             'scan = [5]\n': r"asic\[0\]\.scan", "": r"asic\[0\]"}  # fmt: skip
    for text, field in cases.items():
        with pytest.raises(InputError, match=field):
            load_config(_toml(tmp_path, text))
