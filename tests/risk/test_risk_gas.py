"""The gas price as a driver of the risk model: surface, regression, monotonicity, data file, report."""

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
from report_checks import assert_self_contained

from offtake import scenario
from offtake.economics.data import data_path
from offtake.errors import InputError
from offtake.grid.baseline import redispatch
from offtake.risk import (
    GasSurface,
    RiskOptions,
    RiskParameters,
    RiskResult,
    build_model,
    load_risk_parameters,
    read_allocation,
    run_risk,
)
from offtake.risk.from_scenario import PreparedInputs, gas_multipliers, gas_surface, prepare_inputs
from offtake.risk.report import RunInfo, write_outputs

SCENARIO = Path("tests/data/three-zone")
ALLOC = Path("tests/data/allocations/three-zone.csv")
# three-zone's gas plants cost 60 and 75 USD/MWh against the allocation's tariff of 80


@pytest.fixture(scope="module")
def prepared() -> tuple[scenario.Scenario, object, PreparedInputs, GasSurface]:
    s = scenario.load(str(SCENARIO))
    sites = read_allocation(ALLOC, s.zone_ids)
    prep = prepare_inputs(s, sites)
    gas = gas_surface(s, sites, prep, ("gas",))
    assert gas is not None
    return s, sites, prep, gas


def _run(
    prepared: tuple[scenario.Scenario, object, PreparedInputs, GasSurface],
    *,
    with_gas: bool = True,
    paths: int = 400,
    months: int = 24,
    gas_volatility_per_year: float = 0.3,
    gas_drift_per_year: float = 0.0,
    gas_mean_reversion_per_year: float = 0.5,
) -> RiskResult:
    s, sites, prep, gas = prepared
    par = dataclasses.replace(
        load_risk_parameters(),
        gas_technologies=("gas",),
        gas_volatility_per_year=gas_volatility_per_year,
        gas_drift_per_year=gas_drift_per_year,
        gas_mean_reversion_per_year=gas_mean_reversion_per_year,
    )
    model, ctx = build_model(
        prep.profiles,
        sites,  # type: ignore[arg-type]
        RiskOptions(seed=7, n_months=months),
        exchange_rate_pkr_per_usd=s.exchange_rate_pkr_per_usd,
        parameters=par,
        gas=gas if with_gas else None,
    )
    return run_risk(model, ctx, paths, progress=None)


def test_surface_nodes_bracket_each_tariff_crossing_and_surplus_falls_above_it(
    prepared: tuple[scenario.Scenario, object, PreparedInputs, GasSurface],
) -> None:
    _, _, prep, gas = prepared
    nodes = gas.multipliers.tolist()
    for cross in (80 / 75, 80 / 60):
        assert any(cross * 0.99 < m < cross for m in nodes) and any(cross < m < cross * 1.01 for m in nodes)
    national = [float(p.national_surplus_mw.mean()) for p in gas.profiles]
    one = nodes.index(1.0)
    assert gas.profiles[one] is prep.profiles
    assert national[one] > 0
    # above 1 the surplus can only fall as gas plants cross the tariff, and it does fall
    assert all(b <= a + 1e-6 for a, b in zip(national[one:], national[one + 1 :], strict=False))
    assert national[-1] < national[one] - 1.0
    assert gas.base_price_usd_per_mwh == 75.0
    np.testing.assert_array_equal(gas_multipliers(np.array([75.0]), [80.0])[[0, -1]], [0.5, 2.5])


def test_zero_gas_volatility_gives_todays_result(
    prepared: tuple[scenario.Scenario, object, PreparedInputs, GasSurface],
) -> None:
    today = _run(prepared, with_gas=False)
    still = _run(prepared, gas_volatility_per_year=0.0, gas_drift_per_year=0.0)
    np.testing.assert_array_equal(still.arrays["monthly_gas_multiplier"], 1.0)
    for name in ("energy_mwh", "miners_left", "miners_stopped", "monthly_energy_mwh", "monthly_btc_price_usd"):
        np.testing.assert_array_equal(still.arrays[name], today.arrays[name])
    for name in ("fuel_cost_usd", "tariff_revenue_usd", "miners_margin_usd", "monthly_available_mwh"):
        np.testing.assert_allclose(still.arrays[name], today.arrays[name], rtol=1e-6)
    # and a volatile gas price does change the outcome on the same seed
    moving = _run(prepared, gas_volatility_per_year=0.8)
    assert not np.allclose(moving.arrays["monthly_available_mwh"], today.arrays["monthly_available_mwh"])


def test_gas_shock_above_the_tariff_margin_lowers_available_energy_monotonically(
    prepared: tuple[scenario.Scenario, object, PreparedInputs, GasSurface],
) -> None:
    # no volatility, no reversion: the multiplier is exp(drift * t), higher in every month for a higher drift
    drifts = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4)
    runs = [
        _run(prepared, paths=50, gas_volatility_per_year=0.0, gas_mean_reversion_per_year=0.0, gas_drift_per_year=d)
        for d in drifts
    ]
    available = [r.arrays["monthly_available_mwh"] for r in runs]
    for lower, higher in itertools.pairwise(available):
        assert (higher <= lower * (1 + 1e-6) + 1e-6).all()
    # at 0.4/year the price passes both gas plants' crossings (x1.07 and x1.33) within two years
    assert available[-1].sum() < 0.95 * available[0].sum()
    last = runs[-1].arrays["monthly_gas_price_usd_per_mwh"][0]
    assert last[-1] > 80.0 > last[0]


def test_attribution_names_the_gas_price(
    prepared: tuple[scenario.Scenario, object, PreparedInputs, GasSurface],
) -> None:
    r = _run(prepared, paths=1000, gas_volatility_per_year=0.6)
    shares = r.variance_attribution()
    assert "gas price" in shares.index
    for col in shares.columns:
        assert shares[col].sum() == pytest.approx(1.0, abs=1e-9) or shares[col].iloc[:-1].sum() > 1.0
        assert (shares[col] >= 0).all()
    assert float(shares["absorbed_twh"].to_dict()["gas price"]) > 0.01
    calm = _run(prepared, paths=1000, gas_volatility_per_year=0.0).variance_attribution()
    assert float(calm["absorbed_twh"].to_dict()["gas price"]) == 0.0
    tornado = r.driver_tornado()
    # a dear gas price offers less surplus: the high-gas paths absorb no more than the low-gas ones
    assert float(tornado["absorbed_twh_high"].to_dict()["gas price"]) <= float(
        tornado["absorbed_twh_low"].to_dict()["gas price"]
    )
    short = r.energy_shortfall((0.0, 0.5, 1.01))
    assert float(short["p_absorbed_below"].to_dict()[0.0]) == 0.0
    assert float(short["p_available_below"].to_dict()[1.01]) == 1.0


def test_report_shows_the_gas_fan_and_the_drivers(
    prepared: tuple[scenario.Scenario, object, PreparedInputs, GasSurface], tmp_path: Path
) -> None:
    r = _run(prepared, paths=300)
    written = write_outputs(r, tmp_path, RunInfo("three-zone", str(ALLOC), 7, None, 0.1))
    specs = assert_self_contained(written["report"].read_text(encoding="utf-8"))
    assert len(specs) == 11
    fan = next(s for s in specs if s["layout"]["yaxis"]["title"]["text"] == "gas marginal cost [USD/MWh]")
    median = next(t for t in fan["data"] if t["name"] == "P50")
    q = r.monthly_quantiles("monthly_gas_price_usd_per_mwh")
    np.testing.assert_allclose(median["y"], q["P50"].to_numpy())
    summary = written["summary"].read_text(encoding="utf-8")
    assert '"gas_price"' in summary and '"variance_attribution"' in summary
    assert "gas price" in written["drivers"].read_text(encoding="utf-8")


def _with(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (
            "volatility_per_year = { value = 0.30,",
            "volatility_per_year = { value = -0.1,",
            "gas_price.volatility_per_year",
        ),
        (
            "mean_reversion_per_year = { value = 0.5,",
            "mean_reversion_per_year = { value = -1,",
            "gas_price.mean_reversion_per_year",
        ),
        ('technologies = ["rlng_ccgt"]', "technologies = []", "gas_price.technologies"),
        ('technologies = ["rlng_ccgt"]', 'technologies = "rlng_ccgt"', "gas_price.technologies"),
        (
            "mean_reversion_per_year = { value = 0.5,",
            'mean_reversion_per_year = { value = "half",',
            "gas_price.mean_reversion_per_year",
        ),
        ("[gas_price]", "[gas_prices]", "[gas_price]"),
    ],
)
def test_bad_gas_data_refused_naming_the_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    bad = tmp_path / "risk.toml"
    bad.write_text(_with(data_path("risk.toml").read_text(encoding="utf-8"), old, new), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_risk_parameters(bad)
    assert field in str(err.value) and "risk.toml" in str(err.value)


def test_bundled_gas_data_is_sourced() -> None:
    par: RiskParameters = load_risk_parameters()
    assert par.gas_technologies == ("rlng_ccgt",)
    assert par.gas_volatility_per_year > 0
    for key in ("drift_per_year", "volatility_per_year", "mean_reversion_per_year"):
        assert par.quantities[f"gas_price.{key}"].source


def test_surface_without_one_or_with_mismatched_profiles_is_refused(
    prepared: tuple[scenario.Scenario, object, PreparedInputs, GasSurface],
) -> None:
    _, _, prep, _ = prepared
    with pytest.raises(InputError, match="hold 1"):
        GasSurface(("gas",), 75.0, np.array([0.5, 2.0]), (prep.profiles, prep.profiles))
    with pytest.raises(InputError, match="increasing"):
        GasSurface(("gas",), 75.0, np.array([1.0, 1.0]), (prep.profiles, prep.profiles))
    with pytest.raises(InputError, match="2 multipliers but 1"):
        GasSurface(("gas",), 75.0, np.array([1.0, 2.0]), (prep.profiles,))


def test_shortcut_below_the_crossing_matches_a_full_assessment(
    prepared: tuple[scenario.Scenario, object, PreparedInputs, GasSurface],
) -> None:
    s, sites, prep, _ = prepared
    surface = gas_surface(s, sites, prep, ("gas",), multipliers=np.array([0.9, 1.0, 2.0]))  # type: ignore[arg-type]
    assert surface is not None
    baseline = prep.baseline
    assert baseline is not None
    chosen = np.isin(np.asarray(baseline.fleet.technology), ["gas"])
    costs = baseline.fleet.marginal_cost_usd_per_mwh
    moved, _ = redispatch(baseline, np.where(chosen, costs * 0.9, costs))
    full = prepare_inputs(s, sites, baseline=moved).profiles  # type: ignore[arg-type]
    short = surface.profiles[0]
    np.testing.assert_allclose(short.zone_surplus_mw, full.zone_surplus_mw, atol=1e-6)
    np.testing.assert_allclose(short.national_surplus_mw, full.national_surplus_mw, atol=1e-6)
    np.testing.assert_allclose(short.marginal_cost_usd_per_mwh, full.marginal_cost_usd_per_mwh, rtol=1e-6, atol=1e-6)
    # the serving cost did fall with the gas price where gas serves
    assert short.marginal_cost_usd_per_mwh.mean() < prep.profiles.marginal_cost_usd_per_mwh.mean()
