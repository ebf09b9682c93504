"""Meaningless arguments are refused before any work, with the option named; exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
THREE_ZONE = str(DATA / "three-zone")
ALLOCATION = str(DATA / "dispatch" / "three-zone-allocation.csv")
SITES = str(DATA / "planning" / "three-zone-sites.csv")


def offtake(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "offtake", *args], capture_output=True, text=True, timeout=120)


def refused(result: subprocess.CompletedProcess[str], option: str, *fragments: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    first = result.stderr.strip().splitlines()[-1]
    assert first.startswith("error: ") and option in first, result.stderr
    for fragment in fragments:
        assert fragment in first, first


@pytest.mark.parametrize(("value", "fragment"), [("0", "> 0"), ("-5", "> 0"), ("1e9", "installed capacity")])
def test_plan_refuses_a_meaningless_cap(tmp_path: Path, value: str, fragment: str) -> None:
    result = offtake(
        "plan", "--scenario", THREE_ZONE, "--sites", SITES, "--cap-mw", value, "--out", str(tmp_path / "p")
    )
    refused(result, "--cap-mw", fragment)
    assert "[plan" not in result.stderr or "building" not in result.stderr
    assert not (tmp_path / "p").exists()


def test_plan_shows_elapsed_time_per_step(tmp_path: Path) -> None:
    result = offtake("plan", "--scenario", THREE_ZONE, "--sites", SITES, "--cap-mw", "300", "--days", "2",
                     "--out", str(tmp_path / "p"))
    assert result.returncode == 0, result.stderr
    steps = [line for line in result.stderr.splitlines() if line.startswith("[plan")]
    assert len(steps) >= 4 and all(" s] " in line for line in steps), result.stderr
    assert steps[-1].endswith("done")


def test_plan_and_assess_refuse_days_outside_the_scenario(tmp_path: Path) -> None:
    refused(offtake("assess", "--scenario", THREE_ZONE, "--days", "0", "--out", str(tmp_path / "a")), "--days")
    refused(offtake("assess", "--scenario", THREE_ZONE, "--days", "4000", "--out", str(tmp_path / "a")), "--days")


@pytest.mark.parametrize("value", ["-10", "0"])
def test_assess_refuses_a_tariff_that_is_not_positive(tmp_path: Path, value: str) -> None:
    refused(offtake("assess", "--scenario", THREE_ZONE, "--tariff", value, "--out", str(tmp_path / "a")), "--tariff")
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize(("option", "value"), [("--paths", "0"), ("--months", "0"), ("--tariff", "-10")])
def test_risk_refuses_before_assessing(tmp_path: Path, option: str, value: str) -> None:
    result = offtake(
        "risk", "--scenario", THREE_ZONE, "--allocation", ALLOCATION, "--out", str(tmp_path / "r"), option, value
    )
    refused(result, option)
    assert "assessing" not in result.stderr


def test_simulate_refuses_a_step_that_does_not_divide_the_hour(tmp_path: Path) -> None:
    result = offtake(
        "simulate", "--scenario", THREE_ZONE, "--allocation", ALLOCATION, "--out", str(tmp_path / "s"),
        "--step", "7min",
    )
    refused(result, "--step", "420 s")
    assert "assessing" not in result.stderr


def test_simulate_refuses_an_unknown_ignoring_site_with_close_matches(tmp_path: Path) -> None:
    site = Path(ALLOCATION).read_text(encoding="utf-8").splitlines()[1].split(",")[0]
    result = offtake(
        "simulate", "--scenario", THREE_ZONE, "--allocation", ALLOCATION, "--out", str(tmp_path / "s"),
        "--ignoring-site", site + "x",
    )
    refused(result, "--ignoring-site", f"did you mean {site}")
    assert "assessing" not in result.stderr
