"""Each site's use of its contracted curtailment terms, tracked interval by interval.

The contract bounds curtailment two ways: the curtailed energy of a year over the allocated
energy (``annual_curtailment_limit``) and the length of one event
(``max_curtailment_duration_h``). :class:`TermsUsage` keeps both from the caps dispatched,
and says which sites cannot take another curtailed interval without breaking them; the core
serves those sites right after the AI firm tranches (the floor is the hardest term) and ahead
of every other tranche (``SiteState.protected``, reason ``curtailment_limit``), still within
the deliverable region. An emergency curtails them all
the same (force majeure): the grid's safety ranks above the contract, and the breach is
counted in ``kpis.json``. Both drivers use this class: the simulated year feeds it every
interval, the live driver rebuilds it from the caps recorded since the year began.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from offtake.dispatch.contracts import Contracts
from offtake.dispatch.core import Reason

__all__ = [
    "NOT_CURTAILMENT",
    "TOL_MW",
    "TermsUsage",
    "contract_breaches",
    "curtailed_intervals",
    "curtailment_runs",
    "term_figures",
]

F64 = NDArray[np.float64]
#: Power below the allocation that counts as curtailment [MW] (as in ``kpis.json``).
TOL_MW = 1e-3
#: Reasons whose zero is not a curtailment under the contract (the licence or the contract
#: itself is not in force).
NOT_CURTAILMENT = (Reason.SUSPENDED, Reason.OUT_OF_CONTRACT)
_SUSPENDED, _OUT_OF_CONTRACT = (np.int8(r.value) for r in NOT_CURTAILMENT)


class TermsUsage:
    """Curtailed energy of the year and the current event's length, per site.

    Parameters
    ----------
    contracts
        The sites and their terms.
    interval_s
        Dispatch interval [s].
    year_h
        Length of the contract year [h] (8,760; the simulated period when shorter): the annual
        budget is ``annual_curtailment_limit x allocated_mw x year_h`` [MWh].

    Examples
    --------
    >>> from offtake.dispatch.contracts import Contracts, SiteTerms
    >>> site = SiteTerms("m", "o", "a", "mining", 0.0, 10.0, 1.0, 0.5, 0.5, 60.0, 70.0)
    >>> usage = TermsUsage(Contracts.from_sites([site], ["a"]), 900.0, 8760.0)
    >>> usage.observe(np.array([0.0]), np.array([Reason.ZONE_LIMIT], dtype=np.int8))
    >>> usage.protected().tolist()  # 15 min curtailed, one more would make 30 min: still allowed
    [False]
    >>> usage.observe(np.array([0.0]), np.array([Reason.ZONE_LIMIT], dtype=np.int8))
    >>> usage.protected().tolist()  # a third interval would pass the 0.5 h event limit
    [True]
    """

    def __init__(self, contracts: Contracts, interval_s: float, year_h: float) -> None:
        alloc = contracts.allocated_mw
        step_h = interval_s / 3600.0
        self._alloc = alloc
        self._step_h = step_h
        self.budget_mwh: F64 = contracts.annual_curtailment_limit * alloc * year_h
        self.curtailed_mwh: F64 = np.zeros(contracts.n_sites)
        self.event_h: F64 = np.zeros(contracts.n_sites)
        # Thresholds precomputed for the hot path of the simulated year.
        eps = 1e-9
        self._below = alloc - TOL_MW
        self._spent_at = self.budget_mwh - alloc * step_h + eps
        self._long_at = contracts.max_curtailment_duration_h - step_h + eps
        self._has_alloc = alloc > 0
        self._buf = np.empty(contracts.n_sites)

    def observe(self, cap_mw: F64, reason: NDArray[np.int8]) -> None:
        """Count one dispatched interval: its caps [MW] and reasons."""
        counted = cap_mw < self._below
        counted &= reason != _SUSPENDED
        counted &= reason != _OUT_OF_CONTRACT
        buf = self._buf
        np.subtract(self._alloc, cap_mw, out=buf)
        buf *= counted
        buf *= self._step_h
        self.curtailed_mwh += buf
        self.event_h += self._step_h
        self.event_h *= counted

    def protected(self) -> NDArray[np.bool_]:
        """Sites that would break a term if curtailed in the next interval.

        The annual budget is used up (within one interval of full curtailment), or the
        current event has run as long as the contract allows less one interval.
        """
        out = self.curtailed_mwh > self._spent_at
        out |= self.event_h > self._long_at
        out &= self._has_alloc
        return out


# --- One definition of a curtailment event and of the curtailment rate -----------------------
# The simulated year's kpis.json (offtake.simulation.kpis) and the plan's own check
# (offtake.planning.terms_check) both read a period of caps (or served load) through these.


def curtailed_intervals(cap_mw: F64, allocated_mw: F64, reason: NDArray[np.int8] | None = None) -> NDArray[np.bool_]:
    """Which intervals count as curtailment under the contract, per site.

    Parameters
    ----------
    cap_mw
        Cap (or load served) per interval and site [MW], shape (T, N).
    allocated_mw
        Each site's allocation [MW], shape (N,).
    reason
        Dispatch reason per interval and site, shape (T, N); intervals under a suspended
        licence or outside the contract's dates (:data:`NOT_CURTAILMENT`) do not count.
        None: every interval counts (a plan has no reasons).

    Returns
    -------
    numpy.ndarray
        True where the site was held more than :data:`TOL_MW` below its allocation.
    """
    out: NDArray[np.bool_] = np.asarray(cap_mw) < np.asarray(allocated_mw)[None, :] - TOL_MW
    if reason is not None:
        out &= reason != _SUSPENDED
        out &= reason != _OUT_OF_CONTRACT
    return out


def curtailment_runs(curtailed: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Start index and length of each run of True in a 1-D boolean array (one event per run)."""
    edges = np.diff(np.concatenate(([0], curtailed.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return starts, ends - starts


def term_figures(
    cap_mw: F64,
    contracts: Contracts,
    step_h: float,
    curtailed: NDArray[np.bool_],
    floor_counted: NDArray[np.bool_] | None = None,
) -> list[dict[str, Any]]:
    """Each site's use of its curtailment terms over a period: rate, events and floor.

    Parameters
    ----------
    cap_mw
        Cap (or load served) per interval and site [MW], shape (T, N).
    contracts
        The sites and their terms.
    step_h
        Length of one interval [h].
    curtailed
        The intervals that count as curtailment, from :func:`curtailed_intervals`.
    floor_counted
        Intervals where a cap below the floor breaks the contract, shape (T, N) (the
        simulated year leaves out declared emergencies); None: all of them.

    Returns
    -------
    list of dict
        Per site, in contract order: ``curtailed_mwh`` (allocation minus cap over curtailed
        intervals) [MWh], ``curtailment_rate`` (that over the allocated energy of the period)
        [-], ``annual_curtailment_limit``, ``within_annual_limit``, ``events``,
        ``mean_event_h``, ``longest_event_h``, ``max_curtailment_duration_h``,
        ``events_longer_than_contract``, ``curtailed_hours``, ``hours_below_floor``,
        ``hours_below_floor_outside_emergency`` [h], ``floor_mw`` [MW] and ``lengths_h``
        (every event's length) [h].
    """
    cap = np.asarray(cap_mw, dtype=float)
    hours = cap.shape[0] * step_h
    gap = np.where(curtailed, contracts.allocated_mw[None, :] - cap, 0.0)
    curtailed_mwh = gap.sum(axis=0) * step_h
    below = (cap < contracts.floor_mw[None, :] - TOL_MW) & contracts.is_ai[None, :]
    below_counted = below if floor_counted is None else below & floor_counted
    out: list[dict[str, Any]] = []
    for i in range(contracts.n_sites):
        alloc = float(contracts.allocated_mw[i])
        _, lengths = curtailment_runs(curtailed[:, i])
        lengths_h = lengths * step_h
        rate = float(curtailed_mwh[i]) / (alloc * hours) if alloc > 0 and hours > 0 else 0.0
        limit = float(contracts.annual_curtailment_limit[i])
        limit_h = float(contracts.max_curtailment_duration_h[i])
        out.append(
            {
                "curtailed_mwh": float(curtailed_mwh[i]),
                "curtailment_rate": rate,
                "annual_curtailment_limit": limit,
                "within_annual_limit": bool(rate <= limit + 1e-9),
                "events": int(lengths.size),
                "mean_event_h": float(lengths_h.mean()) if lengths_h.size else 0.0,
                "longest_event_h": float(lengths_h.max()) if lengths_h.size else 0.0,
                "max_curtailment_duration_h": limit_h,
                "events_longer_than_contract": int((lengths_h > limit_h + 1e-9).sum()),
                "curtailed_hours": float(curtailed[:, i].sum() * step_h),
                "hours_below_floor": float(below[:, i].sum() * step_h),
                "hours_below_floor_outside_emergency": float(below_counted[:, i].sum() * step_h),
                "floor_mw": float(contracts.floor_mw[i]),
                "lengths_h": lengths_h,
            }
        )
    return out


def contract_breaches(sites: list[dict[str, Any]], hours: float, *, tolerance_mwh: float = 0.0) -> dict[str, Any]:
    """Which contract terms each site broke over a period (a simulated year, a plan), and by how much.

    Parameters
    ----------
    sites
        Per site: ``site_id``, ``allocated_mw`` and the figures of :func:`term_figures`.
    hours
        Length of the period [h].
    tolerance_mwh
        Curtailed energy over the annual limit that is not yet a breach [MWh] (a plan passes
        its solver's tolerance; the simulated year none).

    Returns
    -------
    dict
        ``sites_breaking_terms`` (ids), ``breaches`` (one entry per site and term broken:
        ``annual_curtailment_limit`` with the curtailed energy over the limit [MWh],
        ``max_curtailment_duration_h`` with the longest event and the events over it, ``floor``
        with the hours below it outside declared emergencies) and the ``rule`` in words.
    """
    breaches: list[dict[str, Any]] = []
    for site in sites:
        sid = site["site_id"]
        allowed_mwh = site["annual_curtailment_limit"] * site["allocated_mw"] * hours
        if not site["within_annual_limit"] and site["curtailed_mwh"] - allowed_mwh > tolerance_mwh:
            breaches.append(
                {
                    "site_id": sid,
                    "term": "annual_curtailment_limit",
                    "limit": site["annual_curtailment_limit"],
                    "actual": site["curtailment_rate"],
                    "excess_mwh": site["curtailed_mwh"] - allowed_mwh,
                }
            )
        if site["events_longer_than_contract"]:
            breaches.append(
                {
                    "site_id": sid,
                    "term": "max_curtailment_duration_h",
                    "limit": site["max_curtailment_duration_h"],
                    "actual": site["longest_event_h"],
                    "events_over": site["events_longer_than_contract"],
                }
            )
        if site["hours_below_floor_outside_emergency"] > 0:
            breaches.append(
                {
                    "site_id": sid,
                    "term": "floor",
                    "limit": site["floor_mw"],
                    "actual": site["hours_below_floor_outside_emergency"],
                    "hours_below": site["hours_below_floor_outside_emergency"],
                }
            )
    return {
        "sites_breaking_terms": sorted({b["site_id"] for b in breaches}),
        "breaches": breaches,
        "rule": (
            "curtailment counts every interval capped below the allocation except for a suspended licence "
            "or outside the contract's dates; floors are released in a declared emergency, so only hours "
            "below the floor outside emergencies break the contract"
        ),
    }
