"""The plan report's section on new renewables: what to build where, its cost, each site's renewable share."""

from __future__ import annotations

from typing import Any

import pandas as pd

from offtake.planning.expansion_results import ExpansionResult
from offtake.planning.results import PlanResult
from offtake.report import HtmlReport, new_chart, share_text
from offtake.timeutil import DISPLAY_TIMEZONE

__all__ = ["expansion_section", "hourly_share"]

_COLOURS = {"solar_mw": "#f2b701", "wind_mw": "#3c8dbc", "battery_mw": "#6a51a3"}


def _build_chart(zones: pd.DataFrame) -> Any:
    z = zones.drop(index="national")
    fig = new_chart(x_title="new capacity [MW] (battery: power)", height=int(40 * len(z) + 140))
    for column, colour in _COLOURS.items():
        fig.add_bar(
            y=list(z.index),
            x=z[column].to_numpy(dtype=float),
            orientation="h",
            name=column.removesuffix("_mw").replace("_", " "),
            marker={"color": colour},
        )
    fig.update_layout(barmode="stack", hovermode="y unified")
    fig.update_yaxes(autorange="reversed")
    return fig


def hourly_share(result: PlanResult) -> pd.Series:
    """Energy-weighted new renewable share of all sites' energy by hour of the day, Pakistan time [-]."""
    assert result.expansion is not None
    stamps = pd.DatetimeIndex(result.served_mw.index)
    local = stamps.tz_convert(DISPLAY_TIMEZONE) if stamps.tz is not None else stamps
    hour = pd.Index(local.hour, name="hour")
    new = pd.Series(result.expansion.renewable_mw.sum(axis=1).to_numpy(), index=hour).groupby(level=0).sum()
    load = pd.Series(result.served_mw.sum(axis=1).to_numpy(), index=hour).groupby(level=0).sum()
    return (new / load.where(load > 0)).fillna(0.0)


def _share_chart(result: PlanResult) -> Any:
    share = hourly_share(result)
    fig = new_chart(x_title="hour of the day (Pakistan time)", y_title="new renewable share [%]", height=320)
    fig.add_bar(x=list(share.index), y=100 * share.to_numpy(), name="new renewable share", marker={"color": "#2ca02c"})
    fig.update_yaxes(range=[0, 100])
    fig.update_xaxes(dtick=3)
    return fig


def _finance_table(report: HtmlReport, e: ExpansionResult) -> None:
    """Add the table of the build at other costs of capital, when computed."""
    if e.finance is None or e.finance.empty:
        return
    report.paragraph(
        "The build at other costs of capital. The same candidates sized at each real discount rate of the "
        "data file's finance cases (sources "
        f"below): what is built, its cost per MWh delivered and the sites' renewable share. {e.finance_basis}"
    )
    table = e.finance.copy()
    table["discount_rate"] = 100 * table["discount_rate"]
    table["renewable_share"] = 100 * table["renewable_share"]
    table = table.rename(columns={"discount_rate": "discount_rate_%", "renewable_share": "renewable_share_%"})
    fmt = {c: "{:,.0f}" for c in table.columns if c.endswith(("_mw", "_mwh"))}
    fmt.update({"discount_rate_%": "{:.1f}", "renewable_share_%": "{:.1f}", "cost_usd_per_mwh": "{:,.1f}"})
    report.table(table, formats=fmt)


def expansion_section(report: HtmlReport, result: PlanResult) -> None:
    """Add the section on new renewables to a plan report (nothing without the expansion option)."""
    e = result.expansion
    if e is None:
        return
    t, nat = e.totals, result.national
    z = {k: float(v) for k, v in e.zones.loc["national"].to_dict().items()}
    report.heading("New renewables for the sites")
    report.paragraph(
        f"The off-take pays for {z['solar_mw']:,.0f} MW of solar, "
        f"{z['wind_mw']:,.0f} MW of wind and {z['battery_mw']:,.0f} MW / "
        f"{z['battery_mwh']:,.0f} MWh of batteries: {t['cost_usd'] / 1e6:,.2f} M USD over the "
        f"period ({t['cost_usd_per_year'] / 1e6:,.1f} M USD a year, capital annualised plus O&M). They deliver "
        f"{t['renewable_energy_mwh'] / 1e3:,.1f} GWh to the sites, {share_text(t['renewable_share'])} of their energy, "
        f"at {t['cost_usd_per_mwh']:,.1f} USD per MWh delivered ({t['curtailed_mwh'] / 1e3:,.1f} GWh curtailed, "
        f"{t['storage_loss_mwh'] / 1e3:,.1f} GWh lost in batteries). Net margin after the build "
        f"{nat['net_margin_usd'] / 1e6:,.2f} M USD (before it {nat['net_margin_before_build_usd'] / 1e6:,.2f} M USD)."
    )
    report.chart(_build_chart(e.zones), caption="What to build, by zone: new solar, wind and battery power [MW].")
    fmt = {c: "{:,.0f}" for c in e.zones.columns if c.endswith(("_mw", "_mwh", "_usd"))}
    fmt.update({"renewable_share": "{:.3f}", "cost_usd_per_mwh": "{:,.1f}"})
    report.table(e.zones, formats=fmt)
    gens = e.build[e.build["technology"] != "battery"]
    if "profile" in gens.columns and len(gens):
        report.paragraph("Each candidate's profile (where its available output per hour came from) and what was built:")
        report.table(
            gens[["technology", "profile", "built_mw", "max_mw", "capacity_factor"]],
            formats={"built_mw": "{:,.0f}", "max_mw": "{:,.0f}", "capacity_factor": "{:.3f}"},
        )
    report.chart(
        _share_chart(result),
        caption="Share of the sites' energy from the new build, by hour of the day (Pakistan time), energy-weighted.",
    )
    report.paragraph(
        "Renewable share: in every hour a zone's new plants and batteries put into the grid at most what the "
        "zone's sites draw (the build serves no one else), so the sites draw that energy first, pro rata to "
        "their load, and grid power (the surplus) for the rest. Renewables already in the grid are not "
        "counted. The share per site and hour is in renewable_share.csv; the build per candidate in expansion.csv."
    )
    report.table(
        e.site_share, formats={"energy_mwh": "{:,.0f}", "renewable_energy_mwh": "{:,.0f}", "renewable_share": "{:.3f}"}
    )
    _finance_table(report, e)
    report.paragraph("Sources of the candidates and costs (" + e.sources.get("file", "") + "):")
    report.bullets([f"{k}: {v}" for k, v in e.sources.items() if k != "file"])
