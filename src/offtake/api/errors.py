"""JSON error answers (RFC 9457 problem details) for every 4xx the API gives.

Body: ``{"type", "title", "status", "detail", "field", "errors"}``; ``detail`` says what is
wrong and what was expected, ``field`` names the offending field (``readings[3].energy_wh``),
``errors`` lists every problem of a batch. Media type ``application/problem+json``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from offtake.api.body import BodyError
from offtake.api.limits import Throttled
from offtake.errors import ConflictError, InputError, NotFoundError, OfftakeError, PermissionDenied
from offtake.identity.credentials import AuthError

__all__ = ["install_error_handlers", "problem"]

log = logging.getLogger(__name__)


def problem(
    status: int,
    detail: str,
    *,
    field: str | None = None,
    errors: Sequence[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """Build a problem-details answer."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["field"] = field
    if errors:
        body["errors"] = list(errors)
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


def _loc_to_field(loc: Sequence[Any]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or ".".join(str(p) for p in loc)


def _errors_of(exc: OfftakeError) -> list[dict[str, Any]]:
    problems = getattr(exc, "problems", None)
    if not problems:
        return []
    noun = str(getattr(exc, "field", "") or "").split("[", 1)[0] or "items"
    return [{"index": p.index, "field": f"{noun}[{p.index}].{p.field}", "message": p.message} for p in problems]


def install_error_handlers(app: FastAPI) -> None:
    """Turn offtake errors, validation errors and HTTP errors into problem details."""

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            field = _loc_to_field(err.get("loc", ()))
            message = str(err.get("msg", "invalid value"))
            if err.get("type") == "timezone_aware":
                message = "naive time has no time zone; add 'Z' or an offset such as '+05:00'"
            errors.append({"field": field, "message": message})
        first = errors[0] if errors else {"field": None, "message": "invalid request"}
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return problem(
            422,
            f"field '{first['field']}': {first['message']}{more}",
            field=first["field"],
            errors=errors,
        )

    @app.exception_handler(AuthError)
    async def _auth(_request: Request, exc: AuthError) -> JSONResponse:
        challenge = exc.challenge()
        headers = {"WWW-Authenticate": challenge} if challenge is not None else None
        return problem(
            exc.status,
            exc.message,
            headers=headers,
            extra={"error": exc.error, "error_description": exc.message},
        )

    @app.exception_handler(Throttled)
    async def _throttled(_request: Request, exc: Throttled) -> JSONResponse:
        return problem(
            429,
            str(exc),
            headers={"Retry-After": str(exc.retry_after_s)},
            extra={"error": "invalid_client", "error_description": str(exc)},
        )

    @app.exception_handler(PermissionDenied)
    async def _denied(_request: Request, exc: PermissionDenied) -> JSONResponse:
        return problem(403, str(exc))

    @app.exception_handler(NotFoundError)
    async def _missing(_request: Request, exc: NotFoundError) -> JSONResponse:
        return problem(404, str(exc))

    @app.exception_handler(ConflictError)
    async def _conflict(_request: Request, exc: ConflictError) -> JSONResponse:
        return problem(409, exc.message, field=exc.field, errors=_errors_of(exc))

    @app.exception_handler(BodyError)
    async def _body(_request: Request, exc: BodyError) -> JSONResponse:
        return problem(400, exc.location_message(), field=exc.field)

    @app.exception_handler(InputError)
    async def _input(_request: Request, exc: InputError) -> JSONResponse:
        return problem(422, exc.location_message(), field=exc.field, errors=_errors_of(exc))

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(_request: Request, exc: Exception) -> JSONResponse:
        # the request models bound every number they name; this catches one that reached the
        # database by another way (a column of an uploaded file) and is too large to store
        log.warning("a value out of range reached the database: %s", exc)
        return problem(422, "a value in the request is out of range for storage; send smaller numbers")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {_request.method} {_request.url.path}"
        if exc.status_code == 405:
            detail = f"method {_request.method} is not allowed on {_request.url.path}"
        field = getattr(exc, "field", None)
        return problem(exc.status_code, detail, field=field, headers=getattr(exc, "headers", None))
