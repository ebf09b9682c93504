import numpy as np
import pandas as pd
import pytest

from offtake import scenario
from offtake.economics.subsidy import (
    NetworkCosts,
    load_network,
    merit_order_marginal_cost,
    no_subsidy_test,
)
from offtake.errors import InputError

THREE_ZONE = "tests/data/three-zone"


def hours(n):
    return pd.date_range("2025-01-06", periods=n, freq="h", tz="UTC")


def test_hand_case_failures_and_lowest_tariff():
    idx = hours(4)
    served = pd.DataFrame({"a": [10.0, 10.0, 0.0, 5.0], "b": [0.0, 20.0, 20.0, 20.0]}, index=idx)
    mc = pd.Series([40.0, 70.0, 90.0, 50.0], index=idx)
    net = NetworkCosts(
        loss_fraction=0.0, network_charge_usd_per_mwh=5.0, zone_loss_fraction={"z2": 0.1}
    )
    result = no_subsidy_test(served, {"a": "z1", "b": "z2"}, {"a": 80.0, "b": 80.0}, mc, net)
    # a: required 45, 75, (not served), 55 -> passes; b (loss 10%): 82.78, 105, 60.56 -> fails hours
    # 2 and 3
    assert not result.passed
    assert result.failed_hours == 2
    assert result.failed_mwh == pytest.approx(40.0)
    assert list(result.failures["site_id"]) == ["b", "b"]
    assert result.failures["required_usd_per_mwh"].tolist() == pytest.approx(
        [70 / 0.9 + 5, 90 / 0.9 + 5]
    )
    assert result.subsidy_usd == pytest.approx(20 * (70 / 0.9 + 5 - 80) + 20 * (90 / 0.9 + 5 - 80))
    assert result.lowest_passing_tariff_usd_per_mwh["a"] == pytest.approx(75.0)  # hour 3 not served
    assert result.lowest_passing_tariff_all_usd_per_mwh == pytest.approx(90 / 0.9 + 5)
    again = no_subsidy_test(
        served, {"a": "z1", "b": "z2"}, result.lowest_passing_tariff_all_usd_per_mwh, mc, net
    )
    assert again.passed and again.failed_mwh == 0.0


def test_zone_marginal_costs_and_errors():
    idx = hours(2)
    served = pd.DataFrame({"a": [1.0, 1.0]}, index=idx)
    mc = pd.DataFrame({"z1": [10.0, 20.0], "z2": [99.0, 99.0]}, index=idx)
    net = NetworkCosts(0.0, 0.0)
    ok = no_subsidy_test(served, {"a": "z1"}, 20.0, mc, net)
    assert ok.passed and ok.lowest_passing_tariff_all_usd_per_mwh == 20.0
    with pytest.raises(InputError):
        no_subsidy_test(served, {"a": "z3"}, 20.0, mc, net)
    with pytest.raises(InputError):
        no_subsidy_test(served, {}, 20.0, mc, net)


def test_merit_order_marginal_cost_three_zone():
    s = scenario.load(THREE_ZONE)
    mc0 = merit_order_marginal_cost(s, 1.0)
    mc_big = merit_order_marginal_cost(s, 400.0)
    finite = np.isfinite(mc0.to_numpy())
    assert finite.any()
    # the marginal cost is always the cost of one of the plants, and more load never costs less
    costs = set(s.plants["marginal_cost_usd_per_mwh"])
    assert set(mc0[finite]) <= costs
    assert (mc_big.to_numpy() >= mc0.to_numpy()).all()
    # check one hour by hand: stack units (must-run and variable first, then by cost)
    t = int(np.flatnonzero(finite)[0])
    avail = s.available_mw.iloc[t]
    plants = s.plants.assign(avail=avail).sort_values(
        ["must_run", "marginal_cost_usd_per_mwh"], ascending=[False, True]
    )
    plants = pd.concat(
        [
            plants[plants["must_run"] | plants["variable"]],
            plants[~(plants["must_run"] | plants["variable"])],
        ]
    )
    position = s.demand_mw.iloc[t].sum() + 1.0
    cumulative = plants["avail"].cumsum()
    expected = plants["marginal_cost_usd_per_mwh"].iloc[int((cumulative < position).sum())]
    assert mc0.iloc[t] == expected


def test_bundled_network_costs():
    net = load_network()
    assert 0 < net.loss_for("LESCO") < 0.2
    assert net.loss_for("KE") > net.loss_for("LESCO")
    assert net.required_tariff_usd_per_mwh(50.0, "LESCO") == pytest.approx(
        50 / (1 - net.loss_fraction) + net.network_charge_usd_per_mwh
    )
    assert all(q.source for q in net.quantities.values())
