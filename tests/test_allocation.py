"""The one reader of allocation.csv: typed values, and clear errors naming line and field."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from offtake import InputError
from offtake.allocation import ALLOCATION_COLUMNS, read_allocation, write_allocation

DATA = Path(__file__).parent / "data" / "allocations"
ZONES = ["north", "south", "city"]


def _rewrite(tmp_path: Path, line: int, column: str, value: str) -> Path:
    frame = pd.read_csv(DATA / "three-zone.csv", dtype=str, keep_default_na=False)
    if column not in frame.columns:
        frame[column] = "pro_rata"
    frame.loc[line - 2, column] = value
    path = tmp_path / "allocation.csv"
    frame.to_csv(path, index=False)
    return path


def test_reads_typed_table() -> None:
    table = read_allocation(DATA / "three-zone.csv", ZONES)
    assert list(table.columns[: len(ALLOCATION_COLUMNS)]) == list(ALLOCATION_COLUMNS)
    assert table["firm_mw"].dtype == float
    assert table["curtailment_events"].dtype == "int64"
    assert set(table["priority_rule"]) == {"pro_rata"}
    assert (abs(table["firm_mw"] + table["interruptible_mw"] - table["allocated_mw"]) < 1e-9).all()


def test_round_trip(tmp_path: Path) -> None:
    table = read_allocation(DATA / "three-zone.csv", ZONES)
    path = write_allocation(table, tmp_path / "copy.csv")
    assert pd.read_csv(path).columns.tolist() == list(ALLOCATION_COLUMNS)
    again = read_allocation(path, ZONES)
    pd.testing.assert_frame_equal(again, table)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("zone", "mars", "unknown zone 'mars'"),
        ("kind", "smelter", "kind must be one of mining, ai"),
        ("firm_mw", "-3", "finite number >= 0"),
        ("tariff_usd_per_mwh", "cheap", "finite number >= 0"),
        ("max_curtailment_fraction", "1.5", "between 0 and 1"),
        ("allocated_mw", "9999", r"is not firm_mw \+ interruptible_mw"),
        ("curtailment_events", "2.5", "whole number"),
        ("site_id", "", "empty value"),
        ("priority_rule", "loudest", "neither 'pro_rata' nor 'bid'"),
    ],
)
def test_bad_value_names_line_and_field(tmp_path: Path, column: str, value: str, message: str) -> None:
    path = _rewrite(tmp_path, 3, column, value)
    with pytest.raises(InputError, match=message) as err:
        read_allocation(path, ZONES)
    assert err.value.line == 3
    assert err.value.field == column
    assert str(path) in str(err.value)


def test_duplicate_site(tmp_path: Path) -> None:
    frame = pd.read_csv(DATA / "three-zone.csv", dtype=str, keep_default_na=False)
    frame = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
    path = tmp_path / "allocation.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match="appears twice") as err:
        read_allocation(path, ZONES)
    assert err.value.line == len(frame) + 1


def test_missing_column_and_empty_file(tmp_path: Path) -> None:
    frame = pd.read_csv(DATA / "three-zone.csv", dtype=str, keep_default_na=False).drop(columns="tariff_usd_per_mwh")
    path = tmp_path / "allocation.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match="missing column") as err:
        read_allocation(path, ZONES)
    assert err.value.field == "tariff_usd_per_mwh"
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(ALLOCATION_COLUMNS) + "\n")
    with pytest.raises(InputError, match="no allocation rows"):
        read_allocation(empty, ZONES)
