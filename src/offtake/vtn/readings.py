"""Turn OpenADR ``USAGE`` and ``DEMAND`` report payloads into metered readings.

A reading is the energy a site drew over one interval [Wh, integer]. ``USAGE`` payloads carry
interval energy directly; ``DEMAND`` payloads with reading type ``MEAN`` or ``AVERAGE`` carry
the mean power over the interval, so energy = power × duration. Other payload types
(``OPERATING_STATE``, forecasts, peaks, ...) stay in the stored report and are not readings.

Units come from the report's ``payloadDescriptors``; without a descriptor the OpenADR
defaults apply (``USAGE`` in kWh, ``DEMAND`` in kW).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from offtake.errors import InputError
from offtake.vtn.models import (
    EventRequest,
    IntervalPeriod,
    ReportPayloadDescriptor,
    ReportRequest,
    duration_to_timedelta,
)

__all__ = [
    "ENERGY_UNITS_WH",
    "POWER_UNITS_W",
    "ReportReading",
    "event_periods",
    "readings_from_report",
]

#: Energy units accepted in USAGE payloads, in Wh per unit.
ENERGY_UNITS_WH: dict[str, Decimal] = {
    "WH": Decimal(1),
    "KWH": Decimal(1_000),
    "MWH": Decimal(1_000_000),
}
#: Power units accepted in DEMAND payloads, in W per unit.
POWER_UNITS_W: dict[str, Decimal] = {
    "W": Decimal(1),
    "KW": Decimal(1_000),
    "MW": Decimal(1_000_000),
}
_DEFAULT_UNITS = {"USAGE": "KWH", "DEMAND": "KW"}
#: Reading types that are not a measurement of what was drawn.
_NOT_METERED = {"FORECAST", "PEAK", "SUMMED_FORECAST"}
_SECONDS_PER_HOUR = Decimal(3600)


@dataclass(frozen=True, slots=True)
class ReportReading:
    """Energy one resource drew over one interval, read from a report.

    Attributes
    ----------
    resource_name
        The report's ``resourceName``.
    interval_start, interval_end
        Aware UTC bounds of the interval.
    energy_wh
        Energy over the interval [Wh].
    payload_type
        ``USAGE`` or ``DEMAND``.
    reading_type
        The descriptor's reading type (``DIRECT_READ``, ``ESTIMATED``, ``MEAN`` ...), if given.
    """

    resource_name: str
    interval_start: datetime
    interval_end: datetime
    energy_wh: int
    payload_type: str
    reading_type: str | None


def _descriptor(descriptors: list[ReportPayloadDescriptor] | None, payload_type: str) -> ReportPayloadDescriptor | None:
    for descriptor in descriptors or []:
        if descriptor.payloadType == payload_type:
            return descriptor
    return None


def _decimal(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"expected a number, got {value!r}", field=field)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InputError(f"expected a finite number, got {value!r}", field=field) from None
    if not number.is_finite():
        raise InputError(f"expected a finite number, got {value!r}", field=field)
    return number


#: An event's intervals resolved for reports: interval id → (start, duration), either may be unknown.
EventPeriods = dict[int, tuple[datetime | None, timedelta | None]]


def _timedelta(text: str | None, where: str) -> timedelta | None:
    if text is None:
        return None
    try:
        duration = duration_to_timedelta(text)
    except ValueError as exc:
        raise InputError(str(exc), field=f"{where}.duration") from None
    if duration <= timedelta(0):
        raise InputError(f"duration '{text}' must be positive", field=f"{where}.duration")
    return duration


def event_periods(event: EventRequest | None) -> tuple[IntervalPeriod | None, EventPeriods]:
    """Return an event's default intervalPeriod and the period of each of its intervals.

    A report may leave its periods out: OpenADR 3.1.0 lets a report's intervals take their
    period from the event they answer (the interval with the same ``id``, else the event's
    own ``intervalPeriod``). An event's interval without its own start begins where the
    previous one ended, as in the event itself. Unknown or open-ended parts stay ``None``.

    Parameters
    ----------
    event
        The event a report answers, as stored; ``None`` if unknown.

    Returns
    -------
    tuple
        The event's ``intervalPeriod`` (or ``None``) and a map interval id → (start,
        duration [timedelta]).
    """
    if event is None:
        return None, {}
    default = event.intervalPeriod
    cursor = default.start if default is not None else None
    default_text = default.duration if default is not None else None
    periods: EventPeriods = {}
    for interval in event.intervals or []:
        own = interval.intervalPeriod
        start = own.start if own is not None and own.start is not None else cursor
        text = own.duration if own is not None and own.duration is not None else default_text
        try:
            duration = duration_to_timedelta(text) if text is not None else None
        except ValueError:
            duration = None
        if duration is not None and duration <= timedelta(0):
            duration = None
        periods.setdefault(interval.id, (start, duration))
        cursor = start + duration if start is not None and duration is not None else None
    return default, periods


def _resolve_periods(
    default: IntervalPeriod | None,
    intervals: list[tuple[int, IntervalPeriod | None]],
    field: str,
    event: tuple[IntervalPeriod | None, EventPeriods] = (None, {}),
) -> list[tuple[datetime, datetime]]:
    """Return (start, end) of each interval of a report resource.

    Each part of an interval's period is taken from, in order: the interval's own
    ``intervalPeriod``; the resource's ``intervalPeriod`` (an interval without a start begins
    where the previous one ended, the first at the default start), completed by the event's;
    where the resource has none, the event's interval with the same ``id``, then the event's
    ``intervalPeriod`` (with the same chaining of starts).
    """
    event_default, by_id = event
    fallback = default is None  # the event's intervals count only where the resource has no period
    if default is None:
        default = event_default
    elif event_default is not None:  # a part the resource leaves out is the event's
        default = IntervalPeriod(
            start=default.start or event_default.start,
            duration=default.duration or event_default.duration,
        )
    bounds: list[tuple[datetime, datetime]] = []
    cursor = default.start if default is not None else None
    default_duration = default.duration if default is not None else None
    for index, (interval_id, period) in enumerate(intervals):
        where = f"{field}.intervals[{index}].intervalPeriod"
        from_event = by_id.get(interval_id, (None, None)) if fallback else (None, None)
        start = period.start if period is not None and period.start is not None else None
        start = start or from_event[0] or cursor
        duration = _timedelta(period.duration if period is not None else None, where)
        duration = duration or from_event[1] or _timedelta(default_duration, where)
        if start is None:
            raise InputError(
                "interval has no start, here, in the resource's intervalPeriod or in its event",
                field=where,
            )
        if duration is None:
            raise InputError(
                "interval has no duration, here, in the resource's intervalPeriod or in its event",
                field=where,
            )
        bounds.append((start, start + duration))
        cursor = start + duration
    return bounds


#: Readings must fit a 64-bit integer of watt-hours (the site's own bound is the ledger's).
_MAX_WH = Decimal(2**63 - 1)


def readings_from_report(report: ReportRequest, event: EventRequest | None = None) -> list[ReportReading]:
    """Extract the metered energy readings of a report.

    Parameters
    ----------
    report
        A validated report.
    event
        The event it answers; intervals of the report without a period take the event's
        (see :func:`event_periods`).

    Returns
    -------
    list of ReportReading
        One reading per resource, interval and energy payload, in report order.

    Raises
    ------
    InputError
        If an energy payload has an unknown unit, a non-numeric value, an interval without
        start or duration, or a reading that does not round to whole watt-hours sensibly.
    """
    readings: list[ReportReading] = []
    from_event = event_periods(event)
    for r_index, resource in enumerate(report.resources):
        field = f"resources[{r_index}]"
        periods = _resolve_periods(
            resource.intervalPeriod,
            [(interval.id, interval.intervalPeriod) for interval in resource.intervals],
            field,
            from_event,
        )
        for i_index, (interval, (start, end)) in enumerate(zip(resource.intervals, periods, strict=True)):
            for p_index, payload in enumerate(interval.payloads):
                if payload.type not in _DEFAULT_UNITS:
                    continue
                where = f"{field}.intervals[{i_index}].payloads[{p_index}]"
                descriptor = _descriptor(report.payloadDescriptors, payload.type)
                reading_type = descriptor.readingType if descriptor is not None else None
                if reading_type in _NOT_METERED:
                    continue
                if payload.type == "DEMAND" and reading_type not in (None, "MEAN", "AVERAGE"):
                    continue
                units = (
                    descriptor.units if descriptor is not None and descriptor.units else _DEFAULT_UNITS[payload.type]
                ).upper()
                if len(payload.values) != 1:
                    raise InputError(
                        f"expected one value per {payload.type} payload, got {len(payload.values)}",
                        field=f"{where}.values",
                    )
                value = _decimal(payload.values[0], f"{where}.values[0]")
                if payload.type == "USAGE":
                    if units not in ENERGY_UNITS_WH:
                        raise InputError(
                            f"unknown energy unit '{units}'; expected one of {sorted(ENERGY_UNITS_WH)}",
                            field="payloadDescriptors.units",
                        )
                    energy = value * ENERGY_UNITS_WH[units]
                else:
                    if units not in POWER_UNITS_W:
                        raise InputError(
                            f"unknown power unit '{units}'; expected one of {sorted(POWER_UNITS_W)}",
                            field="payloadDescriptors.units",
                        )
                    seconds = Decimal((end - start) // timedelta(microseconds=1)) / Decimal(1_000_000)
                    energy = value * POWER_UNITS_W[units] * seconds / _SECONDS_PER_HOUR
                if not abs(energy) < _MAX_WH:
                    raise InputError(f"{payload.values[0]} {units} is out of range", field=f"{where}.values[0]")
                energy_wh = int(energy.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
                readings.append(
                    ReportReading(
                        resource_name=resource.resourceName,
                        interval_start=start.astimezone(UTC),
                        interval_end=end.astimezone(UTC),
                        energy_wh=energy_wh,
                        payload_type=payload.type,
                        reading_type=reading_type,
                    )
                )
    return readings
