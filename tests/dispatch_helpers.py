"""Builders shared by the dispatch and simulation tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from offtake.dispatch import Contracts, DispatchPolicy, SiteState

# (site_id, zone, kind, firm_mw, interruptible_mw, max_curtailment_fraction, tariff, rule)
Row = tuple[str, str, str, float, float, float, float, str]


def make_contracts(rows: Sequence[Row], zones: Sequence[str], response_time_s: float = 0.0) -> Contracts:
    """Contracts of the given rows; sites answer at once unless ``response_time_s`` says otherwise.

    The hand-worked rule cases use instant sites, so that a site's ramp down (the room kept for
    it and the look-ahead, tested on their own) does not move the figures they check.
    """
    frame = pd.DataFrame(
        rows,
        columns=[
            "site_id",
            "zone",
            "kind",
            "firm_mw",
            "interruptible_mw",
            "max_curtailment_fraction",
            "tariff_usd_per_mwh",
            "priority_rule",
        ],
    )
    frame["operator"] = "op"
    frame["allocated_mw"] = frame["firm_mw"] + frame["interruptible_mw"]
    frame["max_curtailment_duration_h"] = 3.0
    frame["annual_curtailment_limit"] = 0.05
    frame["response_time_s"] = response_time_s
    for col in ("expected_energy_mwh", "curtailed_hours", "curtailment_events", "mean_event_h"):
        frame[col] = 0.0
    return Contracts.from_frame(frame, list(zones))


def policy(**kw: float) -> DispatchPolicy:
    base = {
        "interval_s": 300.0,
        "safety_k": 0.0,
        "contingency_limit_mw": 1e9,
        "ramp_up_fraction_per_min": 1e6,
        "reference_tariff_usd_per_mwh": 80.0,
    }
    base.update(kw)
    return DispatchPolicy(**base)


def running(contracts: Contracts, pol: DispatchPolicy, share: float = 1.0) -> SiteState:
    """All sites drawing ``share`` of their allocation."""
    return SiteState.initial(contracts, pol, contracts.allocated_mw * share)


def zone_sums(contracts: Contracts, caps: np.ndarray) -> np.ndarray:
    return np.bincount(contracts.zone_index, weights=caps, minlength=contracts.n_zones)
