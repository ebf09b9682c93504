"""Times for people: Pakistan time with its offset; a naive time is refused, not guessed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from offtake.timeutil import display_time


def test_a_utc_instant_is_shown_in_pakistan_time_with_its_offset() -> None:
    assert display_time(datetime(2025, 6, 30, 19, 0, tzinfo=UTC)) == "2025-07-01T00:00:00+05:00"
    other = datetime(2025, 7, 1, 2, 0, tzinfo=timezone(timedelta(hours=-3)))  # the same instant as 10:00 PKT
    assert display_time(other) == "2025-07-01T10:00:00+05:00"
    assert display_time(other, "UTC") == "2025-07-01T05:00:00+00:00"


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        display_time(datetime(2025, 7, 1, 10, 0))
