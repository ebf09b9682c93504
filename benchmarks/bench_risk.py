"""Benchmark of the risk engine: 10,000 paths x 36 months x 20 sites, in process.

Target: under 5 s and under 2 GB. Measured on the shared 2-core development machine (numpy 2.4,
Python 3.11, load average about 5 from other jobs): 4.2-4.7 s wall time for the run, which also
evaluates 21 uniform tariffs on common random numbers besides the allocation's own; peak traced
allocation 0.12 GB; peak resident set 0.29 GB.

Run: ``PYTHONPATH=src python benchmarks/bench_risk.py``
"""

from __future__ import annotations

import resource
import time
import tracemalloc

import numpy as np
import pandas as pd

from offtake.risk import RiskOptions, SurplusProfiles, build_model, run_risk

N_PATHS = 10_000
N_MONTHS = 36
N_SITES = 20
N_ZONES = 11


def inputs() -> tuple[SurplusProfiles, pd.DataFrame]:
    zones = tuple(f"Z{i}" for i in range(N_ZONES))
    hour = np.arange(24)
    month = np.arange(12)[:, None]
    surplus = np.stack(
        [
            (
                600
                + 80 * i
                + 300 * np.cos((hour - 3) / 24 * 2 * np.pi)[None, :]
                + 200 * np.cos(month / 12 * 2 * np.pi)
            )
            for i in range(N_ZONES)
        ]
    )
    demand = np.full((N_ZONES, 12, 24), 1500.0)
    profiles = SurplusProfiles(
        zones, surplus, 0.6 * surplus.sum(axis=0), demand, np.full((N_ZONES, 12, 24), 55.0)
    )
    sites = pd.DataFrame(
        {
            "operator": "op",
            "zone": [zones[i % N_ZONES] for i in range(N_SITES)],
            "kind": ["mining"] * 15 + ["ai"] * 5,
            "firm_mw": 0.0,
            "interruptible_mw": 100.0,
            "allocated_mw": 100.0,
            "tariff_usd_per_mwh": [82.0 if i % 2 else 75.0 for i in range(N_SITES)],
        },
        index=[f"site-{i}" for i in range(N_SITES)],
    )
    return profiles, sites


def main() -> None:
    profiles, sites = inputs()
    model, context = build_model(
        profiles, sites, RiskOptions(seed=1, n_months=N_MONTHS), exchange_rate_pkr_per_usd=280.0
    )
    started = time.perf_counter()
    result = run_risk(model, context, N_PATHS, progress=None)
    elapsed_s = time.perf_counter() - started
    tracemalloc.start()
    run_risk(model, context, N_PATHS, progress=None)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"{N_PATHS} paths x {N_MONTHS} months x {N_SITES} sites, {model.n_cases} tariff cases: "
        f"{elapsed_s:.2f} s"
    )
    print(
        f"peak traced allocation {traced_peak / 1024**3:.2f} GB; peak resident set {rss_gb:.2f} GB"
    )
    print(
        f"P50 absorbed {np.median(result.arrays['energy_mwh'][0]) / 1e6:.2f} TWh; target < 5 s "
        "and < 2 GB: "
        f"{'met' if elapsed_s < 5 and rss_gb < 2 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
