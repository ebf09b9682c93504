"""Plan with the expansion option over the whole period, or size the build on representative days first.

A whole year of hours with investment choices is a large LP (about 0.9 million variables for the
bundled year). With ``days``, the build is sized on that many whole days spread evenly over the period
(the same allocation model, costs pro rata to the days; days rather than weeks so that every season
is seen: batteries of a few hours cycle within a day, while a few weeks over-weight the seasons they
fall in), and the whole period is then planned with that build fixed: the allocation, dispatch, costs
and renewable shares are those of the whole period; only the sizes come from the sample. The error
of sizing on a sample is measured by ``benchmarks/bench_plan.py --expand --days-sample N`` (figures
in its docstring).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from offtake.errors import InputError
from offtake.planning.expansion import ExpansionData, expansion_case, fix_build
from offtake.planning.model import PlanOptions
from offtake.planning.planner import plan
from offtake.planning.results import PlanResult
from offtake.scenario import Scenario

__all__ = [
    "DEFAULT_SAMPLE_DAYS",
    "SIZING_SOLVER",
    "default_sample_days",
    "plan_with_expansion",
    "sample_days",
    "sizing_options",
]

#: Hours in a day [h].
DAY_H = 24

#: Days the build is sized on by default for periods of ``SAMPLE_FROM_INTERVALS`` or more: on the
#: bundled year 28 days gave nearly the build sized on the whole year in one LP (1.6 % more MW, a net
#: margin 0.0006 % lower) in half the CPU time; figures in ``benchmarks/bench_plan.py`` [-].
DEFAULT_SAMPLE_DAYS = 28

#: Periods of at least this many intervals are sized on sample days by default [-].
SAMPLE_FROM_INTERVALS = 1000


def default_sample_days(scenario: Scenario) -> int | None:
    """Return the days to size the build on by default: ``DEFAULT_SAMPLE_DAYS`` for long periods, else None."""
    if len(scenario.index) < SAMPLE_FROM_INTERVALS:
        return None
    return min(DEFAULT_SAMPLE_DAYS, len(scenario.index) // round(DAY_H / scenario.duration_h))


def sample_days(scenario: Scenario, days: int) -> Scenario:
    """Return the scenario cut to ``days`` whole days spread evenly over its period.

    Raises
    ------
    InputError
        If ``days`` is not between 1 and the number of whole days in the period.
    """
    per_day = round(DAY_H / scenario.duration_h)
    whole = len(scenario.index) // per_day
    if not 1 <= days <= whole:
        raise InputError(f"must be between 1 and {whole} (whole days in the period), got {days}", field="days")
    starts = np.linspace(0, whole - 1, days).round().astype(int) * per_day
    rows = np.concatenate([np.arange(s, s + per_day) for s in starts])
    return replace(
        scenario,
        index=scenario.index[rows],
        availability_pu=scenario.availability_pu.iloc[rows],
        demand_mw=scenario.demand_mw.iloc[rows],
    )


#: HiGHS options of the sizing stage: interior point without crossover. On the bundled year's first
#: 28 days it reaches the simplex optimum (same build, objective equal to 1e-9) in less than half
#: the CPU time (28 s against 63 s for the whole plan); the sizing stage needs no exact vertex or duals.
SIZING_SOLVER: dict[str, float | int | str] = {"solver": "ipm", "run_crossover": "off"}


def sizing_options(options: PlanOptions) -> PlanOptions:
    """Return the options of the sizing stage: interior point unless the caller chose a solver."""
    if options.min_sizes or "solver" in options.solver_options:
        return options
    return replace(options, method="simplex", solver_options={**SIZING_SOLVER, **options.solver_options})


def plan_with_expansion(
    scenario: Scenario,
    sites: pd.DataFrame,
    options: PlanOptions,
    data: ExpansionData,
    *,
    days: int | None = None,
    min_share: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> PlanResult:
    """Plan the allocation with new solar, wind and batteries; optionally size them on sample days.

    Parameters
    ----------
    scenario, sites, options
        As for :func:`offtake.planning.plan`.
    data
        Candidates and costs (:func:`offtake.planning.expansion.load_expansion`).
    days
        Size the build on this many evenly spread days, then plan the whole period with it fixed;
        None sizes it on the whole period in one LP.
    min_share
        Least share of the sites' energy over the period from the new build [-] (held when
        sizing; on sample days, the whole period's share can differ a little).
    progress
        Called with a short message at each stage.
    """
    say = progress or (lambda _: None)
    whole = expansion_case(scenario, sites, data, min_share=min_share)
    if days is None:
        return plan(scenario, sites, options, progress=progress, expansion=whole)
    sample = sample_days(scenario, days)
    say(f"sizing the build on {days} days spread over the period ({len(sample.index):,} intervals)")
    t0 = time.perf_counter()
    sized = plan(
        sample,
        sites,
        sizing_options(options),
        progress=progress,
        expansion=expansion_case(sample, sites, data, min_share=min_share),
    )
    sizing_s = time.perf_counter() - t0
    assert sized.expansion is not None
    say("planning the whole period with that build fixed")
    result = plan(scenario, sites, options, progress=progress, expansion=fix_build(whole, sized.expansion.build))
    result.timings_s["sizing_s"] = sizing_s
    if min_share > 0 and result.expansion is not None:
        got = 100 * result.expansion.totals["renewable_share"]
        result.notes.append(
            f"The build is sized to give the sites at least {100 * min_share:g} % of their energy on the sample "
            f"days; over the whole period they get {got:.1f} %."
        )
    result.notes.append(
        f"The build was sized on {days} days spread evenly over the period ({len(sample.index):,} of "
        f"{len(scenario.index):,} intervals) and the whole period then planned with it fixed; sizing on the "
        "whole period can differ (see benchmarks/bench_plan.py for the measured error)."
    )
    return result
