"""Candidate sites: read and validate a ``sites.csv`` file (format in ``docs/formats.md``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from offtake.errors import InputError
from offtake.units import SITE_KINDS

__all__ = ["SITE_COLUMNS", "read_sites", "validate_sites"]

#: Columns of a candidate-sites file, in order.
SITE_COLUMNS = (
    "site_id",
    "operator",
    "zone",
    "kind",
    "requested_mw",
    "min_size_mw",
    "max_curtailment_fraction",
    "max_curtailment_duration_h",
    "annual_curtailment_limit",
    "response_time_s",
    "tariff_usd_per_mwh",
)
#: Kinds of flexible load a site may be.

_TEXT = ("site_id", "operator", "zone", "kind")
# column -> (lowest, highest, closed at the top); None means no bound
_NUMBERS: dict[str, tuple[float, float | None]] = {
    "requested_mw": (0.0, None),
    "min_size_mw": (0.0, None),
    "max_curtailment_fraction": (0.0, 1.0),
    "max_curtailment_duration_h": (0.0, None),
    "annual_curtailment_limit": (0.0, 1.0),
    "response_time_s": (0.0, None),
    "tariff_usd_per_mwh": (0.0, None),
}


def read_sites(path: str | Path, zone_ids: Iterable[str]) -> pd.DataFrame:
    """Read and validate a candidate-sites CSV file.

    Parameters
    ----------
    path
        The ``sites.csv`` file.
    zone_ids
        Zone ids of the scenario the sites belong to.

    Returns
    -------
    pandas.DataFrame
        One row per site, indexed by ``site_id``, with the columns of
        :data:`SITE_COLUMNS` (numbers as floats, in the units of their names).

    Raises
    ------
    InputError
        If the file is missing or any value is wrong; the message names the file,
        the line (the header is line 1) and the column.
    """
    file = Path(path)
    if not file.is_file():
        raise InputError("file not found", file=file)
    try:
        raw = pd.read_csv(file, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read CSV: {exc}", file=file) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    return validate_sites(raw, zone_ids, file=file)


def validate_sites(raw: pd.DataFrame, zone_ids: Iterable[str], *, file: str | Path | None = None) -> pd.DataFrame:
    """Validate a table of candidate sites given as text or numbers.

    Parameters
    ----------
    raw
        One row per site with the columns of :data:`SITE_COLUMNS` (extra columns are
        refused, so that a misspelt column is never silently ignored).
    zone_ids
        Zone ids of the scenario.
    file
        File name used in error messages.

    Returns
    -------
    pandas.DataFrame
        The validated sites, indexed by ``site_id``.

    Raises
    ------
    InputError
        On the first problem found, naming the line and the column.
    """
    zones = set(zone_ids)
    for col in SITE_COLUMNS:
        if col not in raw.columns:
            raise InputError(f"missing column '{col}'", file=file, line=1, field=col)
    extra = [c for c in raw.columns if c not in SITE_COLUMNS]
    if extra:
        raise InputError(
            f"unknown column(s) {', '.join(extra)}; expected {', '.join(SITE_COLUMNS)}",
            file=file,
            line=1,
            field=extra[0],
        )
    if raw.empty:
        raise InputError("no sites", file=file)
    records: list[dict[str, object]] = []
    seen: set[str] = set()
    for i, row in enumerate(raw.to_dict("records")):
        line = i + 2
        rec: dict[str, object] = {}
        for col in _TEXT:
            text = str(row[col]).strip()
            if not text:
                raise InputError("empty", file=file, line=line, field=col)
            rec[col] = text
        if rec["site_id"] in seen:
            raise InputError(f"site '{rec['site_id']}' appears twice", file=file, line=line, field="site_id")
        seen.add(str(rec["site_id"]))
        if rec["zone"] not in zones:
            raise InputError(
                f"unknown zone '{rec['zone']}' (zones of the scenario: {', '.join(sorted(zones))})",
                file=file,
                line=line,
                field="zone",
            )
        if rec["kind"] not in SITE_KINDS:
            raise InputError(
                f"kind must be one of {', '.join(SITE_KINDS)}, got '{rec['kind']}'",
                file=file,
                line=line,
                field="kind",
            )
        for col, (low, high) in _NUMBERS.items():
            rec[col] = _number(row[col], low, high, file, line, col)
        if float(rec["min_size_mw"]) > float(rec["requested_mw"]):  # type: ignore[arg-type]
            raise InputError(
                f"min_size_mw {rec['min_size_mw']} is larger than requested_mw {rec['requested_mw']}",
                file=file,
                line=line,
                field="min_size_mw",
            )
        records.append(rec)
    sites = pd.DataFrame.from_records(records, columns=list(SITE_COLUMNS)).set_index("site_id")
    for col in _NUMBERS:
        sites[col] = sites[col].astype(float)
    return sites


def _number(value: object, low: float, high: float | None, file: str | Path | None, line: int, field: str) -> float:
    text = str(value).strip()
    if not text:
        raise InputError("empty; expected a number", file=file, line=line, field=field)
    try:
        number = float(text)
    except ValueError:
        raise InputError(f"expected a number, got '{text}'", file=file, line=line, field=field) from None
    if not np.isfinite(number):
        raise InputError(f"expected a finite number, got '{text}'", file=file, line=line, field=field)
    if number < low or (high is not None and number > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise InputError(f"must be {bound}, got {number:g}", file=file, line=line, field=field)
    return number
