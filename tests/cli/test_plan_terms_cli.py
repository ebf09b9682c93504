"""``offtake plan`` says which sites its own dispatch puts in breach of their contracts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from planning_fixtures import DATA, SITES

ROOT = Path(__file__).resolve().parents[2]


def plan(sites: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    args = ["plan", "--scenario", str(DATA / "three-zone"), "--sites", str(sites), "--cap-mw", "400"]
    return subprocess.run(
        [sys.executable, "-m", "offtake", *args, "--out", str(out), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_a_site_whose_event_limit_the_plan_breaks_is_flagged_before_any_simulation(tmp_path: Path) -> None:
    lines = SITES.read_text(encoding="utf-8").splitlines()
    # m-south-1 accepts 24 h events; the plan curtails it for several hours at a stretch.
    assert lines[1].startswith("m-south-1,") and ",1.0,24,0.3," in lines[1]
    tight = tmp_path / "sites.csv"
    tight.write_text("\n".join([lines[0], lines[1].replace(",1.0,24,0.3,", ",1.0,1,0.3,"), *lines[2:]]) + "\n")
    r = plan(tight, tmp_path / "tight", "--no-event-length")
    assert r.returncode == 0, r.stderr
    flagged = r.stdout.split("contract terms broken by the planned dispatch (1 site(s)):")[1].splitlines()[1]
    assert flagged.strip().startswith("m-south-1: longest curtailment event") and "limit of 1 h" in flagged
    page = (tmp_path / "tight" / "report.html").read_text(encoding="utf-8")
    assert "Contract terms in the planned year" in page and "m-south-1" in page
    assert "Sites breaking a term: m-south-1" in page

    # With the event-length rows (the default) the planner breaks the events up instead.
    r = plan(tight, tmp_path / "kept")
    assert r.returncode == 0, r.stderr
    assert "serving them in full" in r.stderr and "contract terms broken by the planned dispatch" not in r.stdout
    assert "Sites breaking a term: none" in (tmp_path / "kept" / "report.html").read_text(encoding="utf-8")

    r = plan(SITES, tmp_path / "loose")
    assert r.returncode == 0, r.stderr
    assert "contract terms broken by the planned dispatch" not in r.stdout
    assert "Sites breaking a term: none" in (tmp_path / "loose" / "report.html").read_text(encoding="utf-8")


def test_sites_whose_simulated_year_breaks_a_term_are_flagged_before_the_run(tmp_path: Path) -> None:
    r = plan(SITES, tmp_path / "p", "--check-seeds", "1,4")
    assert r.returncode == 0, r.stderr
    assert "simulating the planned year at 5 min, seed 4" in r.stderr
    listed = r.stdout.split("contract terms broken in the simulated years (seeds 1, 4; ")[1].splitlines()[1:]
    flagged_lines = [line.strip() for line in listed if line.startswith("  ")]
    assert any(line.startswith("ai-city-1: below its floor of 105.0 MW") for line in flagged_lines), r.stdout
    page = (tmp_path / "p" / "report.html").read_text(encoding="utf-8")
    assert "Contract terms in the simulated years" in page
    assert "Contract broken in the simulated year: ai-city-1" in page
    table = pd.read_csv(tmp_path / "p" / "terms_check.csv")
    flagged = set(zip(table["site_id"], table["term"], table["seed"], strict=True))
    # offtake simulate, run afterwards on the same seed, breaks nothing the plan did not flag.
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    args = ["simulate", "--scenario", str(DATA / "three-zone"), "--allocation", str(tmp_path / "p" / "allocation.csv")]
    for seed in (1, 4):
        out = tmp_path / f"sim-{seed}"
        done = subprocess.run(
            [sys.executable, "-m", "offtake", *args, "--out", str(out), "--seed", str(seed), "--step", "5min"],
            capture_output=True, text=True, env=env, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        breaches = json.loads((out / "kpis.json").read_text(encoding="utf-8"))["contracts"]["breaches"]
        assert breaches
        assert {(b["site_id"], b["term"], seed) for b in breaches} <= flagged


def test_without_the_check_no_simulated_year_is_claimed(tmp_path: Path) -> None:
    r = plan(SITES, tmp_path / "p", "--check-seeds", "none")
    assert r.returncode == 0, r.stderr
    assert "simulated years" not in r.stdout and "simulating" not in r.stderr
    assert "Contract terms in the simulated years" not in (tmp_path / "p" / "report.html").read_text(encoding="utf-8")
    assert pd.read_csv(tmp_path / "p" / "terms_check.csv").empty


@pytest.mark.parametrize(
    ("extra", "option"),
    [(("--check-seeds", "one"), "--check-seeds"), (("--check-step", "7s"), "--check-step"),
     (("--check-step", "fast"), "--check-step")],
)  # fmt: skip
def test_a_meaningless_check_is_refused_before_any_work(tmp_path: Path, extra: tuple[str, str], option: str) -> None:
    r = plan(SITES, tmp_path / "p", *extra)
    assert r.returncode == 2, r.stdout + r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and option in last
    assert not (tmp_path / "p").exists()
