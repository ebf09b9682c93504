"""The scenario data model: zones, corridors, plants, hourly demand and availability."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Corridor", "ReserveRule", "Scenario", "Zone"]


@dataclass(frozen=True)
class Zone:
    """A part of the grid with its own hourly demand.

    Parameters
    ----------
    id
        Short identifier used in files, e.g. ``LESCO``.
    name
        Full name.
    region
        Province or region, for grouping in reports.
    lat, lon
        Position on the schematic map, e.g. the zone's main city [degrees north, degrees east],
        or None when the scenario gives none.
    """

    id: str
    name: str
    region: str
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class Corridor:
    """A transfer limit between two zones.

    Parameters
    ----------
    id
        Identifier, e.g. ``hvdc-matiari-lahore``.
    from_zone, to_zone
        Zone ids at the two ends.
    forward_mw
        Largest flow from ``from_zone`` to ``to_zone`` [MW].
    reverse_mw
        Largest flow from ``to_zone`` to ``from_zone`` [MW].
    description
        What the corridor stands for.
    """

    id: str
    from_zone: str
    to_zone: str
    forward_mw: float
    reverse_mw: float
    description: str = ""


@dataclass(frozen=True)
class ReserveRule:
    """Operating reserve held on dispatchable units, nationally.

    The requirement in each hour is ``largest_unit_mw`` (if ``hold_largest_unit``)
    plus ``fraction_of_demand`` times total demand plus ``fixed_mw``.

    Parameters
    ----------
    hold_largest_unit
        Hold the largest single dispatchable unit as spinning reserve (N-1).
    largest_unit_mw
        Size of that unit [MW].
    fraction_of_demand
        Extra reserve as a fraction of demand [-].
    fixed_mw
        A constant extra reserve [MW].
    """

    hold_largest_unit: bool
    largest_unit_mw: float
    fraction_of_demand: float
    fixed_mw: float = 0.0

    def requirement_mw(self, total_demand_mw: np.ndarray) -> np.ndarray:
        """Reserve required in each interval [MW], given total demand [MW]."""
        base = self.fixed_mw + (self.largest_unit_mw if self.hold_largest_unit else 0.0)
        return base + self.fraction_of_demand * np.asarray(total_demand_mw, dtype=float)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: everything the assessment, planner and simulator need.

    Attributes
    ----------
    name
        Scenario id, e.g. ``pakistan-2025``.
    title
        Human title.
    path
        Folder the scenario was read from.
    index
        Interval starts, aware UTC, regular.
    resolution_s
        Interval length [s].
    display_timezone
        IANA zone for showing times to users.
    zones, corridors, reserve
        Network and reserve rule.
    exchange_rate_pkr_per_usd
        PKR per USD [PKR/USD].
    default_tariff_usd_per_mwh
        Off-take tariff when none is given [USD/MWh].
    plants
        One row per plant, indexed by name, with columns ``technology``, ``zone``,
        ``capacity_mw``, ``marginal_cost_usd_per_mwh``, ``must_run``, ``variable`` and
        ``min_output_pu`` (contractual minimum loading, a share of capacity [-]; 0 for none).
    availability_pu
        Available share of capacity per interval and plant [-], 0 before a plant's
        in-service date.
    demand_mw
        Demand per interval and zone [MW].
    sources
        Short citations keyed by the number they support.
    """

    name: str
    title: str
    path: Path
    index: pd.DatetimeIndex
    resolution_s: int
    display_timezone: str
    zones: tuple[Zone, ...]
    corridors: tuple[Corridor, ...]
    reserve: ReserveRule
    exchange_rate_pkr_per_usd: float
    default_tariff_usd_per_mwh: float
    plants: pd.DataFrame
    availability_pu: pd.DataFrame
    demand_mw: pd.DataFrame
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def zone_ids(self) -> list[str]:
        """Zone ids in file order."""
        return [z.id for z in self.zones]

    @property
    def interval_end(self) -> pd.DatetimeIndex:
        """Interval ends, aware UTC."""
        return self.index + pd.Timedelta(seconds=self.resolution_s)

    @property
    def duration_h(self) -> float:
        """Length of one interval [h]."""
        return self.resolution_s / 3600.0

    @property
    def available_mw(self) -> pd.DataFrame:
        """Available capacity per interval and plant [MW]."""
        return self.availability_pu * self.plants["capacity_mw"]

    @property
    def min_output_mw(self) -> pd.DataFrame:
        """Least output per interval and plant that its fuel contract requires [MW].

        A plant with a minimum off-take (``min_output_pu`` > 0, e.g. a take-or-pay gas
        supply) must produce at least that share of its capacity in every interval, or all it
        has available when that is less. Zero for every other plant.
        """
        plants = self.plants
        floor_pu = (
            plants["min_output_pu"] if "min_output_pu" in plants.columns else pd.Series(0.0, index=plants.index)
        )
        floor = floor_pu.to_numpy(dtype=float) * plants["capacity_mw"].to_numpy(dtype=float)
        available = self.available_mw
        values = np.minimum(available.to_numpy(dtype=float), floor[None, :])
        return pd.DataFrame(values, index=available.index, columns=available.columns)

    def reserve_requirement_mw(self) -> pd.Series:
        """National reserve requirement per interval [MW]."""
        total = self.demand_mw.sum(axis=1).to_numpy()
        return pd.Series(self.reserve.requirement_mw(total), index=self.index, name="reserve_mw")
