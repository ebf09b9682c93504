"""Surplus per zone and hour at a tariff, and the tariff-surplus curve."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from offtake.grid.baseline import Baseline, least_cost_dispatch
from offtake.scenario import Scenario
from offtake.surplus.network import ZoneCuts

__all__ = ["SurplusResult", "assess_surplus", "mw_in_share_of_hours", "set_surplus", "surplus_arrays", "tariff_curve"]

#: Shares of hours for which the tariff-surplus curve reports the MW available [-].
HOUR_SHARES = (0.5, 0.9, 0.99)
#: Slack below which the baseline counts as meeting demand and reserve [MW].
_SLACK_TOLERANCE_MW = 1e-6


def mw_in_share_of_hours(values_mw: np.ndarray, share: float, axis: int = 0) -> np.ndarray:
    """Return the largest level met or exceeded in at least ``share`` of the intervals [MW].

    Parameters
    ----------
    values_mw
        Values per interval [MW] (along ``axis``).
    share
        Share of intervals [-], e.g. 0.9.
    axis
        Axis of the intervals.

    Returns
    -------
    numpy.ndarray
        One level per remaining position [MW]; an order statistic, never interpolated.
    """
    return np.asarray(np.quantile(values_mw, 1.0 - share, axis=axis, method="lower"))


@dataclass(frozen=True)
class SurplusResult:
    """Surplus of a scenario at one tariff.

    Attributes
    ----------
    tariff_usd_per_mwh
        The tariff: only units at or below it may serve the extra load [USD/MWh].
    zone_mw
        Extra load each zone could take alone, per interval [MW].
    national_mw
        Extra load the whole system could take, placed anywhere, per interval [MW].
    baseline
        The least-cost dispatch of existing demand.
    """

    tariff_usd_per_mwh: float
    zone_mw: pd.DataFrame
    national_mw: pd.Series
    baseline: Baseline


def surplus_arrays(
    scenario: Scenario, baseline: Baseline, tariff_usd_per_mwh: float, cuts: ZoneCuts | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-zone and national surplus as arrays, shapes (intervals, zones) and (intervals,) [MW]."""
    cuts = cuts or ZoneCuts.from_scenario(scenario)
    inputs = _network_inputs(scenario, baseline, tariff_usd_per_mwh)
    zone_mw, national_mw = cuts.surplus_mw(*inputs)
    short = _short(baseline)
    zone_mw[short] = 0.0
    national_mw[short] = 0.0
    return zone_mw, national_mw


def set_surplus(
    scenario: Scenario, tariff_usd_per_mwh: float | None = None, baseline: Baseline | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Most extra load every set of zones can take in total, per interval [MW].

    The deliverable region of extra load: ``x`` per zone is deliverable when
    ``x(U) <= value(U)`` for every non-empty zone set ``U``; :func:`assess_surplus`'s zone
    surplus is the least value over the sets holding the zone, its national surplus the value
    of the set of all zones. Values are clipped at zero, and zero where the baseline falls
    short of demand or reserve.

    Returns
    -------
    member : numpy.ndarray
        Boolean matrix (sets, zones) in the scenario's zone order.
    values_mw : numpy.ndarray
        Value of each set per interval, shape (intervals, sets) [MW].
    """
    tariff = scenario.default_tariff_usd_per_mwh if tariff_usd_per_mwh is None else float(tariff_usd_per_mwh)
    baseline = baseline or least_cost_dispatch(scenario)
    cuts = ZoneCuts.from_scenario(scenario)
    values = np.maximum(cuts.set_values_mw(*_network_inputs(scenario, baseline, tariff)), 0.0)
    values[_short(baseline)] = 0.0
    return cuts.member.copy(), values


def _short(baseline: Baseline) -> np.ndarray:
    """Intervals where the baseline falls short of demand or reserve."""
    return np.asarray((baseline.unserved_mw.sum(axis=1) + baseline.reserve_short_mw) > _SLACK_TOLERANCE_MW)


def _network_inputs(
    scenario: Scenario, baseline: Baseline, tariff_usd_per_mwh: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return what :meth:`ZoneCuts.surplus_mw` takes, in order, from the baseline at a tariff.

    Dispatchable and variable output per interval and zone, the least output of dispatchable
    groups (their must-run output, or the minimum off-take of a fuel contract: the only output
    that must be drawn from the reserve-limited pool; a must-run wind or solar group is
    variable output like any other), demand, and the pool.
    """
    fleet = baseline.fleet
    n_z = len(scenario.zones)
    available = fleet.available_mw
    cheap = fleet.marginal_cost_usd_per_mwh <= tariff_usd_per_mwh
    usable = np.where(cheap, available, np.minimum(baseline.generation_mw, available))
    least = np.where(
        fleet.must_run[None, :],
        np.minimum(baseline.generation_mw, usable),
        np.minimum(fleet.min_output_mw, usable),
    )

    def by_zone(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = np.zeros((values.shape[0], n_z))
        for g in np.flatnonzero(mask):
            out[:, fleet.zone_index[g]] += values[:, g]
        return out

    disp = fleet.dispatchable
    reserve = scenario.reserve_requirement_mw().to_numpy()
    pool = available[:, disp].sum(axis=1) - reserve
    demand = scenario.demand_mw.to_numpy()
    return by_zone(usable, disp), by_zone(usable, ~disp), by_zone(least, disp), demand, pool


def assess_surplus(
    scenario: Scenario, tariff_usd_per_mwh: float | None = None, baseline: Baseline | None = None
) -> SurplusResult:
    """Surplus per zone and interval, and nationally, at a tariff.

    Parameters
    ----------
    scenario
        The scenario.
    tariff_usd_per_mwh
        Off-take tariff [USD/MWh]; the scenario's default if not given.
    baseline
        A least-cost dispatch already computed for ``scenario``.

    Returns
    -------
    SurplusResult
        Surplus per zone (that zone alone) and national (joint), per interval.

    Examples
    --------
    >>> from offtake import scenario
    >>> from offtake.surplus import assess_surplus
    >>> r = assess_surplus(scenario.load("tests/data/three-zone"))
    >>> list(r.zone_mw.columns)
    ['north', 'south', 'city']
    """
    tariff = scenario.default_tariff_usd_per_mwh if tariff_usd_per_mwh is None else float(tariff_usd_per_mwh)
    baseline = baseline or least_cost_dispatch(scenario)
    zone_mw, national_mw = surplus_arrays(scenario, baseline, tariff)
    return SurplusResult(
        tariff_usd_per_mwh=tariff,
        zone_mw=pd.DataFrame(zone_mw, index=scenario.index, columns=scenario.zone_ids),
        national_mw=pd.Series(national_mw, index=scenario.index, name="national"),
        baseline=baseline,
    )


def tariff_curve(
    scenario: Scenario,
    baseline: Baseline,
    tariffs_usd_per_mwh: Sequence[float],
    hour_shares: Sequence[float] = HOUR_SHARES,
) -> pd.DataFrame:
    """MW available in a given share of hours, for each tariff, per zone and nationally.

    Parameters
    ----------
    scenario
        The scenario.
    baseline
        Its least-cost dispatch.
    tariffs_usd_per_mwh
        Tariffs to evaluate [USD/MWh].
    hour_shares
        Shares of hours [-]; for 0.9 the result is the MW available in at least 90 % of hours.

    Returns
    -------
    pandas.DataFrame
        Columns ``tariff_usd_per_mwh``, ``area`` (zone id or ``national``) and one column
        ``mw_in_<pct>pct_of_hours`` per share [MW].
    """
    cuts = ZoneCuts.from_scenario(scenario)
    rows = []
    areas = [*scenario.zone_ids, "national"]
    costs = baseline.fleet.marginal_cost_usd_per_mwh
    # The surplus depends on the tariff only through which groups lie at or below it.
    cache: dict[bytes, np.ndarray] = {}
    for tariff in tariffs_usd_per_mwh:
        key = (costs <= float(tariff)).tobytes()
        if key not in cache:
            zone_mw, national_mw = surplus_arrays(scenario, baseline, float(tariff), cuts)
            values = np.column_stack([zone_mw, national_mw])
            cache[key] = np.stack([mw_in_share_of_hours(values, share) for share in hour_shares])
        quantiles = cache[key]
        for a, area in enumerate(areas):
            row: dict[str, float | str] = {"tariff_usd_per_mwh": float(tariff), "area": area}
            for s, share in enumerate(hour_shares):
                row[f"mw_in_{share * 100:g}pct_of_hours"] = float(quantiles[s, a])
            rows.append(row)
    return pd.DataFrame(rows)
