"""The trouble a simulated year throws at dispatch, drawn in bulk before the year is run.

- demand forecast errors per zone with persistence (AR(1));
- forced outages of dispatchable plants (two-state up/down units with MTTF and MTTR);
- a few grid emergencies, national or per zone.

Every stream is drawn from one seeded generator, so the same seed gives the same year.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.signal import lfilter

from offtake.dispatch.policy import load_defaults
from offtake.scenario import Scenario

__all__ = [
    "Emergency",
    "Outage",
    "OutageRates",
    "TroubleParams",
    "demand_error_mw",
    "draw_emergencies",
    "draw_outages",
]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class OutageRates:
    """Forced-outage statistics of one technology class.

    Parameters
    ----------
    name
        Class name, e.g. ``coal``.
    match
        Words that, found in a plant's technology, select this class.
    mttf_h, mttr_h
        Mean time to failure and to repair [h].
    unit_mw
        Largest unit of the class [MW]; a plant is split into units no larger.
    """

    name: str
    match: tuple[str, ...]
    mttf_h: float
    mttr_h: float
    unit_mw: float

    @property
    def forced_outage_rate(self) -> float:
        """Share of time a unit is down [-]."""
        return self.mttr_h / (self.mttf_h + self.mttr_h)


@dataclass(frozen=True)
class TroubleParams:
    """Parameters of the simulated trouble (sourced defaults in ``data/dispatch/defaults.toml``)."""

    demand_error_rel_sigma: float
    hourly_persistence: float
    outage_rates: tuple[OutageRates, ...]
    emergencies_per_year: float
    emergency_duration_h: tuple[float, float]
    emergency_severity: tuple[float, float]
    emergency_national_share: float
    response_factor: tuple[float, float]
    detection_tolerance_mw: float
    detection_tolerance_share: float
    detection_consecutive: int
    disconnect_delay_h: float
    detection_response_tolerance: float = 1.0

    @classmethod
    def default(cls, **overrides: Any) -> TroubleParams:
        """Read the defaults, with keyword overrides (for tests and sensitivity runs)."""
        d = load_defaults()
        out = d["outages"]
        rates = tuple(
            OutageRates(
                name,
                tuple(str(w) for w in v["match"]),
                float(v["mttf_h"]),
                float(v["mttr_h"]),
                float(v["unit_mw"]),
            )
            for name, v in out.items()
        )
        e, s, det = d["emergency"], d["sites"], d["detection"]
        values: dict[str, Any] = {
            "demand_error_rel_sigma": float(d["forecast"]["demand_error_rel_sigma"]),
            "hourly_persistence": float(d["forecast"]["hourly_persistence"]),
            "outage_rates": rates,
            "emergencies_per_year": float(e["events_per_year"]),
            "emergency_duration_h": (float(e["duration_h_min"]), float(e["duration_h_max"])),
            "emergency_severity": (float(e["severity_min"]), float(e["severity_max"])),
            "emergency_national_share": float(e["national_share"]),
            "response_factor": (float(s["response_factor_min"]), float(s["response_factor_max"])),
            "detection_tolerance_mw": float(det["tolerance_mw"]),
            "detection_tolerance_share": float(det["tolerance_share"]),
            "detection_consecutive": int(det["consecutive_intervals"]),
            "disconnect_delay_h": float(det["disconnect_delay_h"]),
            "detection_response_tolerance": float(det["response_time_tolerance"]),
        }
        values.update(overrides)
        return cls(**values)

    def rates_for(self, technology: str) -> OutageRates:
        """Outage class of a technology: the first whose words occur in it, else ``default``."""
        tech = technology.lower()
        fallback = None
        for rates in self.outage_rates:
            if rates.name == "default":
                fallback = rates
            elif any(word in tech for word in rates.match):
                return rates
        if fallback is None:
            raise KeyError("no default outage class")
        return fallback

    def step_persistence(self, step_s: float) -> float:
        """AR(1) coefficient of the demand error at the simulation step [-]."""
        return float(self.hourly_persistence ** (step_s / 3600.0))


@dataclass(frozen=True)
class Outage:
    """One forced outage of one unit.

    Attributes
    ----------
    plant, zone
        Plant name and zone id.
    start, end
        First interval out and first interval back (step indices).
    unit_mw
        Unit size [MW].
    """

    plant: str
    zone: str
    start: int
    end: int
    unit_mw: float


@dataclass(frozen=True)
class Emergency:
    """A grid emergency called by the control room.

    Attributes
    ----------
    start, end
        First interval and first interval after (step indices).
    zone
        Zone id, or None for a national emergency.
    severity
        Share of the real surplus lost while it lasts [-].
    """

    start: int
    end: int
    zone: str | None
    severity: float


def demand_error_mw(demand_mw: F64, step_s: float, params: TroubleParams, rng: np.random.Generator) -> F64:
    """Demand forecast error per interval and zone, persistent (AR(1)) [MW].

    Parameters
    ----------
    demand_mw
        Demand per interval and zone at the simulation step [MW], shape (T, Z).
    step_s
        Simulation step [s].
    params
        Error size and persistence.
    rng
        Random generator.

    Returns
    -------
    numpy.ndarray
        Actual minus forecast demand [MW], shape (T, Z); stationary standard deviation
        ``demand_error_rel_sigma x demand``.
    """
    phi = params.step_persistence(step_s)
    shocks = rng.standard_normal(demand_mw.shape) * math.sqrt(1.0 - phi * phi)
    shocks[0] = rng.standard_normal(demand_mw.shape[1])  # start in the stationary state
    relative = lfilter([1.0], [1.0, -phi], shocks, axis=0)
    return np.asarray(relative * params.demand_error_rel_sigma * demand_mw, dtype=float)


def draw_outages(
    scenario: Scenario,
    n_steps: int,
    steps_per_period: int,
    step_s: float,
    tariff_usd_per_mwh: float,
    params: TroubleParams,
    rng: np.random.Generator,
) -> tuple[F64, list[Outage]]:
    """Draw forced outages and the change they make to each zone's surplus.

    A plant is split into equal units no larger than its class's unit size. Each unit
    alternates between up (exponential, mean MTTF) and down (exponential, mean MTTR). The
    scenario's availability already averages forced outages in, so a unit that is up gives
    ``availability / (1 - FOR)`` of its capacity (at most all of it): the year's mean
    availability stays the scenario's, and the outages fall at definite times. Only plants
    that count towards surplus (not variable, marginal cost at or below the tariff) matter.

    Parameters
    ----------
    scenario
        The scenario (plants, availability, zones).
    n_steps
        Number of simulation intervals.
    steps_per_period
        Simulation intervals per scenario interval.
    step_s
        Simulation step [s].
    tariff_usd_per_mwh
        Off-take tariff [USD/MWh].
    params
        Outage statistics.
    rng
        Random generator.

    Returns
    -------
    loss_mw : numpy.ndarray
        Surplus lost per interval and zone relative to the scenario's [MW], shape (T, Z);
        negative when all units are up.
    outages : list of Outage
        Every outage drawn, in time order.
    """
    zone_ids = scenario.zone_ids
    zone_pos = {z: i for i, z in enumerate(zone_ids)}
    plants = scenario.plants
    counts = (~plants["variable"]) & (plants["marginal_cost_usd_per_mwh"] <= tariff_usd_per_mwh)
    loss = np.zeros((n_steps, len(zone_ids)))
    outages: list[Outage] = []
    period_of_step = np.arange(n_steps) // steps_per_period
    horizon_h = n_steps * step_s / 3600.0
    step_h = step_s / 3600.0
    gain_hourly = np.zeros((len(scenario.index), len(zone_ids)))
    for name in plants.index[counts.to_numpy()]:
        plant = plants.loc[name]
        capacity = float(plant["capacity_mw"])
        if capacity <= 0:
            continue
        rates = params.rates_for(str(plant["technology"]))
        forced = rates.forced_outage_rate
        avail = scenario.availability_pu[name].to_numpy(dtype=float)
        scale = np.minimum(1.0, avail / (1.0 - forced))
        z = zone_pos[str(plant["zone"])]
        gain_hourly[:, z] += capacity * (scale - avail)
        n_units = max(1, math.ceil(capacity / rates.unit_mw - 1e-9))
        unit_mw = capacity / n_units
        for _ in range(n_units):
            t_h = 0.0
            down = rng.random() < forced
            while t_h < horizon_h:
                mean = rates.mttr_h if down else rates.mttf_h
                length = rng.exponential(mean)
                if down:
                    start = int(t_h / step_h)
                    end = min(n_steps, max(start + 1, math.ceil((t_h + length) / step_h)))
                    if start < n_steps:
                        loss[start:end, z] += unit_mw * scale[period_of_step[start:end]]
                        outages.append(Outage(str(name), zone_ids[z], start, end, unit_mw))
                t_h += length
                down = not down
    loss -= gain_hourly[period_of_step]
    outages.sort(key=lambda o: (o.start, o.plant))
    return loss, outages


def draw_emergencies(
    n_steps: int,
    step_s: float,
    zone_ids: list[str],
    candidate_zones: list[str],
    params: TroubleParams,
    rng: np.random.Generator,
) -> list[Emergency]:
    """Draw a few grid emergencies: Poisson count; uniform start, length and severity.

    Parameters
    ----------
    n_steps, step_s
        Number and length [s] of simulation intervals.
    zone_ids
        All zones.
    candidate_zones
        Zones a zonal emergency may hit (those hosting sites, so that it matters).
    params
        Rate, length and severity ranges.
    rng
        Random generator.

    Returns
    -------
    list of Emergency
        In time order.
    """
    years = n_steps * step_s / (8760.0 * 3600.0)
    count = int(rng.poisson(params.emergencies_per_year * years))
    pool = candidate_zones or zone_ids
    events = []
    for _ in range(count):
        start = int(rng.integers(0, n_steps))
        length_h = rng.uniform(*params.emergency_duration_h)
        end = min(n_steps, start + max(1, round(length_h * 3600.0 / step_s)))
        national = rng.random() < params.emergency_national_share
        zone = None if national else str(pool[int(rng.integers(0, len(pool)))])
        severity = float(rng.uniform(*params.emergency_severity))
        events.append(Emergency(start, end, zone, severity))
    events.sort(key=lambda e: e.start)
    return events


def to_steps(frame: pd.DataFrame, steps_per_period: int, *, interpolate: bool) -> F64:
    """Bring an interval table to the simulation step [same unit], shape (T, columns).

    With ``interpolate`` values are taken as interval means placed at interval midpoints
    and interpolated linearly (held at both ends); otherwise each value is held.
    """
    values = frame.to_numpy(dtype=float)
    if steps_per_period == 1:
        return values.copy()
    if not interpolate:
        return np.repeat(values, steps_per_period, axis=0)
    n_periods = values.shape[0]
    x = np.arange(n_periods) + 0.5
    xq = (np.arange(n_periods * steps_per_period) + 0.5) / steps_per_period
    out = np.empty((xq.size, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.interp(xq, x, values[:, j])
    return out
