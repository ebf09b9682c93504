"""How the surplus moves with each fuel's price and with the tariff: a one-at-a-time sweep.

Each technology with a positive marginal cost has its cost scaled by ``1 - change`` and
``1 + change`` (all its plant groups together, the others held), and the tariff likewise;
zero-cost technologies (hydro, wind, solar) have no price to move and are left out.

The surplus depends on costs only through which groups lie at or below the tariff ("cheap")
and through the baseline output of the others ("dear"), so most cases need no new solve:

* The baseline is a minimum-cost flow in which every cycle raises one group and lowers
  another (or moves a slack priced far above any fuel). Take the old dispatch ``x`` and a
  new optimum ``x'`` and split ``x' - x`` into conformal cycles (each may be added to ``x``
  or taken from ``x'`` alone, staying feasible). If every group stays on its side of the
  tariff (with the flow tie-break's margin), a cycle that moves a dear group against a cheap
  one or a slack would make ``x`` or ``x'`` not optimal, and so would one that moves two dear
  groups unless their order changed. So the dear groups' output and the slacks stay, and the
  surplus is exactly the base one: the case is answered without solving.
* Otherwise the baseline is re-solved only in the intervals where a group turned cheaper
  than one it could displace (:func:`offtake.grid.baseline.redispatch`), and the cut
  enumeration runs once (well under a second for a year).

``sensitivity.csv`` holds the result in long form, one row per case and area (columns in
:data:`COLUMNS`, described in ``docs/formats.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from offtake.grid.baseline import Baseline, displacing_pairs, hops_margin_usd_per_mwh, redispatch
from offtake.scenario import Scenario
from offtake.surplus.assess import mw_in_share_of_hours, surplus_arrays
from offtake.surplus.network import ZoneCuts

__all__ = ["COLUMNS", "DEFAULT_CHANGE", "NATIONAL", "TARIFF_DRIVER", "sensitivity", "surplus_unchanged"]

#: Relative change applied to each price, one at a time [-].
DEFAULT_CHANGE = 0.10
#: Driver name of the tariff cases.
TARIFF_DRIVER = "tariff"
#: Driver name of the unchanged case.
BASE_DRIVER = "base"
NATIONAL = "national"
#: Columns of the sensitivity table, in order.
COLUMNS = (
    "driver",
    "change_pct",
    "price_usd_per_mwh",
    "base_price_usd_per_mwh",
    "area",
    "mean_mw",
    "mean_change_mw",
    "mw_in_50pct_of_hours",
    "mw_in_90pct_of_hours",
    "intervals_redispatched",
    "crosses_tariff_at_pct",
)


@dataclass(frozen=True)
class _Case:
    driver: str
    change: float
    price_usd_per_mwh: float
    base_price_usd_per_mwh: float
    tariff_usd_per_mwh: float
    zone_mw: np.ndarray
    national_mw: np.ndarray
    redispatched: int


def sensitivity(
    scenario: Scenario,
    baseline: Baseline,
    tariff_usd_per_mwh: float,
    change: float = DEFAULT_CHANGE,
    cuts: ZoneCuts | None = None,
) -> pd.DataFrame:
    """Surplus when each fuel's price, and the tariff, move by ``change`` one at a time.

    Parameters
    ----------
    scenario
        The scenario.
    baseline
        Its least-cost dispatch.
    tariff_usd_per_mwh
        The tariff assessed [USD/MWh].
    change
        Relative change of each price, in (0, 1) [-].
    cuts
        The scenario's zone cuts, if already enumerated.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`: one ``base`` case, then for each technology (by descending
        cost) and the tariff a case at ``-change`` and at ``+change``, each for every zone
        and ``national``; ``mean_change_mw`` against the base case [MW];
        ``crosses_tariff_at_pct`` the change of a fuel's (dearest group's) price at which it
        reaches the tariff [%].
    """
    if not 0.0 < change < 1.0:
        raise ValueError(f"change must lie in (0, 1), got {change}")
    cuts = cuts or ZoneCuts.from_scenario(scenario)
    fleet = baseline.fleet
    costs = fleet.marginal_cost_usd_per_mwh
    tariff = float(tariff_usd_per_mwh)
    base_zone, base_national = surplus_arrays(scenario, baseline, tariff, cuts)
    cases = [_Case(BASE_DRIVER, 0.0, tariff, tariff, tariff, base_zone, base_national, 0)]
    base_key = (costs[fleet.free] <= tariff).tobytes()
    technologies = sorted({t for t, c in zip(fleet.technology, costs, strict=True) if c > 0})
    technologies.sort(key=lambda t: -float(costs[fleet.technology == t].max()))
    for tech in technologies:
        chosen = fleet.technology == tech
        old_price = float(costs[chosen].max())
        for sign in (-1.0, 1.0):
            new_costs = np.where(chosen, costs * (1.0 + sign * change), costs)
            if surplus_unchanged(baseline, new_costs, tariff):
                zone_mw, national_mw, redispatched = base_zone, base_national, 0
            else:
                moved, resolved = redispatch(baseline, new_costs)
                zone_mw, national_mw = surplus_arrays(scenario, moved, tariff, cuts)
                redispatched = int(resolved.sum())
            new_price = old_price * (1.0 + sign * change)
            cases.append(_Case(tech, sign * change, new_price, old_price, tariff, zone_mw, national_mw, redispatched))
    for sign in (-1.0, 1.0):
        new_tariff = tariff * (1.0 + sign * change)
        if (costs[fleet.free] <= new_tariff).tobytes() == base_key:
            zone_mw, national_mw = base_zone, base_national
        else:
            zone_mw, national_mw = surplus_arrays(scenario, baseline, new_tariff, cuts)
        cases.append(_Case(TARIFF_DRIVER, sign * change, new_tariff, tariff, tariff, zone_mw, national_mw, 0))
    return _table(scenario, cases)


def surplus_unchanged(baseline: Baseline, new_costs: np.ndarray, tariff: float) -> bool:
    """Return True when the new costs provably leave the surplus at the tariff as it is (module note).

    Parameters
    ----------
    baseline
        The least-cost dispatch at the old costs.
    new_costs
        New marginal cost of every fleet group [USD/MWh].
    tariff
        The tariff [USD/MWh].
    """
    free = baseline.fleet.free
    old = baseline.fleet.marginal_cost_usd_per_mwh
    cheap = old <= tariff
    if not np.array_equal(cheap[free], new_costs[free] <= tariff):
        return False
    margin = hops_margin_usd_per_mwh(baseline.grid)
    for costs in (old, new_costs):
        low, high = costs[free & cheap], costs[free & ~cheap]
        if len(low) and len(high) and low.max() + margin > high.min():
            return False
    return not any(not cheap[i] and not cheap[j] for i, j in displacing_pairs(baseline.grid, new_costs))


def _table(scenario: Scenario, cases: list[_Case]) -> pd.DataFrame:
    areas = [*scenario.zone_ids, NATIONAL]
    base_mean = np.column_stack([cases[0].zone_mw, cases[0].national_mw]).mean(axis=0)
    rows = []
    for case in cases:
        values = np.column_stack([case.zone_mw, case.national_mw])
        mean = values.mean(axis=0)
        p50 = mw_in_share_of_hours(values, 0.5)
        p90 = mw_in_share_of_hours(values, 0.9)
        fuel = case.driver not in (BASE_DRIVER, TARIFF_DRIVER)
        crossing = 100.0 * (case.tariff_usd_per_mwh / case.base_price_usd_per_mwh - 1.0) if fuel else np.nan
        for a, area in enumerate(areas):
            rows.append(
                {
                    "driver": case.driver,
                    "change_pct": round(case.change * 100.0, 6),
                    "price_usd_per_mwh": case.price_usd_per_mwh,
                    "base_price_usd_per_mwh": case.base_price_usd_per_mwh,
                    "area": area,
                    "mean_mw": float(mean[a]),
                    "mean_change_mw": float(mean[a] - base_mean[a]),
                    "mw_in_50pct_of_hours": float(p50[a]),
                    "mw_in_90pct_of_hours": float(p90[a]),
                    "intervals_redispatched": case.redispatched,
                    "crosses_tariff_at_pct": crossing,
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))
