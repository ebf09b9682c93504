"""Simulate the year a plan was made for, on a few seeds, and read each site's contract terms.

The driver-level step behind ``offtake plan``'s check (:mod:`offtake.planning.simulated_terms`):
the same run as ``offtake simulate --allocation allocation.csv --step S --seed N`` (the surplus
assessed on the scenario, every zone set's value, the sourced dispatch policy, a site drawn to
ignore its cap), read through ``kpis.json``'s own ``contracts`` section, so that every breach
those runs show is in the plan report before anyone runs them. Each breach gets a cause in
words: the dispatch reasons of its intervals and the emergencies in force elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from offtake.dispatch import Contracts
from offtake.dispatch.core import Reason
from offtake.dispatch.terms import TOL_MW, curtailed_intervals, curtailment_runs
from offtake.planning.simulated_terms import SimulatedRun, SimulatedTerms
from offtake.scenario import Scenario
from offtake.simulation.engine import SimulationResult, simulate
from offtake.simulation.kpis import compute_kpis
from offtake.simulation.region import ScheduledSets
from offtake.surplus import assess_surplus
from offtake.surplus.assess import set_surplus

__all__ = ["check_plan_by_simulation", "parse_seeds"]

#: Most seeds one check runs (each is a whole simulated year).
MAX_SEEDS = 50


def parse_seeds(text: str, *, field: str = "--check-seeds") -> list[int]:
    """Parse ``1-5``, ``3,5`` or ``none`` (no check) into seeds.

    Raises
    ------
    offtake.errors.InputError
        Naming ``field``, for anything else, a seed below 0 or more than :data:`MAX_SEEDS` seeds.
    """
    from offtake.errors import InputError

    words = text.strip().lower()
    if words in ("none", ""):
        return []
    seeds: list[int] = []
    try:
        for part in words.split(","):
            lo, sep, hi = part.strip().partition("-")
            seeds.extend(range(int(lo), int(hi) + 1) if sep else [int(lo)])
    except ValueError:
        raise InputError(f"'{text}' is not seeds such as 1-5, 3,5 or none", field=field) from None
    if any(s < 0 for s in seeds) or not seeds:
        raise InputError(f"'{text}': seeds are whole numbers >= 0, e.g. 1-5", field=field)
    if len(seeds) > MAX_SEEDS:
        raise InputError(f"'{text}' is {len(seeds)} seeds; at most {MAX_SEEDS} (each is a simulated year)", field=field)
    return sorted(set(seeds))


def check_plan_by_simulation(
    scenario: Scenario,
    contracts: Contracts,
    seeds: Sequence[int],
    step_s: float,
    *,
    progress: Callable[[str], None] | None = None,
) -> SimulatedTerms:
    """Simulate the scenario's period with a plan's contracts on each seed; collect every breach.

    Parameters
    ----------
    scenario
        The scenario planned (the same period).
    contracts
        The plan's allocation, as ``offtake simulate`` reads it (``read_allocation``).
    seeds
        Seeds of the years to simulate.
    step_s
        Dispatch step [s]; must divide the scenario's interval.
    progress
        Called with a short message per seed.

    Returns
    -------
    SimulatedTerms
        Per seed, the site that ignored its cap and every contract breach of ``kpis.json``,
        each with its cause.
    """
    if progress is not None:
        progress("assessing the surplus and every zone set's value for the simulated years")
    assessed = assess_surplus(scenario)
    sets = ScheduledSets(*set_surplus(scenario, assessed.tariff_usd_per_mwh, assessed.baseline))
    runs = []
    for seed in seeds:
        if progress is not None:
            progress(f"simulating the planned year at {step_s / 60:g} min, seed {seed}, to check contract terms")
        result = simulate(
            scenario,
            contracts,
            assessed.zone_mw,
            national_surplus_mw=assessed.national_mw,
            sets=sets,
            step_s=step_s,
            seed=seed,
            ignoring_site="auto",
        )
        breaches = compute_kpis(result)["contracts"]["breaches"]
        for b in breaches:
            b["cause"] = breach_cause(result, contracts.site_ids.index(str(b["site_id"])), str(b["term"]))
        ignoring = None if result.ignoring_site is None else contracts.site_ids[result.ignoring_site]
        runs.append(SimulatedRun(seed, ignoring, breaches))
    rule = (
        f"the planned period simulated at {step_s / 60:g} min on seeds {', '.join(str(s) for s in seeds)} exactly "
        "as offtake simulate runs it (forecast error, forced outages, emergencies, response lag, a site drawn to "
        "ignore its cap), each site's caps read against its terms as kpis.json does; floors count outside "
        "emergencies of the site's own zone"
    )
    return SimulatedTerms(float(step_s), runs, rule)


def breach_cause(result: SimulationResult, site: int, term: str) -> str:
    """Say what cut a site in the intervals of one breach: dispatch reasons and emergencies elsewhere.

    Parameters
    ----------
    result
        The simulated year.
    site
        The site's position in the contracts.
    term
        ``floor`` (the intervals below the floor outside the zone's emergencies),
        ``max_curtailment_duration_h`` (the longest event) or ``annual_curtailment_limit``
        (every curtailed interval).

    Returns
    -------
    str
        E.g. ``cut by zone_limit (97 intervals), national_limit (18); emergency in LESCO``.
    """
    c = result.contracts
    zone = int(c.zone_index[site])
    cap = result.cap_mw[:, site]
    if term == "floor":
        mask = (cap < c.floor_mw[site] - TOL_MW) & ~result.emergency_zone[:, zone]
    else:
        one = [site]
        curtailed = curtailed_intervals(result.cap_mw[:, one], c.allocated_mw[one], result.reason[:, one])[:, 0]
        mask = curtailed
        if term == "max_curtailment_duration_h":
            starts, lengths = curtailment_runs(curtailed)
            mask = np.zeros(curtailed.shape, dtype=bool)
            if lengths.size:
                k = int(np.argmax(lengths))
                mask[starts[k] : starts[k] + lengths[k]] = True
    return _words(result, mask, zone, site)


def _words(result: SimulationResult, mask: NDArray[np.bool_], zone: int, site: int) -> str:
    """Name the reasons of a site's caps in ``mask``, most frequent first, and emergencies in other zones."""
    if not mask.any():
        return ""
    codes, counts = np.unique(result.reason[mask, site], return_counts=True)
    order = np.argsort(-counts)
    parts = [f"{Reason(int(codes[k])).name.lower()} ({int(counts[k])} intervals)" for k in order]
    text = "cut by " + ", ".join(parts)
    others = np.asarray(result.emergency_zone[mask].any(axis=0), dtype=bool)
    others[zone] = False
    elsewhere = [result.zone_ids[z] for z in np.flatnonzero(others)]
    if elsewhere:
        text += f"; emergency in {', '.join(elsewhere)} meanwhile"
    return text
