r"""Canonical encoding of ledger entries.

A ledger leaf is the UTF-8 bytes of a JSON object written canonically:

- keys sorted by code point, no insignificant white space (``","`` and ``":"`` separators);
- only ASCII (everything else as ``\uXXXX`` escapes), so the bytes never hold a tab or a
  line break and one entry fits on one line of an export file;
- integers as integers (energy in Wh, money in micro-USD, power in W), never floats;
- times as RFC 3339 UTC text ending in ``Z`` (``2025-07-01T10:00:00Z``, microseconds only
  when not zero);
- every entry has ``seq`` (its 0-based position), ``kind`` (``reading``, ``cap``,
  ``registry``, ``bill``, and the certificates' ``cert_issue``, ``cert_transfer``,
  ``cert_retire``: :mod:`offtake.certificates.book`), ``at`` (when it was recorded) and
  ``by`` (the client id), plus the fields of its kind.

Because ``seq`` is inside the hashed bytes, an entry cannot be moved to another position
without changing its leaf hash.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["canonical_json", "decode_entry", "format_time", "from_us", "jsonable", "parse_time", "to_us"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def canonical_json(obj: dict[str, Any], *, check: bool = True) -> bytes:
    """Encode ``obj`` canonically (see the module documentation).

    Floats are refused: ledger quantities are exact integers. ``check=False`` skips that
    scan for payloads built from values already checked to be integers (the ingest path).
    """
    if check:
        _refuse_floats(obj)
    return _encoder.encode(obj).encode("ascii")


def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError(f"float {value!r} in a ledger entry; use integers (Wh, W, micro-USD)")
    if isinstance(value, dict):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _refuse_floats(item)


def format_time(value: datetime) -> str:
    """Return RFC 3339 UTC text with a ``Z`` suffix; refuses naive datetimes."""
    tz = value.tzinfo
    if tz is not UTC:
        if tz is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused")
        value = value.astimezone(UTC)
    # isoformat omits the fraction when it is zero, as RFC 3339 allows
    return value.replace(tzinfo=None).isoformat() + "Z"


def parse_time(text: str) -> datetime:
    """Parse text written by :func:`format_time`."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def to_us(value: datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware datetime (the ledger's key columns)."""
    return (value - _EPOCH) // _MICROSECOND


def from_us(value: int) -> datetime:
    """Aware UTC datetime of microseconds since 1970-01-01 UTC."""
    return _EPOCH + value * _MICROSECOND


def decode_entry(data: bytes) -> dict[str, Any]:
    """Decode the bytes of a ledger entry."""
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("a ledger entry is a JSON object")
    return value


def jsonable(value: Any) -> Any:
    """Turn a registry value into ledger-safe JSON: floats as decimal text, times as RFC 3339.

    Metered energy and money are integers already; floats appear only in registry terms
    (fractions, MW as typed by a person), and their decimal text is kept exactly.
    """
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)
