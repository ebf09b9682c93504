"""Firm tranches within the firm deliverable surplus after a margin (offtake.planning.firm)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planning_fixtures import DATA, SITES

from offtake import scenario
from offtake.dispatch.policy import load_defaults
from offtake.errors import InputError
from offtake.grid import least_cost_dispatch
from offtake.grid.baseline import Baseline
from offtake.planning import PlanOptions, plan, read_sites
from offtake.planning.firm import (
    FirmMargin,
    dispatch_holdback,
    firm_limits,
    firm_margin_for,
    outage_variance_mw2,
)
from offtake.scenario import Scenario
from offtake.surplus.assess import set_surplus


@pytest.fixture(scope="module")
def case() -> tuple[Scenario, pd.DataFrame, Baseline]:
    s = scenario.load(DATA / "three-zone")
    return s, read_sites(SITES, s.zone_ids), least_cost_dispatch(s)


def firm_by_set(s: Scenario, table: pd.DataFrame, member: np.ndarray) -> np.ndarray:
    zone_firm = table.groupby("zone")["firm_mw"].sum().reindex(s.zone_ids, fill_value=0.0).to_numpy()
    return np.asarray(member.astype(float) @ zone_firm)


def test_firm_tranches_fit_every_zone_set_after_the_margin(case: tuple[Scenario, pd.DataFrame, Baseline]) -> None:
    s, sites, base = case
    options = PlanOptions(cap_mw=500.0, method="simplex")
    free = plan(s, sites, options, baseline=base).allocation_table()
    margin = FirmMargin(0.5, 0.03)
    limits = firm_limits(s, base, margin)
    national = limits.member.all(axis=1)
    # Without the rows the plan's firm MW break the national limit: the test can fail.
    assert firm_by_set(s, free, limits.member)[national][0] > limits.limit_mw[national][0] + 1.0
    result = plan(s, sites, options, baseline=base, firm_margin=margin)
    assert any("firm deliverable surplus" in note for note in result.notes)
    kept = result.allocation_table()
    firm = firm_by_set(s, kept, limits.member)
    assert np.all(firm <= limits.limit_mw + 1e-4)
    assert firm[national][0] == pytest.approx(limits.limit_mw[national][0], abs=1e-3)  # it binds
    # Firm tranches keep their contracted share: the AI allocations shrink with them.
    ai = kept["site_id"].str.startswith("ai-")
    frac = sites.loc[kept["site_id"][ai], "max_curtailment_fraction"].to_numpy()
    alloc = kept["firm_mw"][ai] + kept["interruptible_mw"][ai]
    np.testing.assert_allclose(kept["firm_mw"][ai], alloc * (1 - frac), atol=0.2)


def test_dispatch_holdback_sizes_the_firm_tranches_down(case: tuple[Scenario, pd.DataFrame, Baseline]) -> None:
    s, sites, base = case
    options = PlanOptions(cap_mw=500.0, method="simplex")
    plain, held = FirmMargin(0.5, 0.03), FirmMargin(0.5, 0.03, dispatch_holdback=dispatch_holdback())
    limits = firm_limits(s, base, held)
    national = limits.member.all(axis=1)
    before = plan(s, sites, options, baseline=base, firm_margin=plain).allocation_table()
    after = plan(s, sites, options, baseline=base, firm_margin=held)
    assert any("what dispatch holds back" in note for note in after.notes)
    table = after.allocation_table()
    firm = firm_by_set(s, table, limits.member)
    # The tranche that fitted without the holdback breaks the limit with it, and the plan sizes it down.
    assert firm_by_set(s, before, limits.member)[national][0] > limits.limit_mw[national][0] + 1.0
    assert np.all(firm <= limits.limit_mw + 1e-4)
    assert table["firm_mw"].sum() < before["firm_mw"].sum() - 1.0


def test_a_margin_wider_than_the_tightest_hour_leaves_no_firm_tranche(
    case: tuple[Scenario, pd.DataFrame, Baseline],
) -> None:
    s, sites, base = case
    margin = FirmMargin(3.0, 0.03)
    assert firm_limits(s, base, margin).limit_mw.min() == 0.0
    options = PlanOptions(cap_mw=500.0, method="simplex")
    table = plan(s, sites, options, baseline=base, firm_margin=margin).allocation_table()
    assert table["firm_mw"].sum() == pytest.approx(0.0, abs=1e-4)


def test_the_margin_is_z_standard_deviations_of_demand_error_and_outages(
    case: tuple[Scenario, pd.DataFrame, Baseline],
) -> None:
    s, _, base = case
    tariff = s.default_tariff_usd_per_mwh
    outage = outage_variance_mw2(s, tariff)
    none = firm_limits(s, base, FirmMargin(0.0, 0.03))
    some = firm_limits(s, base, FirmMargin(2.0, 0.03))
    demand = s.demand_mw[s.zone_ids].to_numpy()
    matrix = none.member.astype(float)
    for k in range(len(matrix)):
        t = some.at[k]
        var = float((0.03 * demand[t]) ** 2 @ matrix[k] + matrix[k] @ outage)
        assert some.margin_mw[k] == pytest.approx(2.0 * np.sqrt(var))
        assert some.limit_mw[k] <= none.limit_mw[k] + 1e-9


def test_dispatch_holdback_comes_off_the_room_as_dispatch_takes_it(
    case: tuple[Scenario, pd.DataFrame, Baseline],
) -> None:
    s, _, base = case
    outage = outage_variance_mw2(s, s.default_tariff_usd_per_mwh)
    plain = firm_limits(s, base, FirmMargin(1.0, 0.03))
    held = firm_limits(s, base, FirmMargin(1.0, 0.03, dispatch_holdback=0.4))
    demand = s.demand_mw[s.zone_ids].to_numpy()
    matrix = held.member.astype(float)
    _, values = set_surplus(s, s.default_tariff_usd_per_mwh, base)
    for k in range(len(matrix)):
        t = held.at[k]
        var_demand = float((0.03 * demand[t]) ** 2 @ matrix[k])
        want = np.sqrt(var_demand + float(matrix[k] @ outage)) + 0.4 * np.sqrt(var_demand)
        assert held.margin_mw[k] == pytest.approx(want)
        assert held.limit_mw[k] == pytest.approx(max(0.0, values[t, k] - want))
        assert held.limit_mw[k] <= plain.limit_mw[k] + 1e-9
    # The sourced value: safety_k x sqrt(1 - phi^2), phi the 5-minute persistence of the hourly 0.9.
    d = load_defaults()
    phi = d["forecast"]["hourly_persistence"] ** (d["policy"]["interval_s"] / 3600.0)
    assert dispatch_holdback() == pytest.approx(d["policy"]["safety_k"] * np.sqrt(1 - phi**2))
    independent = {"policy": {"safety_k": 3.0, "interval_s": 3600.0}, "forecast": {"hourly_persistence": 0.0}}
    assert dispatch_holdback(independent) == 3.0  # errors without memory: the whole deviation
    margin = firm_margin_for("pakistan-2025")
    assert margin is not None and margin.dispatch_holdback == pytest.approx(dispatch_holdback())


def test_outage_variance_counts_each_unit_of_a_surplus_plant() -> None:
    s = scenario.load(DATA / "three-zone")
    tariff = s.default_tariff_usd_per_mwh  # 80: oil (110, 120) makes no surplus
    rates = load_defaults()["outages"]

    def unit_var(kind: str, capacity: float) -> float:
        r = rates[kind]
        forced = r["mttr_h"] / (r["mttf_h"] + r["mttr_h"])
        n = int(np.ceil(capacity / r["unit_mw"] - 1e-9))
        return float(n * forced * (1 - forced) * (capacity / n) ** 2)

    want = {
        "north": unit_var("hydro", 600) + unit_var("gas", 800),  # 2 x 300 hydro, 2 x 400 gas
        "south": unit_var("nuclear", 500) + unit_var("coal", 900),  # solar and wind are variable
        "city": unit_var("gas", 600),
    }
    got = outage_variance_mw2(s, tariff)
    np.testing.assert_allclose(got, [want[z] for z in s.zone_ids])
    # Below every plant's cost nothing makes surplus, so nothing can trip out of it.
    assert not outage_variance_mw2(s, -1.0).any()


def test_the_pakistan_margin_is_read_from_its_planning_file() -> None:
    margin = firm_margin_for("pakistan-2025")
    assert margin is not None and margin.z == pytest.approx(1.645)
    assert margin.demand_error_rel_sigma == pytest.approx(load_defaults()["forecast"]["demand_error_rel_sigma"])
    assert firm_margin_for("no-such-scenario") is None


@pytest.mark.parametrize("z", [-1.0, float("nan")])
def test_a_bad_margin_is_named(z: float) -> None:
    with pytest.raises(InputError, match=r"firm_margin\.z"):
        FirmMargin(z, 0.03)
    with pytest.raises(InputError, match="dispatch_holdback"):
        FirmMargin(1.0, 0.03, dispatch_holdback=z)
