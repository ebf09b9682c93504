"""The OpenAPI document of a real server: valid, and describing every answer and every body."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from platform_fixtures import Live

from offtake.api.routes.openadr import oadr_problem
from offtake.errors import ConflictError, InputError, NotFoundError, PermissionDenied
from offtake.identity.credentials import AuthError

METHODS = ("get", "post", "put", "delete", "patch")


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


@pytest.fixture(scope="module")
def spec(live: Live) -> dict[str, Any]:
    answer = httpx.get(f"{live.url}/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def test_the_openapi_document_is_valid(spec: dict[str, Any]) -> None:
    validate(spec)
    assert len(_operations(spec)) > 100


def test_every_rest_route_has_a_typed_answer_and_declares_its_problems(spec: dict[str, Any]) -> None:
    untyped = []
    for path, method, operation in _operations(spec):
        if path.startswith("/openadr3/") and not path.endswith("/auth/token"):
            continue
        success = [code for code in operation["responses"] if code.startswith("2")]
        assert success, (method, path)
        for code in success:
            schema = operation["responses"][code]["content"]["application/json"]["schema"]
            if not str(schema.get("$ref", "")).startswith("#/components/schemas/"):
                untyped.append(f"{method.upper()} {path} {code}: {schema}")
        if path != "/healthz":
            for code in ("400", "401", "403", "404", "422"):
                problem = operation["responses"][code]["content"]["application/problem+json"]["schema"]
                assert problem == {"$ref": "#/components/schemas/Problem"}, (method, path, code)
    assert not untyped, "\n".join(untyped)


def test_every_openadr_route_documents_its_parameters_bodies_and_errors(spec: dict[str, Any]) -> None:
    for path, method, operation in _operations(spec):
        if not path.startswith("/openadr3/") or path.endswith("/auth/token"):
            continue
        named = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert named == {part[1:-1] for part in path.split("/") if part.startswith("{")}, (method, path)
        if method in ("post", "put"):
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            assert schema.get("properties") or schema.get("anyOf"), (method, path)
        for code in ("400", "401", "403", "404", "409"):
            assert code in operation["responses"], (method, path, code)
    events = spec["paths"]["/openadr3/3.1.0/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "programID" in events["required"] and "intervals" in events["properties"]
    legacy = spec["paths"]["/openadr3/3.0.1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "anyOf" in str(legacy["properties"]["targets"]), "3.0 targets may be valuesMaps"
    search = {p["name"] for p in spec["paths"]["/openadr3/3.1.0/events"]["get"]["parameters"]}
    assert {"programID", "skip", "limit", "targetType", "targetValues"} <= search


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InputError("must be 0 or more, got -1", field="skip"), 400),
        (AuthError("malformed bearer token"), 401),
        (PermissionDenied("needs the 'write_events' scope"), 403),
        (NotFoundError("no event with id 'x' is visible to this client"), 404),
        (ConflictError("no event with id 'x' is visible to this client", field="eventID"), 409),
    ],
)
def test_domain_errors_become_the_openadr_problem_format(error: Exception, status: int) -> None:
    answer = oadr_problem(error)
    assert answer.status_code == status
    assert answer.media_type == "application/json"  # what OpenADR clients parse, not problem+json
    body = json.loads(bytes(answer.body))
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    assert str(getattr(error, "message", error)) in body["detail"]
    field = getattr(error, "field", None)
    if field:
        assert f"'{field}'" in body["detail"]
