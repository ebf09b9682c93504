"""Surplus sensitivity: each fuel's price and the tariff, checked against fresh solves of changed scenarios."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from offtake import scenario
from offtake.grid import Baseline, least_cost_dispatch
from offtake.grid.baseline import redispatch
from offtake.grid.extra_load import max_extra_load
from offtake.surplus.assess import surplus_arrays
from offtake.surplus.sensitivity import COLUMNS, sensitivity
from offtake.surplus.study import run_assessment, write_outputs

DATA = Path(__file__).parents[1] / "data"
DOCS = Path(__file__).parents[2] / "docs" / "formats.md"
TARIFF = 80.0


@pytest.fixture(scope="module")
def three() -> scenario.Scenario:
    return scenario.load(DATA / "three-zone")


@pytest.fixture(scope="module")
def three_baseline(three: scenario.Scenario) -> Baseline:
    return least_cost_dispatch(three)


def _repriced(tmp: Path, technology: str, factor: float) -> scenario.Scenario:
    """The three-zone week with one technology's marginal cost multiplied by ``factor`` in plants.csv."""
    root = tmp / f"{technology}-{factor:g}"
    shutil.copytree(DATA / "three-zone", root)
    plants = pd.read_csv(root / "plants.csv", dtype=str)
    chosen = plants["technology"] == technology
    assert chosen.any()
    cost = plants["marginal_cost_usd_per_mwh"].astype(float)
    plants.loc[chosen, "marginal_cost_usd_per_mwh"] = [f"{c * factor:.6f}" for c in cost[chosen]]
    plants.to_csv(root / "plants.csv", index=False)
    return scenario.load(root)


def _national(table: pd.DataFrame, driver: str, change_pct: float, column: str = "mean_change_mw") -> float:
    """One national figure of the sensitivity table."""
    row = table[(table["area"] == "national") & (table["driver"] == driver) & (table["change_pct"] == change_pct)]
    assert len(row) == 1, (driver, change_pct)
    return float(row[column].to_numpy(dtype=float)[0])


def _costs(baseline: Baseline, technology: str, factor: float) -> np.ndarray:
    fleet = baseline.fleet
    cost = fleet.marginal_cost_usd_per_mwh
    return np.asarray(np.where(fleet.technology == technology, cost * factor, cost))


def test_fuel_above_the_tariff_serves_no_extra_load(
    tmp_path: Path, three: scenario.Scenario, three_baseline: Baseline
) -> None:
    """Gas at 1.5 times its cost (90 and 112.5 USD/MWh) is above the tariff: its surplus is gone."""
    table = sensitivity(three, three_baseline, TARIFF, change=0.5)
    base = _national(table, "base", 0.0, "mean_mw")
    dear = _national(table, "gas", 50.0, "mean_mw")
    assert dear < base - 100.0
    # Independently: the scenario with dearer gas in its plants file, solved afresh, and the extra-load LP.
    changed = _repriced(tmp_path, "gas", 1.5)
    fresh = least_cost_dispatch(changed)
    idx = np.arange(len(changed.index))
    lp = max_extra_load(changed, fresh, TARIFF, idx, None)
    assert lp.extra_mw.sum(axis=1).mean() == pytest.approx(dear, abs=1e-4)
    gas = fresh.fleet.technology == "gas"
    assert (lp.generation_mw[:, gas] <= fresh.generation_mw[:, gas] + 1e-6).all()
    assert lp.generation_mw[:, gas].sum() < lp.generation_mw.sum()  # other units still serve it


def test_fuel_cheaper_changes_nothing_below_the_tariff(three: scenario.Scenario, three_baseline: Baseline) -> None:
    table = sensitivity(three, three_baseline, TARIFF)
    for driver in ("coal", "nuclear", "oil"):
        for change in (-10.0, 10.0):
            assert _national(table, driver, change) == pytest.approx(0.0, abs=1e-9)
    # Gas City (75) crosses the 80 tariff at +10 %, as does a tariff 10 % lower (72).
    assert _national(table, "gas", 10.0) < -100.0
    assert _national(table, "tariff", -10.0) < -100.0
    assert _national(table, "gas", 10.0, "crosses_tariff_at_pct") == pytest.approx(100.0 * (80.0 / 75.0 - 1.0))


def test_reordering_below_the_tariff_leaves_the_surplus(
    tmp_path: Path, three: scenario.Scenario, three_baseline: Baseline
) -> None:
    """Coal at 1.4 times (63) passes Gas North (60), both under the tariff: the surplus stays (fresh solve)."""
    changed = _repriced(tmp_path, "coal", 1.4)
    fresh = least_cost_dispatch(changed)
    assert not np.allclose(fresh.generation_mw, three_baseline.generation_mw)  # the dispatch did change
    zone_fresh, national_fresh = surplus_arrays(changed, fresh, TARIFF)
    zone_base, national_base = surplus_arrays(three, three_baseline, TARIFF)
    assert np.allclose(zone_fresh, zone_base, atol=1e-6) and np.allclose(national_fresh, national_base, atol=1e-6)
    table = sensitivity(three, three_baseline, TARIFF, change=0.4)
    assert _national(table, "coal", 40.0) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(("technology", "factor"), [("coal", 1.4), ("gas", 0.6), ("oil", 0.5), ("nuclear", 1.1)])
def test_redispatch_equals_a_fresh_solve(
    tmp_path: Path, three: scenario.Scenario, three_baseline: Baseline, technology: str, factor: float
) -> None:
    moved, resolved = redispatch(three_baseline, _costs(three_baseline, technology, factor))
    fresh = least_cost_dispatch(_repriced(tmp_path, technology, factor))
    assert moved.fuel_cost_usd == pytest.approx(fresh.fuel_cost_usd, rel=1e-7)
    assert moved.objective_usd == pytest.approx(fresh.objective_usd, rel=1e-7)
    if technology == "nuclear":  # must-run: nothing to re-solve
        assert not resolved.any()
    if technology == "coal":  # passes Gas North: some hours, not all, are solved again
        assert 0 < resolved.sum() <= len(resolved)
    # the surplus from the partial re-solve equals the one from the fresh solve, for prices above the tariff too
    for tariff in (50.0, 80.0):
        a = surplus_arrays(three, moved, tariff)
        b = surplus_arrays(three, fresh, tariff)
        assert np.allclose(a[0], b[0], atol=1e-5) and np.allclose(a[1], b[1], atol=1e-5)


def test_bad_arguments_are_refused(three: scenario.Scenario, three_baseline: Baseline) -> None:
    with pytest.raises(ValueError, match="change must lie in"):
        sensitivity(three, three_baseline, TARIFF, change=1.5)
    with pytest.raises(ValueError, match="finite marginal costs"):
        redispatch(three_baseline, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="finite marginal costs"):
        redispatch(three_baseline, np.full(len(three_baseline.fleet.names), np.nan))


def test_csv_has_the_documented_columns(tmp_path: Path, three: scenario.Scenario) -> None:
    paths = write_outputs(run_assessment(three, TARIFF), tmp_path)
    table = pd.read_csv(paths["sensitivity"])
    assert tuple(table.columns) == COLUMNS
    areas = {*three.zone_ids, "national"}
    drivers = {"base", "tariff", "oil", "gas", "coal", "nuclear"}  # hydro, wind, solar cost nothing
    assert set(table["driver"]) == drivers
    assert len(table) == (1 + 2 * (len(drivers) - 1)) * len(areas)
    assert set(table["area"]) == areas
    documented = DOCS.read_text(encoding="utf-8")
    section = documented[documented.index("`sensitivity.csv`") :]
    for column in COLUMNS:
        assert re.search(rf"`{column}`", section), column
    surplus = pd.read_csv(paths["surplus"])
    assert _national(table, "base", 0.0, "mean_mw") == pytest.approx(surplus["national"].mean(), abs=0.1)


def _write_costs(tmp: Path, factors: dict[str, float]) -> scenario.Scenario:
    """The three-zone week with several technologies' costs scaled in plants.csv."""
    root = tmp / "costs"
    shutil.copytree(DATA / "three-zone", root)
    plants = pd.read_csv(root / "plants.csv", dtype=str)
    cost = plants["marginal_cost_usd_per_mwh"].astype(float)
    scale = plants["technology"].map(factors).fillna(1.0).astype(float)
    plants["marginal_cost_usd_per_mwh"] = [f"{c:.6f}" for c in cost * scale]
    plants.to_csv(root / "plants.csv", index=False)
    return scenario.load(root)


@pytest.mark.parametrize("seed", range(6))
def test_shortcut_equals_a_fresh_solve_for_random_prices(
    tmp_path: Path, three: scenario.Scenario, three_baseline: Baseline, seed: int
) -> None:
    """Any cost vector: the base surplus where the shortcut applies, else redispatch, equals a fresh solve."""
    from offtake.surplus.sensitivity import surplus_unchanged

    rng = np.random.default_rng(seed)
    factors = {t: float(rng.uniform(0.6, 1.4)) for t in ("gas", "coal", "oil", "nuclear")}
    fleet = three_baseline.fleet
    scale = np.array([factors.get(str(t), 1.0) for t in fleet.technology])
    costs = fleet.marginal_cost_usd_per_mwh * scale
    changed = _write_costs(tmp_path, factors)
    fresh_zone, fresh_national = surplus_arrays(changed, least_cost_dispatch(changed), TARIFF)
    if surplus_unchanged(three_baseline, costs, TARIFF):
        zone_mw, national_mw = surplus_arrays(three, three_baseline, TARIFF)
    else:
        zone_mw, national_mw = surplus_arrays(three, redispatch(three_baseline, costs)[0], TARIFF)
    assert np.allclose(zone_mw, fresh_zone, atol=1e-5) and np.allclose(national_mw, fresh_national, atol=1e-5)
