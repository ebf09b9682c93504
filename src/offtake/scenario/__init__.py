"""Scenarios: a folder with ``scenario.toml``, ``plants.csv``, ``demand.csv`` and ``profiles.csv``."""

from __future__ import annotations

from offtake.scenario.loader import bundled_names, load, load_layout, load_period, resolve_path
from offtake.scenario.model import Corridor, ReserveRule, Scenario, Zone

__all__ = [
    "Corridor",
    "ReserveRule",
    "Scenario",
    "Zone",
    "bundled_names",
    "load",
    "load_layout",
    "load_period",
    "resolve_path",
]
