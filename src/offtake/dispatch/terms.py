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

import numpy as np
from numpy.typing import NDArray

from offtake.dispatch.contracts import Contracts
from offtake.dispatch.core import Reason

__all__ = ["NOT_CURTAILMENT", "TermsUsage"]

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
