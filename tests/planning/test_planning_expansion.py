"""The capacity-expansion option: data file checks, the LP's rows held in the solution, costs, shares."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from planning_fixtures import DATA, SITES, reserve_feasible_three_zone
from report_checks import assert_self_contained, trace

from offtake import scenario
from offtake.cli._period import first_days
from offtake.errors import InputError
from offtake.planning import PlanOptions, PlanResult, plan, read_sites
from offtake.planning.expansion import ExpansionCase, annuity_factor, expansion_case, load_expansion
from offtake.planning.expansion_plan import default_sample_days, plan_with_expansion, sample_days, sizing_options
from offtake.planning.expansion_report import hourly_share
from offtake.planning.expansion_results import write_renewable_share_csv
from offtake.planning.report import render_report
from offtake.scenario import Scenario
from offtake.scenario.profiles import load_profiles

EXPANSION = DATA / "planning" / "three-zone-expansion.toml"
CAP_MW = 600.0


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, pd.DataFrame, ExpansionCase]:
    s = scenario.load(reserve_feasible_three_zone(tmp_path_factory.mktemp("expansion")))
    sites = read_sites(SITES, s.zone_ids)
    return s, sites, expansion_case(s, sites, load_expansion(EXPANSION))


@pytest.fixture(scope="module")
def plans(case: tuple[Scenario, pd.DataFrame, ExpansionCase]) -> tuple[PlanResult, PlanResult]:
    s, sites, exp = case
    options = PlanOptions(cap_mw=CAP_MW, method="simplex")
    return plan(s, sites, options), plan(s, sites, options, expansion=exp)


def test_annuity_factor_repays_the_capital() -> None:
    for rate, years in [(0.1, 30), (0.08, 15), (0.0, 20)]:
        factor = annuity_factor(rate, years)
        present = sum(factor / (1 + rate) ** k for k in range(1, years + 1))
        assert present == pytest.approx(1.0, rel=1e-12)


def test_something_is_built_and_it_pays(plans: tuple[PlanResult, PlanResult]) -> None:
    without, with_build = plans
    e = with_build.expansion
    assert e is not None and without.expansion is None
    assert e.build["built_mw"].sum() > 0  # the case is about a real build
    # building nothing is a feasible choice: the optimum with the option is at least the one without
    assert with_build.national["objective_value"] >= without.national["objective_value"] - 1e-6 * abs(
        without.national["objective_value"]
    )
    # the cost is what the data file says a MW costs, pro rata to the week
    data = load_expansion(EXPANSION)
    share = 168 / 8760
    expected = 0.0
    for _, row in e.build.iterrows():
        if row["technology"] == "battery":
            assert data.storage is not None
            expected += row["built_mw"] * data.storage.annual_usd_per_mw(0.08) * share
            expected += row["built_mwh"] * data.storage.annual_usd_per_mwh(0.08) * share
        else:
            tech = data.technologies[str(row["technology"])]
            expected += row["built_mw"] * tech.annual_usd_per_mw(0.08) * share
            expected += row["energy_mwh"] * tech.variable_om_usd_per_mwh
    assert e.totals["cost_usd"] == pytest.approx(expected, rel=1e-9)
    assert with_build.national["net_margin_usd"] == pytest.approx(
        with_build.national["net_margin_before_build_usd"] - expected, rel=1e-9
    )
    assert e.totals["cost_usd_per_mwh"] == pytest.approx(expected / e.totals["renewable_energy_mwh"], rel=1e-9)


def test_new_energy_goes_to_the_sites_of_its_zone_only(
    case: tuple[Scenario, pd.DataFrame, ExpansionCase], plans: tuple[PlanResult, PlanResult]
) -> None:
    _, sites, exp = case
    result = plans[1]
    e = result.expansion
    assert e is not None
    sol = _solution(result)
    served = result.served_mw
    for zone in dict.fromkeys(exp.generators["zone"]):
        in_zone = exp.generators.index[exp.generators["zone"] == zone]
        out = sol["new_gen"][in_zone].sum(axis=1)
        if zone in exp.stores.index:
            charge, discharge = sol["charge"][zone], sol["discharge"][zone]
            assert (charge <= out + 1e-6).all()  # batteries charge from the new plants only
            out = out - charge + discharge
        load = served.loc[:, sites.index[sites["zone"] == zone]].sum(axis=1).to_numpy()
        assert (out <= load + 1e-6).all()
    share = e.share.to_numpy(dtype=float)
    drawn = served.to_numpy() > 0
    assert np.isnan(share[~drawn]).all()
    assert ((share[drawn] >= -1e-9) & (share[drawn] <= 1 + 1e-9)).all()
    assert (e.renewable_mw.to_numpy() <= served.to_numpy() + 1e-6).all()
    assert e.site_share["renewable_energy_mwh"].sum() == pytest.approx(e.totals["renewable_energy_mwh"], rel=1e-9)


def test_plants_and_batteries_keep_their_physics(
    case: tuple[Scenario, pd.DataFrame, ExpansionCase], plans: tuple[PlanResult, PlanResult]
) -> None:
    s, _, exp = case
    result = plans[1]
    e = result.expansion
    assert e is not None
    sol = _solution(result)
    built = e.build["built_mw"].to_dict()
    energy = e.build["built_mwh"].to_dict()
    profiles = load_profiles(s)
    for cid, row in exp.generators.iterrows():
        cap = float(built[cid])
        assert cap <= row["max_mw"] + 1e-6
        assert (sol["new_gen"][cid].to_numpy() <= profiles[row["profile"]].to_numpy() * cap + 1e-6).all()
    eta = np.sqrt(0.85)
    for zone in exp.stores.index:
        charge, discharge, soc = sol["charge"][zone], sol["discharge"][zone], sol["soc"][zone]
        # cyclic: what the battery gains over the week it gives back, less its losses
        assert (eta * charge.sum() - discharge.sum() / eta) == pytest.approx(0.0, abs=1e-5)
        assert soc.max() <= float(energy[f"{zone} battery"]) + 1e-5
        assert max(charge.max(), discharge.max()) <= float(built[f"{zone} battery"]) + 1e-5
    assert e.totals["storage_loss_mwh"] >= -1e-6


def test_prohibitive_costs_build_nothing(
    case: tuple[Scenario, pd.DataFrame, ExpansionCase], tmp_path: Path, plans: tuple[PlanResult, PlanResult]
) -> None:
    s, sites, _ = case
    text = EXPANSION.read_text(encoding="utf-8")
    text = re.sub(r"capex_usd_per_kw = \{ value = \d+", "capex_usd_per_kw = { value = 900000", text)
    text = re.sub(r"energy_capex_usd_per_kwh = \{ value = \d+", "energy_capex_usd_per_kwh = { value = 900000", text)
    dear = tmp_path / "dear.toml"
    dear.write_text(text, encoding="utf-8")
    result = plan(
        s, sites, PlanOptions(cap_mw=CAP_MW, method="simplex"), expansion=expansion_case(s, sites, load_expansion(dear))
    )
    assert result.expansion is not None
    assert result.expansion.build["built_mw"].sum() == 0.0
    assert np.nan_to_num(result.expansion.share.to_numpy()).max() == 0.0
    without = plans[0]
    assert result.national["objective_value"] == pytest.approx(without.national["objective_value"], rel=1e-9)


def test_expansion_needs_the_margin_objective(case: tuple[Scenario, pd.DataFrame, ExpansionCase]) -> None:
    s, sites, exp = case
    with pytest.raises(InputError) as err:
        plan(s, sites, PlanOptions(cap_mw=CAP_MW, objective="energy"), expansion=exp)
    assert err.value.field == "objective"


def test_renewable_share_csv_and_report(plans: tuple[PlanResult, PlanResult], tmp_path: Path) -> None:
    result = plans[1]
    assert result.expansion is not None
    path = tmp_path / "renewable_share.csv"
    write_renewable_share_csv(result.expansion, path)
    table = pd.read_csv(path)
    assert list(table.columns) == ["interval_start", *result.served_mw.columns]
    assert len(table) == len(result.served_mw)
    values = table.drop(columns="interval_start").to_numpy(dtype=float)
    assert np.nanmax(values) <= 1.0 and np.nanmin(values) >= 0.0
    assert table["interval_start"].iloc[0] == "2025-01-06T00:00:00Z"
    page = render_report(result)
    assert "New renewables for the sites" in page and "USD per MWh delivered" in page
    assert "scenario: profiles.csv column solar_south" in page  # which profile each candidate used
    specs = assert_self_contained(page)
    build = next(s for s in specs if any(t.get("name") == "wind" and t.get("orientation") == "h" for t in s["data"]))
    zones = result.expansion.zones.drop(index="national")
    assert trace(build, "wind")["y"] == list(zones.index)
    assert np.allclose(np.asarray(trace(build, "wind")["x"], dtype=float), zones["wind_mw"].to_numpy(dtype=float))
    share = hourly_share(result)
    by_hour = trace(
        next(s for s in specs if any(t.get("name") == "new renewable share" for t in s["data"])), "new renewable share"
    )
    assert np.allclose(np.asarray(by_hour["y"], dtype=float), 100 * share.to_numpy())


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (
            ('source = "test value", estimate = true }\nfixed_om', 'source = "", estimate = true }\nfixed_om'),
            "technologies.solar_pv.capex_usd_per_kw.source",
        ),
        (("[candidates.wind]", "[candidates.tidal]"), "candidates.tidal"),
        (
            ("round_trip_efficiency = { value = 0.85", "round_trip_efficiency = { value = 1.7"),
            "storage.round_trip_efficiency.value",
        ),
        (("discount_rate = { value = 0.08", "discount_rate = { value = -0.1"), "finance.discount_rate.value"),
        (('zones = ["south"]', 'zones = ["south", "south"]'), "candidates.wind.zones"),
    ],
)
def test_bad_data_file_names_the_field(tmp_path: Path, edit: tuple[str, str], field: str) -> None:
    text = EXPANSION.read_text(encoding="utf-8")
    assert edit[0] in text, "test setup: the text to change must be in the file"
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_expansion(bad)
    assert err.value.field == field
    assert str(bad) in str(err.value)


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (('zones = ["south"]', 'zones = ["mars"]'), "zone 'mars'"),
        (('profile = "wind_south"', 'profile = "wind_north"'), "profile 'wind_north'"),
    ],
)
def test_candidates_must_fit_the_scenario(
    case: tuple[Scenario, pd.DataFrame, ExpansionCase], tmp_path: Path, edit: tuple[str, str], fragment: str
) -> None:
    s, sites, _ = case
    bad = tmp_path / "bad.toml"
    bad.write_text(EXPANSION.read_text(encoding="utf-8").replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(InputError) as err:
        expansion_case(s, sites, load_expansion(bad))
    assert fragment in str(err.value) and err.value.field is not None and err.value.field.startswith("candidates.wind")


def test_bundled_candidates_fit_the_bundled_year() -> None:
    data = load_expansion()
    assert "pakistan-2025" in data.scenarios
    assert all(q.source for q in data.sources.values())
    s = scenario.load("pakistan-2025")
    sites = read_sites(scenario.resolve_path("pakistan-2025") / "sites-illustrative.csv", s.zone_ids)
    exp = expansion_case(s, sites, data)
    assert exp.profiles.shape == (len(s.index), len(exp.generators))
    assert set(exp.generators["zone"]) <= set(sites["zone"])
    # solar at the bundled costs: about 50-60 USD/MWh at each zone's physics profile, below the tariff
    is_solar = (exp.generators["technology"] == "solar_pv").to_numpy()
    solar = exp.generators[is_solar].iloc[0]
    cf = float(exp.profiles[:, is_solar][:, 0].mean())
    assert 30 < solar["annual_usd_per_mw"] / (cf * 8760) < s.default_tariff_usd_per_mwh


def test_profiles_follow_a_shortened_scenario(
    case: tuple[Scenario, pd.DataFrame, ExpansionCase], tmp_path: Path
) -> None:
    s, _, _ = case
    folder = tmp_path / "copy"
    shutil.copytree(s.path, folder)
    short = first_days(scenario.load(folder), 2)
    profiles = load_profiles(short)
    assert profiles.index.equals(short.index)
    assert list(profiles.columns) == ["solar_south", "wind_south"]


def _solution(result: PlanResult) -> dict[str, pd.DataFrame]:
    e = result.expansion
    assert e is not None
    return {"new_gen": e.generation_mw, "charge": e.charge_mw, "discharge": e.discharge_mw, "soc": e.soc_mwh}


def test_fixing_the_sized_build_gives_the_same_plan(
    case: tuple[Scenario, pd.DataFrame, ExpansionCase], plans: tuple[PlanResult, PlanResult]
) -> None:
    # seven days sampled from a one-week scenario are the whole period: sizing on them and then planning
    # with the build fixed must reach the optimum of sizing and planning in one LP
    s, sites, _ = case
    result = plan_with_expansion(
        s, sites, PlanOptions(cap_mw=CAP_MW, method="simplex"), load_expansion(EXPANSION), days=7
    )
    one_lp = plans[1]
    assert result.expansion is not None and one_lp.expansion is not None
    assert result.national["objective_value"] == pytest.approx(one_lp.national["objective_value"], rel=1e-7)
    fixed, free = result.expansion.build, one_lp.expansion.build
    # what was not built has no row in the fixed plan
    np.testing.assert_allclose(fixed["built_mw"].to_numpy(), free.loc[fixed.index, "built_mw"].to_numpy(), atol=1e-3)
    assert free.drop(index=fixed.index)["built_mw"].sum() <= 1e-3
    assert (fixed["max_mw"] >= fixed["built_mw"] - 1e-9).all() and (
        fixed["max_mw"] == free.loc[fixed.index, "max_mw"]
    ).all()
    assert "sizing_s" in result.timings_s and any("sized on 7 days" in n for n in result.notes)


def test_sample_days_spread_over_the_year() -> None:
    s = scenario.load("pakistan-2025")
    sample = sample_days(s, 12)
    assert len(sample.index) == 12 * 24
    starts = sample.index[::24]
    assert starts[0] == s.index[0] and starts[-1] == s.index[-24]
    gaps = np.diff(starts.to_numpy()).astype("timedelta64[D]").astype(int)
    assert gaps.min() >= 32 and gaps.max() <= 34  # a day about every month
    assert sample.demand_mw.index.equals(sample.index) and sample.availability_pu.index.equals(sample.index)
    assert default_sample_days(s) == 28  # a year of hours is sized on sample days by default
    assert default_sample_days(first_days(s, 7)) is None  # a week in one LP
    for bad in (0, 366):
        with pytest.raises(InputError) as err:
            sample_days(s, bad)
        assert err.value.field == "days"


def test_sizing_uses_interior_point_unless_told_otherwise() -> None:
    chosen = sizing_options(PlanOptions(cap_mw=100.0))
    assert chosen.solver_options["solver"] == "ipm" and chosen.resolved_method(8760) == "simplex"
    mine = PlanOptions(cap_mw=100.0, solver_options={"solver": "simplex"})
    assert sizing_options(mine) is mine
    milp = PlanOptions(cap_mw=100.0, min_sizes=True)
    assert sizing_options(milp) is milp  # branch and bound needs simplex


def test_a_renewable_share_target_is_met_at_a_price(
    case: tuple[Scenario, pd.DataFrame, ExpansionCase], plans: tuple[PlanResult, PlanResult]
) -> None:
    s, sites, _ = case
    free = plans[1]
    assert free.expansion is not None
    target = min(0.95, free.expansion.totals["renewable_share"] + 0.2)  # above what pays by itself
    data = load_expansion(EXPANSION)
    result = plan(
        s,
        sites,
        PlanOptions(cap_mw=CAP_MW, method="simplex"),
        expansion=expansion_case(s, sites, data, min_share=target),
    )
    assert result.expansion is not None
    assert result.expansion.totals["renewable_share"] >= target - 1e-6
    assert result.national["objective_value"] <= free.national["objective_value"] + 1e-6
    with pytest.raises(InputError) as err:
        expansion_case(s, sites, data, min_share=1.5)
    assert err.value.field == "min_share"
