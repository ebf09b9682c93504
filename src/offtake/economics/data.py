"""Read the economics data files: every number carries its unit, its source and an estimate flag."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from offtake.errors import InputError

__all__ = ["Quantity", "Sections", "data_path", "load_sections", "load_table", "quantities", "quantity"]


@dataclass(frozen=True)
class Quantity:
    """A number from the world with its unit and source.

    Parameters
    ----------
    value
        The number, in ``unit``.
    unit
        Unit text, e.g. ``USD/MWh``.
    source
        Where the number comes from.
    estimate
        True when the number was assumed or estimated rather than taken from a source.
    """

    value: float
    unit: str
    source: str
    estimate: bool


def data_path(name: str) -> Path:
    """Path of a bundled economics data file, e.g. ``bitcoin.toml``."""
    return Path(str(resources.files("offtake") / "data" / "economics" / name))


def load_table(path_or_name: str | Path) -> tuple[dict[str, Any], Path]:
    """Read a TOML data file given as a path or as a bundled file name.

    Returns
    -------
    tuple
        The parsed document and the path it was read from.
    """
    path = Path(path_or_name)
    if not path.is_file():
        path = data_path(str(path_or_name))
    if not path.is_file():
        raise InputError("data file not found", file=path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), path
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", file=path) from None


def quantity(table: Mapping[str, Any], key: str, file: Path, prefix: str = "") -> Quantity:
    """Read one ``{value, unit, source, estimate}`` entry, refusing anything without a source.

    Parameters
    ----------
    table
        The TOML table holding the entry.
    key
        Entry name.
    file
        File the table came from, for error messages.
    prefix
        Dotted path of ``table`` in the file, for error messages.
    """
    field = f"{prefix}{key}"
    if key not in table:
        raise InputError("missing", file=file, field=field)
    entry = table[key]
    if not isinstance(entry, dict):
        raise InputError("expected a table {value, unit, source, estimate}", file=file, field=field)
    value = entry.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"expected a number in 'value', got {value!r}", file=file, field=f"{field}.value")
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise InputError("every number needs a 'source'", file=file, field=f"{field}.source")
    estimate = entry.get("estimate")
    if not isinstance(estimate, bool):
        raise InputError("'estimate' must be true or false", file=file, field=f"{field}.estimate")
    return Quantity(float(value), str(entry.get("unit", "")), source.strip(), estimate)


def quantities(table: Mapping[str, Any], file: Path, prefix: str = "") -> dict[str, Quantity]:
    """Read every ``{value, ...}`` entry of a TOML table."""
    return {
        key: quantity(table, key, file, prefix)
        for key, entry in table.items()
        if isinstance(entry, dict) and "value" in entry
    }


@dataclass(frozen=True)
class Sections:
    """The sourced numbers of some tables of a data file, keyed by ``section.name``.

    Attributes
    ----------
    doc
        The whole parsed file.
    file
        Its path, for error messages.
    quantities
        Every sourced number of the tables read.
    """

    doc: dict[str, Any]
    file: Path
    quantities: dict[str, Quantity]

    def value(self, key: str, low: float | None = None, high: float | None = None) -> float:
        """Return the value of ``key`` (``section.name``), checked against optional bounds."""
        if key not in self.quantities:
            raise InputError("missing", file=self.file, field=key)
        value = self.quantities[key].value
        if (low is not None and value < low) or (high is not None and value > high):
            raise InputError(f"out of range: {value}", file=self.file, field=f"{key}.value")
        return value


def load_sections(path_or_name: str | Path, sections: tuple[str, ...]) -> Sections:
    """Read the tables ``sections`` of a data file; each must exist and every number carry a source."""
    doc, file = load_table(path_or_name)
    found: dict[str, Quantity] = {}
    for section in sections:
        table = doc.get(section)
        if not isinstance(table, dict):
            raise InputError("missing table", file=file, field=f"[{section}]")
        found.update({f"{section}.{k}": v for k, v in quantities(table, file, f"{section}.").items()})
    return Sections(doc=doc, file=file, quantities=found)
