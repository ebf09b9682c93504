"""``offtake assess`` end to end, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
from report_checks import assert_self_contained

DATA = Path(__file__).parents[1] / "data"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "offtake", *args], capture_output=True, text=True, timeout=600)


def test_assess_writes_report_and_csvs(tmp_path: Path) -> None:
    result = run("assess", "--scenario", str(DATA / "three-zone"), "--out", str(tmp_path), "--tariff", "80")
    assert result.returncode == 0, result.stderr
    # progress on stderr, summary table on stdout
    assert "[1/7]" in result.stderr and "finished" in result.stderr
    assert "national" in result.stdout and "headroom_1pct_mw" in result.stdout
    surplus = pd.read_csv(tmp_path / "surplus.csv")
    assert list(surplus.columns) == ["interval_start", "interval_end", "north", "south", "city", "national"]
    assert len(surplus) == 168
    assert (surplus[["north", "south", "city"]].to_numpy() <= surplus[["national"]].to_numpy() + 0.1).all()
    headroom = pd.read_csv(tmp_path / "headroom.csv")
    assert set(headroom["area"]) == {"north", "south", "city", "national"}
    assert set(headroom["threshold"]) == {"deliverable_supply", "duke_seasonal_peak"}
    assert sorted(headroom["curtailment_rate"].unique()) == [0.0025, 0.005, 0.01, 0.05]
    curve = pd.read_csv(tmp_path / "tariff_curve.csv")
    assert curve["tariff_usd_per_mwh"].min() == 0 and curve["tariff_usd_per_mwh"].max() == 150
    sens = pd.read_csv(tmp_path / "sensitivity.csv")
    assert set(sens["driver"]) == {"base", "tariff", "oil", "gas", "coal", "nuclear"}
    assert "sensitivity: " in result.stdout
    html = (tmp_path / "report.html").read_text()
    assert len(assert_self_contained(html)) == 6  # map, heat map, duration, tariff, tornado, mix
    assert "Sensitivity to fuel prices and the tariff" in html
    assert "Findings" in html and "80.00 USD/MWh" in html


def test_assess_without_sensitivity(tmp_path: Path) -> None:
    result = run("assess", "--scenario", str(DATA / "three-zone"), "--out", str(tmp_path), "--no-sensitivity")
    assert result.returncode == 0, result.stderr
    assert "[1/6]" in result.stderr and "sensitivity" not in result.stdout
    assert (tmp_path / "surplus.csv").exists() and not (tmp_path / "sensitivity.csv").exists()
    assert "Sensitivity to fuel prices" not in (tmp_path / "report.html").read_text()


def test_bad_scenario_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in (DATA / "three-zone").iterdir():
        (bad / f.name).write_text(f.read_text())
    text = (bad / "plants.csv").read_text().replace("Gas North,gas,north", "Gas North,gas,mars")
    (bad / "plants.csv").write_text(text)
    result = run("assess", "--scenario", str(bad), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "plants.csv:3" in result.stderr and "field 'zone'" in result.stderr and "mars" in result.stderr


def test_scenario_check_lists_bundled() -> None:
    result = run("scenario", "list")
    assert result.returncode == 0
    assert "pakistan-2025" in result.stdout.split()
