"""From OpenADR events to the cap in force now, with the contract's fail-safe rule.

* An ``IMPORT_CAPACITY_LIMIT`` interval is a cap window [start, end) with a cap in the
  event's units (``MW`` by default, ``KW`` and ``W`` accepted).
* An event with a ``SIMPLE`` level at or above the emergency level is an emergency window:
  the safe level applies over it, before any cap.
* The limit in force now: an emergency window covering now gives the safe level; else the
  lowest cap among windows covering now; else the safe level, because a cap that has expired
  is never extended silently. The schedule is kept between polls, so when the VTN cannot be
  reached the last cap holds until its interval ends, then the safe level applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from offtake import units
from offtake.vtn.models import EventRequest, duration_to_timedelta

__all__ = ["CAP_UNITS_W", "Limit", "Window", "limit_at", "windows_from_events"]

#: Units of an ``IMPORT_CAPACITY_LIMIT`` payload, in W per unit.
CAP_UNITS_W: dict[str, float] = {"W": 1.0, "KW": 1_000.0, "MW": float(units.W_PER_MW)}
_CAP = "IMPORT_CAPACITY_LIMIT"
_FOREVER = timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class Window:
    """A cap or an emergency over a time window.

    Attributes
    ----------
    event_id
        The event it came from.
    kind
        ``cap`` or ``emergency``.
    start, end
        Aware bounds.
    cap_w
        The cap [W] (``None`` for an emergency).
    priority
        The event's priority (0 is the highest).
    """

    event_id: str
    kind: Literal["cap", "emergency"]
    start: datetime
    end: datetime
    cap_w: float | None
    priority: int


@dataclass(frozen=True, slots=True)
class Limit:
    """The limit in force at one instant.

    Attributes
    ----------
    cap_w
        Most the site may draw [W].
    source
        ``cap``, ``emergency`` or ``safe`` (no window covers now).
    event_id
        Event it comes from, if any.
    until
        When it stops applying (end of its window), if known.
    """

    cap_w: float
    source: Literal["cap", "emergency", "safe"]
    event_id: str | None
    until: datetime | None


def _windows_of(event_id: str, event: EventRequest, emergency_level: int) -> list[Window]:
    cap_unit = "MW"
    for descriptor in event.payloadDescriptors or []:
        if descriptor.payloadType == _CAP and descriptor.units:
            cap_unit = descriptor.units.upper()
    per_unit = CAP_UNITS_W.get(cap_unit)
    default = event.intervalPeriod
    cursor = default.start if default is not None else None
    default_len = duration_to_timedelta(default.duration) if default and default.duration else None
    out: list[Window] = []
    for interval in event.intervals or []:
        own = interval.intervalPeriod
        start = own.start if own is not None and own.start is not None else cursor
        length = duration_to_timedelta(own.duration) if own is not None and own.duration else default_len
        if start is None:
            continue
        end = start + (length if length is not None and length > timedelta(0) else _FOREVER)
        cursor = end
        for payload in interval.payloads:
            value = payload.values[0] if payload.values else None
            if payload.type == _CAP and per_unit is not None and isinstance(value, int | float):
                if value >= 0 and not isinstance(value, bool):
                    out.append(Window(event_id, "cap", start, end, float(value) * per_unit, event.priority or 0))
            elif payload.type == "SIMPLE" and isinstance(value, int | float) and value >= emergency_level:
                out.append(Window(event_id, "emergency", start, end, None, event.priority or 0))
    return out


def windows_from_events(events: Iterable[Mapping[str, Any]], *, emergency_level: int = 3) -> list[Window]:
    """Read cap and emergency windows from events as the VTN sends them.

    Events that do not parse, or carry neither payload, are skipped; a cap in units other
    than W, KW or MW is skipped (and so is a negative cap).
    """
    out: list[Window] = []
    for body in events:
        try:
            event = EventRequest.model_validate(body)
            out.extend(_windows_of(str(body.get("id", "")), event, emergency_level))
        except (ValueError, TypeError):
            continue
    return sorted(out, key=lambda w: (w.start, w.priority))


def limit_at(windows: Sequence[Window], now: datetime, *, safe_w: float) -> Limit:
    """Return the limit in force at ``now`` (see the module's rules)."""
    covering = [w for w in windows if w.start <= now < w.end]
    emergencies = [w for w in covering if w.kind == "emergency"]
    if emergencies:
        first = min(emergencies, key=lambda w: (w.priority, w.end))
        return Limit(safe_w, "emergency", first.event_id, max(w.end for w in emergencies))
    caps = [w for w in covering if w.cap_w is not None]
    if caps:
        low = min(caps, key=lambda w: (w.cap_w or 0.0, w.end))
        return Limit(float(low.cap_w or 0.0), "cap", low.event_id, low.end)
    following = [w.start for w in windows if w.start > now]
    return Limit(safe_w, "safe", None, min(following) if following else None)
