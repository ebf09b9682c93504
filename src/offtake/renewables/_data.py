"""Read the sourced tables of ``data/renewables``: every number is ``{value, unit, source, estimate}``."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from offtake.errors import InputError

__all__ = ["data_path", "number", "read_table", "twelve"]


def data_path(name: str) -> Path:
    """Path of a bundled table, e.g. ``solar.toml``."""
    return Path(str(resources.files("offtake") / "data" / "renewables" / name))


def read_table(path: Path) -> dict[str, Any]:
    """Read a TOML table; a missing or malformed file is an :class:`InputError` naming it."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", file=path) from None


def _entry(table: Mapping[str, Any], dotted: str, path: Path) -> Any:
    node: Any = table
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise InputError("missing", file=path, field=dotted)
        node = node[part]
    if not isinstance(node, Mapping) or "value" not in node or "source" not in node:
        raise InputError("expected {value, unit, source, estimate}", file=path, field=dotted)
    return node["value"]


def number(table: Mapping[str, Any], dotted: str, path: Path) -> float:
    """Return the finite number at ``dotted`` (e.g. ``turbine.losses``)."""
    value = _entry(table, dotted, path)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or abs(value) == float("inf"):
        raise InputError(f"expected a number, got {value!r}", file=path, field=dotted)
    return float(value)


def twelve(table: Mapping[str, Any], dotted: str, path: Path, *, low: float, high: float) -> list[float]:
    """Twelve monthly numbers (January first) within ``[low, high]``."""
    value = _entry(table, dotted, path)
    if not isinstance(value, list) or len(value) != 12:
        raise InputError("expected 12 monthly values, January first", file=path, field=dotted)
    out = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int | float) or not low <= item <= high:
            raise InputError(
                f"month {i + 1}: expected a number in [{low:g}, {high:g}], got {item!r}", file=path, field=dotted
            )
        out.append(float(item))
    return out
