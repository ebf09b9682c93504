"""The simulated year on the three-zone test scenario: determinism, detection, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_checks import assert_self_contained

from offtake import scenario as scenario_mod
from offtake.dispatch import Reason, read_allocation
from offtake.errors import InputError
from offtake.simulation import SimulationResult, TroubleParams, compute_kpis, simulate
from offtake.simulation.region import ScheduledSets

DATA = Path(__file__).parents[1] / "data"
ALLOCATION = DATA / "dispatch" / "three-zone-allocation.csv"


@pytest.fixture(scope="module")
def scenario() -> scenario_mod.Scenario:
    return scenario_mod.load(DATA / "three-zone")


@pytest.fixture(scope="module")
def surplus(scenario: scenario_mod.Scenario) -> pd.DataFrame:
    """Synthetic zone surplus: a daily swing that dips below the allocation each evening."""
    hours = np.arange(len(scenario.index))
    swing = 0.5 + 0.5 * np.cos(2 * np.pi * (hours % 24 - 4) / 24)
    return pd.DataFrame(
        {"north": 20 + 80 * swing, "south": 250 + 400 * swing, "city": 30 * swing},
        index=scenario.index,
    )


def run(
    scenario: scenario_mod.Scenario,
    surplus: pd.DataFrame,
    *,
    seed: int = 0,
    ignoring_site: str | None = "auto",
    params: TroubleParams | None = None,
    step_s: float = 300.0,
    sets: ScheduledSets | None = None,
) -> SimulationResult:
    contracts = read_allocation(ALLOCATION, scenario.zone_ids)
    return simulate(
        scenario,
        contracts,
        surplus,
        seed=seed,
        ignoring_site=ignoring_site,
        params=params,
        step_s=step_s,
        sets=sets,
    )


def test_same_seed_same_year(scenario: scenario_mod.Scenario, surplus: pd.DataFrame) -> None:
    a = run(scenario, surplus, seed=11)
    b = run(scenario, surplus, seed=11)
    c = run(scenario, surplus, seed=12)
    np.testing.assert_array_equal(a.cap_mw, b.cap_mw)
    np.testing.assert_array_equal(a.draw_mw, b.draw_mw)
    assert compute_kpis(a) == compute_kpis(b)
    assert not np.array_equal(a.real_surplus_mw, c.real_surplus_mw)


def test_ignoring_site_is_found_and_measured(scenario: scenario_mod.Scenario, surplus: pd.DataFrame) -> None:
    result = run(scenario, surplus, seed=3, ignoring_site="mine-south-1")
    k = compute_kpis(result)["ignoring_site"]
    assert k["site_id"] == "mine-south-1" and k["found"]
    assert k["false_positives"] == []
    i = result.contracts.site_ids.index("mine-south-1")
    over = np.maximum(result.draw_mw[:, i] - result.cap_mw[:, i], 0.0).sum() * result.step_h
    assert k["over_draw_mwh"] == pytest.approx(over) and over > 1.0
    # After disconnection the site draws nothing; after flagging its licence is suspended.
    assert result.disconnected_step[i] > result.flagged_step[i] >= 0
    assert (result.draw_mw[result.disconnected_step[i] + 1 :, i] == 0.0).all()
    assert (result.reason[result.flagged_step[i] + 1 :, i] == Reason.SUSPENDED).all()


def test_no_false_flags_without_an_ignoring_site(scenario: scenario_mod.Scenario, surplus: pd.DataFrame) -> None:
    result = run(scenario, surplus, seed=5, ignoring_site=None)
    assert (result.flagged_step == -1).all()


def test_caps_fit_forecast_and_curtailment_follows_the_evening_dip(
    scenario: scenario_mod.Scenario, surplus: pd.DataFrame
) -> None:
    result = run(scenario, surplus, seed=2, ignoring_site=None)
    k = compute_kpis(result)
    alloc = result.contracts.allocated_mw
    assert (result.cap_mw <= alloc + 1e-9).all()
    # Miners in the south are curtailed on the daily dips; the AI site keeps its firm tranche.
    south = {s["site_id"]: s for s in k["sites"]}
    i = result.contracts.site_ids.index("mine-south-1")
    hour = (np.arange(result.cap_mw.shape[0]) * result.step_s / 3600.0) % 24
    dip, peak = (hour >= 15) & (hour < 17), (hour >= 3) & (hour < 5)
    assert result.cap_mw[dip, i].mean() < 0.8 * result.cap_mw[peak, i].mean()
    assert south["mine-south-1"]["events"] >= 1
    # Whenever the AI site is cut for the zone, the miners beside it are at zero (or still
    # being staggered down).
    ai = result.contracts.site_ids.index("ai-south")
    miners = [result.contracts.site_ids.index(s) for s in ("mine-south-1", "mine-south-2")]
    ai_cut = result.reason[:, ai] == Reason.ZONE_LIMIT
    assert ai_cut.any()
    for m in miners:
        ok = (result.cap_mw[ai_cut, m] == 0.0) | (result.reason[ai_cut, m] == Reason.STAGGER)
        assert ok.all()
    # Without an ignoring site, what exceedance there is comes from trouble, not from dispatch.
    by_cause = k["safety"]["by_cause"]
    assert by_cause["site ignoring its cap"]["intervals"] == 0
    assert k["energy"]["share_of_hindsight_bound"] > 0.9


def test_emergencies_cut_at_once(scenario: scenario_mod.Scenario, surplus: pd.DataFrame) -> None:
    params = TroubleParams.default(emergencies_per_year=400.0)
    result = run(scenario, surplus, seed=4, params=params, ignoring_site=None)
    assert result.emergencies
    for event in result.emergencies:
        zones = slice(None) if event.zone is None else result.zone_ids.index(event.zone)
        in_scope = np.isin(result.contracts.zone_index, np.arange(len(result.zone_ids))[zones])
        miners = in_scope & ~result.contracts.is_ai
        assert (result.cap_mw[event.start : event.end, miners] == 0.0).all()


def test_step_must_divide_the_scenario_interval(scenario: scenario_mod.Scenario, surplus: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="step"):
        run(scenario, surplus, step_s=7 * 60)


def test_bad_allocation_names_line_and_field(tmp_path: Path, scenario: scenario_mod.Scenario) -> None:
    text = ALLOCATION.read_text().replace(
        "ai-south,op-a,south,ai,150", "ai-south,op-a,nowhere,ai,150"
    )
    bad = tmp_path / "allocation.csv"
    bad.write_text(text)
    with pytest.raises(InputError) as info:
        read_allocation(bad, scenario.zone_ids)
    assert info.value.line == 2 and info.value.field == "zone"


def test_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from offtake.cli import main

    out = tmp_path / "sim"
    argv = [
        "offtake",
        "simulate",
        "--scenario",
        str(DATA / "three-zone"),
        "--allocation",
        str(ALLOCATION),
        "--step",
        "15min",
        "--out",
        str(out),
        "--seed",
        "1",
    ]
    old = sys.argv
    sys.argv = argv
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None)
    finally:
        sys.argv = old
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["run"]["intervals"] == 7 * 24 * 4
    assert (
        kpis["ignoring_site"]["site_id"]
        in read_allocation(ALLOCATION, ["north", "south", "city"]).site_ids
    )
    html = (out / "report.html").read_text()
    assert len(assert_self_contained(html)) >= 4
    assert "Simulated dispatch at 15-min steps over 7 days" in html
    captured = capsys.readouterr()
    assert "[3/5]" in captured.err


def test_energy_figure_leaves_out_the_suspended_site(scenario: scenario_mod.Scenario, surplus: pd.DataFrame) -> None:
    result = run(scenario, surplus, seed=3, ignoring_site="mine-south-1")
    e = compute_kpis(result)["energy"]
    i = result.contracts.site_ids.index("mine-south-1")
    kept = np.ones(result.contracts.n_sites, dtype=bool)
    kept[i] = False
    within = np.minimum(result.draw_mw, result.cap_mw)[:, kept].sum() * result.step_h
    bound = result.contracts.expected_energy_mwh[kept].sum()
    assert e["licensed_sites_absorbed_within_caps_mwh"] == pytest.approx(within)
    assert e["licensed_sites_planner_bound_mwh"] == pytest.approx(bound)
    assert e["licensed_sites_share_of_planner_bound"] == pytest.approx(within / bound)
    assert e["meets_target"] == (within / bound >= e["target_share"])


def test_real_surplus_is_consistent_under_zone_cuts(scenario) -> None:  # type: ignore[no-untyped-def]
    """With the network's zone sets, a zone never has more real surplus than the nation."""
    from offtake.surplus import assess_surplus
    from offtake.surplus.assess import set_surplus

    assessed = assess_surplus(scenario)
    sets = ScheduledSets(*set_surplus(scenario, assessed.tariff_usd_per_mwh, assessed.baseline))
    params = TroubleParams.default(emergencies_per_year=400.0)  # plenty of emergencies in a week
    result = run(scenario, assessed.zone_mw, sets=sets, seed=4, params=params)
    assert result.national_real_mw is not None and result.emergencies
    assert np.all(result.real_surplus_mw <= result.national_real_mw[:, None] + 1e-6)
    k = compute_kpis(result)["safety"]
    assert k["zone_real_within_national"] and k["zone_sets"] == 7
    # Every interval over a zone's or the nation's real surplus is one outside the region.
    assert k["intervals_over_real_surplus"] >= k["national_intervals_over_real_surplus"]
    served = result.draw_mw @ np.eye(3)[result.contracts.zone_index]
    over_zone = (served - result.real_surplus_mw > 1e-3).any(axis=1)
    assert np.all(result.joint_excess_mw[over_zone] > 1e-3)
    assert sum(c["intervals"] for c in k["by_cause"].values()) == k["intervals_over_real_surplus"]


def test_slow_but_obedient_sites_are_never_suspended(scenario, surplus) -> None:  # type: ignore[no-untyped-def]
    params = TroubleParams.default(response_factor=(1.5, 1.5))
    result = run(scenario, surplus, seed=6, ignoring_site=None, params=params)
    assert (result.flagged_step == -1).all()
    assert not (result.reason == Reason.SUSPENDED).any()


def test_a_flagged_site_is_disconnected_at_once_in_an_emergency(scenario, surplus) -> None:  # type: ignore[no-untyped-def]
    """With the crew's delay longer than the week, only an emergency can take the site off."""
    params = TroubleParams.default(emergencies_per_year=2000.0, disconnect_delay_h=10_000.0)
    result = run(scenario, surplus, seed=3, ignoring_site="mine-south-1", params=params)
    i = result.contracts.site_ids.index("mine-south-1")
    flagged, gone = int(result.flagged_step[i]), int(result.disconnected_step[i])
    assert 0 <= flagged <= gone
    zone = result.contracts.zone_index[i]
    assert result.emergency_zone[gone, zone]
    # Not earlier: the first emergency interval over its zone after the flag.
    assert not result.emergency_zone[flagged:gone, zone].any()
    assert (result.draw_mw[gone + 1 :, i] == 0.0).all()


def test_kpis_name_every_contract_term_the_year_broke(scenario, surplus) -> None:  # type: ignore[no-untyped-def]
    """A surplus too thin for the city miner's limits: its breaches are named with their size."""
    thin = surplus.copy()
    thin["city"] = 0.0  # nothing to give in the city all week
    result = run(scenario, thin, seed=1, ignoring_site=None)
    k = compute_kpis(result)
    found = {(b["site_id"], b["term"]): b for b in k["contracts"]["breaches"]}
    city = next(s for s in k["sites"] if s["site_id"] == "mine-city")
    assert ("mine-city", "annual_curtailment_limit") in found
    allowed = 0.5 * 40.0 * len(result.index) * result.step_h
    excess = found["mine-city", "annual_curtailment_limit"]["excess_mwh"]
    assert excess == pytest.approx(city["curtailed_mwh"] - allowed)
    assert found["mine-city", "max_curtailment_duration_h"]["actual"] == pytest.approx(city["longest_event_h"])
    assert city["longest_event_h"] > 24.0
    assert "mine-city" in k["contracts"]["sites_breaking_terms"]
    # The curtailment-limit rule asked for the miner to be served first; there was nothing to give.
    i = result.contracts.site_ids.index("mine-city")
    assert (result.cap_mw[:, i] == 0.0).all()
    # Every breach names a site that really broke the term it names.
    for (site, term), b in found.items():
        s = next(x for x in k["sites"] if x["site_id"] == site)
        if term == "annual_curtailment_limit":
            assert not s["within_annual_limit"]
        elif term == "max_curtailment_duration_h":
            assert s["events_longer_than_contract"] == b["events_over"] > 0
        else:
            assert term == "floor" and s["hours_below_floor_outside_emergency"] == b["hours_below"] > 0


def test_a_miner_at_its_event_limit_is_served_ahead_of_the_others(scenario, surplus) -> None:  # type: ignore[no-untyped-def]
    """Long evening dips in the south: the rule serves a miner at its limit first, with its reason."""
    low = surplus.copy()
    low["south"] = 210.0  # the AI site (200) takes nearly all of it: the miners starve for days
    result = run(scenario, low, seed=2, ignoring_site=None, params=TroubleParams.default(emergencies_per_year=0.0))
    k = compute_kpis(result)
    assert k["reasons"]["curtailment_limit"] > 0
    hit = result.reason == Reason.CURTAILMENT_LIMIT
    miners = ~result.contracts.is_ai
    assert hit[:, miners].any()
    # Served first: every site with that reason got more than it would in its normal place,
    # so in that interval some other site of its zone was cut.
    south = result.contracts.zone_index == result.contracts.zone_ids.index("south")
    # (cut by the zone, or held for the coming dip or for a site still ramping down: look-ahead)
    held = np.asarray(np.isin(result.reason, [Reason.ZONE_LIMIT, Reason.LOOKAHEAD]), dtype=bool)
    cut = np.asarray(held[:, south].any(axis=1), dtype=bool)
    assert cut[hit[:, south].any(axis=1)].all()
