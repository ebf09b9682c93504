"""Hourly PV output from physics: pvlib's clear sky scaled to a typical year by a sourced monthly table.

For each interval the sun's position and the clear-sky irradiance (Ineichen, with the monthly Linke
turbidity that ships with pvlib) are computed at the interval's midpoint. A monthly clearness factor,
the table's irradiation over the clear-sky irradiation at the reference site (the Quaid-e-Azam Solar
Park), scales the global horizontal irradiance to a typical year; the Erbs model splits it into beam and
diffuse, the Perez-free isotropic model transposes it onto the array, the Faiman model gives the cell
temperature and PVWatts the DC and AC output, clipped at the inverter's rating.

Everything runs offline: pvlib's ``LinkeTurbidities.h5`` is in its wheel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pvlib

from offtake.errors import InputError
from offtake.renewables._data import data_path, number, read_table, twelve

__all__ = ["SolarResource", "SolarSystem", "clearness_factors", "load_resource", "solar_profile"]

#: Wind speed assumed at the modules for the cell temperature [m/s].
_MODULE_WIND_M_PER_S = 1.0


@dataclass(frozen=True)
class SolarSystem:
    """A PV system, per unit of its rated AC power.

    Parameters
    ----------
    tilt_deg, azimuth_deg
        Array orientation [degrees; azimuth 180 = south].
    dc_ac_ratio
        DC rating over AC rating [-].
    gamma_pdc_per_c
        Power temperature coefficient [1/degC].
    losses
        System losses before the inverter [-].
    inverter_efficiency
        Inverter efficiency [-].
    """

    tilt_deg: float
    azimuth_deg: float
    dc_ac_ratio: float
    gamma_pdc_per_c: float
    losses: float
    inverter_efficiency: float


@dataclass(frozen=True)
class SolarResource:
    """The typical-year solar table (``data/renewables/solar.toml``).

    Attributes
    ----------
    lat, lon, altitude_m
        Reference site [degrees, degrees, m].
    annual_ghi_kwh_per_m2
        Sourced annual irradiation at the reference site [kWh/m2/year].
    monthly_ghi_kwh_per_m2_day
        Mean daily irradiation per month, January first [kWh/m2/day].
    day_temperature_c
        Mean daytime air temperature per month [degC].
    systems
        PV systems by kind (``utility``, ``rooftop``).
    validation
        Published capacity factors and the check's margin [-].
    """

    lat: float
    lon: float
    altitude_m: float
    annual_ghi_kwh_per_m2: float
    monthly_ghi_kwh_per_m2_day: tuple[float, ...]
    day_temperature_c: tuple[float, ...]
    systems: dict[str, SolarSystem]
    validation: dict[str, float]


def load_resource(path: Path | None = None) -> SolarResource:
    """Read the solar table; the bundled one by default.

    Raises
    ------
    InputError
        If a value is missing or out of range; the message names the file and field.
    """
    path = path or data_path("solar.toml")
    raw = read_table(path)
    systems: dict[str, SolarSystem] = {}
    for kind, table in dict(raw.get("systems", {})).items():
        systems[kind] = _system(raw, f"systems.{kind}", path)
        del table
    if not systems:
        raise InputError("at least one [systems.<kind>] table is needed", file=path, field="systems")
    return SolarResource(
        lat=number(raw, "reference_site.lat", path),
        lon=number(raw, "reference_site.lon", path),
        altitude_m=number(raw, "reference_site.altitude_m", path),
        annual_ghi_kwh_per_m2=number(raw, "reference_site.annual_ghi_kwh_per_m2", path),
        monthly_ghi_kwh_per_m2_day=tuple(twelve(raw, "monthly.ghi_kwh_per_m2_day", path, low=0.0, high=12.0)),
        day_temperature_c=tuple(twelve(raw, "monthly.day_temperature_c", path, low=-40.0, high=60.0)),
        systems=systems,
        validation={k: number(raw, f"validation.{k}", path) for k in dict(raw.get("validation", {}))},
    )


def _system(raw: dict[str, Any], where: str, path: Path) -> SolarSystem:
    values = {
        key: number(raw, f"{where}.{key}", path)
        for key in ("tilt_deg", "azimuth_deg", "dc_ac_ratio", "gamma_pdc_per_c", "losses", "inverter_efficiency")
    }
    checks = {
        "tilt_deg": 0 <= values["tilt_deg"] <= 90,
        "azimuth_deg": 0 <= values["azimuth_deg"] < 360,
        "dc_ac_ratio": 0 < values["dc_ac_ratio"] <= 3,
        "gamma_pdc_per_c": -0.02 <= values["gamma_pdc_per_c"] <= 0,
        "losses": 0 <= values["losses"] < 1,
        "inverter_efficiency": 0 < values["inverter_efficiency"] <= 1,
    }
    for key, ok in checks.items():
        if not ok:
            raise InputError(f"out of range: {values[key]!r}", file=path, field=f"{where}.{key}")
    return SolarSystem(**values)


def _midpoints(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Middle of each interval (aware UTC); a regular index of at least two intervals."""
    if index.tz is None:
        raise InputError("interval starts must be time-zone aware", field="index")
    if len(index) < 2:
        raise InputError("at least two intervals are needed", field="index")
    step = index[1] - index[0]
    return index + step / 2


def _clear_sky(index: pd.DatetimeIndex, lat: float, lon: float, altitude_m: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clear-sky irradiance and solar position at the interval midpoints."""
    location = pvlib.location.Location(lat, lon, altitude=altitude_m)
    times = _midpoints(index)
    return location.get_clearsky(times, model="ineichen"), location.get_solarposition(times)


def clearness_factors(index: pd.DatetimeIndex, resource: SolarResource, local_timezone: str) -> np.ndarray:
    """Monthly factor that scales clear-sky GHI to the typical year at the reference site [-].

    Parameters
    ----------
    index
        Interval starts, aware UTC.
    resource
        The solar table.
    local_timezone
        IANA zone whose calendar months the table follows.

    Returns
    -------
    numpy.ndarray
        Twelve factors, January first, each in (0, 1].
    """
    sky, _ = _clear_sky(index, resource.lat, resource.lon, resource.altitude_m)
    local_month = _midpoints(index).tz_convert(local_timezone).month
    step_h = (index[1] - index[0]) / pd.Timedelta(hours=1)
    factors = np.ones(12)
    for m in range(1, 13):
        in_month = np.asarray(local_month == m)
        days = in_month.sum() * step_h / 24.0
        if days == 0:
            continue
        clear_kwh_day = float(sky["ghi"].to_numpy()[in_month].sum()) * step_h / 1000.0 / days
        factors[m - 1] = min(1.0, resource.monthly_ghi_kwh_per_m2_day[m - 1] / clear_kwh_day)
    return factors


def solar_profile(
    index: pd.DatetimeIndex,
    lat: float,
    lon: float,
    system: SolarSystem,
    resource: SolarResource,
    *,
    altitude_m: float = 0.0,
    local_timezone: str = "Asia/Karachi",
    factors: np.ndarray | None = None,
) -> pd.Series:
    """Available AC output of a PV system per interval [per unit of its AC rating].

    Parameters
    ----------
    index
        Interval starts, aware UTC, regular.
    lat, lon
        Site [degrees north, degrees east].
    system
        The PV system.
    resource
        The typical-year table; its clearness factors apply to the site.
    altitude_m
        Site altitude [m].
    local_timezone
        IANA zone of the table's calendar months.
    factors
        Clearness factors already computed by :func:`clearness_factors` for ``index``.

    Returns
    -------
    pandas.Series
        Values in [0, 1] on ``index``.

    Examples
    --------
    >>> import pandas as pd
    >>> from offtake.renewables.solar import load_resource, solar_profile
    >>> r = load_resource()
    >>> day = pd.date_range("2025-06-20T19:00Z", periods=24, freq="h")
    >>> p = solar_profile(day, r.lat, r.lon, r.systems["utility"], r)
    >>> bool(0.4 < p.max() <= 1.0), float(p.iloc[0])
    (True, 0.0)
    """
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"position out of range: lat {lat}, lon {lon}", field="lat/lon")
    k = clearness_factors(index, resource, local_timezone) if factors is None else factors
    sky, sun = _clear_sky(index, lat, lon, altitude_m)
    times = pd.DatetimeIndex(sky.index)
    month = times.tz_convert(local_timezone).month.to_numpy() - 1
    ghi = sky["ghi"].to_numpy() * k[month]
    split = pvlib.irradiance.erbs(ghi, sun["zenith"].to_numpy(), times)
    poa = pvlib.irradiance.get_total_irradiance(
        system.tilt_deg,
        system.azimuth_deg,
        sun["apparent_zenith"].to_numpy(),
        sun["azimuth"].to_numpy(),
        np.nan_to_num(np.asarray(split["dni"], dtype=float)),
        ghi,
        np.nan_to_num(np.asarray(split["dhi"], dtype=float)),
        albedo=0.2,
    )
    poa_global = np.nan_to_num(np.asarray(poa["poa_global"], dtype=float)).clip(min=0.0)
    temp_air = np.asarray(resource.day_temperature_c)[month]
    cell_c = pvlib.temperature.faiman(poa_global, temp_air, _MODULE_WIND_M_PER_S)
    dc = pvlib.pvsystem.pvwatts_dc(poa_global, cell_c, system.dc_ac_ratio, system.gamma_pdc_per_c)
    ac = np.asarray(dc, dtype=float) * (1.0 - system.losses) * system.inverter_efficiency
    return pd.Series(np.clip(ac, 0.0, 1.0), index=index, name="solar_pu")
