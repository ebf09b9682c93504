import pytest

from offtake.economics import ai as ai_mod
from offtake.economics.country import Incentives, country_view, load_country


def hand_params(required_return_fraction_per_year: float = 0.0) -> ai_mod.AiParameters:
    return ai_mod.AiParameters(
        price_usd_per_gpu_hour=2.0,
        server_power_kw_per_gpu=1.0,
        utilisation_fraction=0.5,
        pue=1.25,
        capex_usd_per_gpu=20_000.0,
        facility_capex_usd_per_gpu=10_000.0,
        hardware_life_months=50.0,
        facility_life_months=100.0,
        other_opex_usd_per_gpu_hour=0.25,
        required_return_fraction_per_year=required_return_fraction_per_year,
    )


def test_ai_revenue_per_mwh_by_hand() -> None:
    p = hand_params()
    # 1 MW runs 1000 / (1.0 * 1.25) = 800 GPUs; half sold at $2 -> $800 per hour per MW
    assert ai_mod.gpus_per_mw(p) == pytest.approx(800)
    assert ai_mod.ai_revenue_usd_per_mwh(p) == pytest.approx(800)
    cash = ai_mod.ai_breakeven_usd_per_mwh(p, include_capital=False)
    assert cash == pytest.approx(800 - 800 * 0.25)
    full = ai_mod.ai_breakeven_usd_per_mwh(p)
    depreciation = 800 * 20_000 / (50 * 730) + 800 * 10_000 / (100 * 730)
    assert full == pytest.approx(cash - depreciation)


def test_ai_incentives_raise_the_breakeven() -> None:
    p = hand_params(required_return_fraction_per_year=0.15)
    plain = ai_mod.ai_breakeven_usd_per_mwh(p, import_tax_fraction=0.25, income_tax_fraction=0.29)
    exempt = ai_mod.ai_breakeven_usd_per_mwh(p, import_tax_fraction=0.0, income_tax_fraction=0.29)
    both = ai_mod.ai_breakeven_usd_per_mwh(p, import_tax_fraction=0.0, income_tax_fraction=0.15)
    assert plain < exempt < both
    higher_price = ai_mod.ai_breakeven_usd_per_mwh(
        p.with_price(3.0), import_tax_fraction=0.0, income_tax_fraction=0.15
    )
    assert higher_price == pytest.approx(both + 800 * 0.5 * 1.0)


def test_bundled_ai_data_has_sources() -> None:
    p = ai_mod.load_ai()
    assert p.quantities is not None
    assert all(q.source for q in p.quantities.values())
    assert p.quantities["gpu.utilisation_fraction"].estimate is True
    assert 500 < ai_mod.ai_revenue_usd_per_mwh(p) < 3000


def test_country_view_arithmetic_in_usd_and_pkr() -> None:
    data = load_country()
    assert data.capacity_payments_pkr_per_year == pytest.approx(1806.18e9)
    view = country_view(
        energy_mwh=1_000_000,
        tariff_revenue_usd=82e6,
        fuel_cost_usd=55e6,
        network_cost_usd=5e6,
        period_years=1.0,
        exchange_rate_pkr_per_usd=280.0,
        data=data,
        incentives=Incentives(hardware_import_exemption=True, ai_tax_reduction=True, import_tax_counted=True),
        hardware_value_usd=100e6,
        ai_taxable_profit_usd=40e6,
    )
    assert view.contribution_usd == pytest.approx(22e6)
    assert view.import_tax_forgone_usd == pytest.approx(100e6 * data.hardware_import_tax_fraction)
    gap = data.corporate_income_tax_fraction - data.ai_reduced_income_tax_fraction
    assert view.ai_tax_forgone_usd == pytest.approx(40e6 * gap)
    assert view.net_gain_usd == pytest.approx(
        22e6 - 100e6 * data.hardware_import_tax_fraction - 40e6 * gap
    )
    assert view.capacity_payments_usd == pytest.approx(1806.18e9 / 280.0)
    table = view.to_frame()
    assert table.at["net gain", "PKR"] == pytest.approx(view.net_gain_usd * 280.0)
    assert table.at["tariff revenue", "PKR"] == pytest.approx(82e6 * 280)
    assert table.at["capacity payments owed anyway", "PKR"] == pytest.approx(1806.18e9)
    assert view.share_of_capacity_payments == pytest.approx(view.net_gain_usd / (1806.18e9 / 280))
    assert view.relief_pkr_per_kwh == pytest.approx(
        view.net_gain_usd * 280 / (data.grid_generation_mwh_per_year * 1000)
    )


def test_country_view_without_incentives_forgoes_nothing() -> None:
    data = load_country()
    view = country_view(
        energy_mwh=1.0,
        tariff_revenue_usd=10.0,
        fuel_cost_usd=4.0,
        period_years=2.0,
        exchange_rate_pkr_per_usd=300.0,
        data=data,
        incentives=Incentives(False, False),
        hardware_value_usd=1e9,
        ai_taxable_profit_usd=1e9,
    )
    assert view.tax_forgone_usd == 0.0
    assert view.net_gain_usd == pytest.approx(6.0)
    assert view.capacity_payments_usd == pytest.approx(2 * 1806.18e9 / 300.0)


def test_waived_import_tax_is_not_counted_unless_asked() -> None:
    data = load_country()
    waived = Incentives().import_tax_waived_usd(data, 100e6)
    assert waived == pytest.approx(100e6 * data.hardware_import_tax_fraction)
    assert Incentives().import_tax_forgone_usd(data, 100e6) == 0.0
    assert Incentives(import_tax_counted=True).import_tax_forgone_usd(data, 100e6) == pytest.approx(waived)
    assert Incentives(hardware_import_exemption=False, import_tax_counted=True).import_tax_forgone_usd(data, 1e6) == 0.0
