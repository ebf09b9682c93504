"""The outlook's report: the years side by side, by zone and hour of day, with the programme."""

from __future__ import annotations

from typing import Any

import pandas as pd

from offtake.report import NATIONAL_COLOUR, HtmlReport, new_chart, share_text, zone_colours
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
            f"{share_text(prog['share_of_hours_fits'], 0)} of hours and absorbs {prog['absorbed_gwh']:,.0f} GWh "
            f"({share_text(prog['absorbed_share'], 0)} of its energy), leaving {prog['mean_surplus_after_mw']:,.0f} MW "
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


#: Line styles that tell the scenario years apart in the zone chart (colours tell the zones apart).
_YEAR_DASHES = ("solid", "dash", "dot", "dashdot", "longdash")


def _national_chart(outlook: Outlook, column: str, y_title: str, *, programme: bool) -> Any:
    fig = new_chart(x_title="hour of day (Pakistan time)", y_title=y_title)
    for year in outlook.years:
        nat = _national(year)
        fig.add_scatter(x=list(nat.index), y=nat[column].to_numpy(), mode="lines+markers", name=year.scenario.name)
    if programme:
        fig.add_hline(
            y=outlook.programme_mw,
            line={"dash": "dash", "color": NATIONAL_COLOUR},
            annotation_text=f"programme {outlook.programme_mw:,.0f} MW",
        )
    fig.update_xaxes(dtick=3)
    return fig


def _zone_chart(outlook: Outlook) -> Any:
    zones = list(outlook.years[0].scenario.zone_ids)
    colours = zone_colours(zones)
    fig = new_chart(x_title="hour of day (Pakistan time)", y_title="mean surplus [MW]", height=480)
    for i, year in enumerate(outlook.years):
        dash = _YEAR_DASHES[i % len(_YEAR_DASHES)]
        for zone in zones:
            part = year.by_hour[year.by_hour["area"] == zone]
            fig.add_scatter(
                x=part["hour"].tolist(),
                y=part["mean_surplus_mw"].to_numpy(),
                mode="lines",
                name=f"{zone} {year.scenario.name}",
                legendgroup=zone,
                line={"color": colours[zone], "dash": dash},
            )
    fig.update_xaxes(dtick=3)
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
        kpis.append((f"{year.scenario.name}: programme fits", f"{share_text(prog['share_of_hours_fits'], 0)} of hours"))
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
    report.chart(
        _national_chart(outlook, "mean_surplus_mw", "mean national surplus [MW]", programme=True),
        caption="Mean national surplus of each hour of day over the year (Pakistan time).",
    )
    report.chart(
        _national_chart(outlook, "mean_demand_mw", "mean grid demand [MW]", programme=False),
        caption="Mean grid demand of each hour of day over the year (Pakistan time).",
    )
    report.heading("Surplus of each zone alone by hour of day")
    report.chart(
        _zone_chart(outlook),
        caption="Mean surplus [MW] of each zone alone, by hour of day; one colour per zone, one line style per "
        "scenario (click a legend entry to hide it, double-click to show it alone).",
    )
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
    for col in ("share_of_hours_fits", "share_of_hours_none", "absorbed_share"):
        programme[col] = [share_text(float(v)) for v in programme[col]]
    report.table(
        programme,
        caption="fits: national surplus at least the programme; absorbed: min(programme, national surplus) "
        "summed over the year; after: the surplus left once the programme has taken its part.",
    )
    return report
