"""The build at other costs of capital: the data file's finance cases, the table and its report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from planning_fixtures import DATA, SITES, reserve_feasible_three_zone

from offtake import scenario
from offtake.errors import InputError
from offtake.planning import PlanOptions, PlanResult, plan, read_sites
from offtake.planning.expansion import expansion_case, load_expansion
from offtake.planning.expansion_finance import FINANCE_COLUMNS, add_finance_sensitivity, finance_sensitivity
from offtake.planning.report import render_report
from offtake.scenario import Scenario

EXPANSION = DATA / "planning" / "three-zone-expansion.toml"
OPTIONS = PlanOptions(cap_mw=600.0, method="simplex")


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, pd.DataFrame]:
    s = scenario.load(reserve_feasible_three_zone(tmp_path_factory.mktemp("finance")))
    return s, read_sites(SITES, s.zone_ids)


@pytest.fixture(scope="module")
def table(week: tuple[Scenario, pd.DataFrame]) -> pd.DataFrame:
    s, sites = week
    return finance_sensitivity(s, sites, OPTIONS, load_expansion(EXPANSION))


def test_cases_are_read_with_their_sources() -> None:
    data = load_expansion(EXPANSION)
    assert data.finance_cases == {"cheap": 0.02, "dear": 1.0}
    assert data.sources["finance.cases.cheap.discount_rate"].source == "test value"
    bundled = load_expansion()
    assert bundled.finance_cases and all(0 < r < bundled.discount_rate + 1e-9 for r in bundled.finance_cases.values())
    assert all(bundled.sources[f"finance.cases.{n}.discount_rate"].source for n in bundled.finance_cases)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("value = 0.02,", "value = 1.5,", "finance.cases.cheap.discount_rate.value"),
        ('value = 0.02, unit = "-", source = "test value"', 'value = 0.02, unit = "-", source = ""', "source"),
        ("[finance.cases.cheap]\ndiscount_rate", "[finance.cases.cheap]\nrate", "finance.cases.cheap.discount_rate"),
        ("[finance.cases.cheap]", "[finance.cases]\ncheap = 3\n[other]", "finance.cases"),
    ],
)
def test_bad_cases_are_named(tmp_path: Path, old: str, new: str, field: str) -> None:
    text = EXPANSION.read_text(encoding="utf-8")
    assert old in text, "test setup"
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_expansion(path)
    assert err.value.file is not None and err.value.file.endswith("bad.toml")
    assert err.value.field is not None and field in err.value.field


def test_another_rate_changes_only_the_capital_cost(week: tuple[Scenario, pd.DataFrame]) -> None:
    s, sites = week
    data = load_expansion(EXPANSION)
    base = expansion_case(s, sites, data)
    cheap = expansion_case(s, sites, data.with_discount_rate(0.02))
    assert (cheap.generators["annual_usd_per_mw"] < base.generators["annual_usd_per_mw"]).all()
    np.testing.assert_array_equal(cheap.profiles, base.profiles)
    for bad in (-0.01, 1.5, float("nan")):
        with pytest.raises(InputError) as err:
            data.with_discount_rate(bad, name="--discount-rate")
        assert err.value.field == "--discount-rate"


def test_one_row_per_case_each_a_plan_at_its_rate(table: pd.DataFrame, week: tuple[Scenario, pd.DataFrame]) -> None:
    s, sites = week
    assert list(table.index) == ["base", "cheap", "dear"] and list(table.columns) == FINANCE_COLUMNS
    assert table.loc["cheap", "discount_rate"] == 0.02
    # the cheap row is an independent plan at 2 %
    data = load_expansion(EXPANSION).with_discount_rate(0.02)
    alone = plan(s, sites, OPTIONS, expansion=expansion_case(s, sites, data))
    assert alone.expansion is not None
    assert table.loc["cheap", "renewable_share"] == pytest.approx(alone.expansion.totals["renewable_share"], abs=1e-9)
    # cheaper capital: at least as much new energy, at a lower cost per MWh
    row = {name: {k: float(v) for k, v in table.loc[name].items()} for name in table.index}
    assert row["cheap"]["renewable_energy_mwh"] >= row["base"]["renewable_energy_mwh"] - 1e-6
    assert row["cheap"]["cost_usd_per_mwh"] < row["base"]["cost_usd_per_mwh"]
    # at 100 % a year nothing pays
    assert row["dear"]["solar_mw"] + row["dear"]["wind_mw"] + row["dear"]["battery_mw"] == 0.0
    assert np.isnan(row["dear"]["cost_usd_per_mwh"]) and row["dear"]["renewable_share"] == 0.0


def test_the_report_shows_the_table(week: tuple[Scenario, pd.DataFrame]) -> None:
    s, sites = week
    data = load_expansion(EXPANSION)
    result = plan(s, sites, OPTIONS, expansion=expansion_case(s, sites, data))
    add_finance_sensitivity(result, s, sites, OPTIONS, data)
    assert result.expansion is not None and result.expansion.finance is not None
    page = render_report(result)
    assert "The build at other costs of capital" in page and "cheap" in page and "whole period" in page
    without = PlanResult.__new__(PlanResult)
    without.expansion = None
    with pytest.raises(InputError):
        add_finance_sensitivity(without, s, sites, OPTIONS, data)
