"""``offtake.renewables.generate`` writes a scenario's profiles; the bundled pakistan-2030 ones are its output."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from offtake import scenario
from offtake.errors import InputError
from offtake.renewables.generate import WIND_COLUMN, generate

DATA = Path(__file__).parents[1] / "data"


def test_bundled_pakistan_2030_profiles_are_the_generators_output(tmp_path: Path) -> None:
    folder = scenario.resolve_path("pakistan-2030")
    fresh = pd.read_csv(generate("pakistan-2030", tmp_path / "profiles.csv"))
    bundled = pd.read_csv(folder / "profiles.csv")
    assert list(fresh.columns) == list(bundled.columns)
    assert (fresh["interval_start"] == bundled["interval_start"]).all()
    values = fresh.columns[2:]
    np.testing.assert_allclose(fresh[values].to_numpy(), bundled[values].to_numpy(), atol=1e-4)


def test_columns_follow_the_zones_with_positions(tmp_path: Path) -> None:
    path = generate("pakistan-2025", tmp_path / "p.csv")
    frame = pd.read_csv(path)
    zones, _ = scenario.load_layout("pakistan-2025")
    expected = {f"solar_{kind}_{z.id}" for z in zones for kind in ("utility", "rooftop")} | {WIND_COLUMN}
    assert set(frame.columns[2:]) == expected
    assert len(frame) == 8760 and frame["interval_start"].iloc[0] == "2024-06-30T19:00:00Z"
    values = frame[list(expected)].to_numpy()
    assert values.min() >= 0.0 and values.max() <= 1.0


def test_zone_without_position_gets_no_solar(tmp_path: Path, three_zone_copy: Path) -> None:
    text = (three_zone_copy / "scenario.toml").read_text()
    path = generate(three_zone_copy, tmp_path / "p.csv")
    frame = pd.read_csv(path)
    with_position = "lat" in text
    assert (len(frame.columns) > 3) == with_position
    assert WIND_COLUMN in frame.columns


def test_a_scenario_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no scenario 'nowhere'"):
        generate("nowhere", tmp_path / "p.csv")


def test_daily_resolution_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "daily"
    shutil.copytree(DATA / "three-zone", target)
    toml = target / "scenario.toml"
    text = toml.read_text()
    assert "resolution_s = 3600" in text
    toml.write_text(text.replace("resolution_s = 3600", "resolution_s = 86400"))
    with pytest.raises(InputError, match="an hour or less"):
        generate(target, tmp_path / "p.csv")
