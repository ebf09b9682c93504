"""Hourly wind-farm output from physics: windpowerlib's shipped power curve over a sourced wind table.

The speed at hub height in an interval is drawn, in expectation, from a Weibull distribution whose mean
is the month's mean speed (``data/renewables/wind.toml``) times a diurnal factor
``1 + amplitude cos(2 pi (h - peak) / 24)`` at local hour ``h``. The farm's output is the turbine's power
curve averaged over that distribution, less the farm's losses: a typical year's expected output, not one
weather year's. The power curve comes from windpowerlib's turbine library, which ships in its wheel.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from offtake.errors import InputError
from offtake.renewables._data import data_path, number, read_table, twelve

__all__ = ["WindResource", "load_resource", "power_curve_pu", "wind_profile"]

#: Speeds over which the Weibull distribution is integrated [m/s].
_SPEED_GRID_M_PER_S = np.arange(0.05, 40.0, 0.1)


@dataclass(frozen=True)
class WindResource:
    """The wind table of a corridor.

    Attributes
    ----------
    lat, lon
        Site [degrees].
    hub_height_m
        Height of the table's speeds [m].
    annual_mean_speed_m_per_s
        Sourced annual mean speed at hub height [m/s].
    monthly_speed_m_per_s
        Mean speed per month, January first [m/s].
    diurnal_amplitude, diurnal_peak_hour
        Diurnal factor's amplitude [-] and local hour of its maximum [h].
    turbine_type
        windpowerlib turbine type, e.g. ``N100/2500``.
    weibull_k
        Weibull shape of the speeds around each mean [-].
    losses
        Farm losses [-].
    validation
        Published capacity factors and the check's margin [-].
    """

    lat: float
    lon: float
    hub_height_m: float
    annual_mean_speed_m_per_s: float
    monthly_speed_m_per_s: tuple[float, ...]
    diurnal_amplitude: float
    diurnal_peak_hour: float
    turbine_type: str
    weibull_k: float
    losses: float
    validation: dict[str, float]


def load_resource(path: Path | None = None) -> WindResource:
    """Read the wind table; the bundled one by default.

    Raises
    ------
    InputError
        If a value is missing or out of range; the message names the file and field.
    """
    path = path or data_path("wind.toml")
    raw = read_table(path)
    turbine = raw.get("turbine", {}).get("type", {})
    if not isinstance(turbine, dict) or not isinstance(turbine.get("value"), str):
        raise InputError("expected a windpowerlib turbine type", file=path, field="turbine.type")
    amplitude = number(raw, "diurnal.amplitude", path)
    weibull_k = number(raw, "turbine.weibull_k", path)
    losses = number(raw, "turbine.losses", path)
    for field, ok in (
        ("diurnal.amplitude", 0 <= amplitude < 1),
        ("turbine.weibull_k", 1 <= weibull_k <= 10),
        ("turbine.losses", 0 <= losses < 1),
    ):
        if not ok:
            raise InputError("out of range", file=path, field=field)
    return WindResource(
        lat=number(raw, "site.lat", path),
        lon=number(raw, "site.lon", path),
        hub_height_m=number(raw, "site.hub_height_m", path),
        annual_mean_speed_m_per_s=number(raw, "site.annual_mean_speed_m_per_s", path),
        monthly_speed_m_per_s=tuple(twelve(raw, "monthly.speed_m_per_s", path, low=0.0, high=30.0)),
        diurnal_amplitude=amplitude,
        diurnal_peak_hour=number(raw, "diurnal.peak_hour", path),
        turbine_type=str(turbine["value"]),
        weibull_k=weibull_k,
        losses=losses,
        validation={k: number(raw, f"validation.{k}", path) for k in dict(raw.get("validation", {}))},
    )


def power_curve_pu(turbine_type: str, hub_height_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Power curve of a windpowerlib turbine: speeds [m/s] and output [per unit of nominal power].

    Raises
    ------
    InputError
        If windpowerlib has no power curve for ``turbine_type``.
    """
    from windpowerlib import WindTurbine

    try:
        with warnings.catch_warnings():
            # windpowerlib warns, and returns a turbine without a curve, for a type it does not know.
            warnings.simplefilter("ignore", UserWarning)
            turbine = WindTurbine(turbine_type=turbine_type, hub_height=hub_height_m)
    except (ValueError, KeyError) as exc:
        raise InputError(f"windpowerlib has no turbine '{turbine_type}': {exc}", field="turbine.type") from None
    curve = turbine.power_curve
    if curve is None or turbine.nominal_power is None or not turbine.nominal_power > 0:
        raise InputError(f"windpowerlib has no turbine '{turbine_type}' with a power curve", field="turbine.type")
    speeds = curve["wind_speed"].to_numpy(dtype=float)
    return speeds, np.clip(curve["value"].to_numpy(dtype=float) / float(turbine.nominal_power), 0.0, 1.0)


def _expected_output(mean_speed: np.ndarray, k: float, speeds: np.ndarray, curve_pu: np.ndarray) -> np.ndarray:
    """Power curve averaged over Weibull speeds of the given means [per unit]; zero above the curve's end."""
    v = _SPEED_GRID_M_PER_S
    power = np.interp(v, speeds, curve_pu, left=0.0, right=0.0)
    scale = np.maximum(mean_speed, 1e-9) / math.gamma(1.0 + 1.0 / k)
    x = v[None, :] / scale.reshape(-1, 1)
    density = (k / scale.reshape(-1, 1)) * x ** (k - 1) * np.exp(-(x**k))
    step = v[1] - v[0]
    return np.asarray((density * power[None, :]).sum(axis=1) * step).reshape(mean_speed.shape)


def wind_profile(
    index: pd.DatetimeIndex, resource: WindResource | None = None, *, local_timezone: str = "Asia/Karachi"
) -> pd.Series:
    """Available output of a wind farm in the corridor per interval [per unit of its capacity].

    Parameters
    ----------
    index
        Interval starts, aware UTC.
    resource
        The wind table; the bundled Jhimpir-Gharo one by default.
    local_timezone
        IANA zone of the table's months and hours.

    Returns
    -------
    pandas.Series
        Values in [0, 1] on ``index``.

    Examples
    --------
    >>> import pandas as pd
    >>> from offtake.renewables.wind import wind_profile
    >>> idx = pd.date_range("2025-01-01T00:00Z", periods=24 * 365, freq="h")
    >>> p = wind_profile(idx)
    >>> bool(p[idx.month == 7].mean() > p[idx.month == 1].mean())
    True
    """
    if index.tz is None:
        raise InputError("interval starts must be time-zone aware", field="index")
    resource = resource or load_resource()
    speeds, curve = power_curve_pu(resource.turbine_type, resource.hub_height_m)
    hours = np.arange(24) + 0.5
    diurnal = 1.0 + resource.diurnal_amplitude * np.cos(2 * np.pi * (hours - resource.diurnal_peak_hour) / 24.0)
    means = np.asarray(resource.monthly_speed_m_per_s)[:, None] * diurnal[None, :]
    table = _expected_output(means, resource.weibull_k, speeds, curve) * (1.0 - resource.losses)
    local = index.tz_convert(local_timezone)
    values = table[local.month.to_numpy() - 1, local.hour.to_numpy()]
    return pd.Series(np.clip(values, 0.0, 1.0), index=index, name="wind_pu")
