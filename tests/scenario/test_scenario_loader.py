"""The scenario loader refuses bad input and names file, line and field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from offtake import InputError, scenario

DATA = Path(__file__).parents[1] / "data"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"test setup: '{old}' not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def _csv_rows(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_loads_three_zone() -> None:
    s = scenario.load(DATA / "three-zone")
    assert s.zone_ids == ["north", "south", "city"]
    assert len(s.index) == 168
    assert str(s.index.tz) == "UTC"
    assert s.reserve.largest_unit_mw == 500
    assert s.plants.loc["Solar South", "variable"]
    assert not s.plants.loc["Gas North", "variable"]
    # availability by profile and by constant
    assert s.availability_pu["Solar South"].max() <= 1.0
    assert np.allclose(s.availability_pu["Gas North"], 0.9)


def test_unknown_scenario_name() -> None:
    with pytest.raises(InputError, match="no scenario 'atlantis'"):
        scenario.load("atlantis")


def test_plant_in_unknown_zone(three_zone_copy: Path) -> None:
    _edit(three_zone_copy / "plants.csv", "Gas North,gas,north", "Gas North,gas,narnia")
    with pytest.raises(InputError) as err:
        scenario.load(three_zone_copy)
    assert err.value.field == "zone"
    assert err.value.line == 3
    assert "narnia" in str(err.value) and "plants.csv:3" in str(err.value)


def test_negative_capacity(three_zone_copy: Path) -> None:
    _edit(three_zone_copy / "plants.csv", "Oil North,oil,north,300", "Oil North,oil,north,-300")
    with pytest.raises(InputError) as err:
        scenario.load(three_zone_copy)
    assert (err.value.field, err.value.line) == ("capacity_mw", 4)


def test_non_numeric_cost(three_zone_copy: Path) -> None:
    _edit(three_zone_copy / "plants.csv", "Gas City,gas,city,600,75", "Gas City,gas,city,600,cheap")
    with pytest.raises(InputError) as err:
        scenario.load(three_zone_copy)
    assert err.value.field == "marginal_cost_usd_per_mwh"
    assert "cheap" in str(err.value)


def test_unknown_availability_profile(three_zone_copy: Path) -> None:
    _edit(three_zone_copy / "plants.csv", "solar_south", "solar_mars")
    with pytest.raises(InputError, match="solar_mars") as err:
        scenario.load(three_zone_copy)
    assert err.value.field == "availability"


def test_duplicate_plant(three_zone_copy: Path) -> None:
    path = three_zone_copy / "plants.csv"
    rows = _csv_rows(path)
    path.write_text("\n".join([*rows, rows[1]]) + "\n")
    with pytest.raises(InputError, match="appears twice") as err:
        scenario.load(three_zone_copy)
    assert err.value.line == len(rows) + 1


def test_missing_zone_column_in_demand(three_zone_copy: Path) -> None:
    path = three_zone_copy / "demand.csv"
    rows = [",".join(r.split(",")[:-1]) for r in _csv_rows(path)]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="no demand column for zone\\(s\\) city") as err:
        scenario.load(three_zone_copy)
    assert err.value.line == 1


def test_gap_in_index(three_zone_copy: Path) -> None:
    path = three_zone_copy / "demand.csv"
    rows = _csv_rows(path)
    del rows[10]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="gap in the index") as err:
        scenario.load(three_zone_copy)
    assert err.value.line == 11
    assert err.value.field == "interval_start"


def test_duplicate_interval(three_zone_copy: Path) -> None:
    path = three_zone_copy / "demand.csv"
    rows = _csv_rows(path)
    rows[6] = rows[5]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="appears twice") as err:
        scenario.load(three_zone_copy)
    assert err.value.line == 7


def test_naive_timestamp(three_zone_copy: Path) -> None:
    path = three_zone_copy / "demand.csv"
    rows = _csv_rows(path)
    rows[4] = rows[4].replace("Z,", ",", 1)
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="no time zone") as err:
        scenario.load(three_zone_copy)
    assert (err.value.line, err.value.field) == (5, "interval_start")


def test_wrong_interval_length(three_zone_copy: Path) -> None:
    path = three_zone_copy / "profiles.csv"
    rows = _csv_rows(path)
    start, _end, *rest = rows[3].split(",")
    rows[3] = ",".join([start, start, *rest])
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="is not 3600 s long") as err:
        scenario.load(three_zone_copy)
    assert err.value.line == 4
    assert "profiles.csv" in str(err.value)


def test_negative_demand(three_zone_copy: Path) -> None:
    path = three_zone_copy / "demand.csv"
    rows = _csv_rows(path)
    cells = rows[2].split(",")
    cells[3] = "-5"
    rows[2] = ",".join(cells)
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="demand \\[MW\\] must be >= 0") as err:
        scenario.load(three_zone_copy)
    assert (err.value.line, err.value.field) == (3, "south")


def test_availability_out_of_range(three_zone_copy: Path) -> None:
    path = three_zone_copy / "profiles.csv"
    rows = _csv_rows(path)
    cells = rows[20].split(",")
    cells[2] = "1.5"
    rows[20] = ",".join(cells)
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match=r"between 0\.0 and 1\.0") as err:
        scenario.load(three_zone_copy)
    assert (err.value.line, err.value.field) == (21, "solar_south")


def test_period_mismatch(three_zone_copy: Path) -> None:
    _edit(three_zone_copy / "scenario.toml", 'end = "2025-01-13T00:00:00Z"', 'end = "2025-01-14T00:00:00Z"')
    with pytest.raises(InputError, match="covers 168 intervals"):
        scenario.load(three_zone_copy)


def test_naive_period(three_zone_copy: Path) -> None:
    _edit(three_zone_copy / "scenario.toml", 'start = "2025-01-06T00:00:00Z"', 'start = "2025-01-06T00:00:00"')
    with pytest.raises(InputError) as err:
        scenario.load(three_zone_copy)
    assert err.value.field == "period.start"


def test_corridor_to_unknown_zone(three_zone_copy: Path) -> None:
    _edit(three_zone_copy / "scenario.toml", 'to = "north"', 'to = "nowhere"')
    with pytest.raises(InputError, match="unknown zone 'nowhere'") as err:
        scenario.load(three_zone_copy)
    assert err.value.field == "corridors[0].to"


def test_negative_corridor_limit(three_zone_copy: Path) -> None:
    _edit(three_zone_copy / "scenario.toml", "forward_mw = 400", "forward_mw = -1")
    with pytest.raises(InputError) as err:
        scenario.load(three_zone_copy)
    assert err.value.field == "corridors[0].forward_mw"


def test_duplicate_zone(three_zone_copy: Path) -> None:
    _edit(three_zone_copy / "scenario.toml", 'id = "city"', 'id = "south"')
    with pytest.raises(InputError, match="defined twice") as err:
        scenario.load(three_zone_copy)
    assert err.value.field == "zones[2].id"


def test_reserve_needs_largest_unit(three_zone_copy: Path) -> None:
    _edit(three_zone_copy / "scenario.toml", "largest_unit_mw = 500\n", "")
    with pytest.raises(InputError, match="largest single unit") as err:
        scenario.load(three_zone_copy)
    assert err.value.field == "reserve.largest_unit_mw"


def test_bad_toml(three_zone_copy: Path) -> None:
    _edit(three_zone_copy / "scenario.toml", "[money]", "[money")
    with pytest.raises(InputError, match="invalid TOML") as err:
        scenario.load(three_zone_copy)
    assert err.value.file is not None and err.value.file.endswith("scenario.toml")


def test_missing_plants_file(three_zone_copy: Path) -> None:
    (three_zone_copy / "plants.csv").unlink()
    with pytest.raises(InputError, match="file not found"):
        scenario.load(three_zone_copy)


def test_in_service_date_zeroes_availability(three_zone_copy: Path) -> None:
    path = three_zone_copy / "plants.csv"
    rows = _csv_rows(path)
    rows[0] += ",in_service_from"
    rows[1:] = [r + "," for r in rows[1:]]
    rows[2] = rows[2][:-1] + ",2025-01-09"
    path.write_text("\n".join(rows) + "\n")
    s = scenario.load(three_zone_copy)
    avail = s.availability_pu["Gas North"]
    assert isinstance(avail.index, pd.DatetimeIndex)
    local_dates = avail.index.tz_convert(s.display_timezone).date
    import datetime as dt

    assert (avail[local_dates < dt.date(2025, 1, 9)] == 0).all()
    assert (avail[local_dates >= dt.date(2025, 1, 9)] == 0.9).all()


def test_zone_positions_and_the_layout_alone() -> None:
    zones, corridors = scenario.load_layout(DATA / "three-zone")
    full = scenario.load(DATA / "three-zone").zones
    assert [(z.id, z.lat, z.lon) for z in zones] == [(z.id, z.lat, z.lon) for z in full]
    assert all(z.lat is not None and z.lon is not None for z in zones)
    assert {(c.from_zone, c.to_zone) for c in corridors} == {("south", "north"), ("south", "city"), ("north", "city")}


def test_zone_positions_are_optional(three_zone_copy: Path) -> None:
    text = (three_zone_copy / "scenario.toml").read_text()
    (three_zone_copy / "scenario.toml").write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith(("lat =", "lon =")))
    )
    zones, _ = scenario.load_layout(three_zone_copy)
    assert all(z.lat is None and z.lon is None for z in zones)


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("lat = 33.7\n", "", "zones[0].lat", "'lon' is given without 'lat'"),
        ("lon = 68.4\n", "", "zones[1].lon", "'lat' is given without 'lon'"),
        ("lat = 33.7", "lat = 91", "zones[0].lat", "between -90 and 90"),
        ("lon = 66.0", "lon = -180.5", "zones[2].lon", "between -180 and 180"),
        ("lat = 25.4", 'lat = "25.4"', "zones[1].lat", "got '25.4'"),
        ("lon = 73.0", "lon = true", "zones[0].lon", "got True"),
        ("lat = 28.0", "lat = nan", "zones[2].lat", "got nan"),
    ],
)
def test_bad_zone_position(three_zone_copy: Path, old: str, new: str, field: str, message: str) -> None:
    _edit(three_zone_copy / "scenario.toml", old, new)
    with pytest.raises(InputError, match=message) as err:
        scenario.load_layout(three_zone_copy)
    assert err.value.field == field
    assert err.value.file is not None and Path(err.value.file).name == "scenario.toml"


def _with_min_output(folder: Path, values: dict[str, str]) -> None:
    """Add the optional ``min_output_pu`` column to the three-zone plants, blank where not given."""
    path = folder / "plants.csv"
    rows = _csv_rows(path)
    out = [rows[0] + ",min_output_pu"] + [row + "," + values.get(row.split(",")[0], "") for row in rows[1:]]
    path.write_text("\n".join(out) + "\n")


def test_min_output_is_optional_and_zero_by_default() -> None:
    s = scenario.load(DATA / "three-zone")
    assert (s.plants["min_output_pu"] == 0.0).all()
    assert (s.min_output_mw.to_numpy() == 0.0).all()


def test_min_output_is_a_floor_capped_by_availability(three_zone_copy: Path) -> None:
    _with_min_output(three_zone_copy, {"Gas North": "0.5", "Coal South": "0.9"})
    s = scenario.load(three_zone_copy)
    assert s.plants.loc["Gas North", "min_output_pu"] == 0.5
    floor = s.min_output_mw
    assert np.allclose(floor["Gas North"], 0.5 * 800)  # availability 0.9 leaves room
    assert np.allclose(floor["Coal South"], 0.85 * 900)  # more than available: all it has
    assert (floor.drop(columns=["Gas North", "Coal South"]).to_numpy() == 0.0).all()


@pytest.mark.parametrize(
    ("plant", "value", "message"),
    [
        ("Gas North", "1.5", "must be in \\[0, 1\\]"),
        ("Gas North", "-0.1", "must be in \\[0, 1\\]"),
        ("Gas North", "half", "expected a number"),
        ("Nuclear South", "0.5", "must-run plant"),
    ],
)
def test_bad_min_output(three_zone_copy: Path, plant: str, value: str, message: str) -> None:
    _with_min_output(three_zone_copy, {plant: value})
    with pytest.raises(InputError, match=message) as err:
        scenario.load(three_zone_copy)
    line = next(i + 1 for i, row in enumerate(_csv_rows(three_zone_copy / "plants.csv")) if row.startswith(plant))
    assert (err.value.field, err.value.line) == ("min_output_pu", line)
