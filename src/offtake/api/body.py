"""Request bodies parsed strictly, for every route (REST, OpenADR and the token endpoint).

Python's :mod:`json` accepts ``NaN``, ``Infinity`` and ``-Infinity`` and turns ``1e400`` into
infinity; none of these is JSON (RFC 8259 §6), a database or a client can store or read them,
and a stored one would break every later listing. A body holding one is refused with a 400
problem that names the field, before anything is stored. Nesting is bounded too: a body nested
deeper than :data:`MAX_DEPTH` is refused with 400 instead of exhausting the parser's stack.

:class:`StrictJsonRoute` makes FastAPI parse bodies with :func:`parse_json`; every router of
the API is built with it (``APIRouter(route_class=StrictJsonRoute)``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from offtake.errors import InputError

__all__ = [
    "MAX_DEPTH",
    "BodyError",
    "BodyHTTPError",
    "JsonSyntaxError",
    "StrictJsonRequest",
    "StrictJsonRoute",
    "parse_json",
]

#: Deepest nesting of objects and arrays a body may have (OpenADR objects need under 10).
MAX_DEPTH = 32


class BodyError(InputError):
    """A request body that is not acceptable JSON (non-finite number, too deep, malformed)."""


class JsonSyntaxError(BodyError):
    """A body that is not JSON at all (the REST routes answer it 422, as FastAPI does)."""

    def __init__(self, message: str, cause: json.JSONDecodeError | UnicodeDecodeError) -> None:
        super().__init__(message)
        self.cause = cause


class BodyHTTPError(HTTPException):
    """:class:`BodyError` as FastAPI lets it through its body parser (answered 400)."""

    def __init__(self, error: BodyError) -> None:
        super().__init__(400, error.location_message())
        self.field = error.field


class _NonFinite:
    """Placeholder for a non-finite number, located after parsing."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _path(parts: tuple[str | int, ...]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + part
    return text or "body"


def _scan(data: Any) -> tuple[int, tuple[str | int, ...] | None, _NonFinite | None]:
    """Return the nesting depth, and the path and value of the first non-finite number."""
    deepest = 0
    stack: list[tuple[Any, tuple[str | int, ...], int]] = [(data, (), 0)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, _NonFinite):
            return deepest, where, node
        if isinstance(node, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest, where, None
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((value, (*where, key), depth) for key, value in reversed(list(items)))
    return deepest, None, None


def parse_json(raw: bytes | str) -> Any:
    """Parse a request body as strict JSON.

    Parameters
    ----------
    raw
        The body (UTF-8).

    Returns
    -------
    Any
        The parsed value.

    Raises
    ------
    BodyError
        If the body is not JSON, holds ``NaN``/``Infinity`` or a number too large for a
        float, or is nested deeper than :data:`MAX_DEPTH`; the error names the field.

    Examples
    --------
    >>> parse_json(b'{"a": [1, 2.5]}')
    {'a': [1, 2.5]}
    >>> parse_json(b'{"a": [1, NaN]}')
    Traceback (most recent call last):
    ...
    offtake.api.body.BodyError: field 'a[1]': NaN is not a JSON number; send a finite number
    """
    seen: list[_NonFinite] = []

    def constant(text: str) -> _NonFinite:
        seen.append(_NonFinite(text))
        return seen[-1]

    def number(text: str) -> float | _NonFinite:
        value = float(text)
        return value if math.isfinite(value) else constant(text)

    try:
        data = json.loads(raw, parse_constant=constant, parse_float=number)
    except RecursionError:
        raise BodyError(f"the body is nested too deeply; at most {MAX_DEPTH} levels are accepted") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise JsonSyntaxError(f"the body is not valid JSON: {exc}", exc) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise BodyError(f"the body holds a number out of range: {exc}") from None
    if not seen and _brackets(raw) <= MAX_DEPTH:
        return data
    depth, where, bad = _scan(data)
    if bad is not None and where is not None:
        raise BodyError(f"{bad.text} is not a JSON number; send a finite number", field=_path(where))
    if depth > MAX_DEPTH:
        raise BodyError(f"the body is nested more than {MAX_DEPTH} levels deep")
    return data


def _brackets(raw: bytes | str) -> int:
    if isinstance(raw, str):
        return raw.count("[") + raw.count("{")
    return raw.count(b"[") + raw.count(b"{")


class StrictJsonRequest(Request):
    """A request whose :meth:`json` is :func:`parse_json` (a :class:`BodyError` is a 400)."""

    async def json(self) -> Any:
        """Return the body parsed by :func:`parse_json`."""
        if not hasattr(self, "_json"):
            try:
                self._json = parse_json(await self.body())
            except JsonSyntaxError as exc:
                if isinstance(exc.cause, json.JSONDecodeError):
                    raise exc.cause from None
                raise BodyHTTPError(exc) from None
            except BodyError as exc:
                raise BodyHTTPError(exc) from None
        return self._json


class StrictJsonRoute(APIRoute):
    """An API route that parses JSON bodies with :func:`parse_json`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler so it sees a :class:`StrictJsonRequest`."""
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_handler
