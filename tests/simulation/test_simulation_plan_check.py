"""A plan's simulated years read against its contracts before it is run (offtake.simulation.plan_check)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from offtake import scenario as scenario_mod
from offtake.dispatch import Reason, read_allocation
from offtake.errors import InputError
from offtake.planning import PlanOptions, plan, read_sites, write_allocation_csv
from offtake.simulation.plan_check import MAX_SEEDS, check_plan_by_simulation, parse_seeds

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SITES = DATA / "planning" / "three-zone-sites.csv"
REASONS = {r.name.lower() for r in Reason}


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[scenario_mod.Scenario, Path]:
    """The three-zone week planned for 400 MW; it has no firm margin data, so its AI floors are at risk."""
    s = scenario_mod.load(DATA / "three-zone")
    result = plan(s, read_sites(SITES, s.zone_ids), PlanOptions(cap_mw=400.0, method="simplex"))
    path = tmp_path_factory.mktemp("plan") / "allocation.csv"
    write_allocation_csv(result, path)
    return s, path


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("1-5", [1, 2, 3, 4, 5]), ("3,5", [3, 5]), (" 5, 3 ,3", [3, 5]), ("none", []), ("NONE", []), ("0", [0])],
)
def test_seeds_are_read_as_written(text: str, seeds: list[int]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["a", "1-", "-1", "5-3", "1,,2", "1.5", f"0-{MAX_SEEDS}", "1-2-3"])
def test_bad_seeds_are_refused_naming_the_option(text: str) -> None:
    with pytest.raises(InputError) as err:
        parse_seeds(text)
    assert "--check-seeds" in str(err.value)


def test_every_breach_of_offtake_simulate_is_flagged_first(
    planned: tuple[scenario_mod.Scenario, Path], tmp_path: Path
) -> None:
    s, path = planned
    seeds = [1, 4]
    check = check_plan_by_simulation(s, read_allocation(path, s.zone_ids), seeds, 300.0)
    assert check.seeds == seeds and check.step_s == 300.0
    # The AI sites' floors and limits break in the simulated week (forecast error, outages, look-ahead).
    assert {"ai-city-1", "ai-north-1"} <= set(check.sites_breaking_terms)
    for seed, run in zip(seeds, check.runs, strict=True):
        out = tmp_path / f"sim-{seed}"
        done = subprocess.run(
            [sys.executable, "-m", "offtake", "simulate", "--scenario", str(DATA / "three-zone"), "--allocation",
             str(path), "--out", str(out), "--step", "5min", "--seed", str(seed)],
            capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
            timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
        simulated = {(b["site_id"], b["term"], round(float(b["actual"]), 9)) for b in kpis["contracts"]["breaches"]}
        flagged = {(b["site_id"], b["term"], round(float(b["actual"]), 9)) for b in run.breaches}
        assert simulated == flagged
        assert run.ignoring_site == kpis["ignoring_site"]["site_id"]
        for b in run.breaches:
            words = b["cause"]
            assert words.startswith("cut by ")
            named = {part.split(" (")[0] for part in words[len("cut by ") :].split(";")[0].split(", ")}
            assert named <= REASONS


def test_terms_kept_in_every_simulated_year_are_not_flagged(
    planned: tuple[scenario_mod.Scenario, Path], tmp_path: Path
) -> None:
    s, path = planned
    table = pd.read_csv(path)
    # A small miner (drawn to ignore its cap, the only miner) and an AI site whose terms allow anything.
    table = table[table["site_id"].isin(["m-south-1", "ai-north-1"])].assign(
        firm_mw=0.0, interruptible_mw=10.0, allocated_mw=10.0
    )
    table["annual_curtailment_limit"] = 1.0
    table["max_curtailment_duration_h"] = 1000.0
    table["max_curtailment_fraction"] = 1.0
    small = tmp_path / "allocation.csv"
    table.to_csv(small, index=False)
    check = check_plan_by_simulation(s, read_allocation(small, s.zone_ids), [1, 2], 900.0)
    assert [r.ignoring_site for r in check.runs] == ["m-south-1", "m-south-1"]
    assert [r.breaches for r in check.runs] == [[], []]
    assert check.sites_breaking_terms == [] and check.lines() == []
