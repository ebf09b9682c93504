"""Shared test inputs for the planner: a three-zone week that can hold its reserve."""

from __future__ import annotations

import shutil
from pathlib import Path

DATA = Path(__file__).parent / "data"
SITES = DATA / "planning" / "three-zone-sites.csv"


def reserve_feasible_three_zone(tmp: Path) -> Path:
    """Copy the three-zone scenario with a reserve rule the grid can always hold."""
    folder = tmp / "three-zone-planning"
    shutil.copytree(DATA / "three-zone", folder)
    toml = folder / "scenario.toml"
    text = toml.read_text(encoding="utf-8")
    text = text.replace(
        "hold_largest_unit = true\n", "hold_largest_unit = true\nlargest_unit_mw = 600\n"
    )
    toml.write_text(text, encoding="utf-8")
    return folder
