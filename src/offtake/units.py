"""Units and closed vocabularies shared by every layer.

Power is MW, energy MWh and money USD in the domain code; the ledger and the database keep
exact integers: watts, watt-hours and micro-USD. The conversions between them live here, once.

Examples
--------
>>> mw_to_w(1.5, "cap_mw")
1500000
>>> SiteKind("ai") is SiteKind.AI
True
"""

from __future__ import annotations

import math
import re
from enum import StrEnum

from offtake.errors import InputError

__all__ = [
    "KW_PER_MW",
    "MICRO_USD_PER_USD",
    "PAISA_PER_PKR",
    "SITE_KINDS",
    "S_PER_H",
    "WH_PER_MWH",
    "W_PER_MW",
    "SiteKind",
    "mw_to_w",
    "validate_id",
]

#: Watts in a megawatt [W/MW].
W_PER_MW = 1_000_000
#: Kilowatts in a megawatt [kW/MW] (also kWh per MWh).
KW_PER_MW = 1_000
#: Watt-hours in a megawatt-hour [Wh/MWh].
WH_PER_MWH = 1_000_000
#: Micro-USD in a US dollar [µUSD/USD].
MICRO_USD_PER_USD = 1_000_000
#: Seconds in an hour [s/h].
S_PER_H = 3600
#: Paisa in a Pakistani rupee [paisa/PKR].
PAISA_PER_PKR = 100


class SiteKind(StrEnum):
    """Kinds of flexible load the programme powers (the ``kind`` column of ``sites.csv``)."""

    MINING = "mining"
    AI = "ai"


#: The site kinds as plain strings, in a stable order.
SITE_KINDS: tuple[str, ...] = tuple(kind.value for kind in SiteKind)

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def validate_id(value: str, field: str) -> str:
    """Check an identifier: 1-64 letters, digits, ``. _ : -``, starting alphanumeric.

    Parameters
    ----------
    value
        The identifier.
    field
        Name of the field it came from, for the error message.

    Returns
    -------
    str
        ``value`` unchanged.

    Examples
    --------
    >>> validate_id("mine-south-1", "site_id")
    'mine-south-1'
    >>> validate_id("mine south", "site_id")
    Traceback (most recent call last):
    ...
    offtake.errors.InputError: field 'site_id': 'mine south' is not a valid id (...)
    """
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise InputError(f"'{value}' is not a valid id (1-64 letters, digits, '.', '_', ':', '-')", field=field)
    return value


def mw_to_w(value_mw: float, field: str) -> int:
    """Convert a power to whole watts, refusing negative or non-finite values.

    Parameters
    ----------
    value_mw
        Power [MW].
    field
        Name of the field it came from, for the error message.

    Returns
    -------
    int
        Power [W].

    Examples
    --------
    >>> mw_to_w(0.0000015, "cap_mw")
    2
    >>> mw_to_w(-1.0, "cap_mw")
    Traceback (most recent call last):
    ...
    offtake.errors.InputError: field 'cap_mw': must be a finite number >= 0 MW, got -1.0
    """
    if isinstance(value_mw, bool) or not isinstance(value_mw, (int, float)):
        raise InputError(f"expected a number of MW, got {value_mw!r}", field=field)
    if not math.isfinite(value_mw) or value_mw < 0:
        raise InputError(f"must be a finite number >= 0 MW, got {value_mw}", field=field)
    return round(value_mw * W_PER_MW)
