import pandas as pd
import pytest

from offtake.economics.subsidy import NetworkCosts, load_network, no_subsidy_test
from offtake.errors import InputError
from offtake.grid import ServingCost


def hours(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2025-01-06", periods=n, freq="h", tz="UTC")


def serving(
    idx: pd.DatetimeIndex,
    breach: dict[str, list[float]],
    dearest: list[float],
    undeliverable: pd.DataFrame | None = None,
) -> ServingCost:
    breach_mw = pd.DataFrame(breach, index=idx)
    return ServingCost(
        breach_mw=breach_mw,
        undeliverable_mw=undeliverable if undeliverable is not None else breach_mw * 0.0,
        dearest_cost_usd_per_mwh=pd.Series(dearest, index=idx),
        lowest_tariff_usd_per_mwh=pd.Series(dearest, index=idx),
    )


def test_hand_case_verdict_and_delivered_cost() -> None:
    # The verdict follows the rule's breaches; the delivered cost (losses, network charge) is
    # reported beside it and does not fail the test.
    idx = hours(4)
    served = pd.DataFrame({"a": [10.0, 10.0, 0.0, 5.0], "b": [0.0, 20.0, 20.0, 20.0]}, index=idx)
    check = serving(idx, {"a": [0.0] * 4, "b": [0.0, 0.0, 8.0, 0.0]}, [40.0, 70.0, 90.0, 50.0])
    net = NetworkCosts(loss_fraction=0.0, network_charge_usd_per_mwh=5.0, zone_loss_fraction={"z2": 0.1})
    result = no_subsidy_test(served, {"a": "z1", "b": "z2"}, {"a": 80.0, "b": 80.0}, check, net)
    assert not result.passed
    assert result.failed_hours == 1
    assert result.failed_mwh == pytest.approx(8.0)
    assert list(result.failures["site_id"]) == ["b"]
    assert result.failures["required_usd_per_mwh"].tolist() == [90.0]
    assert result.subsidy_usd == pytest.approx(8.0 * (90.0 - 80.0))
    assert result.lowest_passing_tariff_usd_per_mwh["a"] == pytest.approx(70.0)  # hour 3 not served
    assert result.lowest_passing_tariff_all_usd_per_mwh == pytest.approx(90.0)
    # delivered: b in hour 2 needs 70/0.9 + 5 = 82.8 > 80; hour 3 90/0.9 + 5 = 105
    assert result.below_delivered_cost_hours == 2
    assert result.lowest_delivered_tariff_usd_per_mwh == pytest.approx(90 / 0.9 + 5)
    clean = serving(idx, {"a": [0.0] * 4, "b": [0.0] * 4}, [40.0, 70.0, 90.0, 50.0])
    again = no_subsidy_test(served, {"a": "z1", "b": "z2"}, 80.0, clean, net)
    assert again.passed and again.failed_mwh == 0.0


def test_undeliverable_load_fails_and_zones_are_checked() -> None:
    idx = hours(2)
    served = pd.DataFrame({"a": [1.0, 1.0]}, index=idx)
    check = serving(idx, {"a": [0.0, 0.0]}, [10.0, 20.0], pd.DataFrame({"a": [0.0, 0.5]}, index=idx))
    net = NetworkCosts(0.0, 0.0)
    result = no_subsidy_test(served, {"a": "z1"}, 20.0, check, net)
    assert not result.passed and result.failed_hours == 1
    with pytest.raises(InputError):
        no_subsidy_test(served, {}, 20.0, check, net)


def test_bundled_network_costs() -> None:
    net = load_network()
    assert 0 < net.loss_for("LESCO") < 0.2
    assert net.loss_for("KE") > net.loss_for("LESCO")
    assert net.required_tariff_usd_per_mwh(50.0, "LESCO") == pytest.approx(
        50 / (1 - net.loss_fraction) + net.network_charge_usd_per_mwh
    )
    assert all(q.source for q in net.quantities.values())
