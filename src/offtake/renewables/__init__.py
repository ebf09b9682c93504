"""Renewable profiles from physics, offline: PV from pvlib's clear sky, wind from windpowerlib's power curves.

:mod:`~offtake.renewables.solar` and :mod:`~offtake.renewables.wind` turn sourced monthly tables
(``data/renewables/*.toml``) into hourly availability [per unit of capacity];
:mod:`~offtake.renewables.generate` writes a scenario's ``profiles.csv`` from them.
"""

from __future__ import annotations

from offtake.renewables.solar import SolarSystem, solar_profile
from offtake.renewables.wind import wind_profile

__all__ = ["SolarSystem", "solar_profile", "wind_profile"]
