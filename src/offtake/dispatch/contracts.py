"""Active allocations and contract terms as arrays: from ``allocation.csv`` or from the registry's terms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from offtake.allocation import PRIORITY_COLUMN, validate_allocation
from offtake.allocation import read_allocation as read_allocation_table
from offtake.errors import InputError
from offtake.units import SiteKind

__all__ = ["Contracts", "SiteTerms", "read_allocation"]

F64 = NDArray[np.float64]
_TEXT = ("site_id", "operator", "zone", "kind", PRIORITY_COLUMN)


@dataclass(frozen=True)
class SiteTerms:
    """One site's allocation and contract terms in force, as the registry holds them.

    Parameters
    ----------
    site_id, operator, zone, kind
        The site, its operator, zone and kind (``mining`` or ``ai``).
    firm_mw, interruptible_mw
        Tranches [MW].
    max_curtailment_fraction
        Deepest curtailment accepted, share of allocation [-].
    max_curtailment_duration_h
        Longest single curtailment event accepted [h].
    annual_curtailment_limit
        Curtailed energy over allocated energy accepted in a year [-].
    response_time_s
        Contracted time to reach a new cap [s].
    tariff_usd_per_mwh
        Tariff [USD/MWh].
    expected_energy_mwh
        Energy the planner expects the site to take in a year [MWh].
    """

    site_id: str
    operator: str
    zone: str
    kind: str
    firm_mw: float
    interruptible_mw: float
    max_curtailment_fraction: float
    max_curtailment_duration_h: float
    annual_curtailment_limit: float
    response_time_s: float
    tariff_usd_per_mwh: float
    expected_energy_mwh: float = 0.0


@dataclass(frozen=True)
class Contracts:
    """Allocations and contract terms of every site, one array entry per site.

    Attributes
    ----------
    site_ids, operators
        Site and operator ids, in file order.
    zone_ids
        Zone ids the ``zone_index`` refers to (the scenario's zones, in order).
    zone_index
        Zone of each site, index into ``zone_ids``.
    is_ai
        True for an AI data centre, False for a mining site.
    firm_mw, interruptible_mw, allocated_mw
        Tranches and total allocation [MW].
    floor_mw
        Contracted floor: ``allocated_mw x (1 - max_curtailment_fraction)`` [MW]; the
        least an emergency may leave the site (0 for miners, who accept full curtailment).
    max_curtailment_fraction
        Deepest curtailment accepted, share of allocation [-].
    max_curtailment_duration_h
        Longest single curtailment event accepted [h].
    annual_curtailment_limit
        Curtailed energy over allocated energy accepted in a year [-].
    response_time_s
        Contracted time to reach a new cap [s].
    tariff_usd_per_mwh
        Tariff or bid [USD/MWh].
    by_bid
        True where the contract says the site is served in order of its bid rather than
        pro rata.
    expected_energy_mwh
        Energy the planner expects the site to take in the planned year [MWh].
    """

    site_ids: tuple[str, ...]
    operators: tuple[str, ...]
    zone_ids: tuple[str, ...]
    zone_index: NDArray[np.int64]
    is_ai: NDArray[np.bool_]
    firm_mw: F64
    interruptible_mw: F64
    allocated_mw: F64
    floor_mw: F64
    max_curtailment_fraction: F64
    max_curtailment_duration_h: F64
    annual_curtailment_limit: F64
    response_time_s: F64
    tariff_usd_per_mwh: F64
    by_bid: NDArray[np.bool_]
    expected_energy_mwh: F64

    @property
    def n_sites(self) -> int:
        """Number of sites."""
        return len(self.site_ids)

    @property
    def n_zones(self) -> int:
        """Number of zones."""
        return len(self.zone_ids)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        zone_ids: Sequence[str],
        *,
        file: str | Path | None = None,
    ) -> Contracts:
        """Validate an allocation table and build the arrays.

        Parameters
        ----------
        frame
            One row per site with the columns of ``allocation.csv`` (docs/formats.md) and
            optionally ``priority_rule`` (``pro_rata`` or ``bid``).
        zone_ids
            The scenario's zone ids; every site's zone must be one of them.
        file
            File name for error messages.

        Returns
        -------
        Contracts
            The validated contracts.
        """
        table = validate_allocation(frame.reset_index(drop=True), file=file, zone_ids=zone_ids)
        numeric: dict[str, F64] = {c: table[c].to_numpy(dtype=float) for c in table.columns if c not in _TEXT}
        return cls._build(
            zone_ids,
            site_ids=[str(s) for s in table["site_id"]],
            operators=[str(o) for o in table["operator"]],
            zones=[str(z) for z in table["zone"]],
            kinds=[str(k) for k in table["kind"]],
            numeric=numeric,
            by_bid=(table[PRIORITY_COLUMN] == "bid").to_numpy(dtype=bool),
        )

    @classmethod
    def from_sites(cls, sites: Sequence[SiteTerms], zone_ids: Sequence[str]) -> Contracts:
        """Build the arrays from terms the registry holds (already validated when they were stored).

        Parameters
        ----------
        sites
            One entry per site.
        zone_ids
            The grid's zone ids; every site's zone must be one of them.

        Returns
        -------
        Contracts
            The contracts, in the order of ``sites``; every site is served pro rata.
        """
        unknown = sorted({s.zone for s in sites} - set(zone_ids))
        if unknown:
            raise InputError(f"zone(s) {', '.join(unknown)} are not zones of the grid", field="zone")
        names = [f.name for f in fields(SiteTerms) if f.type == "float"]
        numeric = {name: np.array([getattr(s, name) for s in sites], dtype=float) for name in names}
        return cls._build(
            zone_ids,
            site_ids=[s.site_id for s in sites],
            operators=[s.operator for s in sites],
            zones=[s.zone for s in sites],
            kinds=[s.kind for s in sites],
            numeric=numeric,
            by_bid=np.zeros(len(sites), dtype=bool),
        )

    @classmethod
    def _build(
        cls,
        zone_ids: Sequence[str],
        *,
        site_ids: list[str],
        operators: list[str],
        zones: list[str],
        kinds: list[str],
        numeric: dict[str, F64],
        by_bid: NDArray[np.bool_],
    ) -> Contracts:
        zone_pos = {str(z): i for i, z in enumerate(zone_ids)}
        allocated = numeric["firm_mw"] + numeric["interruptible_mw"]
        fraction = numeric["max_curtailment_fraction"]
        return cls(
            site_ids=tuple(site_ids),
            operators=tuple(operators),
            zone_ids=tuple(str(z) for z in zone_ids),
            zone_index=np.array([zone_pos[z] for z in zones], dtype=np.int64),
            is_ai=np.array([k == SiteKind.AI for k in kinds], dtype=bool),
            firm_mw=numeric["firm_mw"],
            interruptible_mw=numeric["interruptible_mw"],
            allocated_mw=allocated,
            floor_mw=allocated * (1.0 - fraction),
            max_curtailment_fraction=fraction,
            max_curtailment_duration_h=numeric["max_curtailment_duration_h"],
            annual_curtailment_limit=numeric["annual_curtailment_limit"],
            response_time_s=numeric["response_time_s"],
            tariff_usd_per_mwh=numeric["tariff_usd_per_mwh"],
            by_bid=by_bid,
            expected_energy_mwh=numeric["expected_energy_mwh"],
        )

    def with_rule(self, by_bid: bool | NDArray[np.bool_]) -> Contracts:
        """Return a copy where the priority rule is replaced (True = by bid)."""
        flags = np.broadcast_to(np.asarray(by_bid, dtype=bool), (self.n_sites,)).copy()
        return _replace(self, by_bid=flags)


def _replace(contracts: Contracts, **changes: object) -> Contracts:
    from dataclasses import replace

    return replace(contracts, **changes)  # type: ignore[arg-type]


def read_allocation(path: str | Path, zone_ids: Sequence[str]) -> Contracts:
    """Read ``allocation.csv`` (:func:`offtake.allocation.read_allocation`) into contracts.

    Parameters
    ----------
    path
        The allocation file (docs/formats.md).
    zone_ids
        The scenario's zone ids.

    Returns
    -------
    Contracts
        The validated contracts.
    """
    return Contracts.from_frame(read_allocation_table(path, zone_ids), zone_ids, file=path)
