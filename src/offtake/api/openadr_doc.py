"""The OpenAPI description of the OpenADR 3 routes, which parse their own input.

The OpenADR routes read bodies and query parameters themselves (so that a malformed one is the
specification's 400, not FastAPI's 422); these helpers still describe them in the OpenAPI
document: request bodies from the models of :mod:`offtake.vtn.models` (self-contained JSON
schemas), search parameters, path parameters and answers, so that clients and fuzzers see them.
"""

from __future__ import annotations

from typing import Any, Literal

from offtake.api.schemas import CHALLENGE_HEADER, Problem
from offtake.vtn import models, service

__all__ = ["ERRORS", "OBJECT", "TEXT", "answer", "merge", "parameters", "request_body", "search_params"]

#: Request models of each objectType (a business-logic client's and a VEN's where they differ).
_REQUESTS: dict[str, tuple[type[models.OadrModel], ...]] = {
    "PROGRAM": (models.ProgramRequest,),
    "EVENT": (models.EventRequest,),
    "REPORT": (models.ReportRequest,),
    "SUBSCRIPTION": (models.SubscriptionRequest,),
    "VEN": (models.BlVenRequest, models.VenVenRequest),
    "RESOURCE": (models.BlResourceRequest, models.VenResourceRequest),
}


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a model's JSON schema with its ``$defs`` substituted (a self-contained schema)."""
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items() if key != "$defs"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _legacy_targets(schema: Any) -> Any:
    """Let ``targets`` of a schema be 3.0 valuesMaps as well as 3.1 strings."""
    if isinstance(schema, dict):
        out = {key: _legacy_targets(value) for key, value in schema.items()}
        targets = out.get("properties", {}).get("targets")
        if targets is not None:
            values_map = {
                "type": "object",
                "properties": {"type": {"type": "string"}, "values": {"type": "array", "items": {"type": "string"}}},
                "required": ["type", "values"],
            }
            out["properties"]["targets"] = {
                "anyOf": [{"type": "array", "items": {"anyOf": [{"type": "string"}, values_map]}}, {"type": "null"}]
            }
        return out
    if isinstance(schema, list):
        return [_legacy_targets(item) for item in schema]
    return schema


def request_body(object_type: str, dialect: Literal["3.1.0", "3.0.1"]) -> dict[str, Any]:
    """Describe the body of a create or replace of ``object_type`` (``openapi_extra``)."""
    schemas = [_inline(model.model_json_schema()) for model in _REQUESTS[object_type]]
    schema = schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
    if dialect == "3.0.1":
        schema = _legacy_targets(schema)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


OBJECT = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "objectType": {"type": "string"}},
    "additionalProperties": True,
}
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": title, **({"headers": CHALLENGE_HEADER} if status == 401 else {})}
    for status, title in (
        (400, "Malformed request"),
        (401, "Missing or invalid token"),
        (403, "Not allowed"),
        (404, "Not found or not visible"),
        (409, "Conflict"),
        (413, "Body too large"),
        (429, "Too many requests"),
    )
}


def answer(status: int, schema: dict[str, Any], what: str) -> dict[str, Any]:
    """Describe a successful answer with JSON body ``schema``."""
    return {"responses": {str(status): {"description": what, "content": {"application/json": {"schema": schema}}}}}


def parameters(*specs: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """Describe parameters given as ``(name, "path" or "query", schema)``."""
    return {
        "parameters": [
            {"name": name, "in": where, "required": where == "path", "schema": schema} for name, where, schema in specs
        ]
    }


TEXT: dict[str, Any] = {"type": "string"}
TEXTS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}


def search_params(object_type: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Return the query parameters a search of ``object_type`` reads."""
    specs: list[tuple[str, str, dict[str, Any]]] = [
        ("programID", "query", TEXT),
        ("targetType", "query", TEXT),
        ("targetValues", "query", TEXTS),
        ("targets", "query", TEXTS),
        ("skip", "query", {"type": "integer", "minimum": 0}),
        ("limit", "query", {"type": "integer", "minimum": 0, "maximum": service.MAX_LIMIT}),
    ]
    if object_type in ("REPORT", "SUBSCRIPTION"):
        specs += [("eventID", "query", TEXT), ("clientName", "query", TEXT)]
    if object_type == "EVENT":
        specs += [("dateStart", "query", {"type": "string", "format": "date-time"})]
        specs += [("dateEnd", "query", {"type": "string", "format": "date-time"})]
        specs += [("active", "query", {"type": "boolean"})]
    if object_type == "VEN":
        specs.append(("venName", "query", TEXT))
    if object_type == "RESOURCE":
        specs += [("resourceName", "query", TEXT), ("venID", "query", TEXT)]
    return specs


def merge(*parts: dict[str, Any]) -> dict[str, Any]:
    """Merge ``openapi_extra`` fragments (their lists and mappings are joined)."""
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict):
                merged.setdefault(key, {}).update(value)
            elif isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            else:
                merged[key] = value
    return merged
