"""Value checks shared by the registry and the ledger: ids, site kinds, MW to W."""

from __future__ import annotations

import math
import re

from offtake.errors import InputError

__all__ = ["SITE_KINDS", "mw_to_w", "validate_id"]

#: Kinds of site the programme powers (as in ``sites.csv``).
SITE_KINDS = ("mining", "ai")

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def validate_id(value: str, field: str) -> str:
    """Check an identifier: 1-64 letters, digits, ``. _ : -``, starting alphanumeric."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise InputError(
            f"'{value}' is not a valid id (1-64 letters, digits, '.', '_', ':', '-')", field=field
        )
    return value


def mw_to_w(value_mw: float, field: str) -> int:
    """Convert MW to whole watts, refusing negative or non-finite values."""
    if isinstance(value_mw, bool) or not isinstance(value_mw, (int, float)):
        raise InputError(f"expected a number of MW, got {value_mw!r}", field=field)
    if not math.isfinite(value_mw) or value_mw < 0:
        raise InputError(f"must be a finite number >= 0 MW, got {value_mw}", field=field)
    return round(value_mw * 1_000_000)
