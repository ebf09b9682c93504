"""Renewable shares per zone and hour from a scenario's dispatch, and the share CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import DATA

from offtake.certificates import load_rules, read_shares, shares_from_dispatch, write_shares
from offtake.certificates.shares import ShareTable, renewable_technologies
from offtake.errors import InputError
from offtake.grid import least_cost_dispatch
from offtake.grid.baseline import Baseline
from offtake.scenario import Scenario, load


@pytest.fixture(scope="module")
def dispatched() -> tuple[Scenario, Baseline, ShareTable]:
    scenario = load(DATA / "three-zone")
    baseline = least_cost_dispatch(scenario)
    return scenario, baseline, shares_from_dispatch(scenario, baseline)


def test_renewables_are_the_variable_technologies_and_hydro(dispatched: tuple[Scenario, Baseline, ShareTable]) -> None:
    scenario, _, _ = dispatched
    assert renewable_technologies(scenario) == ["hydro", "solar_pv", "wind"]
    assert "hydro" in load_rules().extra_renewable_technologies


def test_every_hour_of_every_zone_has_shares_within_the_whole(
    dispatched: tuple[Scenario, Baseline, ShareTable],
) -> None:
    scenario, _, table = dispatched
    assert len(table.shares) == len(scenario.index) * len(scenario.zone_ids)
    for techs in table.shares.values():
        assert set(techs) <= {"hydro", "solar_pv", "wind"}
        assert all(ppm > 0 for ppm in techs.values()) and sum(techs.values()) <= 1_000_000


def test_a_zone_that_imports_nothing_has_its_own_generation_mix(
    dispatched: tuple[Scenario, Baseline, ShareTable],
) -> None:
    """Recomputed here from the dispatch, group by group, in the hours a zone neither imports nor spills."""
    scenario, baseline, table = dispatched
    grid = baseline.grid
    tech = [name.split("|")[1] for name in grid.fleet.names]
    checked = 0
    for zi, zone in enumerate(grid.zones):
        net = np.zeros(grid.n_intervals)
        for ci, (src, dst) in enumerate(zip(grid.corridors["from_zone"], grid.corridors["to_zone"], strict=True)):
            net += baseline.flow_mw[:, ci] * ((dst == zone) - (src == zone))
        own = [g for g in range(len(tech)) if grid.fleet.zone_index[g] == zi]
        for t, start in enumerate(scenario.index):
            if net[t] > 1e-6 or baseline.spilled_mw[t, zi] > 0:
                continue
            total = sum(baseline.generation_mw[t, g] for g in own)
            for name in ("hydro", "solar_pv", "wind"):
                renewable = sum(baseline.generation_mw[t, g] for g in own if tech[g] == name)
                expected = int(np.floor(renewable / total * 1_000_000)) if total > 0 else 0
                assert abs(table.of(zone, start.to_pydatetime()).get(name, 0) - expected) <= 1
                checked += 1
    assert checked > 100


def test_a_zone_without_renewables_gets_a_share_only_through_imports(
    dispatched: tuple[Scenario, Baseline, ShareTable],
) -> None:
    scenario, _, table = dispatched
    city = [table.of("city", t.to_pydatetime()) for t in scenario.index]
    south = [table.of("south", t.to_pydatetime()) for t in scenario.index]
    assert any(row.get("solar_pv", 0) > 0 for row in south)
    assert all(row.get("solar_pv", 0) <= max(r.get("solar_pv", 0) for r in south) for row in city)


def test_share_csv_round_trip_and_bad_rows(dispatched: tuple[Scenario, Baseline, ShareTable], tmp_path: Path) -> None:
    _, _, table = dispatched
    path = tmp_path / "shares.csv"
    write_shares(table, path)
    assert read_shares(path).shares == table.shares
    header = "zone,hour_start,technology,share_ppm\n"
    bad = {
        "LESCO,2025-07-01T00:00:00,wind,5\n": "hour_start",  # no time zone
        "LESCO,2025-07-01T00:00:00Z,wind,1.5\n": "share_ppm",
        "LESCO,2025-07-01T00:00:00Z,wind,1000001\n": "share_ppm",
        ",2025-07-01T00:00:00Z,wind,5\n": "zone",
        "LESCO,2025-07-01T00:00:00Z,wind,5\nLESCO,2025-07-01T00:00:00Z,wind,6\n": "technology",
        "LESCO,2025-07-01T00:00:00Z,wind,600000\nLESCO,2025-07-01T00:00:00Z,hydro,600000\n": "share_ppm",
    }
    for rows, field in bad.items():
        path.write_text(header + rows)
        with pytest.raises(InputError) as caught:
            read_shares(path)
        assert caught.value.field == field and caught.value.file == str(path) and caught.value.line is not None
    path.write_text("zone,hour,technology,share_ppm\n")
    with pytest.raises(InputError, match="columns"):
        read_shares(path)
