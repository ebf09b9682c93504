"""The OpenADR service speaks the platform's domain errors, never HTTP, and bounds its input."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

import offtake.vtn
from offtake.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from offtake.persistence.db import session_scope
from offtake.vtn import service
from offtake.vtn.models import EventRequest, duration_to_timedelta
from offtake.vtn.store import Filters

HTTP_ERRORS = frozenset({400, 401, 403, 404, 409, 422, 500})
BL = service.Caller("bl", service.BL_SCOPES)
VEN = service.Caller("ven", service.VEN_SCOPES, "S1")


def test_no_module_of_the_vtn_package_names_an_http_status() -> None:
    folder = Path(offtake.vtn.__file__).parent
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and type(node.value) is int and node.value in HTTP_ERRORS:
                pytest.fail(f"{path.name}:{node.lineno}: HTTP status {node.value} in the OpenADR service")
        assert "fastapi" not in path.read_text() and "starlette" not in path.read_text(), path.name


def test_each_failure_is_a_domain_error_naming_its_field(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as session:
        program = service.create(session, BL, "PROGRAM", {"programName": "p1"}).object["id"]
        with pytest.raises(ConflictError, match="already exists"):
            service.create(session, BL, "PROGRAM", {"programName": "p1"})
    with session_scope(factory) as session:
        with pytest.raises(NotFoundError, match="no event with id 'nope'"):
            service.get(session, BL, "EVENT", "nope")
        with pytest.raises(PermissionDenied, match="write_events"):
            service.create(session, VEN, "EVENT", {"programID": program})
        with pytest.raises(InputError) as bad_page:
            service.listing(
                session,
                BL,
                "EVENT",
                filters=Filters(),
                target_strings=None,
                target_type=None,
                target_values=None,
                skip=0,
                limit=51,
            )
        assert bad_page.value.field == "limit"
        with pytest.raises(InputError) as bad_body:
            service.create(session, BL, "EVENT", {"programID": program, "intervals": [{"id": 0}]})
        assert bad_body.value.field == "intervals.0.payloads"
        with pytest.raises(InputError) as unknown_program:
            service.create(session, BL, "EVENT", {"programID": "no-such-program"})
        assert unknown_program.value.field == "programID"
        with pytest.raises(ConflictError) as unknown_event:
            service.create(session, VEN, "REPORT", {"eventID": "nope", "clientName": "S1", "resources": []})
        assert getattr(unknown_event.value, "field", None) == "eventID"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"programID": "p", "duration": "P99999999D"}, "duration"),
        ({"programID": "p", "duration": "P200Y"}, "duration"),
        ({"programID": "p", "intervalPeriod": {"start": "0001-01-01T00:00:00Z"}}, "start"),
        ({"programID": "p", "intervalPeriod": {"start": "9999-12-31T23:59:59Z", "duration": "PT1H"}}, "start"),
        ({"programID": "p", "priority": 2**64}, "priority"),
        ({"programID": "p", "reportDescriptors": [{"payloadType": "USAGE", "frequency": 2**70}]}, "frequency"),
    ],
)
def test_values_that_would_overflow_time_or_integer_arithmetic_are_refused(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field if field != "start" else "year"):
        EventRequest.model_validate(body)


def test_an_overlong_duration_is_a_value_error_not_an_overflow() -> None:
    with pytest.raises(ValueError, match="too long"):
        duration_to_timedelta("P999999999999D")
    assert duration_to_timedelta("P7D").days == 7
