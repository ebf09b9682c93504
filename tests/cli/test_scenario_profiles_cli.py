"""``offtake scenario profiles`` and ``scenario check`` on a derived scenario, as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "offtake", *args], capture_output=True, text=True, timeout=600)


def test_profiles_command_writes_the_derived_years_profiles(tmp_path: Path) -> None:
    target = tmp_path / "p" / "profiles.csv"
    result = run("scenario", "profiles", "pakistan-2030", "--out", str(target))
    assert result.returncode == 0, result.stderr
    assert "[1/12]" in result.stderr and "wind in the Jhimpir-Gharo corridor" in result.stderr
    assert "profiles written to" in result.stderr
    frame = pd.read_csv(target)
    assert frame["interval_start"].iloc[0] == "2029-06-30T19:00:00Z" and len(frame) == 8760
    assert {"solar_rooftop_LESCO", "solar_utility_MEPCO", "wind_jhimpir"} <= set(frame.columns)


def test_profiles_command_refuses_an_unknown_scenario(tmp_path: Path) -> None:
    result = run("scenario", "profiles", "atlantis-2050", "--out", str(tmp_path / "p.csv"))
    assert result.returncode == 2 and "no scenario 'atlantis-2050'" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "p.csv").exists()


def test_scenario_check_and_list_know_the_derived_year() -> None:
    listed = run("scenario", "list")
    assert {"pakistan-2025", "pakistan-2030"} <= set(listed.stdout.split())
    checked = run("scenario", "check", "pakistan-2030")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("pakistan-2030: 8760 intervals of 3600 s from 2029-06-30T19:00:00+00:00")
