"""Benchmark: plan the full Pakistan year (8,760 h) for the ~20 illustrative sites, as an LP.

Target (issue 3): built and solved in under 60 s and under 4 GB. Reports the baseline
dispatch, the model build and the solve apart, peak memory, and the build time of the same
model in PyPSA (``tests/pypsa_peer.py``).

Run::

    PYTHONPATH=src python benchmarks/bench_plan.py [--method auto|simplex|pdlp] [--skip-pypsa]
        [--expand [--days-sample N]] [--days N]

Measured on the 2-core machine, quiet (HiGHS 1.15, linopy 0.10, ``method=auto`` = PDLP):
baseline dispatch (build + solve, simplex) 5.4 s; offtake build 0.7 s (516,880 variables,
367,981 constraints: corridor limits are flow bounds, step rows only where a solution breaks
the limit, none needed here); solve 34.3 s, relative primal-dual objective error 4.3e-9,
relative primal infeasibility 4.0e-10; build + solve 35.0 s (target 60 s); the whole plan
with baseline and results 47.7 s; peak memory 1.26 GB (target 4 GB). PyPSA build of the same
model 3.1 s (946,080 variables). With ``--method simplex`` the same LP did not finish in
900 s (dual simplex; 730 h take 6 s, 1,460 h 35 s).

With new renewables on per-zone physics profiles (``--expand --days-sample 28 --skip-pypsa``), on a
quiet machine (load average 1): sizing on 28 days 17.3 s; baseline 8.9 s; the year with the build
fixed built in 0.7 s and solved by PDLP in 54.7 s (543,161 variables, 385,504 constraints; relative
objective error 3.7e-9): build + solve 55.4 s (target 60 s MET); whole plan 84.7 s wall, 86.0 s CPU,
peak 1.38 GB. Build: 1,116 MW of wind in HESCO, no solar, no battery; 3.40 TWh to the sites (20.0 %
of their energy) at 53.4 USD/MWh; net margin 538.6 M USD.

One baseline per plan (``offtake.grid``), measured once before and once after, same machine,
``--skip-pypsa``: before, the planner solved its own whole-year baseline (5.3 s) and the
surplus figures solved a second one inside the results (results stage 6.0 s); whole plan
43.0 s, peak 1,316 MB. After, the one block-wise least-cost dispatch (6.4 s) is shared by the
no-subsidy rows and the surplus figures (results stage 0.8 s); whole plan 47.7 s, of which the
PDLP solve 39.7 s against 31.0 s before on the same LP (516,880 variables, 367,981
constraints; the solve time varies with the load of the shared machine); peak 724 MB. Same
allocation (2,000.0 MW), energy (17,508,478 MWh) and net margin (584,739,091 USD).

With new renewables (issue 17), ``--expand [--days-sample N]``, bundled candidates and costs
(``data/economics/expansion.toml``); measured on the shared 2-core machine while other engineers
ran tests (load average 3-7, so wall times are pessimistic; CPU time of the process given too):

* ``--expand --days-sample 28`` (what ``offtake plan --expand`` does for a year): sizing on 28 days
  spread over the year (its own baseline, 67,271 variables, 75,997 constraints, HiGHS interior
  point without crossover) 44.4 s; whole-year baseline 10.4 s; the year planned with the build
  fixed (only what was built gets variables: 525,641 variables, 385,501 constraints) built in
  0.7 s and solved by PDLP in 34.0 s (relative objective error 1.9e-9); whole plan 90.5 s wall,
  63.0 s CPU, peak 1.13 GB (load average 3.2-5.3). Build: 383 MW of solar, no wind, no battery;
  0.59 TWh of new energy to the sites (3.4 % of their energy) at 59.7 USD/MWh; net margin after
  the build 593.04 M USD against 584.74 M USD without the option.
* Sizing on the whole year in one LP (``--expand --days-sample`` unset; ``offtake plan --expand
  --expand-days 0``): 876,071 variables, 989,941 constraints, built in 1.4 s, solved by PDLP in
  116.9 s (relative objective error 2.8e-9); whole plan 129.7 s wall, 122.6 s CPU, peak 1.37 GB
  (load average 2.0-2.9). Build: 377 MW of solar, no wind, no battery; 0.58 TWh to the sites
  (3.3 %) at 59.5 USD/MWh; net margin after the build 593,048,213 USD. (An earlier try at load 11
  was stopped unfinished after 80 s of CPU.)
* Sample error against that one LP: 28 days build 383 MW of solar (+1.6 %) and reach a net margin
  3,471 USD lower (0.0006 %); 56 days 381 MW and 1,589 USD lower, in 251.4 s wall, 120.4 s CPU
  (sizing 178.6 s), no faster than the one LP. Sizing on 4 whole weeks spread over the year
  instead (Jul, Oct, Feb, Jun) built 384 MW of solar and 807 MW of wind and left a net margin of
  569.65 M USD, below the plan without any build: a few weeks over-weight their seasons (here the
  monsoon winds), so the option samples days. On the first 56 days alone, one LP against sizing on
  2 of its 8 weeks: net margin 102.89 against 102.62 M USD (0.27 %). On the first 28 days in one
  LP, dual simplex needed 62.9 s CPU and interior point 27.9 s for the same optimum (objective
  equal to the dollar), hence interior point for sizing.

So with the option a year takes about 1.3 times the plain plan's CPU time (63 s against 47.7 s) when
sized on 28 days (the default of ``offtake plan --expand`` for a year) and about 2.6 times (123 s)
in one LP. For quiet figures run ``PYTHONPATH=src python benchmarks/bench_plan.py --expand
--days-sample 28 --skip-pypsa``, and without ``--days-sample`` for the one-LP year.

With physics candidate profiles (pvlib utility PV at each zone's position, the Jhimpir-Gharo
windpowerlib profile allowed in HESCO and KE; issue 17, second step), ``--expand --days-sample 28
--skip-pypsa`` at load average 8-9 on the 2 shared cores: sizing 90.2 s (69,288 variables,
76,671 constraints); whole-year baseline 32.6 s; the year with the build fixed (543,161
variables, 385,504 constraints) built in 3.1 s, PDLP 183.8 s (objective error 3.7e-9); whole
plan 322.2 s wall, 92.0 s CPU, peak 1.39 GB. Build: 1,116 MW of wind, no solar, no battery;
3.40 TWh to the sites (20.0 % of their energy) at 53.4 USD/MWh; net margin after the build
538.61 M USD against 525.82 M USD for the plan without the option on the same tree (``--skip-pypsa``
without ``--expand``, measured just after at load 1-4: 53.7 s wall, 52.5 s CPU, 16.90 TWh; the
scenario has changed since the 584.74 M USD above). The finance cases of the bundled file
(``offtake plan --expand --finance-cases``, sized on the same 28 days): at 3 % real 2,246 MW of
solar and 1,499 MW of wind, 45.1 % renewable at 33.9 USD/MWh; at 5-5.5 % about 2,000 MW of solar
and 1,400 MW of wind, 42-43 % at 39-41 USD/MWh; at 10 % the base build (19.9 %, 52.4 USD/MWh).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from offtake import scenario
from offtake.cli._period import first_days
from offtake.planning import PlanOptions, plan, read_sites
from offtake.planning.expansion import load_expansion
from offtake.planning.expansion_plan import plan_with_expansion
from offtake.planning.planner import resolve_step_limit


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_s() -> float:
    """CPU time of this process so far [s]: on a shared machine, closer to the quiet wall time than wall time."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--time-limit-s", type=float, default=900.0)
    parser.add_argument("--skip-pypsa", action="store_true")
    parser.add_argument("--method", choices=["auto", "simplex", "pdlp"], default="auto")
    parser.add_argument("--expand", action="store_true", help="with the capacity-expansion option (bundled candidates)")
    parser.add_argument("--days", type=int, default=None, help="only the first N days")
    parser.add_argument(
        "--days-sample",
        type=int,
        default=None,
        help="with --expand: size the build on N evenly spread days, then fix it",
    )
    args = parser.parse_args()

    s = scenario.load("pakistan-2025")
    if args.days is not None:
        s = first_days(s, args.days)
    folder = scenario.resolve_path("pakistan-2025")
    sites = read_sites(folder / "sites-illustrative.csv", s.zone_ids)
    options = PlanOptions(cap_mw=2000.0, method=args.method, solver_options={"time_limit": args.time_limit_s})
    step, _ = resolve_step_limit(s, options)

    t0, c0 = time.perf_counter(), cpu_s()
    say = lambda msg: print(f"  {msg}", flush=True)  # noqa: E731
    if args.expand:
        result = plan_with_expansion(s, sites, options, load_expansion(), days=args.days_sample, progress=say)
    else:
        result = plan(s, sites, options, progress=say)
    total_s, total_cpu_s = time.perf_counter() - t0, cpu_s() - c0
    t = result.timings_s
    n = result.national
    print(f"baseline dispatch (build + solve): {t['baseline_s']:.1f} s")
    print(f"offtake build: {t['build_s']:.1f} s")
    print(
        f"offtake solve: {t['solve_s']:.1f} s ({n['solver_method']}; relative primal-dual "
        f"objective error {n['solver_objective_error_rel']:.1e}, primal infeasibility "
        f"{n['solver_primal_infeasibility_rel']:.1e}), objective {n['objective_value']:,.0f}"
    )
    print(f"offtake build + solve: {t['build_s'] + t['solve_s']:.1f} s (target < 60 s)")
    if "sizing_s" in t:
        print(f"sizing the build on {args.days_sample} days (its own baseline, build, solve): {t['sizing_s']:.1f} s")
    print(f"whole plan with baseline and results: {total_s:.1f} s wall, {total_cpu_s:.1f} s CPU")
    print(
        f"allocated {n['allocated_mw']:,.1f} MW, energy {n['energy_mwh']:,.0f} MWh, "
        f"net margin {n['net_margin_usd']:,.0f} USD; peak memory {peak_mb():,.0f} MB",
        flush=True,
    )
    if result.expansion is not None:
        e, z = result.expansion.totals, result.expansion.zones.loc["national"]
        print(
            f"expansion: solar {z['solar_mw']:,.0f} MW, wind {z['wind_mw']:,.0f} MW, battery "
            f"{z['battery_mw']:,.0f} MW / {z['battery_mwh']:,.0f} MWh; new energy to sites "
            f"{e['renewable_energy_mwh']:,.0f} MWh ({100 * e['renewable_share']:.1f} % of their energy) at "
            f"{e['cost_usd_per_mwh']:,.1f} USD/MWh",
            flush=True,
        )
    del result

    if not args.skip_pypsa:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        import pandas as pd
        from pypsa_peer import build_peer

        g0_plants = pd.DataFrame(0.0, index=range(len(s.index)), columns=s.plants.index)
        t0 = time.perf_counter()
        n = build_peer(s, sites, 2000.0, step, g0_plants)
        pypsa_build_s = time.perf_counter() - t0
        print(
            f"PyPSA build of the same model: {pypsa_build_s:.1f} s, {n.model.nvars:,} variables",
            flush=True,
        )
    print(f"peak memory {peak_mb():,.0f} MB")


if __name__ == "__main__":
    main()
