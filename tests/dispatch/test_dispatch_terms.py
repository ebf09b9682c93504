"""Contract dates and curtailment limits at dispatch time (reasons ``out_of_contract`` and
``curtailment_limit``)."""

from __future__ import annotations

import numpy as np
import pytest
from dispatch_helpers import make_contracts, policy, running, zone_sums
from hypothesis import given, settings
from hypothesis import strategies as st

from offtake.dispatch import Dispatcher, GridState, Reason
from offtake.dispatch.contracts import Contracts, SiteTerms
from offtake.dispatch.terms import TOL_MW, TermsUsage, contract_breaches, curtailed_intervals, term_figures

ZONES = ["a", "b"]
SITES = [
    ("ai-1", "a", "ai", 80.0, 20.0, 0.2, 80.0, "pro_rata"),  # floor 80
    ("mine-1", "a", "mining", 0.0, 100.0, 1.0, 80.0, "pro_rata"),
    ("mine-2", "a", "mining", 0.0, 50.0, 1.0, 80.0, "pro_rata"),
    ("mine-3", "b", "mining", 0.0, 60.0, 1.0, 80.0, "pro_rata"),
]


def grid(a: float, b: float, *, emergency_national: bool = False) -> GridState:
    return GridState(np.array([a, b]), np.zeros(2), emergency_national=emergency_national)


def test_a_site_outside_its_contract_dates_gets_zero_with_its_reason() -> None:
    c = make_contracts(SITES, ZONES)
    state = running(c, policy())
    state.in_contract = np.array([True, False, True, True])
    r = Dispatcher(c, policy()).step(grid(1000, 1000), state)
    assert r.cap_mw[1] == 0.0 and r.reason[1] == Reason.OUT_OF_CONTRACT
    np.testing.assert_allclose(r.cap_mw[[0, 2, 3]], c.allocated_mw[[0, 2, 3]])
    assert (r.reason[[0, 2, 3]] == Reason.ALLOCATION).all()


def test_a_site_before_its_contract_gets_zero_and_its_share_goes_to_others() -> None:
    c = make_contracts(SITES, ZONES)
    state = running(c, policy())
    state.in_contract = np.array([True, True, False, True])
    # Zone a has 200 MW: AI 100, and mine-1 takes the 100 left (mine-2 is not yet in contract).
    r = Dispatcher(c, policy()).step(grid(200, 1000), state)
    np.testing.assert_allclose(r.cap_mw[:3], [100, 100, 0])
    assert r.reason[2] == Reason.OUT_OF_CONTRACT


def test_the_end_of_a_contract_is_staggered_like_routine_curtailment() -> None:
    c = make_contracts(SITES, ZONES)
    pol = policy(contingency_limit_mw=40.0)
    state = running(c, pol)
    state.in_contract = np.array([True, False, True, True])
    r = Dispatcher(c, pol).step(grid(1000, 1000), state)
    assert r.target_mw[1] == 0.0
    assert r.cap_mw[1] == pytest.approx(60.0)  # 100 MW to drop, 40 at once
    assert r.reason[1] == Reason.STAGGER


def test_a_site_whose_limit_is_used_up_is_served_after_firm_ai_ahead_of_the_rest() -> None:
    c = make_contracts(SITES, ZONES)
    d = Dispatcher(c, policy())
    state = running(c, policy())
    # 200 MW in zone a: without protection AI takes 100, the miners share 100 pro rata.
    r = d.step(grid(200, 1000), state)
    np.testing.assert_allclose(r.cap_mw[:3], [100, 200 / 3, 100 / 3])
    # mine-1 protected: the AI firm tranche (80) first, then mine-1 (100), then AI's flexible 20.
    state.protected = np.array([False, True, False, False])
    r = d.step(grid(200, 1000), state)
    np.testing.assert_allclose(r.cap_mw[:3], [100, 100, 0])
    assert r.reason[1] == Reason.CURTAILMENT_LIMIT and r.reason[2] == Reason.ZONE_LIMIT
    # 150 MW: the AI firm tranche is still served first; mine-1 gets the 70 left.
    r = d.step(grid(150, 1000), state)
    np.testing.assert_allclose(r.cap_mw[:3], [80, 70, 0])
    assert r.reason[0] == Reason.ZONE_LIMIT and r.reason[1] == Reason.ZONE_LIMIT
    # Nothing short anywhere: the protection changes nothing and no reason says it did.
    r = d.step(grid(1000, 1000), state)
    assert (r.reason == Reason.ALLOCATION).all()


def test_protected_sites_keep_the_priority_order_among_themselves() -> None:
    c = make_contracts(SITES, ZONES)
    state = running(c, policy())
    state.protected = np.ones(4, dtype=bool)
    r = Dispatcher(c, policy()).step(grid(150, 1000), state)
    np.testing.assert_allclose(r.cap_mw[:3], [100, 100 / 3, 50 / 3])


def test_a_protected_site_stays_within_the_deliverable_region() -> None:
    c = make_contracts(SITES, ZONES)
    state = running(c, policy())
    state.protected = np.array([False, True, True, False])
    r = Dispatcher(c, policy()).step(grid(170, 1000), state)
    assert zone_sums(c, r.cap_mw)[0] == pytest.approx(170.0)
    np.testing.assert_allclose(r.cap_mw[:3], [80, 60, 30])  # pro rata among the protected
    assert r.reason[1] == Reason.ZONE_LIMIT and r.reason[2] == Reason.ZONE_LIMIT


def test_an_emergency_still_curtails_a_protected_miner() -> None:
    c = make_contracts(SITES, ZONES)
    state = running(c, policy())
    state.protected = np.ones(4, dtype=bool)
    r = Dispatcher(c, policy()).step(grid(1000, 1000, emergency_national=True), state)
    assert r.cap_mw[1] == 0.0 and r.reason[1] == Reason.EMERGENCY
    assert r.cap_mw[0] == pytest.approx(80.0) and r.reason[0] == Reason.CONTRACT_FLOOR


def _one_miner(limit: float, event_h: float) -> Contracts:
    site = SiteTerms("m", "o", "a", "mining", 0.0, 10.0, 1.0, event_h, limit, 60.0, 70.0)
    return Contracts.from_sites([site], ["a"])


def test_usage_counts_curtailed_energy_until_the_annual_budget_is_spent() -> None:
    # Budget: 1 % of 10 MW over 100 h = 10 MWh; each 1-hour interval at cap 2 MW uses 8 MWh.
    usage = TermsUsage(_one_miner(0.01, 1000.0), 3600.0, 100.0)
    assert not usage.protected()[0]
    usage.observe(np.array([2.0]), np.array([Reason.ZONE_LIMIT], dtype=np.int8))
    assert usage.curtailed_mwh[0] == pytest.approx(8.0)
    assert usage.protected()[0]  # another full hour off would take it to 18 MWh


def test_suspension_and_contract_dates_do_not_count_as_curtailment() -> None:
    usage = TermsUsage(_one_miner(0.01, 0.5), 900.0, 100.0)
    for reason in (Reason.SUSPENDED, Reason.OUT_OF_CONTRACT):
        usage.observe(np.array([0.0]), np.array([reason], dtype=np.int8))
    assert usage.curtailed_mwh[0] == 0.0 and usage.event_h[0] == 0.0
    assert not usage.protected()[0]


def test_an_event_resets_when_the_site_is_served_in_full() -> None:
    usage = TermsUsage(_one_miner(1.0, 0.5), 900.0, 8760.0)
    usage.observe(np.array([0.0]), np.array([Reason.ZONE_LIMIT], dtype=np.int8))
    usage.observe(np.array([0.0]), np.array([Reason.ZONE_LIMIT], dtype=np.int8))
    assert usage.event_h[0] == pytest.approx(0.5) and usage.protected()[0]
    usage.observe(np.array([10.0]), np.array([Reason.ALLOCATION], dtype=np.int8))
    assert usage.event_h[0] == 0.0 and not usage.protected()[0]


def test_a_site_whose_annual_limit_is_used_up_is_not_curtailed_further_unless_an_emergency() -> None:
    # A miner beside an AI site in a zone short all the time: without the rule it would be
    # curtailed every interval; once its budget is spent it is served after the AI firm tranche
    # (40) and ahead of the AI's flexible one.
    sites = [
        SiteTerms("ai-1", "o", "a", "ai", 40.0, 40.0, 0.5, 1000.0, 1.0, 0.0, 80.0),
        SiteTerms("mine-1", "o", "a", "mining", 0.0, 20.0, 1.0, 1000.0, 0.05, 0.0, 80.0),
    ]  # instant sites: the room kept for ramps down is tested on its own (test_dispatch_joint)
    c = Contracts.from_sites(sites, ["a"])
    pol = policy(interval_s=3600.0)
    d = Dispatcher(c, pol)
    usage = TermsUsage(c, 3600.0, 100.0)  # budget 0.05 x 20 MW x 100 h = 100 MWh
    state = running(c, pol)
    caps = []
    for hour in range(10):
        state.protected = usage.protected()
        r = d.step(GridState(np.array([85.0]), np.zeros(1), emergency_national=hour == 9), state)
        if 6 <= hour < 9:
            assert r.reason[1] == Reason.CURTAILMENT_LIMIT
        usage.observe(r.cap_mw, r.reason)
        caps.append(float(r.cap_mw[1]))
    # Six hours at 5 MW (15 MWh each: 90 MWh; a seventh would pass 100), then served first.
    assert caps[:6] == pytest.approx([5.0] * 6)
    assert caps[6:9] == pytest.approx([20.0] * 3)
    assert caps[9] == 0.0  # the emergency still takes it off (force majeure)
    assert usage.curtailed_mwh[1] == pytest.approx(110.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([0.0, 5.0, 9.9995, 10.0]), st.sampled_from([0, 1, 2, 3])), min_size=1, max_size=40
    )
)
def test_the_period_figures_and_the_running_count_agree(steps: list[tuple[float, int]]) -> None:
    # kpis.json and the plan's check read a period with term_figures; dispatch counts interval by interval.
    reasons = (Reason.ZONE_LIMIT, Reason.ALLOCATION, Reason.SUSPENDED, Reason.OUT_OF_CONTRACT)
    c = _one_miner(0.5, 1.0)
    step_h = 0.25
    cap = np.array([[mw] for mw, _ in steps])
    reason = np.array([[reasons[r]] for _, r in steps], dtype=np.int8)
    usage = TermsUsage(c, step_h * 3600.0, len(steps) * step_h)
    longest = 0.0
    for t in range(len(steps)):
        usage.observe(cap[t], reason[t])
        longest = max(longest, float(usage.event_h[0]))
    curtailed = curtailed_intervals(cap, c.allocated_mw, reason)
    (figures,) = term_figures(cap, c, step_h, curtailed)
    assert figures["curtailed_mwh"] == pytest.approx(float(usage.curtailed_mwh[0]))
    assert figures["longest_event_h"] == pytest.approx(longest)
    assert figures["curtailment_rate"] == pytest.approx(
        float(usage.curtailed_mwh[0]) / float(usage.budget_mwh[0]) * 0.5
    )
    assert figures["within_annual_limit"] == (float(usage.curtailed_mwh[0]) <= float(usage.budget_mwh[0]) + 1e-6)
    # A cap within TOL_MW of the allocation is not curtailment; suspension and contract dates are not either.
    expected = [mw < 10.0 - TOL_MW and r in (0, 1) for mw, r in steps]
    assert curtailed[:, 0].tolist() == expected


def test_breaches_name_each_term_and_its_size() -> None:
    c = _one_miner(0.1, 0.5)  # 10 MW, 10 % a year, events of at most 30 min
    cap = np.array([[0.0], [0.0], [0.0], [10.0]])  # one 45 min event at 15 min steps
    curtailed = curtailed_intervals(cap, c.allocated_mw)
    (figures,) = term_figures(cap, c, 0.25, curtailed)
    site = {"site_id": "m", "allocated_mw": 10.0, **figures}
    found = contract_breaches([site], 1.0)
    by_term = {b["term"]: b for b in found["breaches"]}
    assert by_term["annual_curtailment_limit"]["excess_mwh"] == pytest.approx(7.5 - 1.0)
    assert by_term["max_curtailment_duration_h"]["actual"] == pytest.approx(0.75)
    assert by_term["max_curtailment_duration_h"]["events_over"] == 1
    assert found["sites_breaking_terms"] == ["m"]
    # Within the tolerance given, the annual excess is not a breach.
    assert "annual_curtailment_limit" not in {
        b["term"] for b in contract_breaches([site], 1.0, tolerance_mwh=7.0)["breaches"]
    }
