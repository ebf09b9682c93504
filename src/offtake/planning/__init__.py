"""Allocation planning: how many MW each candidate site gets, where, firm or interruptible.

One optimisation over the whole scenario period (linopy + HiGHS) decides each site's firm and
interruptible tranches, with every demand met, reserve kept, corridors and plant availability
respected, each site's curtailment terms, the national cap, a contingency limit on the
simultaneous curtailment step, and the no-subsidy rule. See :mod:`offtake.planning.model`; the
grid model it adds the sites to is :mod:`offtake.grid`.
"""

from __future__ import annotations

from offtake.grid.solve import SolveError
from offtake.planning.allocation import write_allocation_csv
from offtake.planning.defaults import PlanningDefaults, planning_defaults
from offtake.planning.model import PlanOptions
from offtake.planning.planner import plan
from offtake.planning.results import ALLOCATION_COLUMNS, PlanResult, curtailment_stats
from offtake.planning.sites import SITE_COLUMNS, read_sites, validate_sites

__all__ = [
    "ALLOCATION_COLUMNS",
    "SITE_COLUMNS",
    "PlanOptions",
    "PlanResult",
    "PlanningDefaults",
    "SolveError",
    "curtailment_stats",
    "plan",
    "planning_defaults",
    "read_sites",
    "validate_sites",
    "write_allocation_csv",
]
