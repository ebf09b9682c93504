from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
from planning_fixtures import DATA, SITES
from report_checks import assert_self_contained

from offtake.planning import ALLOCATION_COLUMNS

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "offtake", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_plan_writes_report_and_allocation(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run(
        "plan",
        "--scenario",
        str(DATA / "three-zone"),
        "--sites",
        str(SITES),
        "--cap-mw",
        "400",
        "--out",
        str(out),
        "--max-step-mw",
        "150",
    )
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(out / "allocation.csv")
    assert tuple(table.columns) == ALLOCATION_COLUMNS
    assert table["allocated_mw"].sum() <= 400 + 1e-3
    assert table["allocated_mw"].sum() > 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert len(assert_self_contained(page)) >= 5  # map, allocation, served, duration, what binds
    assert "What binds" in page and "Map: zones, corridors and sites" in page
    assert "national" in r.stdout and "allocated" in r.stdout
    assert "[plan " in r.stderr and " s] " in r.stderr  # progress, with elapsed time, goes to stderr


def test_bad_sites_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "sites.csv"
    bad.write_text(
        SITES.read_text(encoding="utf-8").replace(",south,", ",mars,", 1), encoding="utf-8"
    )
    r = run(
        "plan",
        "--scenario",
        str(DATA / "three-zone"),
        "--sites",
        str(bad),
        "--cap-mw",
        "400",
        "--out",
        str(tmp_path),
    )
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "sites.csv:2" in lines[0] and "zone" in lines[0]
    assert "Traceback" not in r.stderr

def test_plan_summary_has_money_per_zone_and_fuel_nationally(tmp_path: Path) -> None:
    r = run("plan", "--scenario", str(DATA / "three-zone"), "--sites", str(SITES), "--cap-mw", "300",
            "--days", "2", "--out", str(tmp_path / "p"))
    assert r.returncode == 0, r.stderr
    header = r.stdout.splitlines()[0]
    assert "serving_cost_musd" in header and "margin_at_zone_price_musd" in header
    assert "fuel" not in header  # fuel per zone is re-dispatch noise
    assert "extra fuel (national)" in r.stdout and "net margin" in r.stdout
    assert "Iter" not in r.stderr  # the solver's own log only when asked


def test_plan_solver_log_shows_the_solvers_progress(tmp_path: Path) -> None:
    r = run("plan", "--scenario", str(DATA / "three-zone"), "--sites", str(SITES), "--cap-mw", "300",
            "--days", "2", "--method", "pdlp", "--solver-log", "--out", str(tmp_path / "p"))
    assert r.returncode == 0, r.stderr
    assert "Iter" in r.stderr and "Gap" in r.stderr  # PDLP's iteration log: objective, gap, time
    assert "Iter" not in r.stdout  # results stay on stdout alone
