"""The generating fleet reduced to groups that an LP treats alike.

Plants in the same zone with the same marginal cost, must-run flag and variability are
interchangeable in a linear dispatch, so summing their available capacity is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from offtake.scenario import Scenario

__all__ = ["Fleet"]


@dataclass(frozen=True)
class Fleet:
    """Plant groups of a scenario.

    Attributes
    ----------
    names
        Group labels, ``zone|technology|cost``.
    zone_index
        Zone position (in ``Scenario.zone_ids``) of each group.
    marginal_cost_usd_per_mwh
        Marginal cost per group [USD/MWh].
    must_run
        True where the group produces all its available output.
    variable
        True for variable renewables, which hold no reserve.
    available_mw
        Available capacity per interval and group [MW], shape (intervals, groups).
    """

    names: list[str]
    zone_index: np.ndarray
    marginal_cost_usd_per_mwh: np.ndarray
    must_run: np.ndarray
    variable: np.ndarray
    available_mw: np.ndarray

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Fleet:
        """Group the plants of ``scenario``."""
        plants = scenario.plants
        zone_pos = {z: i for i, z in enumerate(scenario.zone_ids)}
        key = pd.DataFrame(
            {
                "zone": plants["zone"],
                "technology": plants["technology"],
                "cost": plants["marginal_cost_usd_per_mwh"],
                "must_run": plants["must_run"],
                "variable": plants["variable"],
            },
            index=plants.index,
        )
        labels = key.apply(lambda r: f"{r['zone']}|{r['technology']}|{r['cost']:g}|{int(r['must_run'])}", axis=1)
        order = list(dict.fromkeys(labels))
        available = scenario.available_mw.to_numpy()
        grouped = np.zeros((len(scenario.index), len(order)))
        position = {name: i for i, name in enumerate(order)}
        for col, label in enumerate(labels):
            grouped[:, position[label]] += available[:, col]
        first = key.groupby(labels.to_numpy(), sort=False).first().loc[order]
        return cls(
            names=order,
            zone_index=np.array([zone_pos[z] for z in first["zone"]], dtype=int),
            marginal_cost_usd_per_mwh=first["cost"].to_numpy(dtype=float),
            must_run=first["must_run"].to_numpy(dtype=bool),
            variable=first["variable"].to_numpy(dtype=bool),
            available_mw=grouped,
        )

    @property
    def dispatchable(self) -> np.ndarray:
        """True for groups that count towards reserve (not variable)."""
        return ~self.variable
