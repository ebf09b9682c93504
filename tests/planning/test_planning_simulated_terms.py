"""The simulated years' breaches as the plan shows them (offtake.planning.simulated_terms)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from planning_fixtures import DATA, SITES

from offtake import scenario
from offtake.planning import PlanOptions, PlanResult, plan, read_sites
from offtake.planning.report import render_report
from offtake.planning.simulated_terms import (
    TERMS_CHECK_COLUMNS,
    SimulatedRun,
    SimulatedTerms,
    terms_check_frame,
    write_terms_check_csv,
)

FLOOR = {"site_id": "ai-city-1", "term": "floor", "limit": 105.0, "actual": 2.0, "hours_below": 2.0,
         "cause": "cut by national_limit (24 intervals); emergency in north meanwhile"}  # fmt: skip
EVENT = {"site_id": "ai-city-1", "term": "max_curtailment_duration_h", "limit": 4.0, "actual": 4.75, "events_over": 1,
         "cause": "cut by zone_limit (57 intervals)"}  # fmt: skip
RATE = {"site_id": "ai-north-1", "term": "annual_curtailment_limit", "limit": 0.02, "actual": 0.031,
        "excess_mwh": 12.5, "cause": "cut by lookahead (3 intervals)"}  # fmt: skip


def checked() -> SimulatedTerms:
    runs = [
        SimulatedRun(3, "m-south-1", [FLOOR]),
        SimulatedRun(4, None, []),
        SimulatedRun(5, "m-south-1", [{**FLOOR, "actual": 11.0, "hours_below": 11.0, "cause": "cut by zone_limit"},
                                      EVENT, RATE]),
    ]  # fmt: skip
    return SimulatedTerms(300.0, runs, "three seeds")


@pytest.fixture(scope="module")
def result() -> PlanResult:
    s = scenario.load(DATA / "three-zone")
    return plan(s, read_sites(SITES, s.zone_ids), PlanOptions(cap_mw=400.0, method="simplex"))


def test_each_site_and_term_is_one_row_with_its_seeds_and_worst_year() -> None:
    check = checked()
    assert check.seeds == [3, 4, 5]
    assert check.sites_breaking_terms == ["ai-city-1", "ai-north-1"]
    rows = {(r["site_id"], r["term"]): r for r in check.by_site()}
    assert set(rows) == {("ai-city-1", "floor"), ("ai-city-1", "max_curtailment_duration_h"),
                         ("ai-north-1", "annual_curtailment_limit")}  # fmt: skip
    floor = rows["ai-city-1", "floor"]
    assert floor["seeds"] == [3, 5] and floor["worst"] == 11.0 and floor["cause"] == "cut by zone_limit"
    lines = check.lines()
    assert len(lines) == 3
    assert "below its floor of 105.0 MW" in lines[0] and "up to 11 h" in lines[0] and "(seed 3, 5)" in lines[0]
    assert "2 of 3 simulated years at 5 min" in lines[0]
    assert "longest curtailment event up to 4.75 h against a limit of 4 h" in lines[1]
    assert "3.10 % of allocated energy against a limit of 2.00 %" in lines[2] and "lookahead" in lines[2]


def test_nothing_broken_says_so() -> None:
    check = SimulatedTerms(900.0, [SimulatedRun(1, None, [])], "one seed")
    assert check.sites_breaking_terms == [] and check.by_site() == [] and check.lines() == []


def test_terms_check_csv_lists_the_plan_year_then_every_simulated_breach(result: PlanResult, tmp_path: Path) -> None:
    assert result.terms is not None
    planned = dataclasses.replace(result.terms, breaches=[{**EVENT, "site_id": "m-south-1"}])
    path = write_terms_check_csv(planned, checked(), tmp_path / "terms_check.csv")
    table = pd.read_csv(path)
    assert tuple(table.columns) == TERMS_CHECK_COLUMNS
    assert table["source"].tolist() == ["plan", "simulated", "simulated", "simulated", "simulated"]
    assert table["seed"].isna().tolist() == [True, False, False, False, False]
    assert table["seed"].dropna().astype(int).tolist() == [3, 5, 5, 5]
    assert table["excess"].tolist() == pytest.approx([0.75, 2.0, 11.0, 0.75, 12.5])
    assert table["excess_unit"].tolist() == ["h", "h below floor", "h below floor", "h", "MWh"]
    empty = pd.read_csv(write_terms_check_csv(None, None, tmp_path / "none.csv"))
    assert tuple(empty.columns) == TERMS_CHECK_COLUMNS and empty.empty
    assert terms_check_frame(result.terms, None).empty  # the loose plan keeps its own year's terms


def test_the_report_flags_each_site_before_the_run(result: PlanResult) -> None:
    assert "Contract terms in the simulated years" not in render_report(result)
    flagged = dataclasses.replace(result, simulated_terms=checked())
    page = render_report(flagged)
    assert "Contract terms in the simulated years" in page
    assert "sites breaking a term in 3 simulated years" in page
    assert "Sites breaking a term in a simulated year: ai-city-1, ai-north-1" in page
    assert page.count("Contract broken in the simulated year: ") == 3
    assert "emergency in north meanwhile" not in page  # the worst year's cause is shown
    assert "cut by zone_limit" in page and "seed 3: m-south-1, seed 4: none, seed 5: m-south-1" in page
    kept = dataclasses.replace(result, simulated_terms=SimulatedTerms(300.0, [SimulatedRun(1, None, [])], "r"))
    assert "Sites breaking a term in a simulated year: none" in render_report(kept)
