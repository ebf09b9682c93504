from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from offtake.economics import bitcoin as btc
from offtake.economics.data import data_path
from offtake.errors import InputError

UTC = UTC


def test_hashprice_worked_example_domain_5_1() -> None:
    # D = 152 T, BTC $91k, reward about 3.145 BTC -> about $37.9/PH/day (Luxor reported $38.2)
    value = btc.hashprice_usd_per_ph_day(152e12, 3.125, 0.02, 91_000)
    assert value == pytest.approx(37.9, abs=0.05)
    assert abs(value - 38.2) / 38.2 < 0.01
    # independent route: share of the network's blocks one PH/s wins per day
    network_h_per_s = 152e12 * 2**32 / 600
    share = 1e15 / network_h_per_s
    assert value == pytest.approx(share * 144 * 3.145 * 91_000, rel=1e-12)


def test_hashprice_with_bundled_market_state() -> None:
    data = btc.load_bitcoin()
    m = data.market
    value = btc.hashprice_usd_per_ph_day(
        m.difficulty, data.schedule.subsidy_btc_at(m.as_of), m.fees_btc_per_block, m.btc_price_usd
    )
    assert value == pytest.approx(37.9, abs=0.05)


# domain.md §5.3: power-only break-even [USD/MWh] at $35 / $38 / $45 per PH/day
TABLE_5_3 = {
    29.5: (49, 54, 64),
    21.5: (68, 74, 87),
    17.5: (83, 90, 107),
    15.0: (97, 106, 125),
    13.5: (108, 117, 139),
    9.7: (150, 163, 193),
}


@pytest.mark.parametrize("efficiency", sorted(TABLE_5_3))
def test_breakeven_matches_table_5_3(efficiency: float) -> None:
    for hashprice, expected in zip((35, 38, 45), TABLE_5_3[efficiency], strict=True):
        assert abs(btc.miner_breakeven_usd_per_mwh(hashprice, efficiency) - expected) <= 0.5


def test_asic_models_file_agrees_with_table() -> None:
    models = btc.load_asic_models()
    assert models["Antminer S21"].efficiency_j_per_th == 17.5
    assert models["Antminer S21"].hashrate_th_s * models[
        "Antminer S21"
    ].efficiency_j_per_th == pytest.approx(3500)
    assert models["Antminer S21+ Hydro"].power_w / models[
        "Antminer S21+ Hydro"
    ].hashrate_th_s == pytest.approx(15.0, rel=1e-3)
    assert models["Antminer S21 XP"].estimate is True
    assert set(TABLE_5_3) == {m.efficiency_j_per_th for m in models.values()}


def test_pool_fee_overhead_and_capital_lower_breakeven() -> None:
    cash = btc.miner_breakeven_usd_per_mwh(38, 17.5)
    with_fees = btc.miner_breakeven_usd_per_mwh(
        38, 17.5, pool_fee_fraction=0.02, site_overhead_fraction=0.05
    )
    assert with_fees == pytest.approx(cash * 0.98 / 1.05)
    exempt = btc.miner_breakeven_usd_per_mwh(
        38, 17.5, hardware_cost_usd_per_th=16, hardware_life_months=36
    )
    taxed = btc.miner_breakeven_usd_per_mwh(
        38, 17.5, hardware_cost_usd_per_th=16, hardware_life_months=36, import_tax_fraction=0.25
    )
    assert taxed < exempt < cash
    # depreciation by hand: 1 MW runs 1e6/17.5 TH/s; $16/TH over 36 x 730 h
    assert cash - exempt == pytest.approx(1e6 / 17.5 * 16 / (36 * 730))


def test_subsidy_by_height_is_the_consensus_rule() -> None:
    s = btc.load_bitcoin().schedule
    assert s.subsidy_sat(0) == 5_000_000_000
    assert s.subsidy_sat(209_999) == 5_000_000_000
    assert s.subsidy_sat(210_000) == 2_500_000_000
    assert s.subsidy_btc(840_000) == 3.125
    assert s.subsidy_btc(1_049_999) == 3.125
    assert s.subsidy_btc(1_050_000) == 1.5625
    assert s.subsidy_sat(64 * 210_000) == 0
    # sum of all subsidies is just under 21 M BTC
    total_sat = sum(s.subsidy_sat(era * 210_000) * 210_000 for era in range(64))
    assert 20_999_999 < total_sat / 1e8 < 21_000_000


def test_halving_dates_and_subsidy_by_date() -> None:
    s = btc.load_bitcoin().schedule
    past = s.halvings(datetime(2025, 1, 1, tzinfo=UTC))
    assert [(h, t.date().isoformat()) for h, t, _ in past] == [
        (210_000, "2012-11-28"),
        (420_000, "2016-07-09"),
        (630_000, "2020-05-11"),
        (840_000, "2024-04-20"),
    ]
    future = s.halvings(datetime(2029, 1, 1, tzinfo=UTC))[-1]
    assert future[0] == 1_050_000 and future[2] == 1.5625
    assert future[1].year == 2028 and future[1].month == 4
    assert s.subsidy_btc_at(datetime(2024, 4, 19, tzinfo=UTC)) == 6.25
    assert s.subsidy_btc_at(datetime(2025, 11, 20, tzinfo=UTC)) == 3.125
    assert s.subsidy_btc_at(datetime(2028, 6, 1, tzinfo=UTC)) == 1.5625
    april = s.mean_subsidy_btc(datetime(2028, 4, 1, tzinfo=UTC), datetime(2028, 5, 1, tzinfo=UTC))
    assert 1.5625 < april < 3.125
    assert (
        s.mean_subsidy_btc(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
        == 3.125
    )
    # height in Nov 2025 is about 924,000 (projected at 600 s per block from block 840,000)
    assert 915_000 < s.height_at(datetime(2025, 11, 20, tzinfo=UTC)) < 930_000
    with pytest.raises(InputError):
        s.height_at(datetime(2025, 1, 1))  # naive


def test_difficulty_hashrate_roundtrip() -> None:
    h = btc.hashrate_from_difficulty(152e12)
    assert h == pytest.approx(1.088e21, rel=1e-3)  # about 1.1 ZH/s
    assert btc.difficulty_from_hashrate(h) == pytest.approx(152e12)
    arr = btc.hashprice_usd_per_ph_day(np.array([152e12, 2 * 152e12]), 3.125, 0.02, 91_000)
    assert arr[1] == pytest.approx(arr[0] / 2)


def test_data_file_without_source_is_refused(tmp_path: Path) -> None:
    text = data_path("bitcoin.toml").read_text(encoding="utf-8")
    bad = text.replace(
        'btc_price_usd = { value = 91000, unit = "USD/BTC", source = ',
        'btc_price_usd = { value = 91000, unit = "USD/BTC", note = ',
    )
    path = tmp_path / "bitcoin.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(InputError, match="source"):
        btc.load_bitcoin(path)


def test_asic_csv_inconsistent_row_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "asic.csv"
    path.write_text(
        "model,hashrate_th_s,power_w,efficiency_j_per_th,estimate,source\nX,100,3000,20,false,spec\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        btc.load_asic_models(path)
    assert err.value.line == 2 and err.value.field == "efficiency_j_per_th"
