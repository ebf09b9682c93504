"""``offtake outlook`` end to end on the bundled years, checked against ``offtake assess`` on each year alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_checks import assert_self_contained

#: Days of each bundled year the test studies (the whole year takes minutes on a loaded machine).
DAYS = "14"
YEARS = ("pakistan-2025", "pakistan-2030")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "offtake", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_outlook_matches_assess_on_each_year(tmp_path: Path) -> None:
    out = tmp_path / "outlook"
    result = run("outlook", "--scenarios", *YEARS, "--days", DAYS, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "[1/7]" in result.stderr and "outlook finished in" in result.stderr and " s  " in result.stderr
    assert "absorbed_gwh" in result.stdout
    summary = pd.read_csv(out / "summary.csv")
    by_hour = pd.read_csv(out / "surplus_by_hour.csv")
    programme = pd.read_csv(out / "programme.csv").set_index("scenario")
    assert list(programme.index) == list(YEARS)
    html = (out / "report.html").read_text()
    assert len(assert_self_contained(html)) == 3 and "2,000 MW programme" in html
    for name in YEARS:
        alone = tmp_path / name
        assessed = run("assess", "--scenario", name, "--days", DAYS, "--no-sensitivity", "--out", str(alone))
        assert assessed.returncode == 0, assessed.stderr
        surplus = pd.read_csv(alone / "surplus.csv")
        headroom = pd.read_csv(alone / "headroom.csv")
        mine = summary[summary["scenario"] == name].set_index("area")
        areas = [c for c in surplus.columns if c not in ("interval_start", "interval_end")]
        assert list(mine.index) == areas
        for area in areas:
            # surplus.csv rounds to 0.1 MW
            assert mine.loc[area, "mean_surplus_mw"] == pytest.approx(surplus[area].mean(), abs=0.06)
            rows = headroom[(headroom["area"] == area) & (headroom["threshold"] == "deliverable_supply")]
            for rate, value in zip(rows["curtailment_rate"], rows["headroom_mw"], strict=True):
                assert mine.loc[area, f"headroom_{rate * 100:g}pct_mw"] == pytest.approx(value, abs=0.01)
        # the hour-of-day means average back to the mean (every hour of day has the same count of hours)
        hours = by_hour[(by_hour["scenario"] == name) & (by_hour["area"] == "national")]
        assert sorted(hours["hour"]) == list(range(24))
        assert hours["mean_surplus_mw"].mean() == pytest.approx(mine.loc["national", "mean_surplus_mw"], abs=0.01)
        national = surplus["national"].to_numpy()
        p = float(programme["programme_mw"].astype(float)[name])
        assert p == 2000
        absorbed_gwh = np.minimum(national, p).sum() / 1000.0
        assert programme.loc[name, "absorbed_gwh"] == pytest.approx(absorbed_gwh, abs=0.05)
        assert programme.loc[name, "share_of_hours_fits"] == pytest.approx((national >= p).mean(), abs=0.01)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--scenarios", "pakistan-2025"), "give two or more different scenarios"),
        (("--scenarios", "pakistan-2025", "pakistan-2025"), "give two or more different scenarios"),
        (("--scenarios", "pakistan-2025", "nowhere"), "no scenario 'nowhere'"),
        (("--scenarios", "pakistan-2025", "pakistan-2030", "--days", "400"), "--days"),
        (("--scenarios", "pakistan-2025", "pakistan-2030", "--days", "1", "--programme-mw", "-5"), "--programme-mw"),
    ],
)
def test_outlook_refuses_bad_input_in_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run("outlook", *args, "--out", str(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "report.html").exists()
