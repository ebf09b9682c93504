"""``offtake plan`` says which sites its own dispatch puts in breach of their contracts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
