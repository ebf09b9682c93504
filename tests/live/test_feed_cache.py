"""A scenario feed is prepared once: cached in the data folder by content hash, reused in process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from offtake.live.feed import ScenarioReplayFeed, feed_cache_dir, open_feed

START = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def forecast(feed: ScenarioReplayFeed) -> np.ndarray:
    return feed.surplus_at(START, START + timedelta(minutes=5)).surplus_forecast_mw


def test_prepared_once_then_read_from_the_cache(three_zone_copy: Path, tmp_path: Path) -> None:
    cache = feed_cache_dir(tmp_path / "data")
    first = ScenarioReplayFeed.from_scenario(str(three_zone_copy), cache_dir=cache)
    assert first.prepared == "assessed" and first.cache_file is not None and first.cache_file.is_file()
    second = ScenarioReplayFeed.from_scenario(str(three_zone_copy), cache_dir=cache)
    assert second.prepared == "cache" and second.cache_file == first.cache_file
    uncached = ScenarioReplayFeed.from_scenario(str(three_zone_copy))
    assert uncached.prepared == "assessed" and uncached.cache_file is None
    np.testing.assert_array_equal(forecast(second), forecast(uncached))
    assert forecast(first).sum() > 0


def test_a_changed_scenario_is_assessed_again(three_zone_copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = ScenarioReplayFeed.from_scenario(str(three_zone_copy), cache_dir=cache)
    demand = three_zone_copy / "demand.csv"
    lines = demand.read_text(encoding="utf-8").splitlines()
    header, first_row = lines[0], lines[1].split(",")
    first_row[2:] = [f"{float(v) * 1.5:g}" for v in first_row[2:]]
    demand.write_text("\n".join([header, ",".join(first_row), *lines[2:]]) + "\n", encoding="utf-8")
    after = ScenarioReplayFeed.from_scenario(str(three_zone_copy), cache_dir=cache)
    assert after.prepared == "assessed" and after.cache_file != before.cache_file
    assert len(list(cache.glob("*.npz"))) == 2


def test_a_damaged_cache_file_is_replaced(three_zone_copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    made = ScenarioReplayFeed.from_scenario(str(three_zone_copy), cache_dir=cache)
    assert made.cache_file is not None
    made.cache_file.write_bytes(b"not a numpy file")
    again = ScenarioReplayFeed.from_scenario(str(three_zone_copy), cache_dir=cache)
    assert again.prepared == "assessed"
    np.testing.assert_array_equal(forecast(again), forecast(made))
    assert ScenarioReplayFeed.from_scenario(str(three_zone_copy), cache_dir=cache).prepared == "cache"


def test_an_unwritable_cache_folder_costs_only_the_cache(three_zone_copy: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    feed = ScenarioReplayFeed.from_scenario(str(three_zone_copy), cache_dir=blocker / "cache")
    assert feed.prepared == "assessed" and forecast(feed).shape == (3,)


def test_open_feed_reuses_a_feed_opened_in_this_process(three_zone_copy: Path, tmp_path: Path) -> None:
    spec = f"scenario:{three_zone_copy}"
    first = open_feed(spec, cache_dir=tmp_path / "cache")
    assert open_feed(spec) is first
    (three_zone_copy / "SOURCES.md").write_text("changed\n", encoding="utf-8")
    assert open_feed(spec) is not first
