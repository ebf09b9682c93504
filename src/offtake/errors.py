"""Errors that reach a user: each names where the problem is and what was expected."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ConflictError", "InputError", "NotFoundError", "NotVisibleError", "OfftakeError", "PermissionDenied"]


class OfftakeError(Exception):
    """Base class of every error offtake raises on purpose."""


class InputError(OfftakeError, ValueError):
    """Bad input, located as precisely as possible.

    Parameters
    ----------
    message
        What is wrong and what was expected.
    file
        The file the value came from, if any.
    line
        1-based line number in ``file`` (the header is line 1 of a CSV).
    field
        The column, key or attribute name.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.field = field
        super().__init__(self.location_message())

    def location_message(self) -> str:
        """Return ``file:line: field: message`` with the parts that are known."""
        where = []
        if self.file is not None:
            where.append(self.file if self.line is None else f"{self.file}:{self.line}")
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class PermissionDenied(OfftakeError):
    """The caller is authenticated but may not do this (HTTP 403)."""


class NotFoundError(OfftakeError):
    """The object asked for does not exist (HTTP 404)."""


class NotVisibleError(NotFoundError, PermissionDenied):
    """The object exists but belongs to another tenant: answered exactly like a missing one.

    An operator or VEN must not learn from a 403 that an id it guessed exists, so the message
    is the one an unknown id gets (``<what> does not exist``) and HTTP answers 404. It is
    still a :class:`PermissionDenied` for code that checks access.
    """

    def __init__(self, what: str) -> None:
        super().__init__(not_found_message(what))


def not_found_message(what: str) -> str:
    """Return the message of a missing object, e.g. ``site 'S1' does not exist``."""
    return f"{what} does not exist"


class ConflictError(OfftakeError):
    """The request contradicts data already accepted (HTTP 409).

    Parameters
    ----------
    message
        What conflicts and with what.
    field
        The field whose value conflicts, if one does.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(message)
