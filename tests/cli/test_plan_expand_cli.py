"""``offtake plan --expand``: what to build, written as expansion.csv and renewable_share.csv."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
from planning_fixtures import DATA, SITES

ROOT = Path(__file__).resolve().parents[2]
EXPANSION = DATA / "planning" / "three-zone-expansion.toml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "offtake", *args], capture_output=True, text=True, env=env, timeout=300
    )


def plan_args(out: Path, *extra: str) -> list[str]:
    return [
        "plan",
        "--scenario",
        str(DATA / "three-zone"),
        "--sites",
        str(SITES),
        "--cap-mw",
        "400",
        "--days",
        "3",
        "--out",
        str(out),
        *extra,
    ]


def test_plan_expand_writes_the_build_and_the_hourly_share(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run(*plan_args(out, "--expand", "--expansion-data", str(EXPANSION)))
    assert r.returncode == 0, r.stderr
    build = pd.read_csv(out / "expansion.csv", index_col="asset")
    assert {"zone", "technology", "built_mw", "built_mwh", "cost_usd"} <= set(build.columns)
    assert (build["built_mw"] <= build["max_mw"] + 1e-6).all()
    share = pd.read_csv(out / "renewable_share.csv")
    assert len(share) == 72 and share.columns[0] == "interval_start"
    assert "build: solar" in r.stdout and "USD/MWh" in r.stdout
    assert "New renewables for the sites" in (out / "report.html").read_text(encoding="utf-8")


def test_plan_without_expand_writes_no_build(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run(*plan_args(out))
    assert r.returncode == 0, r.stderr
    assert not (out / "expansion.csv").exists() and not (out / "renewable_share.csv").exists()


def test_plan_expand_refuses_bad_combinations(tmp_path: Path) -> None:
    r = run(*plan_args(tmp_path / "a", "--expansion-data", str(EXPANSION)))
    assert r.returncode != 0 and "--expansion-data" in r.stderr and "Traceback" not in r.stderr
    r = run(*plan_args(tmp_path / "b", "--expand", "--objective", "energy"))
    assert r.returncode != 0 and "--objective" in r.stderr and "Traceback" not in r.stderr
    r = run(*plan_args(tmp_path / "e", "--expand", "--min-renewable-share", "1.5"))
    assert r.returncode != 0 and "--min-renewable-share" in r.stderr and "Traceback" not in r.stderr
    r = run(*plan_args(tmp_path / "d", "--expand", "--expand-days", "-3"))
    assert r.returncode != 0 and "--expand-days" in r.stderr and "Traceback" not in r.stderr
    r = run(*plan_args(tmp_path / "c", "--expand", "--expansion-data", str(tmp_path / "missing.toml")))
    assert r.returncode != 0 and "missing.toml" in r.stderr and "Traceback" not in r.stderr


def test_plan_expand_at_another_rate_and_with_the_finance_cases(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run(*plan_args(out, "--expand", "--expansion-data", str(EXPANSION), "--finance-cases"))
    assert r.returncode == 0, r.stderr
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "The build at other costs of capital" in page and "cheap" in page
    base = pd.read_csv(out / "expansion.csv", index_col="asset")
    dear = tmp_path / "dear"
    r = run(*plan_args(dear, "--expand", "--expansion-data", str(EXPANSION), "--discount-rate", "1"))
    assert r.returncode == 0, r.stderr
    build = pd.read_csv(dear / "expansion.csv", index_col="asset")
    assert base["built_mw"].sum() > 0 and build["built_mw"].sum() == 0  # at 100 % a year nothing pays


def test_finance_options_are_refused_where_they_make_no_sense(tmp_path: Path) -> None:
    r = run(*plan_args(tmp_path / "a", "--discount-rate", "0.05"))
    assert r.returncode != 0 and "--discount-rate" in r.stderr and "Traceback" not in r.stderr
    r = run(*plan_args(tmp_path / "b", "--finance-cases"))
    assert r.returncode != 0 and "--finance-cases" in r.stderr and "Traceback" not in r.stderr
    r = run(*plan_args(tmp_path / "c", "--expand", "--discount-rate", "1.5"))
    assert r.returncode != 0 and "--discount-rate" in r.stderr and "Traceback" not in r.stderr
    r = run(*plan_args(tmp_path / "d", "--expand", "--discount-rate", "ten"))
    assert r.returncode != 0 and "--discount-rate" in r.stderr and "Traceback" not in r.stderr
