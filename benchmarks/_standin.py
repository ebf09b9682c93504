"""A stand-in for the surplus assessment, used by benchmarks until ``offtake.surplus`` is merged.

Per zone alone: available output of units at or below the tariff, less the zone's demand and
its demand-weighted share of the national reserve, floored at zero.
"""

from __future__ import annotations

import pandas as pd

from offtake.scenario import Scenario


def zone_surplus_mw(scenario: Scenario) -> pd.DataFrame:
    try:
        from offtake.surplus import assess_surplus  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        return assess_surplus(scenario).zone_mw
    available = scenario.available_mw
    plants = scenario.plants
    cheap = plants.index[plants["marginal_cost_usd_per_mwh"] <= scenario.default_tariff_usd_per_mwh]
    reserve = scenario.reserve_requirement_mw()
    total = scenario.demand_mw.sum(axis=1)
    out = {}
    for zone in scenario.zone_ids:
        names = [p for p in cheap if plants.loc[p, "zone"] == zone]
        demand = scenario.demand_mw[zone]
        out[zone] = (available[names].sum(axis=1) - demand - reserve * demand / total).clip(lower=0.0)
    return pd.DataFrame(out, index=scenario.index)
