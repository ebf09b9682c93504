"""Scenarios years ahead, derived from a base scenario rather than copied from it.

A derived scenario's ``scenario.toml`` names a base and says what changes::

    name = "pakistan-2030"
    [base]
    scenario = "pakistan-2025"     # a bundled name, or a folder relative to this one
    years_ahead = 5                # the base's hours, shifted by whole calendar years
    [demand]
    annual_growth = 0.025          # compounded over years_ahead [-/year]
    zone_growth = { KE = 0.03 }    # optional per-zone rates [-/year]
    [files]
    profiles = "profiles.csv"      # this period's own profiles (added to, or replacing, the base's)
    plants_added = "plants-added.csv"
    [[rooftop]]                    # behind-the-meter solar added since the base: lowers grid demand
    zone = "LESCO"
    added_mw = 1500
    profile = "solar_rooftop_LESCO"
    [[retire]]
    plant = "Furnace oil (LESCO)"
    from = "2027-07-01"            # local date (the display time zone) or an aware time
    [[corridor_limits]]
    id = "ke-interconnection"
    forward_mw = 2000
    reverse_mw = 500

Everything else (zones, corridors, reserve, money, the plants and whatever else the base's loader
reads) comes from the base as it is loaded now, so a change to the base carries over. Base plants are
re-read on the new period, so a plant whose ``in_service_from`` falls between the two years is in
service in the derived one; a retired plant keeps its row with zero availability from its date.
Optional ``[money]`` and ``[sources]`` tables override or add to the base's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from offtake.errors import InputError
from offtake.scenario import loader
from offtake.scenario.model import Corridor, Scenario

__all__ = ["MAX_YEARS_AHEAD", "base_folder", "is_derived", "load_derived", "period"]

#: Largest shift of a derived scenario from its base [years].
MAX_YEARS_AHEAD = 50
#: Top-level keys a derived ``scenario.toml`` may hold; the rest (period, zones, ...) come from the base.
KEYS = frozenset(
    {
        "name",
        "title",
        "base",
        "demand",
        "files",
        "rooftop",
        "retire",
        "corridor_limits",
        "money",
        "sources",
        "variable_technologies",
    }
)


def is_derived(config: Mapping[str, Any]) -> bool:
    """Whether a parsed ``scenario.toml`` names a base scenario."""
    return "base" in config


def base_folder(folder: Path, config: Mapping[str, Any], toml_path: Path) -> Path:
    """Folder of the base scenario: a folder relative to ``folder``, or a bundled name."""
    base = loader._table(config, "base", toml_path)
    ref = str(loader._get(base, "scenario", str, toml_path, "base."))
    relative = folder / ref
    if (relative / "scenario.toml").is_file():
        return relative.resolve()
    try:
        return loader.resolve_path(ref)
    except InputError:
        raise InputError(f"no base scenario '{ref}'", file=toml_path, field="base.scenario") from None


def _years(config: Mapping[str, Any], toml_path: Path) -> int:
    years = loader._get(loader._table(config, "base", toml_path), "years_ahead", int, toml_path, "base.")
    if not 1 <= years <= MAX_YEARS_AHEAD:
        raise InputError(
            f"must be between 1 and {MAX_YEARS_AHEAD}, got {years}", file=toml_path, field="base.years_ahead"
        )
    return int(years)


def _shift(index: pd.DatetimeIndex, years: int, resolution_s: int, toml_path: Path) -> pd.DatetimeIndex:
    shifted = pd.DatetimeIndex(index + pd.DateOffset(years=years))
    if len(shifted) > 1 and ((shifted[1:] - shifted[:-1]) != pd.Timedelta(seconds=resolution_s)).any():
        raise InputError(
            f"shifting the base period by {years} years does not give a regular period (a 29 February "
            "falls in one year and not the other); choose years_ahead so both years have the same days",
            file=toml_path,
            field="base.years_ahead",
        )
    return shifted


def period(
    folder: Path, config: Mapping[str, Any], toml_path: Path, _chain: tuple[Path, ...] = ()
) -> tuple[pd.DatetimeIndex, int, str]:
    """Interval starts, resolution [s] and display time zone of a derived scenario, without loading it."""
    base_dir = _check_chain(base_folder(folder, config, toml_path), _chain, toml_path)
    base_toml = base_dir / "scenario.toml"
    base_config = loader._read_toml(base_toml)
    if is_derived(base_config):
        index, resolution_s, tz = period(base_dir, base_config, base_toml, (*_chain, base_dir))
    else:
        index, resolution_s, tz = loader._period(base_config, base_toml)
    return _shift(index, _years(config, toml_path), resolution_s, toml_path), resolution_s, tz


def _check_chain(base_dir: Path, chain: tuple[Path, ...], toml_path: Path) -> Path:
    if base_dir.resolve() in {p.resolve() for p in chain}:
        raise InputError("the chain of base scenarios comes back to itself", file=toml_path, field="base.scenario")
    return base_dir


def load_derived(folder: Path, config: Mapping[str, Any], toml_path: Path, _chain: tuple[Path, ...] = ()) -> Scenario:
    """Load a derived scenario (see the module's description).

    Raises
    ------
    InputError
        If the base is missing or circular, or a change names an unknown zone, plant, profile or
        corridor; the message names the file, line and field.
    """
    unknown = sorted(set(config) - KEYS)
    if unknown:
        raise InputError(
            "not read in a derived scenario (it comes from the base, or is unknown); "
            f"allowed: {', '.join(sorted(KEYS))}",
            file=toml_path,
            field=unknown[0],
        )
    chain = (*_chain, folder)
    base_dir = _check_chain(base_folder(folder, config, toml_path), chain, toml_path)
    base = loader.load(base_dir, _chain=chain)
    years = _years(config, toml_path)
    index = _shift(base.index, years, base.resolution_s, toml_path)
    profiles = _profiles(folder, config, index)
    plants, availability = _plants(folder, config, base, profiles)
    demand = _demand(config, toml_path, base, profiles, years, index)
    name = str(loader._get(config, "name", str, toml_path))
    rate, tariff = (
        loader._money(config, toml_path)
        if "money" in config
        else (base.exchange_rate_pkr_per_usd, base.default_tariff_usd_per_mwh)
    )
    sources = {**base.sources, **{str(k): str(v) for k, v in dict(config.get("sources", {})).items()}}
    return replace(
        base,
        name=name,
        title=str(config.get("title", name)),
        path=folder,
        index=index,
        exchange_rate_pkr_per_usd=rate,
        default_tariff_usd_per_mwh=tariff,
        corridors=_corridors(config, toml_path, base.corridors),
        plants=plants,
        availability_pu=availability,
        demand_mw=demand,
        sources=sources,
    )


def _files(config: Mapping[str, Any]) -> Mapping[str, Any]:
    files = config.get("files", {})
    return files if isinstance(files, dict) else {}


def _own_period(folder: Path, config: Mapping[str, Any], toml_path: Path) -> tuple[pd.DatetimeIndex, int]:
    index, resolution_s, _ = (
        period(folder, config, toml_path) if is_derived(config) else loader._period(config, toml_path)
    )
    return index, resolution_s


def _profiles(folder: Path, config: Mapping[str, Any], index: pd.DatetimeIndex) -> pd.DataFrame:
    """Return the profiles of a scenario and of its bases on ``index``, the nearer scenario's first.

    Each file is read on its own scenario's period and then laid, hour for hour, on ``index``.
    """
    toml_path = folder / "scenario.toml"
    frame = pd.DataFrame(index=index)
    if is_derived(config):
        base_dir = base_folder(folder, config, toml_path)
        frame = _profiles(base_dir, loader._read_toml(base_dir / "scenario.toml"), index)
    path = folder / str(_files(config).get("profiles", "profiles.csv"))
    if path.exists():
        own_index, resolution_s = _own_period(folder, config, toml_path)
        own = loader._read_series_table(path, own_index, resolution_s)
        loader._check_values(own, path, low=0.0, high=1.0, what="availability [per unit]")
        for column in own.columns:
            frame[column] = own[column].to_numpy()
    return frame


def _variable(folder: Path, config: Mapping[str, Any]) -> set[str]:
    """Variable technologies of a scenario and its bases."""
    found = {str(t) for t in config.get("variable_technologies", [])}
    if is_derived(config):
        base_dir = base_folder(folder, config, folder / "scenario.toml")
        found |= _variable(base_dir, loader._read_toml(base_dir / "scenario.toml"))
    return found


def _availability(
    folder: Path,
    config: Mapping[str, Any],
    zone_ids: set[str],
    variable: set[str],
    profiles: pd.DataFrame,
    timezone: str,
) -> pd.DataFrame:
    """Availability of every plant of a scenario and its bases on the profiles' index [per unit].

    A plain scenario's ``plants.csv`` is read on that index (so in-service dates apply to it); a
    derived one adds its own plants and applies its retirements to its base's.
    """
    toml_path = folder / "scenario.toml"
    files = _files(config)
    if not is_derived(config):
        path = folder / str(files.get("plants", "plants.csv"))
        return loader._plants(path, zone_ids, variable, profiles, pd.DatetimeIndex(profiles.index), timezone)[1]
    base_dir = base_folder(folder, config, toml_path)
    availability = _availability(
        base_dir, loader._read_toml(base_dir / "scenario.toml"), zone_ids, variable, profiles, timezone
    )
    added_name = files.get("plants_added")
    if added_name is not None:
        added_path = folder / str(added_name)
        extra = loader._plants(added_path, zone_ids, variable, profiles, pd.DatetimeIndex(profiles.index), timezone)[1]
        for line, name in enumerate(extra.columns, start=2):
            if name in availability.columns:
                raise InputError(
                    f"plant '{name}' is already in the base scenario", file=added_path, line=line, field="name"
                )
        availability = pd.concat([availability, extra], axis=1)
    return _retire(config, toml_path, availability, timezone)


def _plants(
    folder: Path, config: Mapping[str, Any], base: Scenario, profiles: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the plants (the base's rows, then this scenario's added ones) and their availability."""
    zone_ids = set(base.zone_ids)
    variable = _variable(folder, config)
    availability = _availability(folder, config, zone_ids, variable, profiles, base.display_timezone)
    plants = base.plants
    added_name = _files(config).get("plants_added")
    if added_name is not None:
        extra = loader._plants(
            folder / str(added_name),
            zone_ids,
            variable,
            profiles,
            pd.DatetimeIndex(profiles.index),
            base.display_timezone,
        )[0]
        plants = pd.concat([plants, extra])
    return plants, availability[list(plants.index)]


def _retire(config: Mapping[str, Any], toml_path: Path, availability: pd.DataFrame, timezone: str) -> pd.DataFrame:
    entries = config.get("retire", [])
    if not isinstance(entries, list):
        raise InputError("expected [[retire]] entries", file=toml_path, field="retire")
    availability = availability.copy()
    for i, entry in enumerate(entries):
        where = f"retire[{i}]"
        if not isinstance(entry, dict):
            raise InputError("expected a table", file=toml_path, field=where)
        plant = str(loader._get(entry, "plant", str, toml_path, f"{where}."))
        if plant not in availability.columns:
            raise InputError(f"no plant '{plant}' in the scenario", file=toml_path, field=f"{where}.plant")
        text = str(loader._get(entry, "from", str, toml_path, f"{where}."))
        try:
            since = pd.Timestamp(text)
        except ValueError:
            raise InputError(f"'{text}' is not a date", file=toml_path, field=f"{where}.from") from None
        if since.tzinfo is None:
            since = since.tz_localize(timezone)
        availability.loc[availability.index >= since, plant] = 0.0
    return availability


def _demand(
    config: Mapping[str, Any],
    toml_path: Path,
    base: Scenario,
    profiles: pd.DataFrame,
    years: int,
    index: pd.DatetimeIndex,
) -> pd.DataFrame:
    """Grow the base demand by the annual rates and take off the rooftop solar added since the base [MW]."""
    table = config.get("demand", {})
    if not isinstance(table, dict):
        raise InputError("expected a table", file=toml_path, field="[demand]")
    growth = loader._number(table.get("annual_growth", 0.0), "demand.annual_growth", toml_path)
    rates = {z: growth for z in base.zone_ids}
    for zone, value in dict(table.get("zone_growth", {})).items():
        if zone not in rates:
            raise InputError(f"unknown zone '{zone}'", file=toml_path, field=f"demand.zone_growth.{zone}")
        rates[zone] = loader._number(value, f"demand.zone_growth.{zone}", toml_path)
    for rate in rates.values():
        if not -0.5 < rate < 1.0:
            raise InputError(
                f"must be between -0.5 and 1 per year, got {rate}", file=toml_path, field="demand.annual_growth"
            )
    factors = np.array([(1.0 + rates[z]) ** years for z in base.zone_ids])
    demand = base.demand_mw.to_numpy() * factors[None, :]
    for i, entry in enumerate(config.get("rooftop", [])):
        zone, added_mw, profile = _rooftop(entry, f"rooftop[{i}]", toml_path, base.zone_ids, profiles)
        demand[:, base.zone_ids.index(zone)] -= added_mw * profiles[profile].to_numpy()
    return pd.DataFrame(np.maximum(demand, 0.0), index=index, columns=base.zone_ids)


def _rooftop(
    entry: Any, where: str, toml_path: Path, zone_ids: list[str], profiles: pd.DataFrame
) -> tuple[str, float, str]:
    if not isinstance(entry, dict):
        raise InputError("expected a table", file=toml_path, field=where)
    zone = str(loader._get(entry, "zone", str, toml_path, f"{where}."))
    if zone not in zone_ids:
        raise InputError(f"unknown zone '{zone}'", file=toml_path, field=f"{where}.zone")
    added = loader._nonneg(
        loader._number(loader._get(entry, "added_mw", float, toml_path, f"{where}."), f"{where}.added_mw", toml_path),
        f"{where}.added_mw",
        toml_path,
    )
    profile = str(loader._get(entry, "profile", str, toml_path, f"{where}."))
    if profile not in profiles.columns:
        raise InputError(
            f"no profile '{profile}' in the base's or this scenario's profiles",
            file=toml_path,
            field=f"{where}.profile",
        )
    return zone, added, profile


def _corridors(config: Mapping[str, Any], toml_path: Path, corridors: tuple[Corridor, ...]) -> tuple[Corridor, ...]:
    by_id = {c.id: c for c in corridors}
    for i, entry in enumerate(config.get("corridor_limits", [])):
        where = f"corridor_limits[{i}]"
        if not isinstance(entry, dict):
            raise InputError("expected a table", file=toml_path, field=where)
        cid = str(loader._get(entry, "id", str, toml_path, f"{where}."))
        if cid not in by_id:
            raise InputError(f"no corridor '{cid}' in the base scenario", file=toml_path, field=f"{where}.id")
        limits: dict[str, float] = {}
        for key in ("forward_mw", "reverse_mw"):
            value = entry.get(key, getattr(by_id[cid], key))
            limits[key] = loader._nonneg(
                loader._number(value, f"{where}.{key}", toml_path), f"{where}.{key}", toml_path
            )
        by_id[cid] = replace(by_id[cid], forward_mw=limits["forward_mw"], reverse_mw=limits["reverse_mw"])
    return tuple(by_id[c.id] for c in corridors)
