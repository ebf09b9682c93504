"""Write a scenario's renewable profiles from physics: PV per zone (utility and rooftop) and the wind corridor.

Columns, all [per unit of capacity]:

- ``solar_utility_<ZONE>`` and ``solar_rooftop_<ZONE>`` for every zone with a position (``lat``/``lon``
  in ``scenario.toml``), from :func:`offtake.renewables.solar.solar_profile` at the zone's position
  (sea-level clear sky; the reference site's monthly clearness);
- ``wind_jhimpir``, the Jhimpir-Gharo corridor, from :func:`offtake.renewables.wind.wind_profile`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from offtake.errors import InputError
from offtake.renewables import solar, wind
from offtake.scenario import Zone, load_layout, load_period

__all__ = ["WIND_COLUMN", "generate", "physics_profiles", "write_profiles"]

#: Profile column of the Jhimpir-Gharo wind corridor.
WIND_COLUMN = "wind_jhimpir"
#: Decimals written to profiles.csv [per unit].
_DECIMALS = 4


def physics_profiles(
    index: pd.DatetimeIndex,
    zones: tuple[Zone, ...],
    timezone: str,
    *,
    report: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Profiles for the given period and zones [per unit], one column per zone and kind, and the wind.

    Parameters
    ----------
    index
        Interval starts, aware UTC, regular.
    zones
        The scenario's zones; those without a position get no solar columns.
    timezone
        The scenario's display time zone, whose calendar the monthly tables follow.
    report
        Called with a line per zone, for progress.
    """
    resource = solar.load_resource()
    factors = solar.clearness_factors(index, resource, timezone)
    columns: dict[str, np.ndarray] = {}
    for zone in zones:
        if zone.lat is None or zone.lon is None:
            continue
        if report is not None:
            report(f"solar at {zone.id} ({zone.lat:.2f} N, {zone.lon:.2f} E)")
        for kind, system in resource.systems.items():
            profile = solar.solar_profile(
                index, zone.lat, zone.lon, system, resource, local_timezone=timezone, factors=factors
            )
            columns[f"solar_{kind}_{zone.id}"] = profile.to_numpy()
    if report is not None:
        report("wind in the Jhimpir-Gharo corridor")
    columns[WIND_COLUMN] = wind.wind_profile(index, local_timezone=timezone).to_numpy()
    return pd.DataFrame(columns, index=index)


def write_profiles(frame: pd.DataFrame, resolution_s: int, path: str | Path) -> Path:
    """Write profiles as a scenario's ``profiles.csv`` (``interval_start``, ``interval_end``, one column each)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    index = pd.DatetimeIndex(frame.index)
    out = pd.DataFrame(
        {
            "interval_start": index.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "interval_end": (index + pd.Timedelta(seconds=resolution_s)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    for column in frame.columns:
        out[column] = np.round(frame[column].to_numpy(), _DECIMALS)
    out.to_csv(target, index=False)
    return target


def generate(path_or_name: str | Path, out: str | Path, report: Callable[[str], None] | None = None) -> Path:
    """(Re)generate the physics profiles of a scenario's period and zones into ``out``.

    Works for a derived scenario before its own profiles exist (its period is the base's, shifted).

    Raises
    ------
    InputError
        If the scenario cannot be read or its period is not hourly or finer.
    """
    index, resolution_s, timezone = load_period(path_or_name)
    if resolution_s > 3600:
        raise InputError(
            f"profiles need intervals of an hour or less, got {resolution_s} s", field="period.resolution_s"
        )
    zones, _ = load_layout(path_or_name)
    return write_profiles(physics_profiles(index, zones, timezone, report=report), resolution_s, out)
