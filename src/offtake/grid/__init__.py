"""The zonal grid model: plant groups, the least-cost baseline, the LP rows, the no-subsidy rule.

Surplus (:mod:`offtake.surplus`), planning (:mod:`offtake.planning`) and the risk run's
no-subsidy check all build on this one model; see :mod:`offtake.grid.model` for the rows,
:mod:`offtake.grid.baseline` for the must-run and slack treatment and
:mod:`offtake.grid.subsidy` for the definition of "no subsidy".
"""

from __future__ import annotations

from offtake.grid.baseline import Baseline, least_cost_dispatch
from offtake.grid.fleet import Fleet
from offtake.grid.model import Grid, GridVariables, add_grid, corridor_shadow_prices
from offtake.grid.solve import SolveError, solve_model
from offtake.grid.subsidy import NoSubsidyRow, ServingCost, add_no_subsidy_rows, check_no_subsidy

__all__ = [
    "Baseline",
    "Fleet",
    "Grid",
    "GridVariables",
    "NoSubsidyRow",
    "ServingCost",
    "SolveError",
    "add_grid",
    "add_no_subsidy_rows",
    "check_no_subsidy",
    "corridor_shadow_prices",
    "least_cost_dispatch",
    "solve_model",
]
