"""OpenADR models, the programme mapping and report parsing, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from offtake.errors import InputError
from offtake.vtn.models import (
    EventRequest,
    ReportRequest,
    SubscriptionRequest,
    duration_to_timedelta,
    format_datetime,
    format_duration,
)
from offtake.vtn.programme import (
    SiteCap,
    cap_event_request,
    emergency_event_request,
    program_request,
)
from offtake.vtn.readings import readings_from_report

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
PKT = timezone(timedelta(hours=5))


def test_null_optional_fields_are_absent_and_times_written_in_utc() -> None:
    event = EventRequest.model_validate(
        {
            "programID": "prg-1",
            "eventName": None,
            "duration": None,
            "targets": None,
            "intervalPeriod": {
                "start": "2026-03-01T05:00:00+05:00",
                "duration": "PT15M",
                "randomizeStart": None,
            },
            "intervals": [
                {"id": 0, "intervalPeriod": None, "payloads": [{"type": "SIMPLE", "values": [1]}]}
            ],
        }
    )
    wire = event.wire()
    assert "eventName" not in wire and "duration" not in wire
    assert wire["intervalPeriod"] == {"start": "2026-03-01T00:00:00Z", "duration": "PT15M"}


@pytest.mark.parametrize(
    "body",
    [
        {"programID": "p", "intervalPeriod": {"start": "2026-03-01T00:00:00"}},  # naive
        {"programID": "bad id!"},
        {"programID": "p", "duration": "15 minutes"},
        {"programID": "p", "priority": -1},
    ],
)
def test_invalid_events_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        EventRequest.model_validate(body)


def test_subscription_operations_are_checked() -> None:
    ok = {
        "clientName": "x",
        "objectOperations": [
            {"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": "http://127.0.0.1:1/cb"}
        ],
    }
    assert SubscriptionRequest.model_validate(ok).objectOperations[0].objects == ["EVENT"]
    bad = {
        **ok,
        "objectOperations": [
            {"objects": ["EVENTS"], "operations": ["CREATE"], "callbackUrl": "http://x/cb"}
        ],
    }
    with pytest.raises(ValidationError):
        SubscriptionRequest.model_validate(bad)


def test_durations_round_trip() -> None:
    for text in ("PT15M", "PT1H", "P1DT2H30M", "PT0S", "PT0.5S"):
        assert duration_to_timedelta(
            format_duration(duration_to_timedelta(text))
        ) == duration_to_timedelta(text)
    assert duration_to_timedelta("P1W") == timedelta(days=7)
    with pytest.raises(ValueError, match="years or months"):
        duration_to_timedelta("P1M")
    assert format_datetime(datetime(2026, 3, 1, 5, tzinfo=PKT)) == "2026-03-01T00:00:00Z"


def test_caps_become_one_import_capacity_limit_event_per_site() -> None:
    caps = [
        SiteCap(
            "s1", T0 + timedelta(minutes=15 * i), T0 + timedelta(minutes=15 * (i + 1)), 10.0 + i
        )
        for i in range(4)
    ]
    event = cap_event_request("prg-1", list(reversed(caps))).wire()
    assert event["programID"] == "prg-1"
    assert event["targets"] == ["VEN_NAME:s1", "RESOURCE_NAME:s1"]
    assert event["payloadDescriptors"] == [
        {
            "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
            "payloadType": "IMPORT_CAPACITY_LIMIT",
            "units": "MW",
        }
    ]
    assert event["intervalPeriod"] == {"start": "2026-03-01T00:00:00Z", "duration": "PT15M"}
    assert [i["payloads"][0]["values"][0] for i in event["intervals"]] == [10.0, 11.0, 12.0, 13.0]
    assert all("intervalPeriod" not in i for i in event["intervals"])
    assert event["reportDescriptors"][0]["payloadType"] == "USAGE"


def test_cap_gap_gets_its_own_interval_period_and_bad_caps_are_refused() -> None:
    caps = [
        SiteCap("s1", T0, T0 + timedelta(hours=1), 5.0),
        SiteCap("s1", T0 + timedelta(hours=2), T0 + timedelta(hours=3), 6.0),
    ]
    event = cap_event_request("p", caps).wire()
    assert event["intervals"][1]["intervalPeriod"] == {
        "start": "2026-03-01T02:00:00Z",
        "duration": "PT1H",
    }
    with pytest.raises(InputError, match="one site"):
        cap_event_request("p", [caps[0], SiteCap("s2", T0, T0 + timedelta(hours=1), 1.0)])
    with pytest.raises(InputError, match="non-negative"):
        cap_event_request("p", [SiteCap("s1", T0, T0 + timedelta(hours=1), -1.0)])
    with pytest.raises(InputError, match="naive"):
        cap_event_request("p", [SiteCap("s1", datetime(2026, 3, 1), datetime(2026, 3, 1, 1), 1.0)])
    with pytest.raises(InputError, match="overlaps"):
        cap_event_request(
            "p", [caps[0], SiteCap("s1", T0 + timedelta(minutes=30), T0 + timedelta(hours=2), 1.0)]
        )


def test_emergency_is_simple_level_with_grid_alert() -> None:
    event = emergency_event_request(
        "p", ["b", "a"], T0, timedelta(hours=2), message="frequency below 49.5 Hz"
    ).wire()
    payloads = {p["type"]: p["values"] for p in event["intervals"][0]["payloads"]}
    assert payloads == {"SIMPLE": [3], "ALERT_GRID_EMERGENCY": ["frequency below 49.5 Hz"]}
    assert event["priority"] == 0 and event["targets"] == ["VEN_NAME:a", "VEN_NAME:b"]
    assert event["intervalPeriod"]["duration"] == "PT2H"


def test_program_per_kind() -> None:
    assert program_request("mining").programName == "surplus-mining"
    with pytest.raises(InputError, match="unknown site kind"):
        program_request("steel")


def _report(
    resources: list[dict[str, object]], descriptors: list[dict[str, object]] | None = None
) -> ReportRequest:
    return ReportRequest.model_validate(
        {
            "eventID": "evt-1",
            "clientName": "s1",
            "payloadDescriptors": descriptors,
            "resources": resources,
        }
    )


def test_usage_in_kwh_and_inherited_interval_starts() -> None:
    report = _report(
        [
            {
                "resourceName": "s1",
                "intervalPeriod": {"start": "2026-03-01T05:00:00+05:00", "duration": "PT15M"},
                "intervals": [
                    {"id": 0, "payloads": [{"type": "USAGE", "values": [2500.0004]}]},
                    {
                        "id": 1,
                        "payloads": [
                            {"type": "USAGE", "values": [2499.9996]},
                            {"type": "OPERATING_STATE", "values": ["RUNNING"]},
                        ],
                    },
                ],
            }
        ],
        [
            {
                "objectType": "REPORT_PAYLOAD_DESCRIPTOR",
                "payloadType": "USAGE",
                "units": "KWH",
                "readingType": "DIRECT_READ",
            }
        ],
    )
    readings = readings_from_report(report)
    assert [(r.interval_start, r.interval_end, r.energy_wh) for r in readings] == [
        (T0, T0 + timedelta(minutes=15), 2_500_000),
        (T0 + timedelta(minutes=15), T0 + timedelta(minutes=30), 2_500_000),
    ]
    assert readings[0].interval_start.tzinfo == UTC


def test_mean_demand_is_power_times_duration_and_forecasts_are_not_readings() -> None:
    report = _report(
        [
            {
                "resourceName": "s1",
                "intervalPeriod": {"start": "2026-03-01T00:00:00Z", "duration": "PT30M"},
                "intervals": [{"id": 0, "payloads": [{"type": "DEMAND", "values": [12]}]}],
            }
        ],
        [
            {
                "objectType": "REPORT_PAYLOAD_DESCRIPTOR",
                "payloadType": "DEMAND",
                "units": "MW",
                "readingType": "MEAN",
            }
        ],
    )
    assert readings_from_report(report)[0].energy_wh == 6_000_000
    forecast = _report(
        report.model_dump(mode="json")["resources"],
        [
            {
                "objectType": "REPORT_PAYLOAD_DESCRIPTOR",
                "payloadType": "DEMAND",
                "units": "MW",
                "readingType": "FORECAST",
            }
        ],
    )
    assert readings_from_report(forecast) == []


def test_bad_report_payloads_name_the_field() -> None:
    no_start = _report(
        [
            {
                "resourceName": "s1",
                "intervals": [{"id": 0, "payloads": [{"type": "USAGE", "values": [1]}]}],
            }
        ]
    )
    with pytest.raises(InputError, match=r"resources\[0\].intervals\[0\]"):
        readings_from_report(no_start)
    text_value = _report(
        [
            {
                "resourceName": "s1",
                "intervalPeriod": {"start": "2026-03-01T00:00:00Z", "duration": "PT1H"},
                "intervals": [{"id": 0, "payloads": [{"type": "USAGE", "values": ["lots"]}]}],
            }
        ]
    )
    with pytest.raises(InputError, match="expected a number"):
        readings_from_report(text_value)
    unit = _report(
        [
            {
                "resourceName": "s1",
                "intervalPeriod": {"start": "2026-03-01T00:00:00Z", "duration": "PT1H"},
                "intervals": [{"id": 0, "payloads": [{"type": "USAGE", "values": [5]}]}],
            }
        ],
        [{"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "USAGE", "units": "BTU"}],
    )
    with pytest.raises(InputError, match="unknown energy unit"):
        readings_from_report(unit)
