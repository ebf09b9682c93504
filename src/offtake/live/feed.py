"""The grid feed: what the grid can give, per zone, at an instant.

The live dispatch driver asks a :class:`GridFeed` for the surplus forecast of each zone
and its uncertainty for the interval it is about to dispatch. This is the edge of the
world: a real feed reads the control room's SCADA or the market operator's forecasts.
:class:`ScenarioReplayFeed` replays a scenario's assessed surplus on the live clock, the
same hour of the year taken from the scenario's year, with the forecast uncertainty of
the simulated year.

Choose the feed with a text spec (setting ``OFFTAKE_GRID_FEED``): ``scenario:pakistan-2025``
or ``scenario:/path/to/scenario-folder``.

>>> feed = open_feed("scenario:tests/data/three-zone")                # doctest: +SKIP
>>> feed.surplus_at(start, end).surplus_forecast_mw                    # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from offtake.errors import InputError
from offtake.timeutil import require_aware

__all__ = ["GridFeed", "ScenarioReplayFeed", "SurplusForecast", "open_feed"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class SurplusForecast:
    """What the grid can give over one dispatch interval.

    Attributes
    ----------
    interval_start, interval_end
        The interval (aware UTC).
    zone_ids
        Zones, in the order of the arrays.
    surplus_forecast_mw
        Forecast surplus per zone [MW].
    surplus_sigma_mw
        Standard deviation of the forecast's error per zone [MW].
    national_forecast_mw
        Forecast national surplus [MW], or None when the feed gives no national limit.
    national_sigma_mw
        Standard deviation of the national forecast's error [MW].
    source
        Where the numbers came from, for the record (e.g. the scenario hour replayed).
    set_member
        The network's zone sets, Boolean matrix (sets, zones), or None when the feed gives
        zone and national figures only.
    set_values_mw
        Forecast of the most extra load each zone set can take together [MW], shape (sets,),
        or None (:func:`offtake.surplus.assess.set_surplus`).
    """

    interval_start: datetime
    interval_end: datetime
    zone_ids: tuple[str, ...]
    surplus_forecast_mw: F64
    surplus_sigma_mw: F64
    national_forecast_mw: float | None
    national_sigma_mw: float
    source: str
    set_member: NDArray[np.bool_] | None = None
    set_values_mw: F64 | None = None


@runtime_checkable
class GridFeed(Protocol):
    """A source of surplus forecasts for live dispatch.

    Attributes
    ----------
    name
        The feed's spec, e.g. ``scenario:pakistan-2025``.
    zone_ids
        Zones the feed reports on.
    largest_unit_mw
        Largest unit held as reserve [MW], or None if unknown (bounds the contingency limit).
    reference_tariff_usd_per_mwh
        Tariff of pro-rata sites, used to rank sites that bid [USD/MWh].
    """

    name: str
    zone_ids: tuple[str, ...]
    largest_unit_mw: float | None
    reference_tariff_usd_per_mwh: float

    def surplus_at(self, interval_start: datetime, interval_end: datetime) -> SurplusForecast:
        """Forecast surplus per zone over ``[interval_start, interval_end)``."""
        ...


class ScenarioReplayFeed:
    """Replay a scenario's assessed surplus on the live clock.

    The instant is mapped to the same month, day and time of day (UTC) in the scenario's
    period (29 February to 28 February); a scenario shorter than a year is replayed in a
    loop from its first interval. Values are interval means placed at interval midpoints
    and interpolated linearly to the dispatch interval's midpoint, as in the simulated
    year. The forecast's uncertainty is that of the simulated year: a demand forecast
    error of ``demand_error_rel_sigma`` x demand with hourly persistence, one dispatch
    step ahead (``data/dispatch/defaults.toml``).

    Parameters
    ----------
    name
        The feed's spec, for the record.
    index
        Interval starts of the scenario (aware UTC), evenly spaced.
    resolution_s
        Scenario interval length [s].
    zone_mw
        Surplus per scenario interval and zone [MW], shape (intervals, zones).
    national_mw
        National surplus per scenario interval [MW], or None.
    demand_mw
        Demand per scenario interval and zone [MW], same shape as ``zone_mw``.
    zone_ids
        Zone ids of the columns.
    demand_error_rel_sigma
        Standard deviation of the demand forecast error, share of demand [-].
    hourly_persistence
        Lag-1 autocorrelation of that error at an hourly step [-].
    largest_unit_mw
        Largest unit held as reserve [MW], or None.
    reference_tariff_usd_per_mwh
        The scenario's tariff [USD/MWh].
    sets
        The scenario's zone sets and their value per scenario interval, shapes (sets, zones)
        and (intervals, sets) [MW], or None.
    """

    def __init__(
        self,
        name: str,
        index: pd.DatetimeIndex,
        resolution_s: int,
        zone_mw: F64,
        national_mw: F64 | None,
        demand_mw: F64,
        zone_ids: tuple[str, ...],
        *,
        demand_error_rel_sigma: float,
        hourly_persistence: float,
        largest_unit_mw: float | None,
        reference_tariff_usd_per_mwh: float,
        sets: tuple[NDArray[np.bool_], F64] | None = None,
    ) -> None:
        if len(index) == 0:
            raise InputError("the scenario has no intervals", field="grid_feed")
        self.name = name
        self.zone_ids = tuple(zone_ids)
        self.largest_unit_mw = largest_unit_mw
        self.reference_tariff_usd_per_mwh = float(reference_tariff_usd_per_mwh)
        self._index = index
        self._resolution_s = int(resolution_s)
        self._zone = np.maximum(np.asarray(zone_mw, dtype=float), 0.0)
        self._national = None if national_mw is None else np.maximum(np.asarray(national_mw, dtype=float), 0.0)
        self._demand = np.asarray(demand_mw, dtype=float)
        self._set_member = None if sets is None else np.asarray(sets[0], dtype=bool)
        self._sets = None if sets is None else np.maximum(np.asarray(sets[1], dtype=float), 0.0)
        self._rel_sigma = float(demand_error_rel_sigma)
        self._persistence = float(hourly_persistence)
        self._span_s = len(index) * self._resolution_s
        self._full_year = self._span_s >= 365 * 86_400
        self._by_calendar: dict[tuple[int, int, int], int] = {}
        if self._full_year:
            for position, start in enumerate(index):
                key = (start.month, start.day, start.hour * 3600 + start.minute * 60 + start.second)
                self._by_calendar.setdefault(key, position)

    @classmethod
    def from_scenario(cls, name_or_path: str, *, spec: str | None = None) -> ScenarioReplayFeed:
        """Load a scenario, assess its surplus and build the feed (seconds for a year)."""
        from offtake import scenario as scenario_mod
        from offtake.dispatch.policy import load_defaults
        from offtake.surplus import assess_surplus
        from offtake.surplus.assess import set_surplus

        loaded = scenario_mod.load(name_or_path)
        result = assess_surplus(loaded)
        sets = set_surplus(loaded, result.tariff_usd_per_mwh, result.baseline)
        zones = tuple(loaded.zone_ids)
        forecast = load_defaults()["forecast"]
        reserve = loaded.reserve
        return cls(
            spec or f"scenario:{name_or_path}",
            loaded.index,
            loaded.resolution_s,
            result.zone_mw[list(zones)].to_numpy(dtype=float),
            result.national_mw.to_numpy(dtype=float),
            loaded.demand_mw[list(zones)].to_numpy(dtype=float),
            zones,
            demand_error_rel_sigma=float(forecast["demand_error_rel_sigma"]),
            hourly_persistence=float(forecast["hourly_persistence"]),
            largest_unit_mw=reserve.largest_unit_mw if reserve.hold_largest_unit else None,
            reference_tariff_usd_per_mwh=loaded.default_tariff_usd_per_mwh,
            sets=sets,
        )

    def _position(self, instant: datetime) -> float:
        """Position of an instant in the scenario, in scenario intervals (fractional)."""
        res = self._resolution_s
        if self._full_year:
            month, day = instant.month, instant.day
            if (month, day) == (2, 29):
                day = 28
            seconds = instant.hour * 3600 + instant.minute * 60 + instant.second
            slot = seconds - seconds % res
            position = self._by_calendar.get((month, day, slot))
            if position is not None:
                return position + (seconds - slot + instant.microsecond / 1e6) / res
        offset_s = (instant - self._index[0].to_pydatetime()).total_seconds() % self._span_s
        return offset_s / res

    def surplus_at(self, interval_start: datetime, interval_end: datetime) -> SurplusForecast:
        """Forecast surplus per zone over ``[interval_start, interval_end)``.

        Parameters
        ----------
        interval_start, interval_end
            The dispatch interval (aware).

        Returns
        -------
        SurplusForecast
            Surplus at the interval's midpoint, interpolated between scenario intervals,
            with the one-step forecast uncertainty.
        """
        start = require_aware(interval_start, field="interval_start")
        end = require_aware(interval_end, field="interval_end")
        if end <= start:
            raise InputError("the interval ends before it starts", field="interval_end")
        step_s = (end - start).total_seconds()
        middle = start + timedelta(seconds=step_s / 2)
        position = self._position(middle)
        n = len(self._index)
        k = min(int(position), n - 1)
        # Interval means sit at midpoints k + 0.5; interpolate linearly, held at both ends.
        x = position - 0.5
        lo = math.floor(x)
        weight = x - lo
        lo_i = min(max(lo, 0), n - 1)
        hi_i = min(max(lo + 1, 0), n - 1)
        zone = (1.0 - weight) * self._zone[lo_i] + weight * self._zone[hi_i]
        phi = self._persistence ** (step_s / 3600.0)
        sigma = self._rel_sigma * self._demand[k] * math.sqrt(max(0.0, 1.0 - phi * phi))
        sigma = np.maximum(sigma, 0.0)
        national = None
        if self._national is not None:
            national = float((1.0 - weight) * self._national[lo_i] + weight * self._national[hi_i])
        values = None
        if self._sets is not None:
            values = np.asarray((1.0 - weight) * self._sets[lo_i] + weight * self._sets[hi_i], dtype=float)
        replayed = self._index[k].strftime("%Y-%m-%dT%H:%MZ")
        return SurplusForecast(
            interval_start=start,
            interval_end=end,
            zone_ids=self.zone_ids,
            surplus_forecast_mw=np.asarray(zone, dtype=float),
            surplus_sigma_mw=np.asarray(sigma, dtype=float),
            national_forecast_mw=national,
            national_sigma_mw=float(np.sqrt(np.sum(sigma * sigma))),
            source=f"{self.name} replaying {replayed}",
            set_member=self._set_member,
            set_values_mw=values,
        )


def open_feed(spec: str) -> GridFeed:
    """Open the grid feed named by ``spec`` (the ``OFFTAKE_GRID_FEED`` setting).

    Parameters
    ----------
    spec
        ``scenario:NAME`` (a bundled scenario) or ``scenario:PATH`` (a scenario folder).

    Returns
    -------
    GridFeed
        The feed.

    Raises
    ------
    InputError
        If the spec names no known kind of feed, or the scenario cannot be loaded.
    """
    kind, sep, argument = spec.strip().partition(":")
    if not sep or not argument.strip():
        raise InputError(
            f"'{spec}' is not a grid feed; expected e.g. 'scenario:pakistan-2025'",
            field="OFFTAKE_GRID_FEED",
        )
    if kind == "scenario":
        return ScenarioReplayFeed.from_scenario(argument.strip(), spec=spec.strip())
    raise InputError(
        f"unknown grid feed kind '{kind}'; expected 'scenario:NAME_OR_PATH'", field="OFFTAKE_GRID_FEED"
    )
