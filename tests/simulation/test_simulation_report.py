"""The simulation report: charts equal the simulated figures, times in Pakistan time, the step in the title."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_checks import assert_self_contained, trace

from offtake import scenario as scenario_mod
from offtake.dispatch import read_allocation
from offtake.report import local_times
from offtake.simulation import SimulationResult, compute_kpis, simulate
from offtake.simulation.report import event_histogram, monthly_energy, step_text, tightest_week, write_outputs

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def result() -> SimulationResult:
    s = scenario_mod.load(DATA / "three-zone")
    hours = np.arange(len(s.index))
    swing = 0.5 + 0.5 * np.cos(2 * np.pi * (hours % 24 - 4) / 24)
    surplus = pd.DataFrame({"north": 20 + 80 * swing, "south": 250 + 400 * swing, "city": 30 * swing}, index=s.index)
    contracts = read_allocation(DATA / "dispatch" / "three-zone-allocation.csv", s.zone_ids)
    return simulate(s, contracts, surplus, seed=2, step_s=900.0)


@pytest.mark.parametrize(
    ("step_s", "text"), [(300, "5-min"), (900, "15-min"), (3600, "1-h"), (30, "30-s"), (90, "90-s")]
)
def test_step_text(step_s: float, text: str) -> None:
    assert step_text(step_s) == text


def test_months_are_pakistan_months_without_an_empty_utc_edge(result: SimulationResult) -> None:
    # 19:00 UTC on 30 June is midnight on 1 July in Pakistan: the week is all July there.
    shifted = pd.date_range("2024-06-30T19:00Z", periods=len(result.index), freq=f"{result.step_s:g}s")
    moved = dataclasses.replace(result, index=shifted)
    monthly = monthly_energy(moved, "Asia/Karachi")
    assert list(monthly.index) == ["2024-07"]
    assert list(monthly_energy(moved, "UTC").index) == ["2024-06", "2024-07"]
    within = np.minimum(result.draw_mw, result.cap_mw).sum() * result.step_h / 1000.0
    assert monthly["absorbed"].sum() == pytest.approx(within)


def test_event_histogram_counts_every_event() -> None:
    lengths = [0.25, 0.5, 0.5, 1.0, 3.0, 12.0]
    lows, highs, counts = event_histogram(lengths)
    assert sum(counts) == len(lengths) and len(counts) == 30
    assert lows[0] == pytest.approx(0.25) and highs[-1] == pytest.approx(12.0)
    assert event_histogram([]) == ([], [], [])


def test_report_charts_equal_the_simulation(result: SimulationResult, tmp_path: Path) -> None:
    kpis = compute_kpis(result)
    _, html_path = write_outputs(result, kpis, tmp_path, "three zones")
    page = html_path.read_text(encoding="utf-8")
    specs = assert_self_contained(page)
    assert "<img" not in page
    assert "Simulated dispatch at 15-min steps over 7 days: three zones" in page
    assert "from 2025-01-06 05:00 to 2025-01-13 05:00 (Asia/Karachi)" in page
    flagged = kpis["ignoring_site"]["flagged_at"]
    assert flagged is not None and flagged not in page  # UTC inside, Pakistan time shown
    assert f"flagged {local_times([pd.Timestamp(flagged)])[0]}, " in page
    by_x = {s["layout"]["xaxis"]["title"]["text"]: s for s in specs}
    monthly = by_x["month (Asia/Karachi)"]
    expected = monthly_energy(result, "Asia/Karachi")
    assert trace(monthly, "absorbed")["x"] == list(expected.index)
    np.testing.assert_allclose(trace(monthly, "absorbed")["y"], expected["absorbed"].to_numpy())
    week = next(s for s in specs if any(t.get("name") == "sum of caps" for t in s["data"]))
    span, _ = tightest_week(result)
    assert trace(week, "sum of caps")["x"] == local_times(result.index[span])
    events = by_x["event length [h] (log scale)"]
    assert sum(trace(events, "events")["y"]) == kpis["events"]["count"]
    rates = by_x["curtailed energy / allocated energy [%]"]
    sites = pd.DataFrame(kpis["sites"]).set_index("site_id")
    np.testing.assert_allclose(trace(rates, "curtailed")["x"], sites["curtailment_rate"].to_numpy() * 100)
