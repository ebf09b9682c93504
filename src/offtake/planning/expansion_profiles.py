"""Each expansion candidate's profile: a column of the scenario's ``profiles.csv``, or physics at the zone.

A candidate of ``data/economics/expansion.toml`` names its profile one of two ways:

* ``profile = "<column>"``: a column of the scenario's ``profiles.csv`` (``profile_by_zone`` may name
  another per zone);
* ``physics = "<kind>"``: computed here with :mod:`offtake.renewables` for the scenario's period.
  For solar, ``kind`` is a PV system of ``data/renewables/solar.toml`` (``utility`` or ``rooftop``)
  and the profile is pvlib's at the zone's position (``lat``/``lon`` in ``scenario.toml``); for
  wind, ``kind`` is the corridor of ``data/renewables/wind.toml`` (``jhimpir``: windpowerlib's power
  curve on the Jhimpir-Gharo monthly wind table, the same for every corridor zone).

Physics profiles are computed over the scenario's whole period (the monthly clearness factors are
the period's) and cut to its intervals, so sample days get the same values as the whole year.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from offtake.errors import InputError
from offtake.renewables import solar, wind
from offtake.renewables.generate import WIND_COLUMN
from offtake.scenario import Scenario, load_period
from offtake.scenario.profiles import load_profiles

__all__ = ["PHYSICS_WIND", "candidate_profiles"]

#: The one wind corridor the bundled wind table describes (``physics = "jhimpir"``).
PHYSICS_WIND = WIND_COLUMN.removeprefix("wind_")

#: How a candidate's profile is named in the build table, by source.
SOURCE_SCENARIO = "scenario"
SOURCE_PHYSICS = "physics"


@lru_cache(maxsize=64)
def _solar(folder: str, kind: str, lat: float, lon: float) -> pd.Series:
    index, _, timezone = load_period(folder)
    resource = solar.load_resource()
    if kind not in resource.systems:
        raise InputError(f"unknown PV system '{kind}' (known: {', '.join(resource.systems)})", field="physics")
    return solar.solar_profile(index, lat, lon, resource.systems[kind], resource, local_timezone=timezone)


@lru_cache(maxsize=8)
def _wind(folder: str, kind: str) -> pd.Series:
    if kind != PHYSICS_WIND:
        raise InputError(f"unknown wind corridor '{kind}' (known: {PHYSICS_WIND})", field="physics")
    index, _, timezone = load_period(folder)
    return wind.wind_profile(index, local_timezone=timezone)


def _physics(scenario: Scenario, technology: str, kind: str, zone: str) -> tuple[pd.Series, str]:
    """Profile of one physics candidate over the scenario's whole period, and its description."""
    folder = str(scenario.path)
    if technology == "wind":
        return _wind(folder, kind), f"physics: windpowerlib, {kind} corridor wind table"
    pos = {z.id: z for z in scenario.zones}[zone]
    if pos.lat is None or pos.lon is None:
        raise InputError(f"zone '{zone}' has no lat/lon in {scenario.path / 'scenario.toml'}; physics solar needs them")
    return _solar(folder, kind, pos.lat, pos.lon), f"physics: pvlib {kind} PV at {pos.lat:.2f} N {pos.lon:.2f} E"


def candidate_profiles(scenario: Scenario, generators: pd.DataFrame, file: Path) -> tuple[np.ndarray, list[str]]:
    """Return the candidates' profiles [per unit], shape (time, candidate), and where each came from.

    Parameters
    ----------
    scenario
        The scenario (read again from its folder for ``profiles.csv`` and its period).
    generators
        Candidates: ``zone``, ``technology``, ``profile`` (a column name, or the physics kind) and
        ``profile_source`` (``scenario`` or ``physics``).
    file
        The candidates' data file, named in errors.

    Raises
    ------
    InputError
        If a column is missing from ``profiles.csv``, a physics kind is unknown or a zone lacks a
        position, naming the data file and the candidate's field.
    """
    columns: list[np.ndarray] = []
    used: list[str] = []
    table: pd.DataFrame | None = None
    for cid, row in generators.iterrows():
        field = f"candidates.{row['technology']}"
        if row["profile_source"] == SOURCE_PHYSICS:
            try:
                series, what = _physics(scenario, str(row["technology"]), str(row["profile"]), str(row["zone"]))
            except InputError as exc:
                raise InputError(f"{cid}: {exc.message}", file=file, field=f"{field}.physics") from None
            missing = scenario.index.difference(pd.DatetimeIndex(series.index))
            if len(missing):
                raise InputError(f"{cid}: no physics profile for {missing[0]}", file=file, field=f"{field}.physics")
            columns.append(series.reindex(scenario.index).to_numpy(dtype=float))
            used.append(what)
            continue
        if table is None:
            table = load_profiles(scenario)
        if row["profile"] not in table.columns:
            raise InputError(
                f"profile '{row['profile']}' ({cid}) is not a column of the scenario's profiles "
                f"({', '.join(table.columns) or 'none'})",
                file=file,
                field=f"{field}.profile",
            )
        columns.append(table[row["profile"]].to_numpy(dtype=float))
        used.append(f"scenario: profiles.csv column {row['profile']}")
    values = np.column_stack(columns) if columns else np.zeros((len(scenario.index), 0))
    return values, used
