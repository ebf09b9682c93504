"""The generating fleet reduced to groups that an LP treats alike: the one plant grouping.

Plants in the same zone with the same technology, marginal cost, must-run flag and minimum
loading are interchangeable in a linear dispatch, so summing their available capacity (and
their contractual minimum output) is exact. The
surplus assessment, the planner and the no-subsidy check all dispatch these groups; a
group's output is split back over its plants in proportion to their availability.
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
        Group labels, ``zone|technology|cost|must_run``, with ``|min<share>`` appended for
        plants under a minimum off-take of that share of capacity.
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
    min_output_mw
        Least output per interval and group that fuel contracts require (minimum off-take)
        [MW], shape (intervals, groups); 0 for groups without one, at most ``available_mw``.
    plant_group
        Group label of every plant (index: plant id).
    """

    names: list[str]
    zone_index: np.ndarray
    marginal_cost_usd_per_mwh: np.ndarray
    must_run: np.ndarray
    variable: np.ndarray
    available_mw: np.ndarray
    min_output_mw: np.ndarray
    plant_group: pd.Series

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Fleet:
        """Group the plants of ``scenario``."""
        plants = scenario.plants
        zone_pos = {z: i for i, z in enumerate(scenario.zone_ids)}
        floor_pu = (
            plants["min_output_pu"] if "min_output_pu" in plants.columns else pd.Series(0.0, index=plants.index)
        )
        labels = pd.Series(
            [
                f"{z}|{t}|{c:g}|{int(m)}" + (f"|min{f:g}" if f > 0 else "")
                for z, t, c, m, f in zip(
                    plants["zone"],
                    plants["technology"],
                    plants["marginal_cost_usd_per_mwh"],
                    plants["must_run"],
                    floor_pu.to_numpy(dtype=float),
                    strict=True,
                )
            ],
            index=plants.index,
            name="group",
        )
        order = list(dict.fromkeys(labels))
        available = scenario.available_mw.to_numpy()
        floor = scenario.min_output_mw.to_numpy()
        grouped = np.zeros((len(scenario.index), len(order)))
        grouped_floor = np.zeros_like(grouped)
        position = {name: i for i, name in enumerate(order)}
        for col, label in enumerate(labels):
            grouped[:, position[label]] += available[:, col]
            grouped_floor[:, position[label]] += floor[:, col]
        first = plants.groupby(labels.to_numpy(), sort=False).first().loc[order]
        return cls(
            names=order,
            zone_index=np.array([zone_pos[z] for z in first["zone"]], dtype=int),
            marginal_cost_usd_per_mwh=first["marginal_cost_usd_per_mwh"].to_numpy(dtype=float),
            must_run=first["must_run"].to_numpy(dtype=bool),
            variable=first["variable"].to_numpy(dtype=bool),
            available_mw=grouped,
            min_output_mw=grouped_floor,
            plant_group=labels,
        )

    @property
    def technology(self) -> np.ndarray:
        """Technology of each group (from its label)."""
        return np.asarray([name.split("|")[1] for name in self.names])

    @property
    def dispatchable(self) -> np.ndarray:
        """True for groups that count towards reserve (not variable)."""
        return np.asarray(~self.variable)

    @property
    def free(self) -> np.ndarray:
        """True for groups whose output the dispatch chooses (not must-run)."""
        return np.asarray(~self.must_run)

    def plant_output_mw(self, available_mw: pd.DataFrame, group_mw: np.ndarray) -> pd.DataFrame:
        """Split group output over the plants in proportion to their availability.

        Parameters
        ----------
        available_mw
            Available capacity per interval and plant [MW] (``Scenario.available_mw``).
        group_mw
            Output per interval and group [MW], shape (intervals, groups).

        Returns
        -------
        pandas.DataFrame
            Output per interval and plant [MW].
        """
        share = np.divide(
            group_mw,
            self.available_mw,
            out=np.zeros_like(group_mw, dtype=float),
            where=self.available_mw > 0,
        )
        share = np.clip(share, 0.0, 1.0)
        position = {name: i for i, name in enumerate(self.names)}
        cols = [position[self.plant_group[p]] for p in available_mw.columns]
        values = available_mw.to_numpy(dtype=float) * share[:, cols]
        return pd.DataFrame(values, index=available_mw.index, columns=available_mw.columns)
