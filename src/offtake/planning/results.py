"""What a plan says: per-site allocations and curtailment, per-zone money, what binds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from offtake.allocation import ALLOCATION_COLUMNS
from offtake.dispatch.terms import curtailed_intervals, curtailment_runs
from offtake.timeutil import HOURS_PER_YEAR

if TYPE_CHECKING:
    from offtake.planning.expansion_results import ExpansionResult
    from offtake.planning.simulated_terms import SimulatedTerms
    from offtake.planning.terms_check import PlanTermsCheck

__all__ = ["ALLOCATION_COLUMNS", "PlanResult", "curtailment_stats"]


def curtailment_stats(served_mw: np.ndarray, allocated_mw: float, duration_h: float) -> dict[str, float]:
    """Curtailment of one site over a period.

    Parameters
    ----------
    served_mw
        Load served in each interval [MW].
    allocated_mw
        The site's allocation [MW].
    duration_h
        Length of one interval [h].

    Returns
    -------
    dict
        ``expected_energy_mwh`` served energy [MWh], ``curtailed_energy_mwh`` [MWh],
        ``curtailed_hours`` [h], ``curtailment_events`` (runs of consecutive curtailed
        intervals, an interval counting when served load is more than
        :data:`offtake.dispatch.terms.TOL_MW` below the allocation, as at dispatch),
        ``mean_event_h`` and ``longest_event_h`` [h] (0 without events).
    """
    served = np.asarray(served_mw, dtype=float)
    energy = float(served.sum() * duration_h)
    if allocated_mw <= 0:
        return {
            "expected_energy_mwh": energy,
            "curtailed_energy_mwh": 0.0,
            "curtailed_hours": 0.0,
            "curtailment_events": 0.0,
            "mean_event_h": 0.0,
            "longest_event_h": 0.0,
        }
    # One definition of curtailment and of an event for plan, dispatch and kpis.json.
    curtailed = curtailed_intervals(served[:, None], np.array([allocated_mw]))[:, 0]
    gap = np.where(curtailed, allocated_mw - served, 0.0)
    _, runs = curtailment_runs(curtailed)
    lengths = runs * duration_h
    n_events = len(runs)
    hours = float(curtailed.sum() * duration_h)
    return {
        "expected_energy_mwh": energy,
        "curtailed_energy_mwh": float(gap.sum() * duration_h),
        "curtailed_hours": hours,
        "curtailment_events": float(n_events),
        "mean_event_h": hours / n_events if n_events else 0.0,
        "longest_event_h": float(lengths.max()) if n_events else 0.0,
    }


@dataclass
class PlanResult:
    """The outcome of one planning run.

    Attributes
    ----------
    scenario_name
        The scenario planned.
    objective
        ``margin`` or ``energy``.
    cap_mw
        National cap [MW].
    min_sizes
        Whether minimum sizes were enforced (MILP).
    step_limit_mw
        Contingency limit on the simultaneous curtailment step [MW] (None: none).
    step_source
        Where that limit comes from.
    horizon_h
        Length of the planned period [h].
    sites
        The candidate sites.
    allocation
        Per site (index ``site_id``): the columns of :data:`ALLOCATION_COLUMNS` plus
        ``curtailed_energy_mwh``, ``longest_event_h``, ``revenue_usd``.
    served_mw
        Load served per interval and site [MW], indexed by aware UTC interval start.
    plant_output_mw, baseline_output_mw
        Output per interval and plant with the plan and without any site [MW].
    flow_mw
        Flow per interval and corridor, positive from ``from`` to ``to`` [MW].
    zone_price_usd_per_mwh
        Marginal value of demand per interval and zone (dual of the zone balance), in the
        objective's money per MWh (MWh per MWh under the energy objective).
    zones
        Per zone and a ``national`` row: ``allocated_mw``, ``firm_mw``, ``interruptible_mw``,
        ``energy_mwh``, ``surplus_energy_mwh``, ``surplus_use``, ``revenue_usd`` (what the
        zone's sites pay), ``serving_cost_usd`` (their served energy at the zone price of each
        interval; under the energy objective, whose duals are not money, NaN where the zone has
        sites) and
        ``margin_at_zone_price_usd`` (the difference). A zone without sites shows zeros. The
        extra fuel burnt is national only (``national["fuel_cost_usd"]``): re-dispatch moves
        fuel between zones in ways that do not follow where the sites are.
    binding
        One row per constraint that binds: ``constraint``, ``kind``, ``hours_binding``,
        ``worth_per_year`` (value of relaxing it by 1 MW, in every interval for hourly
        constraints) and ``unit``.
    national
        Summary numbers (see :meth:`summary`).
    reserve_shortfall_mw
        Reserve the grid cannot hold even without any site, per interval [MW].
    timings_s
        Wall time of each stage [s].
    notes
        Plain-language caveats for the report.
    warnings
        Figures withheld as impossible (shadow prices or zone prices beyond what one MW can be
        worth), in words; the report and the command line show them.
    expansion
        The new solar, wind and storage built for the sites, with each site's renewable share
        (:mod:`offtake.planning.expansion_results`); None without the expansion option.
    terms
        The plan's own dispatch read against each planned site's contract terms, and every
        breach (:mod:`offtake.planning.terms_check`); the report and the command line show them.
    simulated_terms
        The plan's period simulated on a few seeds (forecast error, outages, emergencies, lag)
        and each site's terms read there (:mod:`offtake.planning.simulated_terms`, set by the
        plan command's driver-level step); None when not run.
    """

    scenario_name: str
    objective: str
    cap_mw: float
    min_sizes: bool
    step_limit_mw: float | None
    step_source: str
    horizon_h: float
    sites: pd.DataFrame
    allocation: pd.DataFrame
    served_mw: pd.DataFrame
    plant_output_mw: pd.DataFrame
    baseline_output_mw: pd.DataFrame
    flow_mw: pd.DataFrame
    zone_price_usd_per_mwh: pd.DataFrame
    zones: pd.DataFrame
    binding: pd.DataFrame
    national: dict[str, Any]
    reserve_shortfall_mw: pd.Series
    timings_s: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    expansion: ExpansionResult | None = None
    terms: PlanTermsCheck | None = None
    simulated_terms: SimulatedTerms | None = None

    @property
    def annual_factor(self) -> float:
        """Factor from the planned period to one year of 8,760 h [-]."""
        return HOURS_PER_YEAR / self.horizon_h

    def allocation_table(self) -> pd.DataFrame:
        """Return the allocation with exactly the columns of ``allocation.csv``."""
        table = self.allocation.reset_index()
        return table.loc[:, list(ALLOCATION_COLUMNS)]

    def summary(self) -> pd.DataFrame:
        """Per-zone summary for printing: MW, GWh, money in million USD (fuel: see ``national``)."""
        z = self.zones
        out = pd.DataFrame(
            {
                "sites": z["sites"].astype(int),
                "firm_mw": z["firm_mw"].round(1),
                "interruptible_mw": z["interruptible_mw"].round(1),
                "energy_gwh": (z["energy_mwh"] / 1e3).round(1),
                "surplus_use_pct": (100 * z["surplus_use"]).round(1),
                "revenue_musd": (z["revenue_usd"] / 1e6).round(2),
                "serving_cost_musd": (z["serving_cost_usd"] / 1e6).round(2),
                "margin_at_zone_price_musd": (z["margin_at_zone_price_usd"] / 1e6).round(2),
            },
            index=z.index,
        )
        return out
