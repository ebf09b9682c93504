"""The simulated year over several seeds and allocations: issue 13's "done when" figures.

For each allocation (the planner's and the benchmark's) and each seed, the Pakistan year at
5-minute steps is simulated twice: with a site that ignores its cap (the default of
``offtake simulate``) for the safety and suspension figures, and with none for the energy
figure (the target counts every site, suspended ones too, on years where no site ignores its
cap). One line per run:

* ``dispatch``: intervals outside the real deliverable region put down to dispatch's own
  causes (``kpis.json`` ``safety.by_cause`` outside ``kpis.UNFORESEEN_CAUSES``: emergency after
  onset, site response lag the forecast showed in time, staggered curtailment, load above the
  forecast region); target 0;
* ``unforeseen``: those put down to a site ignoring its cap, an emergency's onset, a unit trip
  inside the interval, a drop not in the forecast within the lagging sites' response time, or a
  forecast error beyond the margin (the load within the forecast);
* ``energy``: absorbed within caps over the planner's bound, all sites (target >= 97 %), and
  the look-ahead's cost [MWh];
* ``false``: sites suspended that followed their caps (target 0);
* ``broken``: sites whose year broke a contract term (``kpis.json`` ``contracts``);
* ``lag s``: the longest run of intervals put down to a drop not in the forecast within the
  response time, against its bound (the longest planned response time in whole intervals) [s].

Full run (about 20 runs of the year; minutes each on a quiet machine)::

    offtake plan --scenario pakistan-2025 \\
        --sites src/offtake/data/scenarios/pakistan-2025/sites-illustrative.csv \\
        --cap-mw 2000 --out /tmp/plan
    PYTHONPATH=src python benchmarks/bench_seeds.py \\
        --allocation planner=/tmp/plan/allocation.csv --seeds 1-5

Quick check (one seed, the first 14 days, the benchmark allocation only)::

    PYTHONPATH=src python benchmarks/bench_seeds.py --seeds 1 --days 14

With ``--days`` the planner's bound is scaled to the days simulated (it is a year's figure).

Measured (2 cores shared, load 8-11), ``--seeds 1 --days 14`` with the benchmark allocation and
the planner's (``offtake plan`` as above: KE's AI sites get nothing,
the firm deliverable surplus of KE alone being 0 after the margin): 0 intervals over the real
region by dispatch's own causes in all four runs; 1-2 unforeseen (benchmark), 0 (planner);
energy 99.2 % (benchmark) and 99.9 % (planner) of the bound with no site ignoring its cap;
look-ahead cost 212-300 MWh (benchmark), 44-64 MWh (planner); no obedient site suspended, no
contract term broken; 4-6 s per 14-day run. The full five seeds over the year: not yet run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from offtake import scenario as scenario_mod
from offtake.cli._period import first_days
from offtake.dispatch import read_allocation
from offtake.simulation import compute_kpis, simulate
from offtake.simulation.kpis import ENERGY_TARGET, UNFORESEEN_CAUSES
from offtake.simulation.region import ScheduledSets
from offtake.surplus import assess_surplus
from offtake.surplus.assess import set_surplus

BENCHMARK = Path(__file__).parent / "data" / "pakistan-2025-allocation.csv"
#: Events nobody can foresee inside an interval; the rest are dispatch's (kpis.EXCEEDANCE_CAUSES).
UNFORESEEN = UNFORESEEN_CAUSES


def _seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-", 1)
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def _row(kpis: dict[str, Any], scale: float) -> dict[str, Any]:
    causes = kpis["safety"]["by_cause"]
    energy = kpis["energy"]
    bound = energy["planner_bound_mwh"] * scale
    sites = {s["site_id"]: s for s in kpis["sites"]}
    ignoring = kpis["ignoring_site"]
    return {
        "over": kpis["safety"]["intervals_over_real_surplus"],
        "dispatch": sum(c["intervals"] for n, c in causes.items() if n not in UNFORESEEN),
        "unforeseen": sum(causes[n]["intervals"] for n in UNFORESEEN),
        "share": energy["absorbed_within_caps_mwh"] / bound if bound > 0 else float("nan"),
        "lookahead_mwh": energy["lookahead_cost_mwh"],
        "false": len(ignoring["false_positives"]),
        "broken": len(kpis["contracts"]["sites_breaking_terms"]),
        "below_floor_h": sum(s["hours_below_floor_outside_emergency"] for s in sites.values()),
        "lag_run_s": kpis["safety"]["unforeseen_lag"]["longest_run_s"],
        "lag_bound_s": kpis["safety"]["unforeseen_lag"]["bound_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allocation", action="append", default=[], help="NAME=PATH of an allocation.csv")
    parser.add_argument("--seeds", default="1-5", help="e.g. 1-5 or 1,3")
    parser.add_argument("--days", type=int, default=None, help="simulate only the first N days")
    parser.add_argument("--step-s", type=float, default=300.0)
    args = parser.parse_args()
    allocations = {"benchmark": BENCHMARK}
    for item in args.allocation:
        name, _, path = item.partition("=")
        allocations[name] = Path(path)
    full = scenario_mod.load("pakistan-2025")
    scenario = first_days(full, args.days)
    scale = len(scenario.index) / len(full.index)
    start = time.perf_counter()
    assessed = assess_surplus(scenario)
    sets = ScheduledSets(*set_surplus(scenario, assessed.tariff_usd_per_mwh, assessed.baseline))
    print(f"surplus assessment {time.perf_counter() - start:.1f} s; {len(scenario.index)} hours")
    header = (
        f"{'allocation':<11}{'seed':>5}{'ignoring':>10}{'over':>6}{'dispatch':>9}{'unforeseen':>11}"
        f"{'energy':>9}{'lookahead MWh':>14}{'false':>6}{'broken':>7}{'h<floor':>9}{'lag s':>11}{'run s':>7}"
    )
    print(header)
    worst_share, worst_dispatch, worst_false = 1.0, 0, 0
    for name, path in allocations.items():
        contracts = read_allocation(path, scenario.zone_ids)
        for seed in _seeds(args.seeds):
            for ignoring in ("auto", None):
                t0 = time.perf_counter()
                result = simulate(
                    scenario,
                    contracts,
                    assessed.zone_mw,
                    national_surplus_mw=assessed.national_mw,
                    sets=sets,
                    step_s=args.step_s,
                    seed=seed,
                    ignoring_site=ignoring,
                )
                row = _row(compute_kpis(result), scale)
                run_s = time.perf_counter() - t0
                worst_dispatch = max(worst_dispatch, row["dispatch"])
                worst_false = max(worst_false, row["false"])
                if ignoring is None:
                    worst_share = min(worst_share, row["share"])
                print(
                    f"{name:<11}{seed:>5}{ignoring or 'none':>10}{row['over']:>6}{row['dispatch']:>9}"
                    f"{row['unforeseen']:>11}{row['share']:>9.1%}{row['lookahead_mwh']:>14,.1f}"
                    f"{row['false']:>6}{row['broken']:>7}{row['below_floor_h']:>9,.1f}"
                    f"{row['lag_run_s']:>5.0f}/{row['lag_bound_s']:<5.0f}{run_s:>7.1f}",
                    flush=True,
                )
    print(
        f"worst: {worst_dispatch} intervals over real surplus by dispatch's own causes (target 0); "
        f"energy {worst_share:.1%} of the planner's bound with no site ignoring its cap "
        f"(target {ENERGY_TARGET:.0%}); {worst_false} obedient sites suspended (target 0)"
    )


if __name__ == "__main__":
    main()
