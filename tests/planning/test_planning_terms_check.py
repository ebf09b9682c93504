"""A plan's own dispatch read against its sites' contract terms (offtake.planning.terms_check)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from planning_fixtures import DATA, SITES

from offtake import scenario
from offtake.dispatch.terms import TOL_MW
from offtake.grid import least_cost_dispatch
from offtake.grid.baseline import Baseline
from offtake.planning import PlanOptions, PlanResult, plan, read_sites
from offtake.planning.report import render_report
from offtake.planning.terms_check import check_plan_terms, event_hold_mask
from offtake.scenario import Scenario

OPTIONS = PlanOptions(cap_mw=400.0, method="simplex")
#: The plan without its event-length rows: only the check guards the term.
UNGUARDED = PlanOptions(cap_mw=400.0, method="simplex", event_length=False)


@pytest.fixture(scope="module")
def case() -> tuple[Scenario, pd.DataFrame, Baseline]:
    s = scenario.load(DATA / "three-zone")
    return s, read_sites(SITES, s.zone_ids), least_cost_dispatch(s)


def longest_run_h(served: np.ndarray, allocated_mw: float, step_h: float) -> float:
    """Longest stretch below the allocation, counted interval by interval (independent of the module)."""
    best = run = 0
    for value in served:
        run = run + 1 if value < allocated_mw - TOL_MW else 0
        best = max(best, run)
    return best * step_h


def with_terms(sites: pd.DataFrame, site_id: str, **terms: float) -> pd.DataFrame:
    out = sites.copy()
    for column, value in terms.items():
        out.loc[site_id, column] = value
    return out


def test_loose_terms_are_not_flagged(case: tuple[Scenario, pd.DataFrame, Baseline]) -> None:
    s, sites, base = case
    result = plan(s, sites, OPTIONS, baseline=base)
    assert result.terms is not None
    assert result.terms.breaches == [] and result.terms.sites_breaking_terms == []
    step_h = result.horizon_h / len(result.served_mw)
    for row in result.terms.sites:
        served = result.served_mw[row["site_id"]].to_numpy()
        assert row["longest_event_h"] == pytest.approx(longest_run_h(served, row["allocated_mw"], step_h))
        assert row["longest_event_h"] <= row["max_curtailment_duration_h"]
        assert row["curtailment_rate"] <= row["annual_curtailment_limit"] + 1e-6
    # The test below can fail: the loose plan does curtail a site for several hours at a stretch.
    assert max(r["longest_event_h"] for r in result.terms.sites) >= 2.0
    assert "Sites breaking a term: none" in render_report(result)


def test_a_tight_event_limit_is_flagged_by_how_much(case: tuple[Scenario, pd.DataFrame, Baseline]) -> None:
    s, sites, base = case
    loose = plan(s, sites, OPTIONS, baseline=base)
    assert loose.terms is not None
    worst = max(loose.terms.sites, key=lambda r: r["longest_event_h"])
    tight_h = worst["longest_event_h"] / 2
    tight = with_terms(sites, worst["site_id"], max_curtailment_duration_h=tight_h)
    result = plan(s, tight, UNGUARDED, baseline=base)
    assert result.terms is not None
    assert result.terms.sites_breaking_terms == [worst["site_id"]]
    (breach,) = result.terms.breaches
    served = result.served_mw[worst["site_id"]].to_numpy()
    step_h = result.horizon_h / len(served)
    allocated = float(result.allocation["allocated_mw"].loc[worst["site_id"]])
    assert breach["term"] == "max_curtailment_duration_h"
    assert breach["limit"] == tight_h
    assert breach["actual"] == pytest.approx(longest_run_h(served, allocated, step_h))
    assert breach["events_over"] >= 1
    (line,) = result.terms.lines()
    assert worst["site_id"] in line and f"limit of {tight_h:g} h" in line
    page = render_report(result)
    assert "Contract terms in the planned year" in page and "Contract broken by the plan" in page


def test_the_planner_keeps_a_tight_event_limit_by_serving_inside_long_events(
    case: tuple[Scenario, pd.DataFrame, Baseline],
) -> None:
    s, sites, base = case
    loose = plan(s, sites, OPTIONS, baseline=base)
    assert loose.terms is not None
    worst = max(loose.terms.sites, key=lambda r: r["longest_event_h"])
    for tight_h in (worst["longest_event_h"] / 2, 1.0):
        tight = with_terms(sites, worst["site_id"], max_curtailment_duration_h=tight_h)
        result = plan(s, tight, OPTIONS, baseline=base)
        assert result.terms is not None and result.terms.breaches == []
        served = result.served_mw[worst["site_id"]].to_numpy()
        allocated = float(result.allocation["allocated_mw"].loc[worst["site_id"]])
        assert allocated > 0  # kept, with its events broken up rather than dropped
        assert longest_run_h(served, allocated, result.horizon_h / len(served)) <= tight_h
        # The term costs margin, never gains it.
        assert result.national["net_margin_usd"] <= loose.national["net_margin_usd"] + 1e-6


def test_a_tight_annual_limit_is_planned_within_not_flagged(case: tuple[Scenario, pd.DataFrame, Baseline]) -> None:
    s, sites, base = case
    result = plan(s, with_terms(sites, "m-south-1", annual_curtailment_limit=0.01), OPTIONS, baseline=base)
    assert result.terms is not None
    rows = {r["site_id"]: r for r in result.terms.sites}
    if "m-south-1" in rows:  # the planner sizes the site to its limit, or leaves it out
        assert rows["m-south-1"]["curtailment_rate"] <= 0.01 + 1e-6
    assert all(b["term"] != "annual_curtailment_limit" for b in result.terms.breaches)


def test_a_served_series_that_breaks_annual_limit_and_floor_is_flagged(
    case: tuple[Scenario, pd.DataFrame, Baseline],
) -> None:
    s, sites, base = case
    result = plan(s, sites, OPTIONS, baseline=base)
    alloc = result.allocation["allocated_mw"]
    miner = str(alloc[result.allocation["kind"] == "mining"].idxmax())
    ai = str(alloc[result.allocation["kind"] == "ai"].idxmax())
    served = result.served_mw.copy()
    served[miner] = 0.0  # curtailed all period long: rate 1
    floor = float(result.allocation["firm_mw"].loc[ai])
    column = served[ai].to_numpy(copy=True)
    column[10:13] = floor - 5.0  # three hours below the floor
    served[ai] = column
    broken: PlanResult = dataclasses.replace(result, served_mw=served)
    check = check_plan_terms(broken, list(s.zone_ids))
    found = {(b["site_id"], b["term"]): b for b in check.breaches}
    hours = result.horizon_h
    limit = float(result.allocation["annual_curtailment_limit"].loc[miner])
    annual = found[(miner, "annual_curtailment_limit")]
    assert annual["actual"] == pytest.approx(1.0)
    assert annual["excess_mwh"] == pytest.approx(float(alloc[miner]) * hours * (1.0 - limit))
    assert found[(miner, "max_curtailment_duration_h")]["actual"] == pytest.approx(hours)
    assert found[(ai, "floor")]["hours_below"] == pytest.approx(3.0)
    assert set(check.sites_breaking_terms) == {miner, ai}


def test_an_empty_plan_has_nothing_to_flag(case: tuple[Scenario, pd.DataFrame, Baseline]) -> None:
    s, sites, base = case
    result = plan(s, sites, OPTIONS, baseline=base)
    table = result.allocation.copy()
    table[["firm_mw", "interruptible_mw", "allocated_mw"]] = 0.0
    check = check_plan_terms(dataclasses.replace(result, allocation=table), list(s.zone_ids))
    assert check.breaches == [] and check.sites == []


@settings(max_examples=80, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=50), st.sampled_from([0.5, 1.0, 2.0, 3.5]))
def test_holding_the_chosen_intervals_leaves_no_event_too_long(cut: list[bool], limit_h: float) -> None:
    served = np.where(np.array(cut), 0.0, 10.0)[:, None]
    hold = event_hold_mask(served, np.array([10.0]), np.array([limit_h]), 1.0)
    assert not (hold[:, 0] & ~np.array(cut)).any()  # only curtailed intervals are held
    after = np.where(hold[:, 0], 10.0, served[:, 0])
    assert longest_run_h(after, 10.0, 1.0) <= limit_h
    if longest_run_h(served[:, 0], 10.0, 1.0) <= limit_h:
        assert not hold.any()  # nothing held where the term is kept
