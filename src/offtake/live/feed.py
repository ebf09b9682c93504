"""The grid feed: what the grid can give, per zone, at an instant.

The live dispatch driver asks a :class:`GridFeed` for the surplus forecast of each zone
and its uncertainty for the interval it is about to dispatch. This is the edge of the
world: a real feed reads the control room's SCADA or the market operator's forecasts.
:class:`ScenarioReplayFeed` replays a scenario's assessed surplus on the live clock, the
same hour of the year taken from the scenario's year, with the forecast uncertainty of
the simulated year.

Choose the feed with a text spec (setting ``OFFTAKE_GRID_FEED``): ``scenario:pakistan-2025``
or ``scenario:/path/to/scenario-folder``.

Assessing a year of surplus takes tens of seconds, so a scenario feed is prepared once: the
surplus arrays are kept in a cache file in the data folder (``feed-cache/``), named by a hash of
the scenario's files and of the code that computes them, and a feed opened before in the same
process is reused. A changed scenario or a new version of the surplus code gets a new file.

>>> feed = open_feed("scenario:tests/data/three-zone")                # doctest: +SKIP
>>> feed.surplus_at(start, end).surplus_forecast_mw                    # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from offtake.errors import InputError
from offtake.timeutil import require_aware

__all__ = ["FEED_CACHE_FOLDER", "GridFeed", "ScenarioReplayFeed", "SurplusForecast", "feed_cache_dir", "open_feed"]

F64 = NDArray[np.float64]

#: Folder of the data folder that holds prepared scenario feeds.
FEED_CACHE_FOLDER = "feed-cache"

#: Version of the cache file's layout; part of every cache key.
_CACHE_FORMAT = 1

#: Code whose change makes a prepared feed stale (the surplus and the grid model it uses).
_CODE_PACKAGES = ("offtake.surplus", "offtake.grid", "offtake.scenario")

_opened: dict[tuple[str, str], ScenarioReplayFeed] = {}
_opened_lock = threading.Lock()


def feed_cache_dir(data_dir: str | Path) -> Path:
    """Folder for prepared feeds in a data folder: ``<data_dir>/feed-cache``."""
    return Path(data_dir) / FEED_CACHE_FOLDER


def _hash_tree(digest: hashlib._Hash, root: Path) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")


def _content_hash(scenario_folder: Path) -> str:
    """Hash of a scenario's files and of the code that assesses it [hex, 32 digits]."""
    digest = hashlib.sha256(f"offtake-feed/{_CACHE_FORMAT}\0".encode())
    _hash_tree(digest, scenario_folder)
    for package in _CODE_PACKAGES:
        spec = importlib.util.find_spec(package)
        for location in (spec.submodule_search_locations or []) if spec else []:
            _hash_tree(digest, Path(location))
    return digest.hexdigest()[:32]


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
        #: How the surplus was obtained: ``given``, ``cache`` or ``assessed``.
        self.prepared = "given"
        #: The prepared feed's cache file, if any.
        self.cache_file: Path | None = None
        if self._full_year:
            for position, start in enumerate(index):
                key = (start.month, start.day, start.hour * 3600 + start.minute * 60 + start.second)
                self._by_calendar.setdefault(key, position)

    @classmethod
    def from_scenario(
        cls,
        name_or_path: str,
        *,
        spec: str | None = None,
        cache_dir: str | Path | None = None,
    ) -> ScenarioReplayFeed:
        """Load a scenario and build the feed from its assessed surplus.

        Parameters
        ----------
        name_or_path
            Bundled scenario name or scenario folder.
        spec
            The feed's spec, for the record (default ``scenario:NAME_OR_PATH``).
        cache_dir
            Folder of prepared feeds: the surplus is read from there when the scenario and the
            code are unchanged, else assessed (tens of seconds for a year) and written there.
            None assesses without a cache.

        Notes
        -----
        ``prepared`` tells how the surplus was obtained: ``cache`` or ``assessed``.
        """
        from offtake import scenario as scenario_mod
        from offtake.dispatch.policy import load_defaults

        loaded = scenario_mod.load(name_or_path)
        zones = tuple(loaded.zone_ids)
        cache_file = None
        if cache_dir is not None:
            cache_file = Path(cache_dir) / f"{loaded.name}-{_content_hash(loaded.path)}.npz"
        arrays = _read_cache(cache_file, len(loaded.index), len(zones))
        prepared = "cache"
        if arrays is None:
            from offtake.surplus import assess_surplus
            from offtake.surplus.assess import set_surplus

            result = assess_surplus(loaded)
            member, values = set_surplus(loaded, result.tariff_usd_per_mwh, result.baseline)
            arrays = (
                result.zone_mw[list(zones)].to_numpy(dtype=float),
                result.national_mw.to_numpy(dtype=float),
                member,
                values,
            )
            prepared = "assessed"
            _write_cache(cache_file, arrays)
        forecast = load_defaults()["forecast"]
        reserve = loaded.reserve
        feed = cls(
            spec or f"scenario:{name_or_path}",
            loaded.index,
            loaded.resolution_s,
            arrays[0],
            arrays[1],
            loaded.demand_mw[list(zones)].to_numpy(dtype=float),
            zones,
            demand_error_rel_sigma=float(forecast["demand_error_rel_sigma"]),
            hourly_persistence=float(forecast["hourly_persistence"]),
            largest_unit_mw=reserve.largest_unit_mw if reserve.hold_largest_unit else None,
            reference_tariff_usd_per_mwh=loaded.default_tariff_usd_per_mwh,
            sets=(arrays[2], arrays[3]),
        )
        feed.prepared = prepared
        feed.cache_file = cache_file
        return feed

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


#: Prepared surplus of a scenario feed: per zone, national [MW], the zone sets (sets, zones) and
#: each set's value per interval (intervals, sets) [MW].
FeedArrays = tuple[F64, F64, NDArray[np.bool_], F64]


def _read_cache(path: Path | None, intervals: int, zones: int) -> FeedArrays | None:
    """Read the cached surplus arrays; None if absent, unreadable or of another shape."""
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            zone = np.asarray(data["zone_mw"], dtype=float)
            national = np.asarray(data["national_mw"], dtype=float)
            member = np.asarray(data["set_member"], dtype=bool)
            values = np.asarray(data["set_values_mw"], dtype=float)
    except (OSError, KeyError, ValueError):
        return None
    if zone.shape != (intervals, zones) or national.shape != (intervals,):
        return None
    if member.ndim != 2 or member.shape[1] != zones or values.shape != (intervals, member.shape[0]):
        return None
    return zone, national, member, values


def _write_cache(path: Path | None, arrays: FeedArrays) -> None:
    """Write the cache file atomically; a folder that cannot be written only costs the cache."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".feed-", suffix=".npz")
        with os.fdopen(handle, "wb") as out:
            np.savez(out, zone_mw=arrays[0], national_mw=arrays[1], set_member=arrays[2], set_values_mw=arrays[3])
        os.replace(temporary, path)
    except OSError:
        return


def open_feed(spec: str, *, cache_dir: str | Path | None = None) -> GridFeed:
    """Open the grid feed named by ``spec`` (the ``OFFTAKE_GRID_FEED`` setting).

    Parameters
    ----------
    spec
        ``scenario:NAME`` (a bundled scenario) or ``scenario:PATH`` (a scenario folder).
    cache_dir
        Folder of prepared scenario feeds (e.g. :func:`feed_cache_dir`); None keeps no file.
        A feed opened before in this process with the same spec and unchanged files is
        returned at once either way.

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
        return _open_scenario_feed(argument.strip(), spec.strip(), cache_dir)
    raise InputError(f"unknown grid feed kind '{kind}'; expected 'scenario:NAME_OR_PATH'", field="OFFTAKE_GRID_FEED")


def _open_scenario_feed(name_or_path: str, spec: str, cache_dir: str | Path | None) -> ScenarioReplayFeed:
    """Open a scenario feed, reused within the process while its files are unchanged."""
    from offtake.scenario.loader import resolve_path

    key = (spec, _content_hash(resolve_path(name_or_path)))
    with _opened_lock:
        feed = _opened.get(key)
        if feed is None:
            feed = ScenarioReplayFeed.from_scenario(name_or_path, spec=spec, cache_dir=cache_dir)
            _opened[key] = feed
        return feed
