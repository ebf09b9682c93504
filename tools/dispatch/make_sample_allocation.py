"""Write a sample ``allocation.csv`` for the pakistan-2025 scenario (20 sites, about 2.3 GW).

Used by the simulate benchmark and examples until the planner's own allocation is at hand.
Sites sit where the surplus is; ``expected_energy_mwh`` and the curtailment columns
are the perfect-foresight hourly figures: the dispatch priority rules applied to the assessed
surplus with no margin, ramp or stagger.

Run: PYTHONPATH=src python tools/dispatch/make_sample_allocation.py [OUT]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from offtake import scenario as scenario_mod
from offtake.allocation import ALLOCATION_COLUMNS, PRIORITY_COLUMN
from offtake.dispatch import Contracts, Dispatcher, DispatchPolicy, GridState, SiteState

# site_id, zone, kind, firm_mw, interruptible_mw, max_curtailment_fraction, max_event_h,
# annual_limit, response_time_s, tariff, priority_rule
SITES = [
    ("ai-hesco-1", "HESCO", "ai", 300, 0, 0.25, 3, 0.02, 30, 82.07, "pro_rata"),
    ("ai-hesco-2", "HESCO", "ai", 200, 50, 0.30, 3, 0.03, 60, 82.07, "pro_rata"),
    ("mine-hesco-1", "HESCO", "mining", 0, 200, 1.0, 24, 0.10, 16, 82.07, "pro_rata"),
    ("mine-hesco-2", "HESCO", "mining", 0, 150, 1.0, 24, 0.10, 16, 82.07, "pro_rata"),
    ("mine-hesco-3", "HESCO", "mining", 0, 100, 1.0, 24, 0.10, 16, 88.00, "bid"),
    ("ai-thar-1", "THAR", "ai", 100, 50, 0.30, 3, 0.03, 60, 82.07, "pro_rata"),
    ("mine-thar-1", "THAR", "mining", 0, 200, 1.0, 24, 0.10, 16, 82.07, "pro_rata"),
    ("ai-fesco-1", "FESCO", "ai", 100, 0, 0.25, 3, 0.02, 120, 82.07, "pro_rata"),
    ("mine-fesco-1", "FESCO", "mining", 0, 150, 1.0, 24, 0.30, 16, 82.07, "pro_rata"),
    ("mine-fesco-2", "FESCO", "mining", 0, 150, 1.0, 24, 0.30, 16, 82.07, "pro_rata"),
    ("mine-fesco-3", "FESCO", "mining", 0, 50, 1.0, 24, 0.30, 16, 85.00, "bid"),
    ("mine-sepco-1", "SEPCO", "mining", 0, 150, 1.0, 24, 0.30, 16, 82.07, "pro_rata"),
    ("mine-sepco-2", "SEPCO", "mining", 0, 100, 1.0, 24, 0.30, 16, 90.00, "bid"),
    ("mine-pesco-1", "PESCO", "mining", 0, 150, 1.0, 8760, 0.80, 16, 82.07, "pro_rata"),
    ("mine-pesco-2", "PESCO", "mining", 0, 100, 1.0, 8760, 0.80, 16, 82.07, "pro_rata"),
    ("mine-iesco-1", "IESCO", "mining", 0, 80, 1.0, 8760, 0.80, 16, 82.07, "pro_rata"),
    ("mine-iesco-2", "IESCO", "mining", 0, 50, 1.0, 8760, 0.80, 16, 82.07, "pro_rata"),
    ("mine-mepco-1", "MEPCO", "mining", 0, 40, 1.0, 8760, 0.95, 16, 82.07, "pro_rata"),
    ("mine-lesco-1", "LESCO", "mining", 0, 20, 1.0, 8760, 0.99, 16, 82.07, "pro_rata"),
    ("ai-sepco-1", "SEPCO", "ai", 50, 0, 0.25, 3, 0.02, 120, 82.07, "pro_rata"),
]
COLUMNS = [
    "site_id",
    "zone",
    "kind",
    "firm_mw",
    "interruptible_mw",
    "max_curtailment_fraction",
    "max_curtailment_duration_h",
    "annual_curtailment_limit",
    "response_time_s",
    "tariff_usd_per_mwh",
    "priority_rule",
]


def main(out: Path) -> None:
    scenario = scenario_mod.load("pakistan-2025")
    from offtake.surplus import assess_surplus

    assessed = assess_surplus(scenario)
    surplus = assessed.zone_mw[scenario.zone_ids].to_numpy()
    national = assessed.national_mw.to_numpy()
    frame = pd.DataFrame(SITES, columns=COLUMNS)
    frame.insert(
        1, "operator", [f"op-{s.split('-')[0]}-{i + 1}" for i, s in enumerate(frame["site_id"])]
    )
    frame["allocated_mw"] = frame["firm_mw"] + frame["interruptible_mw"]
    for col in ("expected_energy_mwh", "curtailed_hours", "curtailment_events", "mean_event_h"):
        frame[col] = 0.0
    contracts = Contracts.from_frame(frame, scenario.zone_ids)
    policy = DispatchPolicy(
        interval_s=scenario.resolution_s,
        safety_k=0.0,
        contingency_limit_mw=1e12,
        reference_tariff_usd_per_mwh=scenario.default_tariff_usd_per_mwh,
    )
    dispatcher = Dispatcher(contracts, policy)
    state = SiteState.initial(contracts, policy, contracts.allocated_mw)
    state.ramp_up_mw_per_min = np.full(contracts.n_sites, 1e12)
    sigma = np.zeros(contracts.n_zones)
    caps = np.array(
        [
            dispatcher.step(GridState(row, sigma, national_limit_mw=float(nat)), state).cap_mw
            for row, nat in zip(surplus, national, strict=True)
        ]
    )
    hours = scenario.duration_h
    curtailed = caps < contracts.allocated_mw - 1e-6
    frame["expected_energy_mwh"] = (caps.sum(axis=0) * hours).round(1)
    frame["curtailed_hours"] = curtailed.sum(axis=0) * hours
    edges = np.diff(
        np.vstack(
            [np.zeros((1, curtailed.shape[1])), curtailed, np.zeros((1, curtailed.shape[1]))]
        ).astype(int),
        axis=0,
    )
    events = (edges == 1).sum(axis=0)
    frame["curtailment_events"] = events
    frame["mean_event_h"] = np.where(
        events > 0, frame["curtailed_hours"] / np.maximum(events, 1), 0.0
    ).round(2)
    order = [*ALLOCATION_COLUMNS, PRIORITY_COLUMN]
    frame[order].to_csv(out, index=False)
    print(
        f"wrote {out}: {len(frame)} sites, {frame['allocated_mw'].sum():,.0f} MW, "
        f"{frame['expected_energy_mwh'].sum() / 1000:,.0f} GWh expected"
    )


if __name__ == "__main__":
    main(
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path("benchmarks/data/pakistan-2025-allocation.csv")
    )
