"""A plan's own hourly dispatch read against each planned site's contract terms.

The planner bounds each site's curtailment depth (its firm tranche, the AI floor) and its
curtailed energy over the period (``annual_curtailment``), but not the length of one
curtailment event: that would need a binary per site and interval. This check reads the
plan's served load against every term with the definitions dispatch and ``kpis.json`` use
(:mod:`offtake.dispatch.terms`: an interval is curtailed when served load is more than
``TOL_MW`` below the allocation, an event is a run of such intervals, the rate is curtailed
energy over allocated energy of the period), so a plan whose own year breaks a contract says
so in its report and on the command line before anyone simulates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from offtake.dispatch.contracts import Contracts
from offtake.dispatch.terms import TOL_MW, contract_breaches, curtailed_intervals, curtailment_runs, term_figures
from offtake.planning.results import PlanResult

__all__ = ["PlanTermsCheck", "breach_table_rows", "check_plan_terms", "event_hold_mask"]


@dataclass(frozen=True)
class PlanTermsCheck:
    """Which planned sites the plan's own dispatch puts in breach of their terms.

    Attributes
    ----------
    hours
        Length of the planned period [h]; the annual limit is read over it.
    sites
        Per site with an allocation: ``site_id``, ``allocated_mw`` and the figures of
        :func:`offtake.dispatch.terms.term_figures` (without the event lengths).
    breaches
        One entry per site and term broken, as ``kpis.json`` ``contracts.breaches``:
        ``annual_curtailment_limit`` (``excess_mwh``), ``max_curtailment_duration_h``
        (``actual`` longest event [h], ``events_over``), ``floor`` (``hours_below``).
    rule
        The rule in words.
    """

    hours: float
    sites: list[dict[str, Any]] = field(default_factory=list)
    breaches: list[dict[str, Any]] = field(default_factory=list)
    rule: str = ""

    @property
    def sites_breaking_terms(self) -> list[str]:
        """Ids of the sites with at least one breach, sorted."""
        return sorted({str(b["site_id"]) for b in self.breaches})

    def lines(self) -> list[str]:
        """One plain-language line per breach: the site, the term and by how much."""
        return [_describe(b) for b in self.breaches]


def check_plan_terms(result: PlanResult, zone_ids: list[str] | None = None) -> PlanTermsCheck:
    """Read a plan's served load against each planned site's contract terms.

    Parameters
    ----------
    result
        The plan.
    zone_ids
        The scenario's zones (default: those of the plan's zone table).

    Returns
    -------
    PlanTermsCheck
        The figures per site and every breach, by how much. The annual limit allows the
        curtailed energy ``TOL_MW`` over the whole period gives (the solver's tolerance
        is far below it), so a plan exactly at its limit is not flagged.
    """
    zones = zone_ids if zone_ids is not None else [str(z) for z in result.zones.index if z != "national"]
    table = result.allocation_table()
    table = table[table["allocated_mw"] > 0].reset_index(drop=True)
    n_t = len(result.served_mw.index)
    hours = float(result.horizon_h)
    if table.empty or n_t == 0:
        return PlanTermsCheck(hours=hours, rule=_RULE)
    contracts = Contracts.from_frame(table, zones)
    served = result.served_mw.loc[:, list(contracts.site_ids)].to_numpy(dtype=float)
    step_h = hours / n_t
    curtailed = curtailed_intervals(served, contracts.allocated_mw)
    sites = []
    for sid, alloc, figures in zip(
        contracts.site_ids, contracts.allocated_mw, term_figures(served, contracts, step_h, curtailed), strict=True
    ):
        figures.pop("lengths_h")
        sites.append({"site_id": sid, "allocated_mw": float(alloc), **figures})
    found = contract_breaches(sites, hours, tolerance_mwh=TOL_MW * hours)
    return PlanTermsCheck(hours=hours, sites=sites, breaches=found["breaches"], rule=_RULE)


_RULE = (
    "the plan's served load per interval against each site's allocation, with the definitions dispatch and "
    "kpis.json use: an interval more than 0.001 MW below the allocation is curtailed, an event is a run of "
    "curtailed intervals, the curtailment rate is curtailed energy over allocated energy of the period; the "
    "planner bounds depth and curtailed energy but not event length"
)


def _describe(breach: dict[str, Any]) -> str:
    """Say one breach in words, with its size."""
    sid, term = breach["site_id"], breach["term"]
    if term == "annual_curtailment_limit":
        return (
            f"{sid}: curtailment {100 * breach['actual']:.2f} % of allocated energy against a limit of "
            f"{100 * breach['limit']:.2f} % ({breach['excess_mwh']:,.1f} MWh over)"
        )
    if term == "max_curtailment_duration_h":
        return (
            f"{sid}: longest curtailment event {breach['actual']:g} h against a limit of {breach['limit']:g} h "
            f"({breach['actual'] - breach['limit']:g} h over; {breach['events_over']} event(s) longer)"
        )
    return f"{sid}: below its floor of {breach['limit']:,.1f} MW for {breach['hours_below']:g} h"


def breach_table_rows(check: PlanTermsCheck) -> list[dict[str, Any]]:
    """Return the breaches as table rows: site, term, limit, actual and the excess in the term's unit."""
    rows = []
    for b in check.breaches:
        term = b["term"]
        if term == "annual_curtailment_limit":
            excess, unit = float(b["excess_mwh"]), "MWh"
        elif term == "max_curtailment_duration_h":
            excess, unit = float(b["actual"] - b["limit"]), "h"
        else:
            excess, unit = float(b["hours_below"]), "h below floor"
        rows.append(
            {
                "site_id": b["site_id"],
                "term": term,
                "limit": float(b["limit"]),
                "actual": float(np.round(b["actual"], 6)),
                "excess": excess,
                "excess_unit": unit,
            }
        )
    return rows


def event_hold_mask(served_mw: np.ndarray, allocated_mw: np.ndarray, limit_h: np.ndarray, step_h: float) -> np.ndarray:
    """Intervals to serve in full so that no curtailment event runs longer than the contract allows.

    Parameters
    ----------
    served_mw
        Served load per interval and site [MW], shape (T, N).
    allocated_mw
        Allocation per site [MW], shape (N,).
    limit_h
        Longest event each site accepts [h], shape (N,).
    step_h
        Length of one interval [h].

    Returns
    -------
    numpy.ndarray
        Boolean (T, N): in every event longer than its limit of ``L`` intervals, every
        ``(L + 1)``-th interval, so that the pieces left are at most ``L`` long (every
        interval of it when the limit is shorter than one interval).
    """
    served = np.asarray(served_mw, dtype=float)
    curtailed = curtailed_intervals(served, np.asarray(allocated_mw, dtype=float))
    hold = np.zeros_like(curtailed)
    for i in range(served.shape[1]):
        allowed = int(np.floor(float(limit_h[i]) / step_h + 1e-9))
        starts, lengths = curtailment_runs(curtailed[:, i])
        for start, length in zip(starts, lengths, strict=True):
            if length > allowed:
                hold[start + allowed : start + length : allowed + 1, i] = True
    return hold
