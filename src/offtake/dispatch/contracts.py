"""Active allocations and contract terms as arrays, built once from ``allocation.csv``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from offtake.errors import InputError

__all__ = ["ALLOCATION_COLUMNS", "Contracts", "read_allocation"]

#: Columns of ``allocation.csv`` (docs/formats.md).
ALLOCATION_COLUMNS = (
    "site_id",
    "operator",
    "zone",
    "kind",
    "firm_mw",
    "interruptible_mw",
    "allocated_mw",
    "max_curtailment_fraction",
    "max_curtailment_duration_h",
    "annual_curtailment_limit",
    "response_time_s",
    "tariff_usd_per_mwh",
    "expected_energy_mwh",
    "curtailed_hours",
    "curtailment_events",
    "mean_event_h",
)
_NUMERIC = ALLOCATION_COLUMNS[4:]
_FRACTIONS = ("max_curtailment_fraction", "annual_curtailment_limit")
#: Optional column: ``pro_rata`` (default) or ``bid`` (served in order of tariff bid).
PRIORITY_COLUMN = "priority_rule"
_RULES = ("pro_rata", "bid")
#: Largest gap allowed between ``allocated_mw`` and ``firm_mw + interruptible_mw`` [MW].
_SUM_TOLERANCE_MW = 0.01

F64 = NDArray[np.float64]


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
        missing = [c for c in ALLOCATION_COLUMNS if c not in frame.columns]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)}", file=file, line=1)
        zones = tuple(str(z) for z in zone_ids)
        zone_pos = {z: i for i, z in enumerate(zones)}
        numeric: dict[str, F64] = {}
        for column in _NUMERIC:
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(values) | (values < 0)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise InputError(
                    f"'{frame[column].iloc[row]}' is not a non-negative number",
                    file=file,
                    line=row + 2,
                    field=column,
                )
            numeric[column] = values
        for column in _FRACTIONS:
            over = numeric[column] > 1.0
            if over.any():
                row = int(np.flatnonzero(over)[0])
                raise InputError(
                    f"{numeric[column][row]} is not a share between 0 and 1",
                    file=file,
                    line=row + 2,
                    field=column,
                )
        site_ids = tuple(str(s).strip() for s in frame["site_id"])
        seen: set[str] = set()
        for row, site in enumerate(site_ids):
            if not site:
                raise InputError("empty site id", file=file, line=row + 2, field="site_id")
            if site in seen:
                raise InputError(
                    f"site '{site}' appears twice", file=file, line=row + 2, field="site_id"
                )
            seen.add(site)
        zone_index = np.empty(len(site_ids), dtype=np.int64)
        for row, zone in enumerate(frame["zone"]):
            if str(zone).strip() not in zone_pos:
                raise InputError(
                    f"unknown zone '{zone}'; expected one of {', '.join(zones)}",
                    file=file,
                    line=row + 2,
                    field="zone",
                )
            zone_index[row] = zone_pos[str(zone).strip()]
        kinds = [str(k).strip() for k in frame["kind"]]
        for row, kind in enumerate(kinds):
            if kind not in ("mining", "ai"):
                raise InputError(
                    f"kind '{kind}' is neither 'mining' nor 'ai'",
                    file=file,
                    line=row + 2,
                    field="kind",
                )
        gap = np.abs(numeric["firm_mw"] + numeric["interruptible_mw"] - numeric["allocated_mw"])
        if (gap > _SUM_TOLERANCE_MW).any():
            row = int(np.flatnonzero(gap > _SUM_TOLERANCE_MW)[0])
            raise InputError(
                "allocated_mw is not firm_mw + interruptible_mw",
                file=file,
                line=row + 2,
                field="allocated_mw",
            )
        if PRIORITY_COLUMN in frame.columns:
            rules = [
                str(r).strip() or "pro_rata" for r in frame[PRIORITY_COLUMN].fillna("pro_rata")
            ]
            for row, rule in enumerate(rules):
                if rule not in _RULES:
                    raise InputError(
                        f"priority rule '{rule}' is neither 'pro_rata' nor 'bid'",
                        file=file,
                        line=row + 2,
                        field=PRIORITY_COLUMN,
                    )
            by_bid = np.array([r == "bid" for r in rules], dtype=bool)
        else:
            by_bid = np.zeros(len(site_ids), dtype=bool)
        allocated = numeric["firm_mw"] + numeric["interruptible_mw"]
        fraction = numeric["max_curtailment_fraction"]
        is_ai = np.array([k == "ai" for k in kinds], dtype=bool)
        return cls(
            site_ids=site_ids,
            operators=tuple(str(o).strip() for o in frame["operator"]),
            zone_ids=zones,
            zone_index=zone_index,
            is_ai=is_ai,
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
    """Read and validate ``allocation.csv``.

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
    path = Path(path)
    if not path.is_file():
        raise InputError("allocation file not found", file=path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read CSV: {exc}", file=path) from None
    if frame.empty:
        raise InputError("no sites in the allocation", file=path, line=2)
    return Contracts.from_frame(frame, zone_ids, file=path)
