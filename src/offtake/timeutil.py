"""Time conventions: aware UTC inside, naive timestamps refused, Pakistan time for display."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd

from offtake.errors import InputError

__all__ = ["DISPLAY_TIMEZONE", "HOURS_PER_YEAR", "display_time", "parse_utc", "require_aware", "to_utc_index"]

DISPLAY_TIMEZONE = "Asia/Karachi"
"""Time zone in which people are shown times (Pakistan time); machine output stays UTC."""

#: Hours in a non-leap year, the denominator of annual curtailment rates [h].
HOURS_PER_YEAR = 8760


def require_aware(value: datetime, *, field: str, file: str | None = None) -> datetime:
    """Return ``value`` in UTC, refusing a naive datetime.

    Parameters
    ----------
    value
        A timezone-aware datetime.
    field
        Name reported in the error if ``value`` is naive.
    file
        File reported in the error, if any.

    Returns
    -------
    datetime
        The same instant with ``tzinfo=UTC``.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> require_aware(datetime(2025, 7, 1, 5, 0, tzinfo=ZoneInfo("Asia/Karachi")), field="at")
    datetime.datetime(2025, 7, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> require_aware(datetime(2025, 7, 1, 5, 0), field="at")
    Traceback (most recent call last):
    ...
    offtake.errors.InputError: field 'at': naive datetime 2025-07-01T05:00:00 has no time zone; ...
    """
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise InputError(
            f"naive datetime {value.isoformat()} has no time zone; give an offset such as 'Z' or '+05:00'",
            file=file,
            field=field,
        )
    return value.astimezone(UTC)


def parse_utc(text: str, *, field: str, file: str | None = None, line: int | None = None) -> datetime:
    """Parse an ISO 8601 timestamp that carries an offset and return it in UTC.

    Parameters
    ----------
    text
        ISO 8601 text, for example ``2024-07-01T00:00:00+05:00``.
    field, file, line
        Where the text came from, for the error message.

    Returns
    -------
    datetime
        Aware UTC datetime.

    Examples
    --------
    >>> parse_utc("2025-07-01T05:00:00+05:00", field="start")
    datetime.datetime(2025, 7, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> parse_utc("2025-07-01T05:00:00", field="start", file="readings.csv", line=3)
    Traceback (most recent call last):
    ...
    offtake.errors.InputError: readings.csv:3, field 'start': timestamp '2025-07-01T05:00:00' has no time zone; ...
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"'{text}' is not an ISO 8601 timestamp", file=file, line=line, field=field) from None
    if value.tzinfo is None:
        raise InputError(
            f"timestamp '{text}' has no time zone; give an offset such as 'Z' or '+05:00'",
            file=file,
            line=line,
            field=field,
        )
    return value.astimezone(UTC)


def to_utc_index(values: pd.Series, *, field: str, file: str) -> pd.DatetimeIndex:
    """Parse a column of ISO timestamps into an aware UTC index, refusing naive rows.

    Parameters
    ----------
    values
        Column of text timestamps, in file order.
    field, file
        Where the column came from, for the error message.

    Returns
    -------
    pandas.DatetimeIndex
        Aware UTC index, one entry per row.

    Examples
    --------
    >>> import pandas as pd
    >>> index = to_utc_index(pd.Series(["2025-07-01T05:00+05:00", "2025-07-01T01:00Z"]), field="time", file="f.csv")
    >>> [t.isoformat() for t in index]
    ['2025-07-01T00:00:00+00:00', '2025-07-01T01:00:00+00:00']
    """
    text = values.astype(str)
    has_zone = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
    if not bool(has_zone.all()):
        row = int((~has_zone).to_numpy().nonzero()[0][0])
        raise InputError(
            f"timestamp '{text.iloc[row]}' has no time zone; give an offset such as 'Z' or '+05:00'",
            file=file,
            line=row + 2,
            field=field,
        )
    try:
        index = pd.DatetimeIndex(pd.to_datetime(text, utc=True, format="ISO8601"))
    except (ValueError, TypeError) as exc:
        raise InputError(f"cannot parse timestamps: {exc}", file=file, field=field) from None
    return index


def display_time(value: datetime, timezone: str = DISPLAY_TIMEZONE) -> str:
    """Write an aware instant for a person: ISO 8601 in Pakistan time, with its offset.

    Parameters
    ----------
    value
        An aware instant (UTC inside the platform).
    timezone
        IANA zone to show it in.

    Returns
    -------
    str
        E.g. ``2025-07-01T10:00:00+05:00`` for 05:00 UTC.

    Examples
    --------
    >>> display_time(datetime(2025, 7, 1, 5, 0, tzinfo=UTC))
    '2025-07-01T10:00:00+05:00'
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("display_time needs an aware datetime")
    return value.astimezone(ZoneInfo(timezone)).isoformat()
