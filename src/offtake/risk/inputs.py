"""Inputs of the risk model: allocation file, month x hour-of-day surplus profiles, parameters.

The hourly surplus of the scenario year is reduced to a mean per zone, month of year and hour of
day (UTC), so a Monte Carlo over many paths and months stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from offtake.allocation import read_allocation as shared_read_allocation
from offtake.economics.data import Quantity, load_sections
from offtake.errors import InputError

__all__ = [
    "GasSurface",
    "RiskParameters",
    "SurplusProfiles",
    "load_risk_parameters",
    "read_allocation",
    "reduce_to_profiles",
    "served_hourly",
    "solar_shape",
]

FloatArray = npt.NDArray[np.float64]


def read_allocation(path: str | Path, zone_ids: list[str] | None = None) -> pd.DataFrame:
    """Read an ``allocation.csv`` with :func:`offtake.allocation.read_allocation`, indexed by site.

    Parameters
    ----------
    path
        The file.
    zone_ids
        Zones of the scenario; a site in another zone is refused.

    Returns
    -------
    pandas.DataFrame
        One row per site, indexed by ``site_id``, with numeric MW and tariff columns.
    """
    return shared_read_allocation(path, zone_ids).set_index("site_id")


@dataclass(frozen=True)
class SurplusProfiles:
    """Mean surplus, demand and marginal cost per zone, month of year and hour of day (UTC).

    Attributes
    ----------
    zone_ids
        Zone order of the first axis.
    zone_surplus_mw
        Per-zone surplus (that zone alone) [zone, month 0-11, hour 0-23] [MW].
    national_surplus_mw
        National joint surplus [month, hour] [MW].
    demand_mw
        Demand [zone, month, hour] [MW].
    marginal_cost_usd_per_mwh
        Marginal cost of the serving unit, surplus-weighted mean [zone, month, hour] [USD/MWh].
    """

    zone_ids: tuple[str, ...]
    zone_surplus_mw: FloatArray
    national_surplus_mw: FloatArray
    demand_mw: FloatArray
    marginal_cost_usd_per_mwh: FloatArray

    def zone_index(self, zone: str) -> int:
        """Position of a zone on the first axis."""
        return self.zone_ids.index(zone)


@dataclass(frozen=True)
class GasSurface:
    """Surplus profiles of a scenario at several multipliers of the gas price.

    The engine interpolates between them per path and month, so the surplus engine runs once per
    multiplier rather than once per path.

    Attributes
    ----------
    technologies
        Technologies whose marginal cost the multiplier scales.
    base_price_usd_per_mwh
        Marginal cost of the dearest plant of those technologies at multiplier 1 [USD/MWh].
    multipliers
        Increasing multipliers of the gas price [-]; 1 is one of them and not the last.
    profiles
        Profiles at each multiplier, all on the same zones.
    """

    technologies: tuple[str, ...]
    base_price_usd_per_mwh: float
    multipliers: FloatArray
    profiles: tuple[SurplusProfiles, ...]

    def __post_init__(self) -> None:
        """Refuse a surface the engine cannot interpolate."""
        g = np.asarray(self.multipliers, dtype=float)
        if g.ndim != 1 or len(g) < 2 or not np.isfinite(g).all() or (g <= 0).any() or (np.diff(g) <= 0).any():
            raise InputError("multipliers must be at least two increasing positive numbers", field="multipliers")
        if 1.0 not in g.tolist() or g[-1] == 1.0:
            raise InputError("multipliers must hold 1 and go above it", field="multipliers")
        if len(self.profiles) != len(g):
            raise InputError(f"{len(g)} multipliers but {len(self.profiles)} profiles", field="profiles")
        if any(p.zone_ids != self.profiles[0].zone_ids for p in self.profiles):
            raise InputError("every profile must cover the same zones in the same order", field="profiles")


def _month_hour_mean(
    values: FloatArray,
    months: npt.NDArray[np.int64],
    hours: npt.NDArray[np.int64],
    weights: FloatArray | None = None,
) -> FloatArray:
    """Mean of ``values`` [time, k] per (month, hour) -> [k, 12, 24]; empty months: hour mean."""
    k = values.shape[1]
    w = np.ones(len(values)) if weights is None else weights
    cell = months * 24 + hours
    sums = np.zeros((12 * 24, k))
    counts = np.zeros((12 * 24, k))
    ww = np.broadcast_to(w[:, None] if w.ndim == 1 else w, values.shape)
    np.add.at(sums, cell, values * ww)
    np.add.at(counts, cell, ww)
    by_hour_sum = np.zeros((24, k))
    by_hour_cnt = np.zeros((24, k))
    np.add.at(by_hour_sum, hours, values * ww)
    np.add.at(by_hour_cnt, hours, ww)
    fallback = np.divide(by_hour_sum, by_hour_cnt, out=np.zeros_like(by_hour_sum), where=by_hour_cnt > 0)
    mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0).reshape(12, 24, k)
    empty = counts.reshape(12, 24, k) == 0
    mean = np.where(empty, fallback[None, :, :], mean)
    return np.transpose(mean, (2, 0, 1)).copy()


def reduce_to_profiles(
    zone_surplus_mw: pd.DataFrame,
    national_surplus_mw: pd.Series,
    demand_mw: pd.DataFrame,
    marginal_cost_usd_per_mwh: pd.Series | pd.DataFrame | None = None,
) -> SurplusProfiles:
    """Reduce hourly series to month x hour-of-day means.

    Parameters
    ----------
    zone_surplus_mw
        Per-zone surplus [interval x zone] [MW], index aware UTC.
    national_surplus_mw
        National joint surplus [interval] [MW].
    demand_mw
        Demand [interval x zone] [MW].
    marginal_cost_usd_per_mwh
        Marginal cost of the serving unit, nationally (Series) or per zone [USD/MWh]; infinite
        values (no unit can serve) are left out of the means. Zero if not given.
    """
    index = zone_surplus_mw.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise InputError("surplus index must be aware timestamps", field="zone_surplus_mw")
    utc = index.tz_convert("UTC")
    months = np.asarray(utc.month, dtype=np.int64) - 1
    hours = np.asarray(utc.hour, dtype=np.int64)
    zones = [str(z) for z in zone_surplus_mw.columns]
    surplus = np.clip(zone_surplus_mw.to_numpy(dtype=float), 0.0, None)
    demand = demand_mw.reindex(index)[zones].to_numpy(dtype=float)
    national = np.clip(national_surplus_mw.reindex(index).to_numpy(dtype=float), 0.0, None)[:, None]
    if marginal_cost_usd_per_mwh is None:
        mc = np.zeros_like(surplus)
    elif isinstance(marginal_cost_usd_per_mwh, pd.DataFrame):
        mc = marginal_cost_usd_per_mwh.reindex(index)[zones].to_numpy(dtype=float)
    else:
        mc = np.repeat(
            marginal_cost_usd_per_mwh.reindex(index).to_numpy(dtype=float)[:, None],
            len(zones),
            axis=1,
        )
    finite = np.isfinite(mc)
    highest = float(mc[finite].max()) if finite.any() else 0.0
    weights = np.where(finite, surplus + 1e-9, 0.0)
    mc_mean = _month_hour_mean(np.where(finite, mc, 0.0), months, hours, weights)
    has_weight = _month_hour_mean(finite.astype(float), months, hours) > 0
    mc_mean = np.where(has_weight, mc_mean, highest)
    return SurplusProfiles(
        zone_ids=tuple(zones),
        zone_surplus_mw=_month_hour_mean(surplus, months, hours),
        national_surplus_mw=_month_hour_mean(national, months, hours)[0],
        demand_mw=_month_hour_mean(demand, months, hours),
        marginal_cost_usd_per_mwh=mc_mean,
    )


def solar_shape(latitude_deg: float, longitude_deg: float, specific_yield_kwh_per_kw_year: float) -> FloatArray:
    """Mean output of 1 MW of rooftop PV per month and UTC hour [month, hour] [MW/MW].

    The shape follows the cosine of the solar zenith angle at mid-month (declination by Cooper's
    formula, equation of time neglected), scaled so a year yields
    ``specific_yield_kwh_per_kw_year``.
    """
    days = np.array([15, 46, 74, 105, 135, 166, 196, 227, 258, 288, 319, 349], dtype=float)
    declination = np.radians(23.45) * np.sin(2 * np.pi * (284 + days) / 365.0)
    lat = np.radians(latitude_deg)
    minutes = np.arange(0, 24 * 60, 5, dtype=float)
    solar_time_h = (minutes / 60.0 + longitude_deg / 15.0) % 24
    hour_angle = np.radians(15.0 * (solar_time_h - 12.0))
    cos_zenith = (
        np.sin(lat) * np.sin(declination)[:, None]
        + np.cos(lat) * np.cos(declination)[:, None] * np.cos(hour_angle)[None, :]
    )
    power = np.clip(cos_zenith, 0.0, None).reshape(12, 24, 12).mean(axis=2)
    days_in_month = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)
    annual = float((power.sum(axis=1) * days_in_month).sum())
    return np.asarray(power * (specific_yield_kwh_per_kw_year / annual), dtype=np.float64)


@dataclass(frozen=True)
class RiskParameters:
    """Parameters of the stochastic drivers (``risk.toml``); see that file for units and sources."""

    btc_drift_per_year: float
    btc_volatility_per_year: float
    btc_student_t_df: float
    hashrate_trend_per_year: float
    hashrate_elasticity_per_year: float
    hashrate_reference_hashcost_usd_per_ph_day: float
    hashrate_volatility_per_year: float
    hashrate_price_correlation: float
    fee_volatility_per_month: float
    demand_growth_mean_per_year: float
    demand_growth_sd_per_year: float
    solar_additions_mean_mw_per_year: float
    solar_additions_sd_mw_per_year: float
    solar_specific_yield_kwh_per_kw_year: float
    solar_latitude_deg: float
    solar_longitude_deg: float
    leave_after_months: int
    quantities: dict[str, Quantity]
    gas_drift_per_year: float = 0.0
    gas_volatility_per_year: float = 0.0
    gas_mean_reversion_per_year: float = 0.0
    gas_technologies: tuple[str, ...] = ("rlng_ccgt",)


def load_risk_parameters(path: str | Path | None = None) -> RiskParameters:
    """Read ``risk.toml`` (the bundled file unless ``path`` is given)."""
    sections = ("btc_price", "hashrate", "fees", "demand", "rooftop_solar", "operators", "gas_price")
    data = load_sections(path if path is not None else "risk.toml", sections)
    file, q = data.file, data.quantities
    v = data.value

    params = RiskParameters(
        btc_drift_per_year=v("btc_price.drift_per_year"),
        btc_volatility_per_year=v("btc_price.volatility_per_year"),
        btc_student_t_df=v("btc_price.student_t_df"),
        hashrate_trend_per_year=v("hashrate.trend_per_year"),
        hashrate_elasticity_per_year=v("hashrate.elasticity_per_year"),
        hashrate_reference_hashcost_usd_per_ph_day=v("hashrate.reference_hashcost_usd_per_ph_day"),
        hashrate_volatility_per_year=v("hashrate.volatility_per_year"),
        hashrate_price_correlation=v("hashrate.price_correlation"),
        fee_volatility_per_month=v("fees.volatility_per_month"),
        demand_growth_mean_per_year=v("demand.growth_mean_per_year"),
        demand_growth_sd_per_year=v("demand.growth_sd_per_year"),
        solar_additions_mean_mw_per_year=v("rooftop_solar.additions_mean_mw_per_year"),
        solar_additions_sd_mw_per_year=v("rooftop_solar.additions_sd_mw_per_year"),
        solar_specific_yield_kwh_per_kw_year=v("rooftop_solar.specific_yield_kwh_per_kw_year"),
        solar_latitude_deg=v("rooftop_solar.latitude_deg"),
        solar_longitude_deg=v("rooftop_solar.longitude_deg"),
        leave_after_months=int(v("operators.leave_after_months")),
        quantities=q,
        gas_drift_per_year=v("gas_price.drift_per_year"),
        gas_volatility_per_year=v("gas_price.volatility_per_year"),
        gas_mean_reversion_per_year=v("gas_price.mean_reversion_per_year"),
        gas_technologies=_technologies(data.doc["gas_price"].get("technologies"), file),
    )
    if params.btc_student_t_df <= 2:
        raise InputError("must be > 2 (finite variance)", file=file, field="btc_price.student_t_df.value")
    if not -1 <= params.hashrate_price_correlation <= 1:
        raise InputError("must be in [-1, 1]", file=file, field="hashrate.price_correlation.value")
    if params.leave_after_months < 1:
        raise InputError("must be >= 1", file=file, field="operators.leave_after_months.value")
    if not 0.0 <= params.gas_volatility_per_year <= 5.0:
        raise InputError("must be in [0, 5]", file=file, field="gas_price.volatility_per_year.value")
    if not 0.0 <= params.gas_mean_reversion_per_year <= 50.0:
        raise InputError("must be in [0, 50]", file=file, field="gas_price.mean_reversion_per_year.value")
    if not abs(params.gas_drift_per_year) <= 5.0:
        raise InputError("must be in [-5, 5]", file=file, field="gas_price.drift_per_year.value")
    return params


def _technologies(value: object, file: Path) -> tuple[str, ...]:
    """Read the technologies whose fuel the gas price drives: a non-empty list of names."""
    if not isinstance(value, list) or not value or not all(isinstance(t, str) and t.strip() for t in value):
        raise InputError(
            f"expected a non-empty list of technology names, got {value!r}", file=file, field="gas_price.technologies"
        )
    return tuple(str(t).strip() for t in value)


def served_hourly(
    zone_surplus_mw: pd.DataFrame, national_surplus_mw: pd.Series, allocation: pd.DataFrame
) -> pd.DataFrame:
    """Power served per interval and site: pro-rata share of zone surplus, capped nationally [MW].

    The same sharing rule as the risk engine, applied to the scenario year hour by hour.

    Parameters
    ----------
    zone_surplus_mw
        Per-zone surplus [interval x zone] [MW].
    national_surplus_mw
        National joint surplus [interval] [MW].
    allocation
        Sites (``zone``, ``allocated_mw``), indexed by site id.
    """
    zones = list(dict.fromkeys(allocation["zone"]))
    missing = [z for z in zones if z not in zone_surplus_mw.columns]
    if missing:
        raise InputError(f"no surplus for zone(s) {', '.join(missing)}", field="zone")
    zone_alloc = allocation.groupby("zone")["allocated_mw"].sum()
    surplus = np.clip(zone_surplus_mw[zones].to_numpy(dtype=float), 0.0, None)
    alloc = zone_alloc.reindex(zones).to_numpy(dtype=float)
    ratio = np.clip(np.divide(surplus, alloc, out=np.zeros_like(surplus), where=alloc > 0), 0.0, 1.0)
    drawn = (ratio * alloc).sum(axis=1)
    national = np.clip(national_surplus_mw.reindex(zone_surplus_mw.index).to_numpy(dtype=float), 0.0, None)
    cap = np.divide(national, drawn, out=np.ones_like(drawn), where=drawn > national)
    ratio *= np.minimum(cap, 1.0)[:, None]
    site_zone = [zones.index(z) for z in allocation["zone"]]
    served = ratio[:, site_zone] * allocation["allocated_mw"].to_numpy(dtype=float)[None, :]
    return pd.DataFrame(served, index=zone_surplus_mw.index, columns=allocation.index)
