"""Read and validate a scenario folder; refuse bad input with the file, line and field."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from offtake.errors import InputError
from offtake.scenario.model import Corridor, ReserveRule, Scenario, Zone
from offtake.timeutil import parse_utc, to_utc_index

__all__ = ["bundled_names", "load", "load_layout", "load_period", "resolve_path"]

PLANT_COLUMNS = (
    "name",
    "technology",
    "zone",
    "capacity_mw",
    "marginal_cost_usd_per_mwh",
    "must_run",
    "availability",
)
#: Optional plant columns and their meaning when absent: ``in_service_from`` (in service all
#: period) and ``min_output_pu`` (no contractual minimum off-take).
OPTIONAL_PLANT_COLUMNS = ("in_service_from", "min_output_pu")
TIME_COLUMNS = ("interval_start", "interval_end")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0", ""}


def bundled_names() -> list[str]:
    """Names of the scenarios shipped with the package."""
    root = resources.files("offtake") / "data" / "scenarios"
    return sorted(p.name for p in root.iterdir() if (p / "scenario.toml").is_file())


def resolve_path(path_or_name: str | Path) -> Path:
    """Return the folder of a scenario given as a path or as a bundled name.

    Parameters
    ----------
    path_or_name
        A folder holding ``scenario.toml``, or the name of a bundled scenario.

    Returns
    -------
    Path
        The scenario folder.
    """
    candidate = Path(path_or_name)
    if (candidate / "scenario.toml").is_file():
        return candidate
    if candidate.name == "scenario.toml" and candidate.is_file():
        return candidate.parent
    bundled = resources.files("offtake") / "data" / "scenarios" / str(path_or_name)
    if (bundled / "scenario.toml").is_file():
        return Path(str(bundled))
    raise InputError(
        f"no scenario '{path_or_name}': not a folder with scenario.toml and not a bundled "
        f"scenario (bundled: {', '.join(bundled_names()) or 'none'})"
    )


def load(path_or_name: str | Path, *, _chain: tuple[Path, ...] = ()) -> Scenario:
    """Load and validate a scenario.

    A scenario whose ``scenario.toml`` names a ``[base]`` is derived from that base
    (:mod:`offtake.scenario.derive`).

    Parameters
    ----------
    path_or_name
        A scenario folder, or the name of a bundled scenario such as ``pakistan-2025``.

    Returns
    -------
    Scenario
        The validated scenario.

    Raises
    ------
    InputError
        If anything is missing or wrong; the message names the file, line and field.

    Examples
    --------
    >>> from offtake import scenario
    >>> s = scenario.load("pakistan-2025")
    >>> len(s.index), s.resolution_s
    (8760, 3600)
    """
    folder = resolve_path(path_or_name)
    toml_path = folder / "scenario.toml"
    config = _read_toml(toml_path)
    if "base" in config:
        from offtake.scenario import derive

        return derive.load_derived(folder, config, toml_path, _chain)
    name = _get(config, "name", str, toml_path)
    expected, resolution_s, display_timezone = _period(config, toml_path)
    rate, tariff = _money(config, toml_path)
    zones = _zones(config, toml_path)
    zone_ids = {z.id for z in zones}
    files = _table(config, "files", toml_path)
    demand = _demand(folder / str(files.get("demand", "demand.csv")), zones, expected, resolution_s)
    profiles_path = folder / str(files.get("profiles", "profiles.csv"))
    profiles = (
        _read_series_table(profiles_path, expected, resolution_s)
        if profiles_path.exists()
        else pd.DataFrame(index=expected)
    )
    _check_values(profiles, profiles_path, low=0.0, high=1.0, what="availability [per unit]")
    variable_techs = set(config.get("variable_technologies", []))
    plants_path = folder / str(files.get("plants", "plants.csv"))
    plants, availability = _plants(plants_path, zone_ids, variable_techs, profiles, expected, display_timezone)
    return Scenario(
        name=name,
        title=str(config.get("title", name)),
        path=folder,
        index=expected,
        resolution_s=resolution_s,
        display_timezone=display_timezone,
        zones=zones,
        corridors=_corridors(config, zone_ids, toml_path),
        reserve=_reserve(config, toml_path),
        exchange_rate_pkr_per_usd=rate,
        default_tariff_usd_per_mwh=tariff,
        plants=plants,
        availability_pu=availability,
        demand_mw=demand,
        sources={str(k): str(v) for k, v in dict(config.get("sources", {})).items()},
    )


def load_layout(path_or_name: str | Path) -> tuple[tuple[Zone, ...], tuple[Corridor, ...]]:
    """Read only a scenario's zones (with their map positions) and corridors, for drawing the grid.

    Parameters
    ----------
    path_or_name
        A scenario folder, or the name of a bundled scenario.

    Returns
    -------
    tuple
        The zones and the corridors, validated as :func:`load` does, without reading the CSV files.

    Raises
    ------
    InputError
        If ``scenario.toml`` is missing or wrong; the message names the file and field.
    """
    folder = resolve_path(path_or_name)
    toml_path = folder / "scenario.toml"
    config = _read_toml(toml_path)
    if "base" in config:
        from offtake.scenario import derive

        zones, corridors = load_layout(derive.base_folder(folder, config, toml_path))
        return zones, derive._corridors(config, toml_path, corridors)
    zones = _zones(config, toml_path)
    return zones, _corridors(config, {z.id for z in zones}, toml_path)


def load_period(path_or_name: str | Path) -> tuple[pd.DatetimeIndex, int, str]:
    """Read only a scenario's interval starts, resolution [s] and display time zone.

    For a derived scenario the base's period shifted by ``years_ahead``; what a generator of the
    scenario's profiles needs before the scenario itself can be loaded.
    """
    folder = resolve_path(path_or_name)
    toml_path = folder / "scenario.toml"
    config = _read_toml(toml_path)
    if "base" in config:
        from offtake.scenario import derive

        return derive.period(folder, config, toml_path, (folder,))
    return _period(config, toml_path)


def _read_toml(toml_path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", file=toml_path) from None


def _period(config: Mapping[str, Any], toml_path: Path) -> tuple[pd.DatetimeIndex, int, str]:
    """Read the interval starts of the scenario, its resolution [s] and its display time zone."""
    period = _table(config, "period", toml_path)
    start = parse_utc(str(_get(period, "start", str, toml_path, "period.")), field="period.start", file=str(toml_path))
    end = parse_utc(str(_get(period, "end", str, toml_path, "period.")), field="period.end", file=str(toml_path))
    resolution_s = int(_get(period, "resolution_s", int, toml_path, "period."))
    if resolution_s <= 0 or end <= start:
        raise InputError("period must have end after start and resolution_s > 0", file=toml_path, field="period")
    display_timezone = str(period.get("display_timezone", "UTC"))
    expected = pd.date_range(start, end, freq=pd.Timedelta(seconds=resolution_s), inclusive="left")
    return expected, resolution_s, display_timezone


def _money(config: Mapping[str, Any], toml_path: Path) -> tuple[float, float]:
    """Read the exchange rate [PKR/USD] and the default tariff [USD/MWh]."""
    money = _table(config, "money", toml_path)
    rate = _positive(
        _get(money, "exchange_rate_pkr_per_usd", float, toml_path, "money."),
        "money.exchange_rate_pkr_per_usd",
        toml_path,
    )
    tariff = _nonneg(
        _get(money, "default_tariff_usd_per_mwh", float, toml_path, "money."),
        "money.default_tariff_usd_per_mwh",
        toml_path,
    )
    return rate, tariff


def _demand(demand_path: Path, zones: tuple[Zone, ...], expected: pd.DatetimeIndex, resolution_s: int) -> pd.DataFrame:
    """Read demand per interval and zone [MW], one column per zone in the scenario order."""
    zone_ids = [z.id for z in zones]
    demand = _read_series_table(demand_path, expected, resolution_s)
    missing = [z for z in zone_ids if z not in demand.columns]
    if missing:
        raise InputError(f"no demand column for zone(s) {', '.join(missing)}", file=demand_path, line=1)
    unknown = [c for c in demand.columns if c not in zone_ids]
    if unknown:
        raise InputError(f"column(s) {', '.join(unknown)} are not zones of the scenario", file=demand_path, line=1)
    _check_values(demand, demand_path, low=0.0, high=None, what="demand [MW]")
    return demand[zone_ids]


def _reserve(config: Mapping[str, Any], toml_path: Path) -> ReserveRule:
    """Read the reserve rule of ``[reserve]``."""
    reserve_cfg = _table(config, "reserve", toml_path)
    hold_largest = reserve_cfg.get("hold_largest_unit", False)
    if not isinstance(hold_largest, bool):
        raise InputError(
            f"expected true or false, got {hold_largest!r}", file=toml_path, field="reserve.hold_largest_unit"
        )
    if hold_largest and "largest_unit_mw" not in reserve_cfg:
        raise InputError(
            "needed when hold_largest_unit is true: the size of the largest single unit [MW] "
            "(plant rows may aggregate several units)",
            file=toml_path,
            field="reserve.largest_unit_mw",
        )

    def amount(key: str) -> float:
        field = f"reserve.{key}"
        return _nonneg(_number(reserve_cfg.get(key, 0.0), field, toml_path), field, toml_path)

    return ReserveRule(
        hold_largest_unit=hold_largest,
        largest_unit_mw=amount("largest_unit_mw"),
        fraction_of_demand=amount("fraction_of_demand"),
        fixed_mw=amount("fixed_mw"),
    )


def _get(table: Mapping[str, Any], key: str, kind: type, file: Path, prefix: str = "") -> Any:
    if key not in table:
        raise InputError("missing", file=file, field=prefix + key)
    value = table[key]
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is str and not isinstance(value, str):
        return str(value)
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise InputError(f"expected an integer, got {value!r}", file=file, field=prefix + key)
    if kind is float and not isinstance(value, float):
        raise InputError(f"expected a number, got {value!r}", file=file, field=prefix + key)
    return value


def _table(config: Mapping[str, Any], key: str, file: Path) -> Mapping[str, Any]:
    value = config.get(key)
    if not isinstance(value, dict):
        raise InputError("missing table", file=file, field=f"[{key}]")
    return value


def _number(value: Any, field: str, file: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"expected a number, got {value!r}", file=file, field=field)
    return float(value)


def _positive(value: float, field: str, file: Path) -> float:
    if not value > 0:
        raise InputError(f"must be > 0, got {value}", file=file, field=field)
    return value


def _nonneg(value: float, field: str, file: Path) -> float:
    if not value >= 0:
        raise InputError(f"must be >= 0, got {value}", file=file, field=field)
    return value


def _zones(config: Mapping[str, Any], file: Path) -> tuple[Zone, ...]:
    raw = config.get("zones")
    if not isinstance(raw, list) or not raw:
        raise InputError("at least one [[zones]] entry is needed", file=file, field="zones")
    zones: list[Zone] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or "id" not in entry:
            raise InputError("each zone needs an 'id'", file=file, field=f"zones[{i}].id")
        zid = str(entry["id"])
        if zid in seen:
            raise InputError(f"zone id '{zid}' is defined twice", file=file, field=f"zones[{i}].id")
        seen.add(zid)
        lat, lon = _position(entry, f"zones[{i}]", file)
        zones.append(
            Zone(id=zid, name=str(entry.get("name", zid)), region=str(entry.get("region", "")), lat=lat, lon=lon)
        )
    return tuple(zones)


#: Allowed range of a zone's latitude and longitude [degrees].
_POSITION_RANGE = {"lat": 90.0, "lon": 180.0}


def _position(entry: Mapping[str, Any], where: str, file: Path) -> tuple[float | None, float | None]:
    """Read a zone's optional ``lat``/``lon`` [degrees]: both or neither, numbers within range."""
    given = [key for key in ("lat", "lon") if key in entry]
    if len(given) == 1:
        other = "lon" if given[0] == "lat" else "lat"
        raise InputError(f"'{given[0]}' is given without '{other}'", file=file, field=f"{where}.{other}")
    if not given:
        return None, None
    values = []
    for key, bound in _POSITION_RANGE.items():
        value = entry[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not -bound <= value <= bound:
            raise InputError(
                f"expected degrees between {-bound:g} and {bound:g}, got {value!r}", file=file, field=f"{where}.{key}"
            )
        values.append(float(value))
    return values[0], values[1]


def _corridors(config: Mapping[str, Any], zone_ids: set[str], file: Path) -> tuple[Corridor, ...]:
    corridors: list[Corridor] = []
    seen: set[str] = set()
    for i, entry in enumerate(config.get("corridors", [])):
        where = f"corridors[{i}]"
        for key in ("id", "from", "to", "forward_mw", "reverse_mw"):
            if key not in entry:
                raise InputError("missing", file=file, field=f"{where}.{key}")
        cid = str(entry["id"])
        if cid in seen:
            raise InputError(f"corridor id '{cid}' is defined twice", file=file, field=f"{where}.id")
        seen.add(cid)
        for key in ("from", "to"):
            if entry[key] not in zone_ids:
                raise InputError(f"unknown zone '{entry[key]}'", file=file, field=f"{where}.{key}")
        if entry["from"] == entry["to"]:
            raise InputError("a corridor must join two different zones", file=file, field=where)
        limits = []
        for key in ("forward_mw", "reverse_mw"):
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InputError(f"expected a number >= 0 [MW], got {value!r}", file=file, field=f"{where}.{key}")
            limits.append(float(value))
        corridors.append(
            Corridor(cid, str(entry["from"]), str(entry["to"]), limits[0], limits[1], str(entry.get("description", "")))
        )
    return tuple(corridors)


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError("file not found", file=path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read CSV: {exc}", file=path) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_series_table(path: Path, expected: pd.DatetimeIndex, resolution_s: int) -> pd.DataFrame:
    """Read a wide time-series CSV and check its index against the scenario period."""
    raw = _read_csv(path)
    for col in TIME_COLUMNS:
        if col not in raw.columns:
            raise InputError(f"missing column '{col}'", file=path, line=1, field=col)
    start = to_utc_index(raw["interval_start"], field="interval_start", file=str(path))
    end = to_utc_index(raw["interval_end"], field="interval_end", file=str(path))
    step = pd.Timedelta(seconds=resolution_s)
    bad_len = np.flatnonzero((end - start) != step)
    if bad_len.size:
        row = int(bad_len[0])
        raise InputError(
            f"interval {start[row].isoformat()} to {end[row].isoformat()} is not {resolution_s} s long",
            file=path,
            line=row + 2,
            field="interval_end",
        )
    duplicated = np.flatnonzero(start.duplicated())
    if duplicated.size:
        row = int(duplicated[0])
        raise InputError(
            f"interval {start[row].isoformat()} appears twice", file=path, line=row + 2, field="interval_start"
        )
    deltas = np.diff(start.tz_convert(None).to_numpy().astype("datetime64[s]").astype(np.int64))
    if deltas.size and (deltas <= 0).any():
        row = int(np.flatnonzero(deltas <= 0)[0]) + 1
        raise InputError("intervals are not in time order", file=path, line=row + 2, field="interval_start")
    gaps = np.flatnonzero(deltas != resolution_s)
    if gaps.size:
        row = int(gaps[0])
        raise InputError(
            f"gap in the index: after {start[row].isoformat()} comes {start[row + 1].isoformat()}",
            file=path,
            line=row + 3,
            field="interval_start",
        )
    if len(start) != len(expected) or start[0] != expected[0]:
        first = start[0].isoformat() if len(start) else "nothing"
        raise InputError(
            f"covers {len(start)} intervals from {first}; the scenario period needs {len(expected)} "
            f"from {expected[0].isoformat()}",
            file=path,
            field="interval_start",
        )
    values = raw.drop(columns=list(TIME_COLUMNS))
    numeric = values.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & (values != "nan")
    if bad.to_numpy().any():
        rows, cols = np.nonzero(bad.to_numpy())
        r, c = int(rows[0]), int(cols[0])
        raise InputError(
            f"expected a number, got '{values.iat[r, c]!s}'", file=path, line=r + 2, field=str(values.columns[c])
        )
    numeric.index = expected
    result: pd.DataFrame = numeric.astype(float)
    return result


def _check_values(frame: pd.DataFrame, path: Path, *, low: float, high: float | None, what: str) -> None:
    data = frame.to_numpy()
    bad = ~np.isfinite(data) | (data < low)
    if high is not None:
        bad |= data > high
    if bad.any():
        rows, cols = np.nonzero(bad)
        r, c = int(rows[0]), int(cols[0])
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise InputError(
            f"{what} must be {bound}, got {data[r, c]}", file=path, line=r + 2, field=str(frame.columns[c])
        )


def _parse_bool(text: str, path: Path, line: int, field: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InputError(f"expected true or false, got '{text}'", file=path, line=line, field=field)


def _parse_float(text: str, path: Path, line: int, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"expected a number, got '{text}'", file=path, line=line, field=field) from None
    if not np.isfinite(value):
        raise InputError(f"expected a finite number, got '{text}'", file=path, line=line, field=field)
    return value


def _min_output(text: str, must_run: bool, path: Path, line: int) -> float:
    """Read a plant's contractual minimum loading [per unit of capacity]; 0 when blank."""
    text = text.strip()
    if not text:
        return 0.0
    value = _parse_float(text, path, line, "min_output_pu")
    if not 0.0 <= value <= 1.0:
        raise InputError(
            f"minimum output must be in [0, 1] (a share of capacity), got {value}",
            file=path,
            line=line,
            field="min_output_pu",
        )
    if must_run and value > 0.0:
        raise InputError(
            "a must-run plant already produces all its available output; leave min_output_pu empty",
            file=path,
            line=line,
            field="min_output_pu",
        )
    return value


def _plants(
    path: Path,
    zone_ids: set[str],
    variable_techs: set[str],
    profiles: pd.DataFrame,
    index: pd.DatetimeIndex,
    display_timezone: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = _read_csv(path)
    for col in PLANT_COLUMNS:
        if col not in raw.columns:
            raise InputError(f"missing column '{col}'", file=path, line=1, field=col)
    if raw.empty:
        raise InputError("no plants", file=path)
    records: list[dict[str, Any]] = []
    columns: dict[str, np.ndarray] = {}
    seen: set[str] = set()
    for i, row in enumerate(raw.to_dict("records")):
        line = i + 2
        name = row["name"].strip()
        if not name:
            raise InputError("empty plant name", file=path, line=line, field="name")
        if name in seen:
            raise InputError(f"plant '{name}' appears twice", file=path, line=line, field="name")
        seen.add(name)
        zone = row["zone"].strip()
        if zone not in zone_ids:
            raise InputError(
                f"unknown zone '{zone}' (zones: {', '.join(sorted(zone_ids))})", file=path, line=line, field="zone"
            )
        capacity = _parse_float(row["capacity_mw"], path, line, "capacity_mw")
        if capacity < 0:
            raise InputError(f"capacity must be >= 0 MW, got {capacity}", file=path, line=line, field="capacity_mw")
        cost = _parse_float(row["marginal_cost_usd_per_mwh"], path, line, "marginal_cost_usd_per_mwh")
        if cost < 0:
            raise InputError(
                f"marginal cost must be >= 0 USD/MWh, got {cost}",
                file=path,
                line=line,
                field="marginal_cost_usd_per_mwh",
            )
        must_run = _parse_bool(row["must_run"], path, line, "must_run")
        technology = row["technology"].strip()
        if not technology:
            raise InputError("empty technology", file=path, line=line, field="technology")
        availability_text = row["availability"].strip()
        try:
            constant = float(availability_text)
        except ValueError:
            if availability_text not in profiles.columns:
                raise InputError(
                    f"availability '{availability_text}' is neither a number in [0, 1] nor a profile in profiles.csv",
                    file=path,
                    line=line,
                    field="availability",
                ) from None
            series = profiles[availability_text].to_numpy(dtype=float)
        else:
            if not 0.0 <= constant <= 1.0:
                raise InputError(
                    f"availability must be in [0, 1], got {constant}", file=path, line=line, field="availability"
                )
            series = np.full(len(index), constant)
        in_service = row.get("in_service_from", "").strip()
        if in_service:
            try:
                since = pd.Timestamp(in_service)
            except ValueError:
                raise InputError(
                    f"'{in_service}' is not a date", file=path, line=line, field="in_service_from"
                ) from None
            if since.tzinfo is None:
                since = since.tz_localize(display_timezone)
            series = np.where(index >= since, series, 0.0)
        min_output = _min_output(row.get("min_output_pu", ""), must_run, path, line)
        columns[name] = series
        records.append(
            {
                "name": name,
                "technology": technology,
                "zone": zone,
                "capacity_mw": capacity,
                "marginal_cost_usd_per_mwh": cost,
                "must_run": must_run,
                "variable": technology in variable_techs,
                "min_output_pu": min_output,
            }
        )
    plants = pd.DataFrame.from_records(records).set_index("name")
    availability = pd.DataFrame(columns, index=index)
    return plants, availability
