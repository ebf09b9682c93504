"""The two wire dialects of the VTN: OpenADR 3.1.0 and 3.0.1.

They differ only in the shape of ``targets``: 3.0 writes
``[{"type": "VEN_NAME", "values": ["x"]}]`` where 3.1 writes ``["VEN_NAME:x"]``. Objects are
stored in the 3.1 form; what a 3.0.1 client sends is converted on the way in and what it
receives (answers and webhook notifications) on the way out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

__all__ = ["LEGACY", "Dialect", "targets_from_30", "targets_to_30", "to_dialect", "walk"]

Dialect = Literal["3.1.0", "3.0.1"]
#: The 3.0 dialect (targets as valuesMaps).
LEGACY: Dialect = "3.0.1"
_TARGET_FIELDS = ("targets",)


def targets_to_30(targets: list[str]) -> list[dict[str, Any]]:
    """Return 3.1 target strings as 3.0 valuesMaps, grouped by type (``GROUP`` if none)."""
    grouped: dict[str, list[str]] = {}
    for target in targets:
        kind, sep, value = target.partition(":")
        if sep and kind.isupper():
            grouped.setdefault(kind, []).append(value)
        else:
            grouped.setdefault("GROUP", []).append(target)
    return [{"type": kind, "values": values} for kind, values in grouped.items()]


def targets_from_30(targets: Any) -> Any:
    """Return 3.0 valuesMaps as 3.1 target strings; anything else unchanged."""
    if not isinstance(targets, list):
        return targets
    out: list[Any] = []
    for target in targets:
        if isinstance(target, dict) and isinstance(target.get("values"), list):
            out.extend(f"{target.get('type')}:{value}" for value in target["values"])
        else:
            out.append(target)
    return out


def walk(data: Any, convert: Callable[[Any], Any]) -> Any:
    """Return ``data`` with every ``targets`` member, at any depth, passed through ``convert``."""
    if isinstance(data, dict):
        return {
            key: convert(value) if key in _TARGET_FIELDS and value is not None else walk(value, convert)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [walk(item, convert) for item in data]
    return data


def to_dialect(data: Any, dialect: str | None) -> Any:
    """Return JSON-ready ``data`` as a client of ``dialect`` reads it (3.1.0 unchanged)."""
    return walk(data, targets_to_30) if dialect == LEGACY else data
