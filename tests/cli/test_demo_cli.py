"""``offtake demo`` on the small three-zone scenario: it runs, dispatches, trips an emergency, bills and cleans up."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("pyasic", reason="the agent extra (pyasic) is not installed")

from offtake.cli import _register, app

SCENARIO = Path(__file__).parents[1] / "data" / "three-zone"


def test_demo_runs_live_and_stops_everything(tmp_path: Path) -> None:
    _register()
    threads_before = {t.ident for t in threading.enumerate()}
    keep = tmp_path / "demo"
    args = ["demo", "--duration", "12", "--sites", "2", "--miners", "2", "--scenario", str(SCENARIO)]
    result = CliRunner().invoke(app, [*args, "--keep", str(keep)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "declares a national emergency" in out
    assert "(emergency)" in out or "(cap)" in out
    assert out.count("bill demo-mine-") == 2
    assert "demo stopped" in out
    # the agents took their events by webhook (the demo's server calls loopback), and said so
    assert "agents subscribe with webhooks" in out
    assert "demo-mine-1: " in out and "events by webhook (" in out
    # the command log of each agent was kept, and no thread the demo started is left running
    assert (keep / "logs" / "demo-mine-1-commands.log").stat().st_size > 0
    left = [t for t in threading.enumerate() if t.ident not in threads_before and t.name.startswith(("fake-", "demo-"))]
    assert not left
