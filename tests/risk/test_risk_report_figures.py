"""Risk figures that do not mislead: probabilities, money units, the net gain and its counterfactual."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_checks import assert_self_contained, trace
from risk_helpers import allocation, synthetic_profiles

from offtake.economics.country import Incentives
from offtake.risk import RiskOptions, RiskResult, build_model, run_risk
from offtake.risk.report import (
    RunInfo,
    _in_millions,
    country_expected_view,
    country_finding,
    format_probability,
    money,
    write_outputs,
)


def run(incentives: Incentives) -> RiskResult:
    model, ctx = build_model(
        synthetic_profiles(),
        allocation(),
        RiskOptions(seed=4, n_months=12, incentives=incentives),
        exchange_rate_pkr_per_usd=280.0,
    )
    return run_risk(model, ctx, 200, progress=None)


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.0, "0 %"),
        (1.0, "100 %"),
        (0.9995, "99.95 %"),
        (0.0004, "0.04 %"),
        (0.123, "12.3 %"),
        (0.99996, "99.996 %"),
        (1 - 1e-9, "> 99.9999 %"),
        (1e-9, "< 0.0001 %"),
    ],
)
def test_probabilities_never_round_to_an_end(p: float, text: str) -> None:
    assert format_probability(p) == text


@pytest.mark.parametrize("p", [-0.01, 1.01, math.nan, math.inf])
def test_what_is_not_a_probability_is_refused(p: float) -> None:
    with pytest.raises(ValueError, match="not a probability"):
        format_probability(p)


def test_money_reads_m_usd_and_bn_pkr() -> None:
    assert money(-4_411e6, 280.0) == "-4,411 M USD (-1,235.1 bn PKR)"


def test_import_tax_not_counted_by_default_and_the_finding_says_so() -> None:
    plain, counted = run(Incentives()), run(Incentives(import_tax_counted=True))
    waived = plain.context.country.hardware_import_tax_fraction * plain.context.hardware_value_usd
    assert waived > 0
    assert plain.context.import_tax_forgone_usd == 0.0
    np.testing.assert_allclose(plain.country_net_usd() - counted.country_net_usd(), waived)
    text = country_finding(plain)
    view = country_expected_view(plain)
    assert money(view.net_gain_usd, 280.0) in text
    for part in ("tariff revenue", "fuel incl. losses", "network", "taxes forgone by incentives", "Counterfactual"):
        assert part in text
    assert "not counted" in text and f"{waived / 1e6:,.0f} M USD" in text
    text = country_finding(counted)
    assert "is counted as forgone" in text
    # it says what the gain is without the assumption: the default's figure
    assert money(country_expected_view(counted).net_gain_usd + waived, 280.0) in text


def test_the_decomposition_adds_up() -> None:
    r = run(Incentives(import_tax_counted=True))
    text = country_finding(r)
    numbers = re.search(
        r"= tariff revenue (\S+) - fuel incl. losses (\S+) - network (\S+) - taxes forgone by incentives (\S+) "
        r"\(AI income tax (\S+), hardware import tax (\S+)\) M USD",
        text,
    )
    assert numbers is not None, text
    revenue, fuel, network, taxes, ai, imports = (float(g.replace(",", "")) for g in numbers.groups())
    net = country_expected_view(r).net_gain_usd / 1e6
    assert revenue - fuel - network - taxes == pytest.approx(net, abs=3.0)  # each rounded to 1 M USD
    assert ai + imports == pytest.approx(taxes, abs=2.0)


def test_no_exemption_says_the_tax_is_paid() -> None:
    text = country_finding(run(Incentives(hardware_import_exemption=False)))
    assert "hardware import tax 0)" in text and "no exemption granted" in text


def test_tables_show_money_in_millions_and_probabilities_as_percentages() -> None:
    r = run(Incentives())
    shown = _in_millions(r.percentiles())["P50"].to_dict()
    raw = r.percentiles()["P50"].to_dict()
    assert shown["tariff_revenue_musd"] == pytest.approx(raw["tariff_revenue_usd"] / 1e6)
    assert shown["tariff_revenue_bn_pkr"] == pytest.approx(raw["tariff_revenue_pkr"] / 1e9)
    assert shown["absorbed_twh"] == raw["absorbed_twh"]
    probs = _in_millions(r.probabilities().T).T
    assert probs["tariff_usd_per_mwh"].iloc[1:].tolist() == list(r.tariff_grid_usd_per_mwh)
    assert all(str(v).endswith(" %") for v in probs["p_miner_leaves"])
    assert isinstance(probs, pd.DataFrame)


def test_report_charts_equal_the_run_and_load_nothing_from_the_network(tmp_path: Path) -> None:
    result = run(Incentives())
    paths = write_outputs(result, tmp_path, RunInfo("synthetic", "allocation.csv", 4, None, 0.1))
    page = paths["report"].read_text(encoding="utf-8")
    specs = assert_self_contained(page)
    assert "<img" not in page and len(specs) == 10
    fan = next(s for s in specs if s["layout"]["yaxis"]["title"]["text"] == "BTC price [k USD]")
    q = result.monthly_quantiles("monthly_btc_price_usd") * 1e-3
    for col in ("P5", "P50", "P95"):
        np.testing.assert_allclose(trace(fan, col if col != "P95" else "P5-P95")["y"], q[col].to_numpy())
    assert trace(fan, "P50")["x"][0] == pd.Timestamp(result.months[0]).tz_convert("Asia/Karachi").strftime("%Y-%m")
    histogram = next(s for s in specs if s["layout"]["xaxis"]["title"]["text"] == "absorbed energy [TWh]")
    counts = trace(histogram, "paths")["y"]
    assert sum(counts) == result.n_paths
    expected, _ = np.histogram(result.outcome_paths()["absorbed_twh"].to_numpy(), bins=50)
    assert counts == expected.tolist()
    tariff = next(s for s in specs if s["layout"]["xaxis"]["title"]["text"] == "uniform tariff [USD/MWh]")
    probs = result.probabilities()
    np.testing.assert_allclose(
        trace(tariff, "P(a mining site leaves)")["y"], probs["p_miner_leaves"].iloc[1:].to_numpy() * 100
    )
