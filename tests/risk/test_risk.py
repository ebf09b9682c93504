from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_checks import assert_self_contained
from risk_helpers import allocation, synthetic_profiles

from offtake import scenario
from offtake.errors import InputError
from offtake.risk import (
    RiskOptions,
    RiskResult,
    SurplusProfiles,
    build_model,
    read_allocation,
    reduce_to_profiles,
    run_risk,
    solar_shape,
)
from offtake.risk.inputs import served_hourly

ALLOC = Path("tests/data/allocations/three-zone.csv")


def run(
    seed: int = 3,
    paths: int = 600,
    profiles: SurplusProfiles | None = None,
    alloc: pd.DataFrame | None = None,
    start: datetime | None = None,
    max_probability: float = RiskOptions.max_probability,
) -> RiskResult:
    model, ctx = build_model(
        profiles or synthetic_profiles(),
        alloc if alloc is not None else allocation(),
        RiskOptions(seed=seed, n_months=24, start=start, max_probability=max_probability),
        exchange_rate_pkr_per_usd=280.0,
    )
    return run_risk(model, ctx, paths, progress=None)


def test_same_seed_same_result_different_seed_different() -> None:
    a, b, c = run(seed=11), run(seed=11), run(seed=12)
    for name in ("energy_mwh", "miners_margin_usd", "monthly_btc_price_usd", "miners_left"):
        np.testing.assert_array_equal(a.arrays[name], b.arrays[name])
    assert not np.array_equal(a.arrays["monthly_btc_price_usd"], c.arrays["monthly_btc_price_usd"])
    assert not np.array_equal(a.arrays["miners_margin_usd"], c.arrays["miners_margin_usd"])


def test_self_dilution_lowers_hashprice() -> None:
    small = run(alloc=allocation(mining_mw=1.0))
    big = run(alloc=allocation(mining_mw=20_000.0), profiles=synthetic_profiles(level_mw=30_000.0))
    hp_small = small.arrays["monthly_hashprice_usd_per_ph_day"][:, 0]
    hp_big = big.arrays["monthly_hashprice_usd_per_ph_day"][:, 0]
    # same random paths: every path's first-month hashprice is lower with the programme's own
    # hashrate
    assert (hp_big < hp_small).all()
    # 40 GW of S21 is about 2.2 ZH/s against about 1.1 ZH/s outside: hashprice falls to about a
    # third
    assert np.median(hp_big / hp_small) == pytest.approx(1 / 3, rel=0.15)


def test_higher_tariff_means_more_stopping_and_leaving() -> None:
    r = run(paths=1000)
    probs = r.probabilities().iloc[1:]
    assert probs["tariff_usd_per_mwh"].is_monotonic_increasing
    assert probs["p_miner_stops"].is_monotonic_increasing
    assert probs["p_miner_leaves"].is_monotonic_increasing
    assert probs["p_miner_leaves"].iloc[-1] > probs["p_miner_leaves"].iloc[0]
    # energy absorbed can only fall as the tariff rises
    assert (np.diff(probs["absorbed_twh_p50"].to_numpy()) <= 1e-12).all()


def test_tariff_solve_respects_the_limit() -> None:
    r = run(paths=1000, max_probability=0.3)
    solved = r.solved_tariff_usd_per_mwh()
    table = r.probabilities().iloc[1:].set_index("tariff_usd_per_mwh")
    if solved is None:
        assert table["p_miner_leaves"].iloc[0] > 0.3
    else:
        assert (table.loc[:solved, "p_miner_leaves"] <= 0.3).all()
        above = table.loc[table.index > solved, "p_miner_leaves"]
        assert above.empty or above.iloc[0] > 0.3


def test_halving_shows_in_hashprice() -> None:
    r = run(paths=400, start=pd.Timestamp("2028-01-01", tz="UTC").to_pydatetime())
    q = r.monthly_quantiles("monthly_hashprice_usd_per_ph_day")["P50"]
    march, may = q.iloc[2], q.iloc[4]
    assert may < 0.75 * march
    subsidy = r.model.subsidy_btc
    assert subsidy[0] == 3.125 and subsidy[5] == 1.5625 and 1.5625 < subsidy[3] < 3.125


def test_revenue_and_country_outputs_are_consistent() -> None:
    r = run(paths=500)
    a = r.arrays
    tariff = 60.0
    np.testing.assert_allclose(a["tariff_revenue_usd"][0], a["energy_mwh"][0] * tariff)
    np.testing.assert_allclose(a["monthly_energy_mwh"].sum(axis=1), a["energy_mwh"][0])
    p50 = r.percentiles()["P50"]
    assert p50["tariff_revenue_pkr"] == pytest.approx(p50["tariff_revenue_usd"] * 280.0)
    # allocated energy bounds absorbed energy
    hours = 24 * r.model.days_in_month.sum()
    assert (a["energy_mwh"][0] <= 250.0 * hours + 1e-6).all()


def test_more_demand_growth_absorbs_less() -> None:
    import dataclasses

    from offtake.risk.inputs import load_risk_parameters

    base = load_risk_parameters()
    hot = dataclasses.replace(
        base,
        demand_growth_mean_per_year=0.5,
        solar_additions_mean_mw_per_year=0.0,
        solar_additions_sd_mw_per_year=0.0,
    )
    tight = synthetic_profiles(level_mw=300.0)
    m1, c1 = build_model(
        tight,
        allocation(),
        RiskOptions(seed=5, n_months=24),
        exchange_rate_pkr_per_usd=280.0,
        parameters=base,
    )
    m2, c2 = build_model(
        tight,
        allocation(),
        RiskOptions(seed=5, n_months=24),
        exchange_rate_pkr_per_usd=280.0,
        parameters=hot,
    )
    r1, r2 = run_risk(m1, c1, 300, progress=None), run_risk(m2, c2, 300, progress=None)
    assert r2.arrays["energy_mwh"][0].mean() < r1.arrays["energy_mwh"][0].mean()


def test_solar_shape_integrates_to_yield() -> None:
    shape = solar_shape(30.0, 71.5, 1500.0)
    days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    assert (shape.sum(axis=1) * days).sum() == pytest.approx(1500.0)
    # Pakistan is UTC+5: no output at 20:00 UTC (01:00 local), most around 07:00 UTC (noon local)
    assert shape[:, 20].max() == 0.0
    assert shape[5].argmax() in (6, 7)


def test_reduce_to_profiles_and_served_hourly() -> None:
    idx = pd.date_range("2025-01-06", periods=48, freq="h", tz="UTC")
    zone = pd.DataFrame({"north": np.arange(48.0), "south": 100.0}, index=idx)
    national = pd.Series(60.0, index=idx)
    demand = pd.DataFrame({"north": 10.0, "south": 20.0}, index=idx)
    p = reduce_to_profiles(zone, national, demand)
    assert p.zone_surplus_mw[0, 0, 5] == pytest.approx((5 + 29) / 2)
    # months without data take the all-year hour mean
    assert p.zone_surplus_mw[0, 6, 5] == pytest.approx((5 + 29) / 2)
    sites = pd.DataFrame(
        {"zone": ["north", "south", "south"], "allocated_mw": [50.0, 40.0, 40.0]},
        index=["a", "b", "c"],
    )
    served = served_hourly(zone, national, sites)
    assert (served.sum(axis=1) <= 60.0 + 1e-9).all()
    assert served.at[idx[0], "a"] == 0.0
    assert served.at[idx[0], "b"] == pytest.approx(served.at[idx[0], "c"])


def test_read_allocation_refuses_bad_rows(tmp_path: Path) -> None:
    good = read_allocation(ALLOC, ["north", "south", "city"])
    assert list(good.index) == ["mine-south-1", "mine-north-1", "ai-city-1"]
    text = ALLOC.read_text(encoding="utf-8")
    bad = tmp_path / "a.csv"
    bad.write_text(
        text.replace("ai-city-1,op-c,city,ai,40,10,50", "ai-city-1,op-c,city,ai,40,10,55"),
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        read_allocation(bad, ["north", "south", "city"])
    assert err.value.line == 4 and err.value.field == "allocated_mw"
    bad.write_text(
        text.replace("mine-north-1,op-b,north,mining", "mine-north-1,op-b,moon,mining"),
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        read_allocation(bad, ["north", "south", "city"])
    assert err.value.line == 3 and err.value.field == "zone"


def test_three_zone_scenario_end_to_end(tmp_path: Path) -> None:
    from offtake.risk.from_scenario import prepare_inputs
    from offtake.risk.report import RunInfo, write_outputs

    s = scenario.load("tests/data/three-zone")
    sites = read_allocation(ALLOC, s.zone_ids)
    prepared = prepare_inputs(s, sites)
    assert prepared.served_mw.shape == (len(s.index), 3)
    model, ctx = build_model(
        prepared.profiles,
        sites,
        RiskOptions(seed=2, n_months=12),
        exchange_rate_pkr_per_usd=s.exchange_rate_pkr_per_usd,
    )
    result = run_risk(model, ctx, 300, progress=None)
    written = write_outputs(
        result, tmp_path, RunInfo(s.name, str(ALLOC), 2, None, 0.1), prepared.no_subsidy
    )
    html = written["report"].read_text(encoding="utf-8")
    assert len(assert_self_contained(html)) == 10  # no gas profiles: no gas-price fan
    assert "No-subsidy test" in html
    assert pd.read_csv(written["paths"]).shape[0] == 300
