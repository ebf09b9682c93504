import numpy as np
import pandas as pd

from offtake.risk import SurplusProfiles


def synthetic_profiles(level_mw: float = 800.0) -> SurplusProfiles:
    zones = ("north", "south", "city")
    h = np.arange(24)
    surplus = np.tile(
        (level_mw + 300 * np.cos((h - 3) / 24 * 2 * np.pi))[None, None, :], (3, 12, 1)
    )
    demand = np.full((3, 12, 24), 1200.0)
    return SurplusProfiles(zones, surplus, surplus.sum(axis=0), demand, np.full((3, 12, 24), 55.0))


def allocation(mining_mw: float = 100.0, tariff: float = 60.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "operator": ["a", "b", "c"],
            "zone": ["south", "north", "city"],
            "kind": ["mining", "mining", "ai"],
            "firm_mw": [0.0, 0.0, 40.0],
            "interruptible_mw": [mining_mw, mining_mw, 10.0],
            "allocated_mw": [mining_mw, mining_mw, 50.0],
            "tariff_usd_per_mwh": [tariff, tariff, tariff],
        },
        index=pd.Index(["m1", "m2", "ai1"], name="site_id"),
    )
