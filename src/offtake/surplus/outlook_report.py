"""The outlook's report: the years side by side, by zone and hour of day, with the programme."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from offtake.report import HtmlReport
from offtake.surplus.outlook import Outlook, YearOutlook
from offtake.surplus.study import NATIONAL

__all__ = ["build_outlook_report", "outlook_findings"]

#: The headroom rate shown in the report's tables [fraction].
_SHOWN_RATE = 0.01


def _national(year: YearOutlook) -> pd.DataFrame:
    return year.by_hour[year.by_hour["area"] == NATIONAL].set_index("hour")


def outlook_findings(outlook: Outlook) -> list[str]:
    """Plain-language comparison, one line per scenario and one on the midday dip."""
    lines = []
    p = outlook.programme_mw
    for year in outlook.years:
        prog = year.programme.iloc[0]
        nat = year.summary[year.summary["area"] == NATIONAL].iloc[0]
        lines.append(
            f"{year.scenario.name}: national surplus {nat['mean_surplus_mw']:,.0f} MW on average "
            f"({nat['mw_in_90pct_of_hours']:,.0f} MW in 90 % of hours); {p:,.0f} MW placed anywhere fits in "
            f"{prog['share_of_hours_fits']:.0%} of hours and absorbs {prog['absorbed_gwh']:,.0f} GWh "
            f"({prog['absorbed_share']:.0%} of its energy), leaving {prog['mean_surplus_after_mw']:,.0f} MW "
            "of surplus on average."
        )
    if len(outlook.years) > 1:
        first, last = outlook.years[0], outlook.years[-1]
        a, b = _national(first), _national(last)

        def at(frame: pd.DataFrame, hour: int, column: str) -> float:
            return float(frame[column].get(hour, float("nan")))

        lines.append(
            f"At noon (Pakistan time) mean grid demand goes from {at(a, 12, 'mean_demand_mw'):,.0f} MW in "
            f"{first.scenario.name} to {at(b, 12, 'mean_demand_mw'):,.0f} MW in {last.scenario.name}, and the "
            f"mean national surplus from {at(a, 12, 'mean_surplus_mw'):,.0f} to "
            f"{at(b, 12, 'mean_surplus_mw'):,.0f} MW; at 21:00 demand goes from "
            f"{at(a, 21, 'mean_demand_mw'):,.0f} to {at(b, 21, 'mean_demand_mw'):,.0f} MW."
        )
    return lines


def _national_figure(outlook: Outlook) -> Figure:
    fig = Figure(figsize=(14, 4.5))
    left, right = fig.subplots(1, 2)
    for year in outlook.years:
        nat = _national(year)
        left.plot(nat.index, nat["mean_surplus_mw"], marker="o", ms=3, label=year.scenario.name)
        right.plot(nat.index, nat["mean_demand_mw"], marker="o", ms=3, label=year.scenario.name)
    left.axhline(outlook.programme_mw, color="black", ls="--", lw=1, label=f"programme {outlook.programme_mw:,.0f} MW")
    left.set_title("Mean national surplus by hour of day")
    right.set_title("Mean grid demand by hour of day")
    for ax in (left, right):
        ax.set_xlabel("hour (Pakistan time)")
        ax.set_ylabel("MW")
        ax.set_xticks(range(0, 24, 3))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def _zone_figure(outlook: Outlook) -> Figure:
    zones = list(outlook.years[0].scenario.zone_ids)
    cols = 4
    rows = int(np.ceil(len(zones) / cols))
    fig = Figure(figsize=(16, 3.0 * rows))
    axes = fig.subplots(rows, cols, sharex=True, squeeze=False)
    for ax, zone in zip(axes.flat, zones, strict=False):
        for year in outlook.years:
            part = year.by_hour[year.by_hour["area"] == zone]
            ax.plot(part["hour"], part["mean_surplus_mw"], label=year.scenario.name)
        ax.set_title(zone)
        ax.set_xticks(range(0, 24, 6))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(zones) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("hour (Pakistan time)")
    return fig


def _side_by_side(outlook: Outlook, column: str) -> pd.DataFrame:
    summary = outlook.table("summary")
    table = summary.pivot(index="area", columns="scenario", values=column)
    order = [*outlook.years[0].scenario.zone_ids, NATIONAL]
    return table.reindex([a for a in order if a in table.index])[[y.scenario.name for y in outlook.years]]


def build_outlook_report(outlook: Outlook) -> HtmlReport:
    """Build the outlook's HTML report."""
    names = [y.scenario.name for y in outlook.years]
    report = HtmlReport(
        f"Outlook: {' vs '.join(names)}",
        f"Surplus at each scenario's default tariff; programme {outlook.programme_mw:,.0f} MW placed anywhere",
    )
    kpis = []
    for year in outlook.years:
        prog = year.programme.iloc[0]
        kpis.append((f"{year.scenario.name}: programme fits", f"{prog['share_of_hours_fits']:.0%} of hours"))
        kpis.append((f"{year.scenario.name}: absorbed", f"{prog['absorbed_gwh']:,.0f} GWh"))
    report.kpis(kpis)
    report.heading("Findings")
    report.bullets(outlook_findings(outlook))
    for year in outlook.years[1:]:
        report.caution(
            f"{year.scenario.title}. Its changes from the base year (demand growth, rooftop solar, plants added "
            "and retired) are cited or marked [estimate] in the scenario's SOURCES.md."
        )
    report.heading("National surplus and demand by hour of day")
    report.figure(_national_figure(outlook), caption="Means over the year of each hour of day (Pakistan time).")
    report.heading("Surplus of each zone alone by hour of day")
    report.figure(_zone_figure(outlook), caption="Mean surplus [MW] of each zone alone, by hour of day.")
    report.heading("Mean surplus [MW]")
    report.table(_side_by_side(outlook, "mean_surplus_mw"), float_format="{:,.0f}")
    rate_column = f"headroom_{_SHOWN_RATE * 100:g}pct_mw"
    if rate_column in outlook.years[0].summary.columns:
        report.heading(f"Headroom at {_SHOWN_RATE:.0%} curtailment [MW]")
        report.table(
            _side_by_side(outlook, rate_column),
            caption="Flat new load curtailed at most this share of its energy (Duke method), against "
            "deliverable supply (demand plus surplus).",
            float_format="{:,.0f}",
        )
    report.heading(f"The {outlook.programme_mw:,.0f} MW programme")
    programme = outlook.table("programme").set_index("scenario")
    report.table(
        programme,
        caption="fits: national surplus at least the programme; absorbed: min(programme, national surplus) "
        "summed over the year; after: the surplus left once the programme has taken its part.",
        formats={
            "share_of_hours_fits": "{:.1%}",
            "share_of_hours_none": "{:.1%}",
            "absorbed_share": "{:.1%}",
        },
    )
    return report
