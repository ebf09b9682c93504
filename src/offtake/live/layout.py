"""The grid's drawing: zones with their map positions and the corridors of the feed's scenario.

The console draws its schematic map from this; it reads only ``scenario.toml`` (no CSV file,
no assessment), and keeps the answer while the file is unchanged.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from offtake.errors import InputError
from offtake.scenario import Corridor, Zone, load_layout, resolve_path

__all__ = ["GridLayout", "feed_layout"]


@dataclass(frozen=True)
class GridLayout:
    """Zones (with ``lat``/``lon`` where the scenario gives them) and corridors of a grid feed."""

    zones: tuple[Zone, ...]
    corridors: tuple[Corridor, ...]


_cache: dict[tuple[str, int], GridLayout] = {}
_lock = threading.Lock()


def feed_layout(spec: str | None) -> GridLayout | None:
    """Return the layout of the grid feed named by ``spec`` (``scenario:NAME_OR_PATH``).

    Parameters
    ----------
    spec
        The ``OFFTAKE_GRID_FEED`` setting, or None when no feed is configured.

    Returns
    -------
    GridLayout or None
        None when no feed is configured or the feed is not a scenario.

    Raises
    ------
    InputError
        If the scenario's ``scenario.toml`` is missing or wrong (naming the file and field).
    """
    if spec is None:
        return None
    kind, sep, argument = spec.strip().partition(":")
    if kind != "scenario" or not sep or not argument.strip():
        return None
    toml_path = resolve_path(argument.strip()) / "scenario.toml"
    try:
        key = (str(toml_path), toml_path.stat().st_mtime_ns)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=toml_path) from None
    with _lock:
        found = _cache.get(key)
    if found is None:
        found = GridLayout(*load_layout(toml_path.parent))
        with _lock:
            _cache[key] = found
    return found
