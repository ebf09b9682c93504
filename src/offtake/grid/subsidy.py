r"""No subsidy: the one definition offtake uses, in the surplus, the plan, the risk run and the reports.

**Definition.** In every interval, the extra output that the sites cause, per plant group
(the dispatch with the sites minus the least-cost dispatch of existing demand, the baseline
of :mod:`offtake.grid.baseline`), must be shareable among the sites so that each site takes
only output of units whose marginal cost is at or below its tariff. Units are compared at
the plant, at their marginal cost [USD/MWh]. For sorted tariffs ``tau`` this is, by Hall's
theorem (each site may use the units at or below its tariff, and these sets are nested)::

    sum_{g: mc_g > tau} (gen_g - gen0_g)  <=  sum_{s: tariff_s > tau} served_s     (every tau, t)

For the highest tariff the right-hand side is empty: units dearer than every tariff never
run more than in the baseline. With one tariff this is the surplus of
:func:`offtake.surplus.assess_surplus` ("no unit above the tariff producing more than in the
least-cost dispatch"); the planner adds these rows (:func:`add_no_subsidy_rows`) to its
model; the risk command checks a served profile against the same rows
(:func:`check_no_subsidy`), so an allocation the planner builds passes it at its tariffs.

**Losses and the network charge are reported, not enforced.** Delivering a MWh to a site also
costs the network losses on the way and a use-of-system charge (``network.toml``). The rule
above does not include them (the surplus is a property of the generating fleet, and the
bundled tariffs are set against generation cost). Every no-subsidy verdict therefore also
gives the *delivered* figure: the dearest serving unit grossed up,
``mc / (1 - loss_fraction[zone]) + network_charge_usd_per_mwh[zone]``, the hours in which a
site's tariff is below it, and the lowest tariff that covers it.
"""

from __future__ import annotations

from dataclasses import dataclass

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from offtake.grid.baseline import Baseline, slack_penalties_usd_per_mwh
from offtake.grid.model import Grid, add_grid
from offtake.grid.solve import solve_model

__all__ = [
    "NoSubsidyRow",
    "ServingCost",
    "add_no_subsidy_rows",
    "check_no_subsidy",
    "lowest_single_tariff",
    "no_subsidy_rows",
]

#: Output above the baseline by more than this counts as extra output [MW].
EXTRA_TOLERANCE_MW = 1e-3
#: A rule row broken by more than this counts as broken [MW].
BREACH_TOLERANCE_MW = 1e-2
#: Intervals per LP block of the check [-].
CHECK_BLOCK_INTERVALS = 2190


@dataclass(frozen=True)
class NoSubsidyRow:
    """One no-subsidy row: its name in the model, the tariff it was built for, its units.

    Attributes
    ----------
    name
        Constraint name, ``no_subsidy_<k>``.
    tariff_usd_per_mwh
        The tariff ``tau`` of the row [USD/MWh]: units dearer than it may run more than in the
        baseline only for sites paying more than it.
    dear
        Mask over ``grid.groups`` of the units dearer than ``tau``.
    """

    name: str
    tariff_usd_per_mwh: float
    dear: np.ndarray


def no_subsidy_rows(grid: Grid, tariffs_usd_per_mwh: np.ndarray) -> list[NoSubsidyRow]:
    """Return the rows the rule needs for these site tariffs, one per distinct set of dearer units.

    Tariffs with the same set of dearer units give rows with the same left-hand side; the
    highest such tariff has the fewest payers on the right, so its row implies the others.

    Parameters
    ----------
    grid
        The grid.
    tariffs_usd_per_mwh
        Tariff of every site [USD/MWh].

    Returns
    -------
    list of NoSubsidyRow
        In increasing tariff order, named ``no_subsidy_0``, ``no_subsidy_1``, ...
    """
    cost = grid.group_cost_usd_per_mwh
    strongest: dict[bytes, float] = {}
    for tau in sorted(set(np.asarray(tariffs_usd_per_mwh, dtype=float).tolist())):
        dear = cost > tau
        if dear.any():
            strongest[dear.tobytes()] = tau
    return [NoSubsidyRow(f"no_subsidy_{k}", tau, cost > tau) for k, tau in enumerate(sorted(strongest.values()))]


def add_no_subsidy_rows(
    m: linopy.Model,
    grid: Grid,
    gen: linopy.Variable,
    served: linopy.Variable,
    tariffs_usd_per_mwh: pd.Series,
    baseline_gen_mw: np.ndarray,
    *,
    breach: bool = False,
) -> list[NoSubsidyRow]:
    """Add the rule's rows to a model with ``gen[time, group]`` and ``served[time, site]``.

    Parameters
    ----------
    m
        The model.
    grid
        The grid.
    gen, served
        Group output and served load [MW].
    tariffs_usd_per_mwh
        Tariff per site (index: the ``site`` coordinate of ``served``) [USD/MWh].
    baseline_gen_mw
        Baseline output of ``grid.groups`` for the model's intervals [MW], shape (time, group).
    breach
        Add a variable ``breach_<k>[time] >= 0`` [MW] that relaxes each row (for the check).

    Returns
    -------
    list of NoSubsidyRow
        The rows added; their ``tariff_usd_per_mwh`` labels the row in reports.
    """
    time = gen.indexes["time"]
    rows = no_subsidy_rows(grid, tariffs_usd_per_mwh.to_numpy(dtype=float))
    tariffs = tariffs_usd_per_mwh.to_numpy(dtype=float)
    for k, row in enumerate(rows):
        payers = tariffs_usd_per_mwh.index[tariffs > row.tariff_usd_per_mwh]
        lhs = gen.sel(group=grid.groups[row.dear]).sum("group")
        if len(payers):
            lhs = lhs - served.sel(site=payers).sum("site")
        if breach:
            lhs = lhs - m.add_variables(lower=0.0, coords=[time], name=f"breach_{k}")
        rhs = xr.DataArray(baseline_gen_mw[:, row.dear].sum(axis=1), coords=[time])
        m.add_constraints(lhs <= rhs, name=row.name)
    return rows


@dataclass(frozen=True)
class ServingCost:
    """A served profile checked against the rule on the grid model.

    Attributes
    ----------
    breach_mw
        Per interval and site, output of units dearer than the site's tariff that the site
        would have to take [MW] (0 where the rule holds), shape (time, site).
    undeliverable_mw
        Per interval and site, served load the grid cannot deliver at all [MW].
    dearest_cost_usd_per_mwh
        Per interval, marginal cost of the dearest unit that runs more than in the baseline
        in the checking dispatch (0 where none does) [USD/MWh]: the lowest single tariff at
        which every extra unit's output is at or below the tariff.
    lowest_tariff_usd_per_mwh
        Per interval, the lowest single tariff at which the checking dispatch keeps the rule:
        the extra output of the units dearer than it sums to nothing (a dear unit may run more
        where another as dear runs less) [USD/MWh]; 0 where no site is served.
    """

    breach_mw: pd.DataFrame
    undeliverable_mw: pd.DataFrame
    dearest_cost_usd_per_mwh: pd.Series
    lowest_tariff_usd_per_mwh: pd.Series


def check_no_subsidy(
    baseline: Baseline,
    served_mw: pd.DataFrame,
    site_zone: pd.Series,
    tariffs_usd_per_mwh: pd.Series,
    block_intervals: int = CHECK_BLOCK_INTERVALS,
) -> ServingCost:
    """Check a served profile against the rule: the dispatch that breaks it least.

    One LP per block of intervals on the grid model: demand and the served load met (any
    load the grid cannot carry is *undeliverable*, priced above everything), the rule's rows
    relaxed by a breach priced above any fuel cost, then least fuel cost. The baseline's slacks
    (unserved demand, reserve shortfall, spill) are kept as they are.

    Parameters
    ----------
    baseline
        Least-cost dispatch of existing demand.
    served_mw
        Served load per interval (rows in the scenario's order) and site [MW].
    site_zone
        Zone of each site (index: site id).
    tariffs_usd_per_mwh
        Tariff of each site (index: site id) [USD/MWh].
    block_intervals
        Intervals per LP.

    Returns
    -------
    ServingCost
        Breaches, undeliverable load and the dearest extra unit per interval.
    """
    grid = baseline.grid
    sites = pd.Index([str(s) for s in served_mw.columns], name="site")
    served = served_mw.to_numpy(dtype=float)
    zones = site_zone.reindex(sites).astype(str).to_numpy()
    tariffs = pd.Series(tariffs_usd_per_mwh.reindex(sites).to_numpy(dtype=float), index=sites)
    n_t = grid.n_intervals
    parts = [
        _check_block(baseline, served, zones, tariffs, np.arange(lo, min(lo + block_intervals, n_t)))
        for lo in range(0, n_t, block_intervals)
    ]
    index = served_mw.index
    return ServingCost(
        breach_mw=pd.DataFrame(np.concatenate([p[0] for p in parts]), index=index, columns=sites),
        undeliverable_mw=pd.DataFrame(np.concatenate([p[1] for p in parts]), index=index, columns=sites),
        dearest_cost_usd_per_mwh=pd.Series(np.concatenate([p[2] for p in parts]), index=index),
        lowest_tariff_usd_per_mwh=pd.Series(np.concatenate([p[3] for p in parts]), index=index),
    )


def lowest_single_tariff(extra_mw: np.ndarray, cost_usd_per_mwh: np.ndarray) -> np.ndarray:
    """Per interval, the lowest single tariff at which extra output keeps the rule [USD/MWh].

    With one tariff ``T`` for every site the rule has one row: the extra output of the units
    dearer than ``T`` sums to at most nothing. The candidates are the units' costs.

    Parameters
    ----------
    extra_mw
        Output above the baseline per interval and unit group [MW] (negative where a group
        runs less).
    cost_usd_per_mwh
        Marginal cost of each group [USD/MWh].

    Returns
    -------
    numpy.ndarray
        One tariff per interval; 0 where no group runs more than in the baseline.

    Examples
    --------
    A 110 USD/MWh unit running 5 MW more while a 100 USD/MWh unit runs 5 MW less leaves the
    dearer units' extra output at nothing, so 50 USD/MWh passes; with only 3 MW less it does not.

    >>> import numpy as np
    >>> extra = np.array([[10.0, 5.0, -5.0], [10.0, 5.0, -3.0], [0.0, 0.0, 0.0]])
    >>> lowest_single_tariff(extra, np.array([50.0, 110.0, 100.0])).tolist()
    [50.0, 110.0, 0.0]
    """
    levels, level_of = np.unique(cost_usd_per_mwh, return_inverse=True)
    by_level = extra_mw @ (level_of[:, None] == np.arange(len(levels))[None, :]).astype(float)
    above = np.cumsum(by_level[:, ::-1], axis=1)[:, ::-1] - by_level
    first_passing = np.argmax(above <= EXTRA_TOLERANCE_MW, axis=1)
    runs_more = (extra_mw > EXTRA_TOLERANCE_MW).any(axis=1)
    return np.where(runs_more, levels[first_passing], 0.0)


def _check_block(
    baseline: Baseline, served: np.ndarray, zones: np.ndarray, tariffs: pd.Series, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    grid = baseline.grid
    time = pd.RangeIndex(len(rows), name="time")
    site_ix = pd.Index(tariffs.index, name="site")
    target = xr.DataArray(served[rows], coords=[time, site_ix])
    m = linopy.Model(force_dim_names=True)
    take = m.add_variables(lower=0.0, upper=target, name="served")
    extra = {z: take.sel(site=site_ix[zones == z]).sum("site") for z in dict.fromkeys(zones)}
    v = add_grid(
        m,
        grid,
        rows,
        extra_load=extra,
        unserved_mw=baseline.unserved_mw[rows],
        spill_mw=baseline.spilled_mw[rows],
        reserve_mw=grid.reserve_mw[rows] - baseline.reserve_short_mw[rows],
    )
    g0 = baseline.group_generation_mw[rows]
    found = add_no_subsidy_rows(m, grid, v.gen, take, tariffs, g0, breach=True)
    unserved_pen, reserve_pen = _penalties(baseline)
    breaches = [m.variables[f"breach_{k}"] for k in range(len(found))]
    objective = v.fuel_cost_usd - unserved_pen * take.sum()  # undelivered load priced highest
    for b in breaches:
        objective = objective + reserve_pen * b.sum()
    if v.unserved is not None:
        objective = objective + unserved_pen * v.unserved.sum()
    m.add_objective(objective)
    solve_model(m, what="no-subsidy check", quiet=True)
    gen = v.gen.solution.transpose("time", "group").to_numpy()
    extra_out = gen - g0 > EXTRA_TOLERANCE_MW
    cost = grid.group_cost_usd_per_mwh
    dearest = np.where(extra_out, cost[None, :], 0.0).max(axis=1, initial=0.0)
    lowest = lowest_single_tariff(gen - g0, cost)
    breach = np.zeros((len(rows), len(site_ix)))
    for k, row in enumerate(found):
        amount = breaches[k].solution.to_numpy()
        covered = (tariffs.to_numpy() <= row.tariff_usd_per_mwh)[None, :]
        breach = np.maximum(breach, np.where(covered & (amount[:, None] > BREACH_TOLERANCE_MW), amount[:, None], 0.0))
    undeliverable = served[rows] - take.solution.transpose("time", "site").to_numpy()
    return breach, np.where(undeliverable > BREACH_TOLERANCE_MW, undeliverable, 0.0), dearest, lowest


def _penalties(baseline: Baseline) -> tuple[float, float]:
    unserved, reserve = slack_penalties_usd_per_mwh(baseline.grid)
    return unserved * baseline.grid.duration_h, reserve * baseline.grid.duration_h
