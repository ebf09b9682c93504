"""The allocation file, ``allocation.csv``: the plan that risk, simulation and the server read.

The planner writes it; :func:`read_allocation` is the one reader and :func:`validate_allocation`
the one set of checks, used by every part of offtake that takes an allocation (format in
``docs/formats.md``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from offtake import units
from offtake.errors import InputError

__all__ = [
    "ALLOCATION_COLUMNS",
    "PRIORITY_COLUMN",
    "SITE_KINDS",
    "parse_allocation",
    "read_allocation",
    "validate_allocation",
    "write_allocation",
]

#: Columns of ``allocation.csv``, in the documented order.
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
#: Optional column: ``pro_rata`` (default) or ``bid``, how the dispatch core shares a shortfall.
PRIORITY_COLUMN = "priority_rule"
#: Kinds of flexible load.
SITE_KINDS = units.SITE_KINDS

_TEXT = ("site_id", "operator", "zone", "kind")
_NUMBERS = tuple(c for c in ALLOCATION_COLUMNS if c not in _TEXT)
_FRACTIONS = ("max_curtailment_fraction", "annual_curtailment_limit")
_PRIORITY_RULES = ("pro_rata", "bid")
#: Tolerance of ``allocated_mw = firm_mw + interruptible_mw``, relative to the allocation [-].
_SUM_TOLERANCE = 1e-6


def validate_allocation(
    frame: pd.DataFrame, *, file: str | Path | None = None, zone_ids: Sequence[str] | None = None
) -> pd.DataFrame:
    """Check an allocation table and return it with typed columns.

    Parameters
    ----------
    frame
        One row per site, in file order (row ``i`` is line ``i + 2`` of the file), with the columns
        of ``allocation.csv`` as text or numbers, and optionally ``priority_rule``.
    file
        File name for error messages.
    zone_ids
        Zones of the scenario; a site in another zone is refused. ``None`` accepts any zone.

    Returns
    -------
    pandas.DataFrame
        The documented columns (plus ``priority_rule``, filled with ``pro_rata``), text stripped,
        numbers as floats (``curtailment_events`` as int), in file order with a fresh index.

    Raises
    ------
    InputError
        Naming the file, line and column of the first problem.
    """
    missing = [c for c in ALLOCATION_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=file, line=1, field=missing[0])
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for column in _TEXT:
        text = frame[column].astype(str).str.strip().to_numpy()
        empty = np.flatnonzero(text == "")
        if empty.size:
            raise InputError("empty value", file=file, line=int(empty[0]) + 2, field=column)
        out[column] = text
    duplicated = np.flatnonzero(out["site_id"].duplicated().to_numpy())
    if duplicated.size:
        row = int(duplicated[0])
        raise InputError(f"site '{out['site_id'].iloc[row]}' appears twice", file=file, line=row + 2, field="site_id")
    bad_kind = np.flatnonzero(~out["kind"].isin(SITE_KINDS).to_numpy())
    if bad_kind.size:
        row = int(bad_kind[0])
        raise InputError(
            f"kind must be one of {', '.join(SITE_KINDS)}, got '{out['kind'].iloc[row]}'",
            file=file,
            line=row + 2,
            field="kind",
        )
    if zone_ids is not None:
        known = set(zone_ids)
        unknown = np.flatnonzero(~out["zone"].isin(known).to_numpy())
        if unknown.size:
            row = int(unknown[0])
            raise InputError(
                f"unknown zone '{out['zone'].iloc[row]}' (zones: {', '.join(zone_ids)})",
                file=file,
                line=row + 2,
                field="zone",
            )
    for column in _NUMBERS:
        raw = frame[column]
        values = pd.to_numeric(raw.astype(str).str.strip(), errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"expected a finite number >= 0, got '{raw.iloc[row]}'", file=file, line=row + 2, field=column
            )
        if column in _FRACTIONS and (values > 1).any():
            row = int(np.flatnonzero(values > 1)[0])
            raise InputError(f"must be between 0 and 1, got {values[row]}", file=file, line=row + 2, field=column)
        out[column] = values
    events = out["curtailment_events"].to_numpy()
    if (events != np.round(events)).any():
        row = int(np.flatnonzero(events != np.round(events))[0])
        raise InputError("must be a whole number", file=file, line=row + 2, field="curtailment_events")
    out["curtailment_events"] = events.astype(np.int64)
    total = out["firm_mw"] + out["interruptible_mw"]
    gap = (total - out["allocated_mw"]).abs().to_numpy()
    off = np.flatnonzero(gap > _SUM_TOLERANCE * np.maximum(1.0, out["allocated_mw"].to_numpy()))
    if off.size:
        row = int(off[0])
        raise InputError(
            f"allocated_mw {out['allocated_mw'].iloc[row]} is not firm_mw + interruptible_mw = {total.iloc[row]}",
            file=file,
            line=row + 2,
            field="allocated_mw",
        )
    rules = np.full(len(out), "pro_rata", dtype=object)
    if PRIORITY_COLUMN in frame.columns:
        given = frame[PRIORITY_COLUMN].fillna("").astype(str).str.strip().to_numpy()
        rules = np.where(given == "", "pro_rata", given)
        bad_rule = np.flatnonzero(~np.isin(rules, _PRIORITY_RULES))
        if bad_rule.size:
            row = int(bad_rule[0])
            raise InputError(
                f"priority rule '{rules[row]}' is neither 'pro_rata' nor 'bid'",
                file=file,
                line=row + 2,
                field=PRIORITY_COLUMN,
            )
    out[PRIORITY_COLUMN] = rules
    return out


def parse_allocation(
    text: str, *, file: str | Path | None = None, zone_ids: Sequence[str] | None = None
) -> pd.DataFrame:
    """Parse and check the text of an ``allocation.csv`` (see :func:`validate_allocation`)."""
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot read CSV: {exc}", file=file) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    table = validate_allocation(frame, file=file, zone_ids=zone_ids)
    if table.empty:
        raise InputError("the file has no allocation rows", file=file, line=2)
    return table


def read_allocation(path: str | Path, zone_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Read and check an ``allocation.csv`` (see :func:`validate_allocation`).

    Parameters
    ----------
    path
        The file.
    zone_ids
        Zones of the scenario, or ``None`` to accept any zone.

    Returns
    -------
    pandas.DataFrame
        One row per site in file order, typed.
    """
    file = Path(path)
    if not file.is_file():
        raise InputError("file not found", file=file)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", file=file) from None
    return parse_allocation(text, file=file, zone_ids=zone_ids)


def write_allocation(table: pd.DataFrame, path: str | Path) -> Path:
    """Write an allocation table with exactly the documented columns, in order.

    Parameters
    ----------
    table
        One row per site with (at least) the columns of ``allocation.csv``.
    path
        The file to write.

    Returns
    -------
    Path
        The file written.
    """
    out = Path(path)
    validate_allocation(table.reset_index(drop=True))
    table.loc[:, list(ALLOCATION_COLUMNS)].to_csv(out, index=False, float_format="%.6g", lineterminator="\n")
    return out
