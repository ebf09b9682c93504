"""Bounds every meter reading must meet, read from ``offtake/data/metering.toml``.

The file holds each number with its source: the most a reading may show relative to the
site's power basis (connection capacity, else contract or allocation), how far in the
future an interval may end, and the earliest instant a reading or cap may start.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from functools import cache
from importlib import resources
from pathlib import Path

from offtake.errors import InputError
from offtake.ledger.encoding import parse_time

__all__ = ["MeteringBounds", "load_bounds"]


@dataclass(frozen=True)
class MeteringBounds:
    """Bounds on readings.

    Parameters
    ----------
    max_power_factor
        A reading shows at most this multiple of the site's power basis over its interval [-].
    clock_skew
        How far past now a reading's interval may end.
    earliest_start
        No reading or cap starts before this (aware UTC).
    """

    max_power_factor: Fraction
    clock_skew: timedelta
    earliest_start: datetime


def _path() -> Path:
    return Path(str(resources.files("offtake") / "data" / "metering.toml"))


@cache
def load_bounds(path: Path | None = None) -> MeteringBounds:
    """Read the bounds (cached); errors name the file and the key."""
    path = path or _path()
    try:
        bounds = tomllib.loads(path.read_text(encoding="utf-8"))["bounds"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise InputError(f"cannot read the [bounds] table: {exc}", file=path) from None
    try:
        factor = Fraction(str(bounds["max_power_factor"]))
        skew = timedelta(seconds=float(bounds["clock_skew_s"]))
        earliest = parse_time(str(bounds["earliest_interval_start"]))
    except (KeyError, ValueError, ZeroDivisionError) as exc:
        raise InputError(f"bad or missing value: {exc}", file=path, field="bounds") from None
    if factor < 1:
        raise InputError(f"must be at least 1, got {factor}", file=path, field="bounds.max_power_factor")
    if skew < timedelta(0):
        raise InputError("must be 0 or more", file=path, field="bounds.clock_skew_s")
    return MeteringBounds(factor, skew, earliest)
