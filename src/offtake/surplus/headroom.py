r"""Curtailment-enabled headroom, as the Duke "Rethinking Load Growth" study defines it.

Headroom is the flat new load ``L`` [MW] that can be added to an hourly demand series so that,
curtailed whenever demand plus ``L`` would exceed a threshold, it loses a given share of its
energy over the years (Norris et al., Duke Nicholas Institute NI R 25-01, 2025, Appendix C).

Definitions
-----------
With demand :math:`d_t`, threshold :math:`\theta_t` and margin :math:`u_t = \theta_t - d_t`
[MW], the curtailment of a flat load ``L`` in hour ``t`` is

.. math:: C_t(L) = \min\bigl(L,\; \max(0,\; d_t + L - \theta_t)\bigr) = \max(0,\; L - v_t),
          \qquad v_t = \max(u_t, 0)

[MWh in a one-hour interval]. The clip at ``L`` (a new load cannot be curtailed by more than
itself) is the only departure from the paper's formula, and it only matters in hours where
demand already exceeds the threshold (:math:`u_t < 0`); with the paper's historical-peak
threshold such hours do not occur. The curtailment rate is the paper's energy share,

.. math:: \mathrm{rate}(L) = \frac{1}{N} \sum_{y} \frac{\sum_{t \in y} C_t(L)}{8760\,L}
          = \frac{\sum_t C_t(L)}{8760\,N\,L},

where ``N`` is the number of years: the number of calendar years when the series covers whole
calendar years (in the ``timezone`` given; the paper's 2016-2024 gives ``N = 9``, and a leap year
still counts once against 8,760 h), otherwise the number of hours divided by 8,760. Because the
denominator ``8760 L`` is the same every year, the average of the yearly rates is the total
curtailed energy over ``8760 N L``.

Exact solution
--------------
``sum_t C_t(L)`` is piecewise linear in ``L`` with breakpoints at the sorted margins
:math:`v_{(1)} \le \dots \le v_{(n)}`. On the segment :math:`[v_{(k)}, v_{(k+1)}]`,
``sum_t C_t(L) = k L - P_k`` with the prefix sum :math:`P_k = \sum_{i \le k} v_{(i)}`, so
``rate(L) = (k L - P_k) / (8760 N L)`` is non-decreasing in ``L`` (its derivative is
:math:`P_k / (8760 N L^2) \ge 0`) and the equation ``rate(L) = r`` has the closed form
``L = P_k / (k - 8760 N r)`` on the segment where it falls. The margins are sorted once, the
rate at every breakpoint comes from one cumulative sum, and every requested rate is placed by
binary search: no iteration and no root finding.

The headroom returned for a rate ``r`` is the largest ``L`` whose rate does not exceed ``r``
(``sup {L > 0 : rate(L) <= r}``). It is the unique root wherever the rate is strictly
increasing; at ``r = 0`` it is the firm level :math:`\min_t v_t`. When demand already meets
or exceeds the threshold in ``n0`` hours, every load loses at least ``n0 / (8760 N)`` of its
energy; a rate below that cannot be met by any ``L > 0`` and the headroom is ``0``
(``reachable`` is False).

Performance
-----------
``benchmarks/bench_headroom.py``: 22 series of 9 years hourly (78,912 h each), four rates, with
the Duke seasonal threshold, in 0.17 s in total on the 2-core development machine (0.04 s for
the thresholds, 0.13 s for the headroom; best of 3). The target is 1 s.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pandas as pd

from offtake.errors import InputError
from offtake.timeutil import HOURS_PER_YEAR

__all__ = ["HeadroomResult", "duke_seasonal_threshold", "headroom", "years_covered"]

FloatArray = npt.NDArray[np.float64]

#: Shares of the new load kept in curtailed hours that the paper tabulates [fraction].
KEPT_SHARES: Final = (0.5, 0.75, 0.9)

#: Months whose maximum is the Duke summer peak (Jun-Aug).
SUMMER_PEAK_MONTHS: Final = (6, 7, 8)
#: Months whose maximum is the Duke winter peak (Dec-Feb).
WINTER_PEAK_MONTHS: Final = (12, 1, 2)
#: Months to which the summer peak applies (Apr-Oct); the winter peak applies to the others.
SUMMER_THRESHOLD_MONTHS: Final = (4, 5, 6, 7, 8, 9, 10)

_ONE_HOUR: Final = pd.Timedelta(hours=1)
#: Relative distance within which a closed-form root is snapped onto a breakpoint.
_SNAP_REL: Final = 1e-12
#: A breakpoint's rate within this of the asked rate counts as equal to it [-].
_RATE_SLACK: Final = 1e-12

COLUMNS: Final = (
    "headroom_mw",
    "firm_mw",
    "interruptible_mw",
    "reachable",
    "rate_achieved",
    "curtailed_energy_mwh_per_year",
    "curtailed_hours_per_year",
    "events_per_year",
    "mean_event_duration_h",
    "hours_kept_50pct_per_year",
    "hours_kept_75pct_per_year",
    "hours_kept_90pct_per_year",
)


@dataclass(frozen=True)
class HeadroomResult:
    """Headroom of one demand series against one threshold, for several curtailment rates.

    Attributes
    ----------
    firm_mw
        Headroom at 0 % curtailment, ``max(0, min_t(threshold_t - demand_t))`` [MW].
    years
        ``N``, the number of years the rates are averaged over (see the module docstring).
    hours
        Number of hourly intervals in the series.
    table
        One row per requested rate, indexed by ``curtailment_rate`` [fraction], in the order
        given, with the columns:

        ``headroom_mw``
            The flat load ``L`` whose curtailment rate is the requested one [MW]; 0 if no
            load reaches it.
        ``firm_mw``
            The firm level above, repeated on every row so the table stands alone [MW].
        ``interruptible_mw``
            ``headroom_mw - firm_mw``, the tranche that must accept curtailment [MW].
        ``reachable``
            False when every load ``L > 0`` exceeds the rate (then ``headroom_mw`` is 0).
        ``rate_achieved``
            The rate recomputed directly from the hourly curtailment at ``headroom_mw``
            [fraction]; NaN when ``headroom_mw`` is 0.
        ``curtailed_energy_mwh_per_year``
            Curtailed energy of the new load, total over ``N`` [MWh/yr].
        ``curtailed_hours_per_year``
            Hours with any curtailment, over ``N`` [h/yr].
        ``events_per_year``
            Runs of consecutive curtailed hours, over ``N`` [1/yr]. A run that crosses a
            year boundary counts once.
        ``mean_event_duration_h``
            Curtailed hours per run [h]; NaN when there is no curtailment.
        ``hours_kept_50pct_per_year``, ``hours_kept_75pct_per_year``, ``hours_kept_90pct_per_year``
            Curtailed hours in which the new load still keeps at least 50 %, 75 % or 90 % of
            ``L``, over ``N`` [h/yr].
    """

    firm_mw: float
    years: float
    hours: int
    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """Return a copy of the per-rate table (see ``table``)."""
        return self.table.copy()

    def headroom_mw(self, rate: float) -> float:
        """Return the headroom [MW] computed for ``rate`` [fraction]."""
        rows = self.table.index == rate
        if not rows.any():
            raise KeyError(f"rate {rate} was not computed; computed: {list(self.table.index)}")
        return float(self.table.loc[rows, "headroom_mw"].iloc[0])


def headroom(
    demand_mw: pd.Series,
    threshold_mw: pd.Series | float,
    rates: Sequence[float],
    *,
    timezone: str = "UTC",
) -> HeadroomResult:
    """Flat load that can be added for each annual curtailment rate (Duke definition).

    Parameters
    ----------
    demand_mw
        Hourly demand [MW] on an aware, gap-free hourly ``DatetimeIndex`` (interval starts);
        one or several years.
    threshold_mw
        The level total load may not exceed [MW]: a Series on exactly the same index, or a
        constant. For the Duke study this is :func:`duke_seasonal_threshold`; for a grid with
        idle capacity it is the deliverable supply net of reserves.
    rates
        Annual curtailment rates to solve for [fraction of the new load's energy], each in
        ``[0, 1)``; ``0.005`` is the paper's 0.5 %.
    timezone
        IANA zone in which calendar years are recognised when counting years ``N``.

    Returns
    -------
    HeadroomResult
        Firm level, ``N``, and one row per rate (see :class:`HeadroomResult`).

    Raises
    ------
    InputError
        If an index is not an aware, regular hourly ``DatetimeIndex``, the two indexes differ,
        a value is missing or not finite, or a rate is outside ``[0, 1)``.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="h", tz="UTC")
    >>> demand = pd.Series([6.0, 8.0, 10.0, 7.0], index=idx)
    >>> result = headroom(demand, 12.0, [0.0, 0.25])
    >>> result.firm_mw, result.headroom_mw(0.25)
    (2.0, 5.5)
    """
    demand = _hourly_values(demand_mw, field="demand_mw")
    if isinstance(threshold_mw, pd.Series):
        threshold = _hourly_values(threshold_mw, field="threshold_mw")
        if len(threshold_mw) != len(demand_mw) or threshold_mw.index[0] != demand_mw.index[0]:
            raise InputError(
                f"index differs from demand_mw's: {len(threshold_mw)} hours from "
                f"{threshold_mw.index[0]} against {len(demand_mw)} hours from {demand_mw.index[0]}",
                field="threshold_mw",
            )
    else:
        threshold = np.full(demand.shape, _finite_scalar(threshold_mw, field="threshold_mw"))
    rate_values = _rates(rates)
    years = years_covered(pd.DatetimeIndex(demand_mw.index), timezone=timezone)

    margin_mw = np.maximum(threshold - demand, 0.0)
    headroom_values, reachable = _solve(margin_mw, rate_values, years)
    firm_mw = float(margin_mw.min())
    stats = [_statistics(margin_mw, value, years) for value in headroom_values]

    table = pd.DataFrame(
        {
            "headroom_mw": headroom_values,
            "firm_mw": firm_mw,
            "interruptible_mw": headroom_values - firm_mw,
            "reachable": reachable,
            **{name: [row[name] for row in stats] for name in COLUMNS[4:]},
        },
        index=pd.Index(rate_values, name="curtailment_rate"),
    )
    return HeadroomResult(firm_mw=firm_mw, years=years, hours=len(demand), table=table)


def years_covered(index: pd.DatetimeIndex, *, timezone: str = "UTC") -> float:
    """Count the years ``N`` an hourly index spans, as the curtailment rate counts them.

    Parameters
    ----------
    index
        Aware, regular hourly index of interval starts.
    timezone
        IANA zone in which calendar years are recognised.

    Returns
    -------
    float
        The number of calendar years if the index starts at 1 January 00:00 and ends at
        31 December 23:00 (local), whatever the leap days; otherwise hours / 8,760.
    """
    local = index.tz_convert(_zone(timezone))
    first = local[0]
    end = local[-1] + _ONE_HOUR
    if _is_new_year(first) and _is_new_year(end):
        return float(end.year - first.year)
    return len(index) / HOURS_PER_YEAR


def duke_seasonal_threshold(
    demand_mw: pd.Series,
    *,
    timezone: str = "UTC",
    summer_peak_months: Iterable[int] = SUMMER_PEAK_MONTHS,
    winter_peak_months: Iterable[int] = WINTER_PEAK_MONTHS,
) -> pd.Series:
    """Build the Duke "seasonal peak threshold" for an hourly demand series.

    The summer peak is the highest hourly demand in June-August over all years of the series
    and applies to April-October; the winter peak is the highest in December-February over
    all years and applies to November-March (Duke NI R 25-01, section 1.2 of the project's
    domain reference). Months are taken in the local ``timezone``.

    Parameters
    ----------
    demand_mw
        Hourly demand [MW] on an aware, gap-free hourly ``DatetimeIndex``.
    timezone
        IANA zone whose calendar months are used (the paper's EIA-930 data are in UTC).
    summer_peak_months, winter_peak_months
        Months (1-12) over which each peak is taken. The paper moves one month in for the few
        balancing authorities whose seasonal peak fell just outside the window (for example
        ``(6, 7, 8, 9)``); the months each threshold applies to do not change.

    Returns
    -------
    pandas.Series
        ``threshold_mw`` [MW] on the same index.

    Raises
    ------
    InputError
        If the series is not valid hourly data, or it has hours in a season but none in
        that season's peak months.
    """
    demand = _hourly_values(demand_mw, field="demand_mw")
    months = pd.DatetimeIndex(demand_mw.index).tz_convert(_zone(timezone)).month.to_numpy()
    in_summer = np.isin(months, SUMMER_THRESHOLD_MONTHS)
    threshold = np.empty_like(demand)
    for name, applies, peak_months in (
        ("summer", in_summer, summer_peak_months),
        ("winter", ~in_summer, winter_peak_months),
    ):
        if not applies.any():
            continue
        peak_set = _months(peak_months, field=f"{name}_peak_months")
        in_peak = np.isin(months, peak_set)
        if not in_peak.any():
            raise InputError(
                f"the series has {name} hours but none in months {peak_set} ({timezone}) to take the {name} peak from",
                field="demand_mw",
            )
        threshold[applies] = demand[in_peak].max()
    return pd.Series(threshold, index=demand_mw.index, name="threshold_mw")


# --- the exact solver -----------------------------------------------------------------------


def _solve(margin_mw: FloatArray, rates: FloatArray, years: float) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Largest ``L`` with ``rate(L) <= r`` for each rate, from sorted margins (closed form)."""
    scale_h = HOURS_PER_YEAR * years
    sorted_mw = np.sort(margin_mw)
    prefix_mwh = np.cumsum(sorted_mw)
    n_zero = int(np.searchsorted(sorted_mw, 0.0, side="right"))
    count = np.arange(n_zero + 1, len(sorted_mw) + 1, dtype=np.float64)
    breakpoints_mw = sorted_mw[n_zero:]
    # rate at each positive breakpoint v_(k): (k v_(k) - P_k) / (8760 N v_(k)); non-decreasing
    # in exact arithmetic, made so against round-off before the binary search.
    breakpoint_rate = (count * breakpoints_mw - prefix_mwh[n_zero:]) / (scale_h * breakpoints_mw)
    breakpoint_rate = np.maximum.accumulate(breakpoint_rate)

    # breakpoints with rate <= r; a rate equal to r up to round-off counts as equal (on a plateau
    # where the rate is exactly r, e.g. half the hours already at the threshold and r = 0.5)
    last = np.searchsorted(breakpoint_rate, rates + _RATE_SLACK, side="right")
    load_mw = np.zeros(len(rates))
    for i, (rate, n_below) in enumerate(zip(rates, last, strict=True)):
        if n_below == 0:
            continue  # even an infinitesimal load is curtailed more than `rate`
        m = n_zero + int(n_below) - 1  # last breakpoint whose rate is <= r
        k = m + 1
        low = float(sorted_mw[m])
        high = float(sorted_mw[m + 1]) if k < len(sorted_mw) else math.inf
        value = float(prefix_mwh[m]) / (k - scale_h * float(rate))
        value = min(max(value, low), high)
        if value - low <= _SNAP_REL * low:
            value = low
        elif math.isfinite(high) and high - value <= _SNAP_REL * high:
            value = high
        load_mw[i] = value
    return load_mw, load_mw > 0.0


def _statistics(margin_mw: FloatArray, load_mw: float, years: float) -> dict[str, float]:
    """Curtailment statistics of a flat load ``load_mw`` [MW] on margins in time order."""
    if load_mw <= 0.0:
        nan = math.nan
        zero = 0.0
        return {
            "rate_achieved": nan,
            "curtailed_energy_mwh_per_year": zero,
            "curtailed_hours_per_year": zero,
            "events_per_year": zero,
            "mean_event_duration_h": nan,
            **{f"hours_kept_{round(s * 100)}pct_per_year": zero for s in KEPT_SHARES},
        }
    curtailed = margin_mw < load_mw
    energy_mwh = float(np.sum(np.maximum(load_mw - margin_mw, 0.0)))
    hours = int(np.count_nonzero(curtailed))
    events = int(curtailed[0]) + int(np.count_nonzero(curtailed[1:] & ~curtailed[:-1]))
    kept = {
        f"hours_kept_{round(share * 100)}pct_per_year": np.count_nonzero(curtailed & (margin_mw >= share * load_mw))
        / years
        for share in KEPT_SHARES
    }
    return {
        "rate_achieved": energy_mwh / (HOURS_PER_YEAR * years * load_mw),
        "curtailed_energy_mwh_per_year": energy_mwh / years,
        "curtailed_hours_per_year": hours / years,
        "events_per_year": events / years,
        "mean_event_duration_h": hours / events if events else math.nan,
        **kept,
    }


# --- input checks ---------------------------------------------------------------------------


def _hourly_values(series: object, *, field: str) -> FloatArray:
    """Float values of an hourly Series, refusing anything the headroom cannot trust."""
    if not isinstance(series, pd.Series):
        raise InputError(f"expected a pandas Series, got {type(series).__name__}", field=field)
    index = series.index
    if not isinstance(index, pd.DatetimeIndex):
        raise InputError(
            f"index must be a DatetimeIndex of hourly interval starts, got {type(index).__name__}",
            field=field,
        )
    if index.tz is None:
        raise InputError(
            "index is naive (no time zone); localise it, e.g. series.tz_localize('UTC')",
            field=field,
        )
    if len(index) == 0:
        raise InputError("series is empty; at least one hour is needed", field=field)
    if len(index) > 1:
        steps = index[1:] - index[:-1]
        bad = np.flatnonzero(steps != _ONE_HOUR)
        if bad.size:
            at = int(bad[0])
            raise InputError(
                f"index must be regular hourly; step {steps[at]} from {index[at]} to "
                f"{index[at + 1]} (gap, duplicate, disorder or other resolution)",
                field=field,
            )
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        raise InputError(f"values must be numeric [MW], got dtype {series.dtype}", field=field)
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    bad_values = np.flatnonzero(~np.isfinite(values))
    if bad_values.size:
        at = int(bad_values[0])
        raise InputError(
            f"{bad_values.size} missing or non-finite value(s), the first at {index[at]} "
            f"({values[at]}); fill or drop them before computing headroom",
            field=field,
        )
    return values


def _finite_scalar(value: object, *, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise InputError(f"expected a Series or a number [MW], got {type(value).__name__}", field=field)
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"must be finite, got {number}", field=field)
    return number


def _rates(rates: Sequence[float]) -> FloatArray:
    if isinstance(rates, str | bytes) or not isinstance(rates, Sequence):
        raise InputError(
            "expected a sequence of curtailment rates [fraction], e.g. [0.0025, 0.005]",
            field="rates",
        )
    if len(rates) == 0:
        raise InputError("no curtailment rate given", field="rates")
    values = np.empty(len(rates))
    for i, rate in enumerate(rates):
        if isinstance(rate, bool) or not isinstance(rate, int | float | np.number):
            raise InputError(f"rate {rate!r} is not a number", field="rates")
        values[i] = float(rate)
        if not 0.0 <= values[i] < 1.0:
            raise InputError(
                f"rate {rate!r} is outside [0, 1); rates are fractions (0.005 means 0.5 %)",
                field="rates",
            )
    return values


def _months(months: Iterable[int], *, field: str) -> list[int]:
    chosen = sorted(set(months))
    if not chosen or any(not isinstance(m, int) or not 1 <= m <= 12 for m in chosen):
        raise InputError(f"expected months 1-12, got {chosen}", field=field)
    return chosen


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InputError(f"unknown time zone {name!r}; use an IANA name", field="timezone") from None


def _is_new_year(stamp: pd.Timestamp) -> bool:
    return bool(
        stamp.month == 1
        and stamp.day == 1
        and stamp.hour == 0
        and stamp.minute == 0
        and stamp.second == 0
        and stamp.microsecond == 0
        and stamp.nanosecond == 0
    )
