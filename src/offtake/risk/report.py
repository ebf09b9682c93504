"""Write the results of a risk run: report.html (fan charts, histograms, drivers), summary.json, CSVs."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from offtake.economics.bitcoin import miner_revenue_usd_per_mwh
from offtake.economics.country import CountryView, country_view
from offtake.economics.subsidy import NoSubsidyResult
from offtake.report import DISPLAY_TIMEZONE, HtmlReport, money_text, new_chart, rate_text, share_text
from offtake.risk.run import RiskResult

__all__ = ["RunInfo", "country_finding", "format_probability", "money", "write_outputs"]


def format_probability(p: float, decimals: int = 1) -> str:
    """Write a probability as a percentage that is 0 % or 100 % only when exact.

    ``0.9995`` is ``99.95 %``, not ``100.0 %``; decimals are added (up to four) until the figure
    no longer rounds to an end, and beyond that it reads ``> 99.9999 %`` or ``< 0.0001 %``.

    Parameters
    ----------
    p
        A probability [-].
    decimals
        Decimals of the percentage when they suffice [-].

    Returns
    -------
    str
        E.g. ``12.3 %``.
    """
    if not math.isfinite(p) or not 0.0 <= p <= 1.0:
        raise ValueError(f"not a probability: {p!r}")
    return share_text(p, decimals)


def money(usd: float, rate_pkr_per_usd: float) -> str:
    """Write an amount as ``M USD (bn PKR)``, the reports' one way of showing money (:func:`money_text`)."""
    return money_text(usd, rate_pkr_per_usd, 0)


@dataclass(frozen=True)
class RunInfo:
    """Descriptive facts about the run shown in the report."""

    scenario: str
    allocation_file: str
    seed: int
    scheduler: str | None
    elapsed_s: float


def _months(index: pd.Index) -> list[str]:
    """Month labels (``2025-07``) of month starts, in Pakistan time when the index is aware."""
    stamps = pd.DatetimeIndex(index)
    if stamps.tz is not None:
        stamps = stamps.tz_convert(DISPLAY_TIMEZONE)
    return [t.strftime("%Y-%m") for t in stamps]


def _fan(result: RiskResult, name: str, scale: float, label: str) -> Any:
    """Fan chart of a monthly series: P5-P95 and P25-P75 bands and the median, per month."""
    import plotly.graph_objects as go

    q = result.monthly_quantiles(name) * scale
    x = _months(q.index)
    fig = new_chart(x_title="month", y_title=label, height=320)
    for low, high, alpha in (("P5", "P95", 0.2), ("P25", "P75", 0.4)):
        band = f"{low}-{high}"
        fig.add_trace(
            go.Scatter(
                x=x,
                y=q[low].tolist(),
                name=low,
                line={"width": 0},
                legendgroup=band,
                showlegend=False,
                hovertemplate=low + ": %{y:,.4g}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=q[high].tolist(),
                name=band,
                fill="tonexty",
                fillcolor=f"rgba(31, 119, 180, {alpha})",
                line={"width": 0},
                legendgroup=band,
                hovertemplate=high + ": %{y:,.4g}<extra></extra>",
            )
        )
    fig.add_trace(go.Scatter(x=x, y=q["P50"].tolist(), name="P50", line={"color": "#1f77b4"}))
    return fig


def _histogram(values: Any, x_title: str) -> Any:
    """Histogram across paths, 50 bins, as bars (counts computed here, so the page holds the counts)."""
    import plotly.graph_objects as go

    counts, edges = np.histogram(np.asarray(values, dtype=float), bins=50)
    fig = new_chart(x_title=x_title, y_title="paths", height=300)
    fig.update_layout(hovermode="closest", bargap=0.02)
    fig.add_trace(
        go.Bar(
            x=((edges[:-1] + edges[1:]) / 2).tolist(),
            y=[int(c) for c in counts],
            width=float(edges[1] - edges[0]),
            name="paths",
            marker={"color": "#1f77b4"},
            hovertemplate="%{x:,.3g}: %{y} paths<extra></extra>",
        )
    )
    return fig


def country_expected_view(result: RiskResult) -> CountryView:
    """Return the country's view on the mean over paths of the allocation case."""
    a = result.arrays
    ctx = result.context
    ai_profit = float(a["ai_taxable_profit_usd"][0].mean())
    return country_view(
        energy_mwh=float(a["energy_mwh"][0].mean()),
        tariff_revenue_usd=float(a["tariff_revenue_usd"][0].mean()),
        fuel_cost_usd=float(a["fuel_cost_usd"][0].mean()),
        network_cost_usd=float(a["network_cost_usd"][0].mean()),
        period_years=result.period_years,
        exchange_rate_pkr_per_usd=ctx.exchange_rate_pkr_per_usd,
        data=ctx.country,
        incentives=ctx.options.incentives,
        hardware_value_usd=ctx.hardware_value_usd,
        ai_taxable_profit_usd=ai_profit,
    )


def _summary(result: RiskResult, info: RunInfo, no_subsidy: NoSubsidyResult | None) -> dict[str, Any]:
    opts = result.context.options
    pct = result.percentiles()
    probs = result.probabilities()
    view = country_expected_view(result)

    def clean(value: float) -> float | None:
        return None if not math.isfinite(value) else float(value)

    out: dict[str, Any] = {
        "scenario": info.scenario,
        "allocation": info.allocation_file,
        "seed": info.seed,
        "paths": result.n_paths,
        "months": result.model.n_months,
        "start": result.months[0].isoformat(),
        "asic_model": result.context.asic.model,
        "incentives": {
            "hardware_import_exemption": opts.incentives.hardware_import_exemption,
            "ai_tax_reduction": opts.incentives.ai_tax_reduction,
            "import_tax_counted": opts.incentives.import_tax_counted,
            "import_tax_waived_usd": opts.incentives.import_tax_waived_usd(
                result.context.country, result.context.hardware_value_usd
            ),
        },
        "percentiles": {
            str(row): {str(c): clean(float(v)) for c, v in zip(pct.columns, values, strict=True)}
            for row, values in zip(pct.index, pct.to_numpy(dtype=float), strict=True)
        },
        "probability_miner_stops": float(probs["p_miner_stops"].iloc[0]),
        "probability_miner_leaves": float(probs["p_miner_leaves"].iloc[0]),
        "tariff_solve": {
            "target": opts.target,
            "max_probability": opts.max_probability,
            "grid_usd_per_mwh": [float(t) for t in result.tariff_grid_usd_per_mwh],
            "p_miner_stops": [float(v) for v in probs["p_miner_stops"].iloc[1:]],
            "p_miner_leaves": [float(v) for v in probs["p_miner_leaves"].iloc[1:]],
            "highest_tariff_usd_per_mwh": result.solved_tariff_usd_per_mwh(),
        },
        "energy_shortfall": {
            f"{share:g}": {str(k): float(v) for k, v in row.items()}
            for share, row in result.energy_shortfall().iterrows()
        },
        "variance_attribution": {
            str(col): {str(d): clean(float(v)) for d, v in values.items()}
            for col, values in result.variance_attribution().items()
        },
        "country_expected": {
            k: {"USD": float(v["USD"]), "PKR": float(v["PKR"])} for k, v in view.to_frame().iterrows()
        },
        "country_share_of_capacity_payments": view.share_of_capacity_payments,
    }
    gas = result.model.gas
    if gas is not None:
        price = result.arrays["monthly_gas_price_usd_per_mwh"]
        out["gas_price"] = {
            "technologies": list(result.model.drivers.gas_technologies),
            "base_price_usd_per_mwh": gas.base_price_usd_per_mwh,
            "multipliers": [float(m) for m in gas.multipliers],
            "last_month_p5_p50_p95_usd_per_mwh": [float(v) for v in np.quantile(price[:, -1], [0.05, 0.5, 0.95])],
            "share_of_path_months_beyond_multipliers": float(
                np.mean(
                    (result.arrays["monthly_gas_multiplier"] < gas.multipliers[0])
                    | (result.arrays["monthly_gas_multiplier"] > gas.multipliers[-1])
                )
            ),
        }
    if no_subsidy is not None:
        out["no_subsidy_test"] = {
            "passed": no_subsidy.passed,
            "failed_hours": no_subsidy.failed_hours,
            "failed_mwh": no_subsidy.failed_mwh,
            "subsidy_usd": clean(no_subsidy.subsidy_usd),
            "lowest_passing_tariff_usd_per_mwh": clean(no_subsidy.lowest_passing_tariff_all_usd_per_mwh),
            "below_delivered_cost_hours": no_subsidy.below_delivered_cost_hours,
            "lowest_delivered_tariff_usd_per_mwh": clean(no_subsidy.lowest_delivered_tariff_usd_per_mwh),
        }
    return out


def write_outputs(
    result: RiskResult,
    out_dir: str | Path,
    info: RunInfo,
    no_subsidy: NoSubsidyResult | None = None,
) -> dict[str, Path]:
    """Write ``report.html``, ``summary.json``, ``paths.csv``, ``monthly.csv``, ``tariff_grid.csv``, ``drivers.csv``.

    Parameters
    ----------
    result
        The run.
    out_dir
        Folder to write into (created if needed).
    info
        Facts about the run.
    no_subsidy
        Outcome of the no-subsidy test on the scenario year, if run.

    Returns
    -------
    dict
        Paths written, by name.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    summary = _summary(result, info, no_subsidy)
    paths = {
        "summary": folder / "summary.json",
        "paths": folder / "paths.csv",
        "monthly": folder / "monthly.csv",
        "tariff_grid": folder / "tariff_grid.csv",
        "drivers": folder / "drivers.csv",
        "report": folder / "report.html",
    }
    paths["summary"].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    result.outcome_paths().rename_axis("path").to_csv(paths["paths"], float_format="%.6g")
    names = [
        "monthly_energy_mwh",
        "monthly_available_mwh",
        "monthly_tariff_revenue_usd",
        "monthly_contribution_usd",
        "monthly_miners_margin_usd",
        "monthly_btc_price_usd",
        "monthly_hashprice_usd_per_ph_day",
        "monthly_mining_operating_share",
    ]
    if result.model.gas is not None:
        names.append("monthly_gas_price_usd_per_mwh")
    monthly = pd.concat({name: result.monthly_quantiles(name) for name in names}, axis=1)
    monthly.index = monthly.index.map(lambda t: t.isoformat())
    monthly.rename_axis("month_start").to_csv(paths["monthly"], float_format="%.6g")
    result.probabilities().to_csv(paths["tariff_grid"], float_format="%.6g")
    drivers = result.variance_attribution().add_suffix("_variance_share").join(result.driver_tornado(), how="left")
    drivers.to_csv(paths["drivers"], float_format="%.6g")
    _report(result, info, summary, no_subsidy).write(paths["report"])
    return paths


def _report(
    result: RiskResult, info: RunInfo, summary: dict[str, Any], no_subsidy: NoSubsidyResult | None
) -> HtmlReport:
    where = f"Dask cluster {info.scheduler}" if info.scheduler else "in process"
    report = HtmlReport(
        "Off-take risk: does the programme pay, and how often does it fail",
        f"{info.scenario}, allocation {info.allocation_file}, {result.n_paths:,} paths x "
        f"{result.model.n_months} months "
        f"from {result.months[0]:%b %Y}, seed {info.seed}, {where}, {info.elapsed_s:.1f} s",
    )
    report.heading("Findings")
    report.bullets(_findings(result, summary, no_subsidy))
    _outcomes_section(report, result)
    _tariff_section(report, result)
    _drivers_section(report, result)
    _country_section(report, result)
    if no_subsidy is not None:
        _no_subsidy_section(report, no_subsidy)
    _assumptions_section(report, result)
    return report


def _findings(result: RiskResult, summary: dict[str, Any], no_subsidy: NoSubsidyResult | None) -> list[str]:
    opts = result.context.options
    rate = result.context.exchange_rate_pkr_per_usd
    solved = result.solved_tariff_usd_per_mwh()
    probs = result.probabilities()
    absorbed = summary["percentiles"]["absorbed_twh"]
    event = "a mining site leaves" if opts.target == "leave" else "a mining site stops for a month"
    findings = [
        f"Absorbed energy over the horizon: P50 {absorbed['P50']:.2f} TWh "
        f"(P5 {absorbed['P5']:.2f}, P95 {absorbed['P95']:.2f}).",
        "Probability that a mining site stops for at least a month: "
        f"{format_probability(float(probs['p_miner_stops'].iloc[0]))}; "
        f"that one leaves (no margin for {result.model.drivers.leave_after_months} months in a row): "
        f"{format_probability(float(probs['p_miner_leaves'].iloc[0]))}.",
        (
            f"Highest uniform tariff keeping P({event}) at or under {format_probability(opts.max_probability, 0)}: "
            f"{solved:.0f} USD/MWh ({solved * rate / 1000:.2f} PKR/kWh)."
            if solved is not None
            else f"No tariff of the grid keeps P({event}) at or under {format_probability(opts.max_probability, 0)}."
        ),
        country_finding(result),
    ]
    if no_subsidy is not None:
        verdict = (
            "passed."
            if no_subsidy.passed
            else f"FAILED in {no_subsidy.failed_hours} hours ({no_subsidy.failed_mwh:,.0f} MWh served below cost)."
        )
        findings.append(
            f"No-subsidy test on the scenario year: {verdict} Lowest tariff that passes for every site: "
            f"{no_subsidy.lowest_passing_tariff_all_usd_per_mwh:.1f} USD/MWh. Losses and the network charge: "
            + _delivery_sentence(no_subsidy)
        )
    return findings


def country_finding(result: RiskResult) -> str:
    """Say the country's expected net gain, what it is made of, and the counterfactual it assumes."""
    ctx = result.context
    inc, rate = ctx.options.incentives, ctx.exchange_rate_pkr_per_usd
    view = country_expected_view(result)
    waived = inc.import_tax_waived_usd(ctx.country, ctx.hardware_value_usd)
    fraction = ctx.country.hardware_import_tax_fraction
    estimate = " estimated" if ctx.country.quantities["incentives.hardware_import_tax_fraction"].estimate else ""
    parts = (
        f"Country's expected net gain over the period: {money(view.net_gain_usd, rate)} = tariff revenue "
        f"{view.tariff_revenue_usd / 1e6:,.0f} - fuel incl. losses {view.fuel_cost_usd / 1e6:,.0f} - network "
        f"{view.network_cost_usd / 1e6:,.0f} - taxes forgone by incentives {view.tax_forgone_usd / 1e6:,.0f} "
        f"(AI income tax {view.ai_tax_forgone_usd / 1e6:,.0f}, hardware import tax "
        f"{view.import_tax_forgone_usd / 1e6:,.0f}) M USD; {100 * view.share_of_capacity_payments:,.2f} % "
        "of the capacity payments owed anyway "
        f"({view.capacity_payments_usd * rate / 1e9:,.0f} bn PKR). "
    )
    if not inc.hardware_import_exemption:
        return parts + "Counterfactual: no programme; hardware pays import tax (no exemption granted)."
    if inc.import_tax_counted:
        return parts + (
            f"Counterfactual: the{estimate} {100 * fraction:g} % import tax waived on the programme's hardware "
            f"({ctx.hardware_value_usd / 1e6:,.0f} M USD) is counted as forgone, as if those imports would happen "
            f"without the programme (--count-import-tax); without that assumption the net gain is "
            f"{money(view.net_gain_usd + waived, rate)}."
        )
    return parts + (
        f"Counterfactual: no programme, in which the programme's hardware ({ctx.hardware_value_usd / 1e6:,.0f} M USD) "
        f"would not be imported; so the{estimate} {100 * fraction:g} % import tax its exemption waives "
        f"({waived / 1e6:,.0f} M USD) is not a cost and not counted (--count-import-tax counts it)."
    )


def _outcomes_section(report: HtmlReport, result: RiskResult) -> None:
    ctx = result.context
    report.heading("Outcomes over the horizon")
    report.table(
        _in_millions(result.percentiles()),
        caption="P5/P50/P95 across paths at the allocation's tariffs; money in M USD and bn PKR.",
        float_format="{:,.1f}",
    )
    paths = result.outcome_paths()
    for col, label, scale in (
        ("absorbed_twh", "absorbed energy [TWh]", 1.0),
        ("country_net_gain_usd", "country's net gain [M USD]", 1e-6),
        ("miners_margin_usd", "miners' cash margin [M USD]", 1e-6),
    ):
        report.chart(_histogram(paths[col] * scale, label), f"Histogram across paths: {label}.")
    report.chart(_fan(result, "monthly_btc_price_usd", 1e-3, "BTC price [k USD]"), "BTC price per month.")
    hashprice = _fan(result, "monthly_hashprice_usd_per_ph_day", 1.0, "hashprice [USD/PH/day]")
    mining_sites = result.model.site_is_mining
    if mining_sites.any():
        tariff_mean = float(result.model.tariff_cases_usd_per_mwh[0][mining_sites].mean())
        per_hashprice = float(
            miner_revenue_usd_per_mwh(
                1.0,
                ctx.asic.efficiency_j_per_th,
                result.model.pool_fee_fraction,
                result.model.site_overhead_fraction,
            )
        )
        even = (tariff_mean + result.model.miner_other_opex_usd_per_mwh) / per_hashprice
        hashprice.add_hline(y=even, line={"color": "#d62728", "dash": "dash"})
        hashprice.add_annotation(x=0.0, xref="paper", y=even, text="miners' cash break-even", showarrow=False)
    report.chart(hashprice, "Hashprice per month; the 2028 halving shows as a step.")
    report.chart(_fan(result, "monthly_energy_mwh", 1e-3, "absorbed energy [GWh/month]"), "Energy absorbed per month.")
    report.chart(
        _fan(result, "monthly_mining_operating_share", 100.0, "mining MW running [%]"),
        "Share of mining MW running per month. Fan charts: P5-P95, P25-P75 and the median across paths.",
    )


def _drivers_section(report: HtmlReport, result: RiskResult) -> None:
    """Show the gas price as a driver, the energy's shortfall and what drives the headlines' spread."""
    report.heading("Drivers: the gas price and what moves the headlines")
    gas = result.model.gas
    if gas is not None:
        techs = ", ".join(result.model.drivers.gas_technologies)
        fig = _fan(result, "monthly_gas_price_usd_per_mwh", 1.0, f"{techs} marginal cost [USD/MWh]")
        tariffs = sorted({float(t) for t in result.model.tariff_cases_usd_per_mwh[0]})
        for tariff in tariffs:
            fig.add_hline(y=tariff, line={"color": "#d62728", "dash": "dash"})
            fig.add_annotation(x=0.0, xref="paper", y=tariff, text=f"tariff {tariff:g}", showarrow=False)
        report.chart(
            fig,
            f"Gas price per month: the marginal cost of {techs} ({gas.base_price_usd_per_mwh:.2f} USD/MWh today) "
            "times the path's multiplier (risk.toml [gas_price]). Above a tariff, those plants no longer count "
            "as surplus at it: the surplus is interpolated between assessments at multipliers "
            f"{', '.join(f'{m:.3g}' for m in gas.multipliers)}.",
        )
    else:
        report.paragraph("The gas price does not move the surplus in this run (no gas-price profiles were given).")
    report.chart(
        _fan(result, "monthly_available_mwh", 1e-3, "energy offered to the sites [GWh/month]"),
        "Energy the surplus offers the sites per month, before any site stops.",
    )
    shortfall = result.energy_shortfall()
    shown = shortfall.copy().astype(object)
    for col in ("p_absorbed_below", "p_available_below"):
        shown[col] = [format_probability(float(v)) for v in shortfall[col]]
    report.table(
        shown,
        caption=(
            "Share of paths whose energy over the horizon falls below a share of the allocation's "
            f"({result.allocated_energy_mwh / 1e6:,.2f} TWh at full MW): absorbed by the sites that run, and "
            "offered by the surplus."
        ),
        float_format="{:,.2f}",
    )
    report.chart(_tornado(result), _TORNADO_CAPTION)
    attribution = result.variance_attribution()
    report.table(
        attribution.map(lambda v: "-" if not np.isfinite(v) else f"{100 * v:.1f} %"),
        caption="Share of each headline's variance across paths carried by each driver (first-order, "
        "least squares on one summary per driver and path); the rest is non-linear (stops, the tariff "
        "crossing) and interactions.",
    )


_TORNADO_CAPTION = (
    "Tornado: the mean of each headline over the paths where a driver is in its lowest tenth and in its highest "
    "tenth, against the mean over all paths (drivers summarised per path by their mean monthly shock; the gas "
    "price by its mean log level)."
)


def _tornado(result: RiskResult) -> Any:
    """Horizontal bars per driver: country's net gain when the driver is low and when it is high."""
    import plotly.graph_objects as go

    table = result.driver_tornado()
    centre = float(result.country_net_usd().mean()) / 1e6
    low = table["country_net_gain_usd_low"] / 1e6 - centre
    high = table["country_net_gain_usd_high"] / 1e6 - centre
    order = (high - low).abs().sort_values().index
    fig = new_chart(x_title="country's net gain against its mean [M USD]", y_title="driver", height=340)
    fig.update_layout(barmode="overlay", hovermode="closest")
    for values, name, colour in ((low, "driver low (P10)", "#1f77b4"), (high, "driver high (P90)", "#d62728")):
        fig.add_trace(
            go.Bar(
                x=values[order].tolist(),
                y=list(order),
                orientation="h",
                name=name,
                marker={"color": colour},
                opacity=0.7,
                hovertemplate="%{y}: %{x:,.1f} M USD<extra>" + name + "</extra>",
            )
        )
    return fig


def _tariff_section(report: HtmlReport, result: RiskResult) -> None:
    probs = result.probabilities()
    report.heading("Tariff and the risk that miners stop or leave")
    report.chart(
        _tariff_chart(result),
        "Every tariff of the grid is evaluated on the same random paths (common random numbers).",
    )
    shown = _in_millions(probs.T).T.infer_objects()
    report.table(
        shown,
        caption="Per tariff case: probabilities and medians (money in M USD).",
        float_format="{:,.1f}",
        formats={c: "{}" for c in ("p_miner_stops", "p_miner_leaves", "expected_mining_mw_left_share")},
    )


def _tariff_chart(result: RiskResult) -> Any:
    import plotly.graph_objects as go

    opts = result.context.options
    solved = result.solved_tariff_usd_per_mwh()
    probs = result.probabilities()
    grid = [float(g) for g in result.tariff_grid_usd_per_mwh]
    fig = new_chart(x_title="uniform tariff [USD/MWh]", y_title="probability [%]")
    for col, label in (
        ("p_miner_stops", "P(a mining site stops for a month)"),
        ("p_miner_leaves", "P(a mining site leaves)"),
    ):
        fig.add_trace(
            go.Scatter(x=grid, y=(probs[col].iloc[1:].astype(float) * 100).tolist(), mode="lines+markers", name=label)
        )
    limit = 100 * opts.max_probability
    fig.add_hline(y=limit, line={"color": "grey", "dash": "dot"})
    fig.add_annotation(x=0.0, xref="paper", y=limit, text=f"limit {format_probability(opts.max_probability, 0)}")
    if solved is not None:
        fig.add_vline(x=solved, line={"color": "#d62728", "dash": "dash"})
        fig.add_annotation(x=solved, y=1.0, yref="paper", text=f"solved tariff {solved:g} USD/MWh", showarrow=False)
    return fig


def _country_section(report: HtmlReport, result: RiskResult) -> None:
    ctx, opts = result.context, result.context.options
    rate = ctx.exchange_rate_pkr_per_usd
    view = country_expected_view(result)
    report.heading("The country's view (mean over paths)")
    report.paragraph(country_finding(result))
    frame = view.to_frame()
    report.table(
        pd.DataFrame({"M USD": frame["USD"] / 1e6, "bn PKR": frame["PKR"] / 1e9}),
        caption=(
            "Tariff revenue less fuel (with losses) and network cost, less the taxes forgone by "
            "the incentives "
            f"(hardware import exemption: {opts.incentives.hardware_import_exemption}; AI tax "
            "reduction: "
            f"{opts.incentives.ai_tax_reduction}), against the capacity payments owed anyway "
            f"(PKR {ctx.country.capacity_payments_pkr_per_year / 1e9:,.0f} bn a year). PKR at "
            f"{rate:g} PKR/USD."
        ),
        float_format="{:,.1f}",
    )


def _in_millions(table: pd.DataFrame) -> pd.DataFrame:
    """Show money rows in M USD and bn PKR and probability rows as percentages.

    Rows named ``*_usd`` become ``*_musd`` [M USD], ``*_pkr`` become ``*_bn_pkr`` [bn PKR]; rows
    named ``p_*`` or ``*_share`` are written by :func:`format_probability`.
    """
    out = table.astype(object).copy()
    names = []
    for name in table.index:
        row = str(name)
        values = table.loc[name]
        if row.endswith(("_usd", "_usd_p50")):
            out.loc[name] = values / 1e6
            row = row.replace("_usd", "_musd")
        elif row.endswith("_pkr"):
            out.loc[name] = values / 1e9
            row = row[: -len("_pkr")] + "_bn_pkr"
        elif row.startswith("p_") or row.endswith("_share"):
            out.loc[name] = [format_probability(float(v)) for v in values]
        names.append(row)
    out.index = pd.Index(names, name=table.index.name)
    return out.infer_objects()


def _no_subsidy_section(report: HtmlReport, no_subsidy: NoSubsidyResult) -> None:
    report.heading("No-subsidy test (scenario year)")
    report.paragraph(
        "The rule (offtake.grid.subsidy, the same as the planner's): in every hour, the extra "
        "output the sites cause over the least-cost dispatch of existing demand must be "
        "shareable so that each site takes only units whose marginal cost is at or below "
        "its tariff. Losses and the network charge are not part of the rule; " + _delivery_sentence(no_subsidy)
    )
    report.table(
        no_subsidy.lowest_passing_tariff_usd_per_mwh.to_frame(),
        caption="Lowest passing tariff per site [USD/MWh].",
    )
    if not no_subsidy.passed:
        worst = no_subsidy.failures.sort_values("shortfall_usd", ascending=False).head(20).copy()
        worst["interval_start"] = worst["interval_start"].map(lambda t: t.isoformat())
        worst = worst.drop(columns=["interval_end"]).set_index("interval_start")
        report.table(worst, caption="Worst failing hours (up to 20).", float_format="{:,.2f}")


def _assumptions_section(report: HtmlReport, result: RiskResult) -> None:
    ctx = result.context
    report.heading("Model and assumptions")
    report.bullets(
        [
            f"Mining sites run {ctx.asic.model} ({ctx.asic.efficiency_j_per_th} J/TH), pool fee "
            f"{rate_text(result.model.pool_fee_fraction)}, site overhead "
            f"{rate_text(result.model.site_overhead_fraction)}.",
            "BTC price: monthly log random walk with Student-t shocks; hashrate outside the "
            "programme grows with a trend "
            "and an elasticity to hashprice against the fleet's hashcost; the programme's own "
            "hashrate is added one month late.",
            "Surplus: month x hour-of-day means of the scenario's per-zone surplus, less demand "
            "growth, plus rooftop-solar "
            "output that lowers daytime grid demand; sites share a zone's surplus pro rata, "
            "capped by the national surplus.",
            "Gas price: a mean-reverting monthly log walk of a multiplier of today's marginal cost of the "
            "technologies in risk.toml [gas_price], from 1; the surplus and the fuel cost of the sites' energy "
            "follow it through profiles assessed at a few multipliers, interpolated per path and month.",
            "A site stops in a month whose cash margin is negative and leaves after "
            f"{result.model.drivers.leave_after_months} such months in a row.",
            "Numbers from the world are in offtake/data/economics/*.toml with their sources; "
            "estimates are marked there.",
        ],
        css_class="note",
    )


def _delivery_sentence(no_subsidy: NoSubsidyResult) -> str:
    """Say what delivering the energy adds: losses and the network charge, with the numbers."""
    if not no_subsidy.below_delivered_cost_hours:
        return "the tariffs also cover them at the dearest serving unit in every served hour."
    return (
        "with the dearest serving unit's cost grossed up for losses and the network charge added, "
        f"a tariff is below that delivered cost in {no_subsidy.below_delivered_cost_hours} hours; "
        "the lowest tariff that covers delivery for every site is "
        f"{no_subsidy.lowest_delivered_tariff_usd_per_mwh:.1f} USD/MWh."
    )
