"""Reports as third-party VENs send them: periods from the event, idempotent retries, 3.0.1 webhooks."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from offtake.errors import ConflictError, InputError, OfftakeError
from offtake.identity.principal import ROLE_SCOPES
from offtake.vtn import service
from offtake.vtn.models import EventRequest, ReportRequest
from offtake.vtn.operations import PLATFORM
from offtake.vtn.readings import ReportReading, readings_from_report
from offtake.vtn.reports import ReportWrite, create_reports, prepare_report
from offtake.vtn.service import Caller
from offtake.vtn.store import DIALECT_KEY, VtnObject

T0 = datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
VEN_A = Caller("ven-a", ROLE_SCOPES["ven"], "site-a")
VEN_B = Caller("ven-b", ROLE_SCOPES["ven"], "site-b")


def _guide_report(event_id: str, values: list[float], resource: str = "site-a") -> dict[str, Any]:
    """A report in the shape of the OpenADR 3.1.0 User Guide's example: no intervalPeriod anywhere."""
    return {
        "objectType": "REPORT",
        "programID": "ignored-the-vtn-sets-it",
        "eventID": event_id,
        "clientName": "VEN-1",
        "reportName": "usage",
        "payloadDescriptors": [
            {
                "objectType": "REPORT_PAYLOAD_DESCRIPTOR",
                "payloadType": "USAGE",
                "readingType": "DIRECT_READ",
                "units": "KWH",
            }
        ],
        "resources": [
            {
                "resourceName": resource,
                "intervals": [
                    {"id": i, "payloads": [{"type": "USAGE", "values": [value]}]} for i, value in enumerate(values)
                ],
            }
        ],
    }


def _event(program_id: str = "prg-1", per_interval: bool = False) -> dict[str, Any]:
    if per_interval:  # each interval carries its own period; the event has none
        return {
            "programID": program_id,
            "intervals": [
                {
                    "id": i,
                    "intervalPeriod": {"start": (T0 + timedelta(hours=i)).isoformat(), "duration": "PT30M"},
                    "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [5]}],
                }
                for i in range(3)
            ],
        }
    return {
        "programID": program_id,
        "intervalPeriod": {"start": T0.isoformat(), "duration": "PT15M"},
        "intervals": [
            {"id": i, "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [5]}]} for i in range(4)
        ],
    }


def _bounds(readings: list[ReportReading]) -> list[tuple[datetime, datetime, int]]:
    return [(r.interval_start, r.interval_end, r.energy_wh) for r in readings]


def test_a_report_without_periods_takes_the_events() -> None:
    report = ReportRequest.model_validate(_guide_report("evt-1", [1.5, 2.0]))
    event = EventRequest.model_validate(_event())
    assert _bounds(readings_from_report(report, event)) == [
        (T0, T0 + timedelta(minutes=15), 1500),
        (T0 + timedelta(minutes=15), T0 + timedelta(minutes=30), 2000),
    ]
    # an event whose intervals carry their own periods: the report's interval id picks one
    by_id = _guide_report("evt-1", [])
    by_id["resources"][0]["intervals"] = [{"id": 2, "payloads": [{"type": "USAGE", "values": [3]}]}]
    spread = EventRequest.model_validate(_event(per_interval=True))
    assert _bounds(readings_from_report(ReportRequest.model_validate(by_id), spread)) == [
        (T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=30), 3000)
    ]
    # the report's own periods win over the event's
    own = _guide_report("evt-1", [1])
    own["resources"][0]["intervalPeriod"] = {"start": "2026-03-01T00:00:00Z", "duration": "PT1H"}
    assert _bounds(readings_from_report(ReportRequest.model_validate(own), event)) == [
        (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 1, 1, tzinfo=UTC), 1000)
    ]


def test_a_report_with_no_period_anywhere_names_the_interval() -> None:
    report = ReportRequest.model_validate(_guide_report("evt-1", [1]))
    open_event = EventRequest.model_validate({"programID": "p"})
    for event in (None, open_event):
        with pytest.raises(InputError, match="its event") as info:
            readings_from_report(report, event)
        assert info.value.field == "resources[0].intervals[0].intervalPeriod"
    no_duration = EventRequest.model_validate({"programID": "p", "intervalPeriod": {"start": T0.isoformat()}})
    with pytest.raises(InputError, match="no duration"):
        readings_from_report(report, no_duration)


class _Ledger:
    """Records what the service hands to the metering ledger; refuses readings of ``refuse_wh``."""

    def __init__(self, refuse_wh: int | None = None) -> None:
        self.batches: list[list[ReportReading]] = []
        self.calls = 0
        self.refuse_wh = refuse_wh

    def __call__(
        self, session: Session, reports: Sequence[tuple[Caller, list[ReportReading]]]
    ) -> list[OfftakeError | None]:
        self.calls += 1
        answers: list[OfftakeError | None] = []
        for _caller, readings in reports:
            if any(r.energy_wh == self.refuse_wh for r in readings):
                answers.append(ConflictError(f"refused {self.refuse_wh} Wh"))
            else:
                self.batches.append(readings)
                answers.append(None)
        return answers


def _program_and_event(session: Session) -> str:
    program = service.create(session, PLATFORM, "PROGRAM", {"programName": "p"}).object
    return str(service.create(session, PLATFORM, "EVENT", _event(program["id"])).object["id"])


def _report_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(VtnObject.object_type == "REPORT")) or 0)


def test_a_retried_report_answers_the_stored_one(factory: sessionmaker[Session]) -> None:
    ledger = _Ledger()
    with factory() as session:
        event_id = _program_and_event(session)
        first = service.create(session, VEN_A, "REPORT", _guide_report(event_id, [1.5, 2.0]), ingest=ledger)
        session.commit()
        assert first.object["programID"] != "ignored-the-vtn-sets-it"
        assert [r.interval_start for r in ledger.batches[0]] == [T0, T0 + timedelta(minutes=15)]
        # the same content again, keys in another order and nulls for absent fields: same report
        retry = _guide_report(event_id, [1.5, 2.0])
        retry = {key: retry[key] for key in reversed(list(retry))} | {"unknownExtension": None}
        again = service.create(session, VEN_A, "REPORT", retry, ingest=ledger)
        session.commit()
        assert again.object == first.object and again.deliveries == []
        assert len(ledger.batches) == 1 and _report_count(session) == 1
        # other values, another reportName or another client: new reports
        other = service.create(session, VEN_A, "REPORT", _guide_report(event_id, [1.5, 2.5]), ingest=ledger)
        renamed = {**_guide_report(event_id, [1.5, 2.0]), "reportName": "usage-2"}
        service.create(session, VEN_A, "REPORT", renamed, ingest=ledger)
        service.create(session, VEN_B, "REPORT", _guide_report(event_id, [1.5, 2.0], "site-b"), ingest=ledger)
        session.commit()
        assert _report_count(session) == 4 and len(ledger.batches) == 4
        # a replacement may not turn one report into a copy of another
        with pytest.raises(ConflictError, match=str(first.object["id"])):
            service.replace(
                session, VEN_A, "REPORT", other.object["id"], _guide_report(event_id, [1.5, 2.0]), ingest=ledger
            )
        session.rollback()


def test_concurrent_retries_store_one_report(factory: sessionmaker[Session]) -> None:
    if factory.kw["bind"].dialect.name == "sqlite":
        pytest.skip("SQLite serialises the two writers before either reads; PostgreSQL lets them race")
    with factory() as session:
        event_id = _program_and_event(session)
        session.commit()
    body = _guide_report(event_id, [4.0])
    answers: dict[str, str] = {}
    first_inserted = threading.Event()

    def first() -> None:
        with factory() as session:
            answers["first"] = service.create(session, VEN_A, "REPORT", body, ingest=_Ledger()).object["id"]
            first_inserted.set()
            time.sleep(0.5)  # the second is now blocked on the unique key
            session.commit()

    def second() -> None:
        first_inserted.wait(10)
        with factory() as session:
            answers["second"] = service.create(session, VEN_A, "REPORT", body, ingest=_Ledger()).object["id"]
            session.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert answers["first"] == answers["second"]
    with factory() as session:
        assert _report_count(session) == 1


def test_a_301_subscriber_is_notified_with_30_targets(factory: sessionmaker[Session]) -> None:
    legacy = Caller("ven-a", ROLE_SCOPES["ven"], "site-a", dialect="3.0.1")
    with factory() as session:
        program = service.create(session, PLATFORM, "PROGRAM", {"programName": "p"}).object
        for caller in (legacy, VEN_B):
            hook = {"objects": ["EVENT"], "operations": ["CREATE"], "callbackUrl": "https://8.8.8.8/h"}
            sub = service.create(
                session, caller, "SUBSCRIPTION", {"clientName": caller.client_id, "objectOperations": [hook]}
            ).object
            assert DIALECT_KEY not in sub and DIALECT_KEY not in service.get(session, caller, "SUBSCRIPTION", sub["id"])
        targets = ["VEN_NAME:site-a", "VEN_NAME:site-b"]
        outcome = service.create(
            session, PLATFORM, "EVENT", {"programID": program["id"], "eventName": "e", "targets": targets}
        )
        notes = [d.notification for d in outcome.deliveries]
        assert len(notes) == 2
        old_style = [n for n in notes if isinstance(n["targets"][0], dict)]
        new_style = [n for n in notes if isinstance(n["targets"][0], str)]
        assert [n["targets"] for n in old_style] == [[{"type": "VEN_NAME", "values": ["site-a"]}]]
        assert old_style[0]["object"]["targets"] == old_style[0]["targets"]
        assert [n["object"]["targets"] for n in new_style] == [["VEN_NAME:site-b"]]
        session.rollback()


def test_unknown_resources_are_the_sites_meter_and_vens_may_choose_their_names(
    factory: sessionmaker[Session],
) -> None:
    ledger = _Ledger()
    with factory() as session:
        event_id = _program_and_event(session)
        ven = service.create(session, VEN_A, "VEN", {"venName": "elaad-test-ven"}).object
        assert ven["targets"] == ["VEN_NAME:site-a"] and ven["clientID"] == "ven-a"
        rack = {"objectType": "VEN_RESOURCE_REQUEST", "resourceName": "rack-1", "venID": ven["id"]}
        service.create(session, VEN_A, "RESOURCE", rack)
        body = _guide_report(event_id, [1, 2])
        body["resources"] += [
            {**body["resources"][0], "resourceName": name} for name in ("rack-1", "never-registered")
        ]
        service.create(session, VEN_A, "REPORT", body, ingest=ledger)
        meters = [r.resource_name for r in ledger.batches[0]]
        assert meters == ["site-a", "site-a", "rack-1", "rack-1", "site-a", "site-a"]
        # another client's resource of the same name is not VEN_B's meter
        service.create(session, VEN_B, "REPORT", _guide_report(event_id, [3], "rack-1"), ingest=ledger)
        assert [r.resource_name for r in ledger.batches[1]] == ["site-b"]
        session.rollback()


def test_a_resource_period_without_a_duration_takes_the_events() -> None:
    body = _guide_report("evt-1", [1, 1])
    body["resources"][0]["intervalPeriod"] = {"start": "2026-03-02T00:00:00Z"}
    report = ReportRequest.model_validate(body)
    day = datetime(2026, 3, 2, tzinfo=UTC)
    readings = readings_from_report(report, EventRequest.model_validate(_event()))
    assert [(r.interval_start, r.interval_end) for r in readings] == [
        (day, day + timedelta(minutes=15)),
        (day + timedelta(minutes=15), day + timedelta(minutes=30)),
    ]
    with pytest.raises(InputError, match="no duration"):
        readings_from_report(report)


def test_reports_written_together_are_each_answered_as_if_written_alone(factory: sessionmaker[Session]) -> None:
    ledger = _Ledger(refuse_wh=9000)
    with factory() as session:
        event_id = _program_and_event(session)
        stored = service.create(session, VEN_A, "REPORT", _guide_report(event_id, [1.0]), ingest=ledger).object
        session.commit()
        bodies = [
            (VEN_A, _guide_report(event_id, [1.0])),  # a retry of the stored one
            (VEN_A, _guide_report(event_id, [2.0])),  # new
            (VEN_B, _guide_report(event_id, [9.0], "site-b")),  # the ledger refuses it
            (VEN_B, _guide_report(event_id, [3.0], "site-b")),  # new
            (VEN_A, _guide_report(event_id, [2.0])),  # sent twice in the batch
            (VEN_B, _guide_report(event_id, [], "site-b")),  # no readings: nothing for the ledger
        ]
        writes = [ReportWrite(caller, prepare_report(session, caller, body)) for caller, body in bodies]
        outcomes = create_reports(session, writes, ledger)
        session.commit()
        assert ledger.calls == 2  # the stored report's, then the batch's readings in one call
        assert isinstance(outcomes[2], ConflictError)
        answered = [o.object["id"] if not isinstance(o, OfftakeError) else None for o in outcomes]
        assert answered[0] == stored["id"] and answered[4] == answered[1]
        assert len({answered[1], answered[3], answered[5]}) == 3 and None not in (answered[1], answered[3], answered[5])
        ids = set(session.scalars(select(VtnObject.id).where(VtnObject.object_type == "REPORT")))
        assert ids == {stored["id"], answered[1], answered[3], answered[5]}  # the refused one left nothing
        assert [[r.energy_wh for r in batch] for batch in ledger.batches] == [[1000], [2000], [3000]]
        # a retry of the refused report, now accepted by the ledger, is a new report
        ledger.refuse_wh = None
        retry = ReportWrite(VEN_B, prepare_report(session, VEN_B, _guide_report(event_id, [9.0], "site-b")))
        (again,) = create_reports(session, [retry], ledger)
        session.commit()
        assert not isinstance(again, OfftakeError) and again.object["id"] not in ids
