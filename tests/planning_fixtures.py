"""Shared test inputs for the planner: a three-zone week that can hold its reserve."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

DATA = Path(__file__).parent / "data"
SITES = DATA / "planning" / "three-zone-sites.csv"


def three_zone_with_largest_unit(tmp: Path, largest_unit_mw: float) -> Path:
    """Copy the three-zone scenario with another largest unit held as reserve [MW]."""
    folder = tmp / f"three-zone-largest-{largest_unit_mw:g}"
    shutil.copytree(DATA / "three-zone", folder)
    toml = folder / "scenario.toml"
    text, count = re.subn(
        r"(?m)^largest_unit_mw = .*$", f"largest_unit_mw = {largest_unit_mw}", toml.read_text(encoding="utf-8")
    )
    assert count == 1, "test setup: scenario.toml must set largest_unit_mw once"
    toml.write_text(text, encoding="utf-8")
    return folder


def reserve_feasible_three_zone(tmp: Path) -> Path:
    """Copy the three-zone scenario with a reserve rule the grid can always hold."""
    return three_zone_with_largest_unit(tmp, 500.0)


def physics_data(tmp: Path, solar_line: str = 'physics = "utility"', wind_line: str = 'physics = "jhimpir"') -> Path:
    """The three-zone candidates with physics profiles in place of the scenario's columns."""
    text = (DATA / "planning" / "three-zone-expansion.toml").read_text(encoding="utf-8")
    text, n_solar = re.subn(r'(?m)^profile = "solar_south"$', solar_line, text)
    text, n_wind = re.subn(r'(?m)^profile = "wind_south"$', wind_line, text)
    assert n_solar == 1 and n_wind == 1, "test setup: the data file names each profile once"
    path = tmp / "physics-expansion.toml"
    path.write_text(text, encoding="utf-8")
    return path
