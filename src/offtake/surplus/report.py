"""The planner's report of the surplus assessment: findings, heat maps, curves and tables."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from offtake.report import NATIONAL_COLOUR, HtmlReport, money_text, new_chart, rate_text, zone_colours, zone_map
from offtake.surplus.assess import mw_in_share_of_hours
from offtake.surplus.study import NATIONAL, Assessment

__all__ = [
    "build_report",
    "duration_points",
    "findings",
    "monthly_hourly_means",
    "sensitivity_findings",
    "summary_table",
]

_SHARES = ("mw_in_50pct_of_hours", "mw_in_90pct_of_hours", "mw_in_99pct_of_hours")
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _local(series: pd.Series, zone: str) -> tuple[pd.Series, pd.DatetimeIndex]:
    """Return the series re-indexed to local time, and that local index."""
    local = series.tz_convert(zone)
    return local, pd.DatetimeIndex(local.index)


def _areas(a: Assessment) -> dict[str, pd.Series]:
    series = {NATIONAL: a.surplus.national_mw}
    series.update({z: a.surplus.zone_mw[z] for z in a.scenario.zone_ids})
    return series


def summary_table(a: Assessment, rate: float = 0.01) -> pd.DataFrame:
    """Per area: mean surplus, MW in 50/90/99 % of hours, firm level and headroom at ``rate`` [MW]."""
    rows = []
    h = a.headroom[(a.headroom["threshold"] == "deliverable_supply") & np.isclose(a.headroom["curtailment_rate"], rate)]
    for area, s in _areas(a).items():
        values = s.to_numpy()
        hr = h[h["area"] == area]
        rows.append(
            {
                "area": area,
                "mean_mw": float(values.mean()),
                "p50_mw": float(mw_in_share_of_hours(values, 0.5)),
                "p90_mw": float(mw_in_share_of_hours(values, 0.9)),
                "p99_mw": float(mw_in_share_of_hours(values, 0.99)),
                "firm_mw": float(hr["firm_mw"].iloc[0]),
                f"headroom_{rate * 100:g}pct_mw": float(hr["headroom_mw"].iloc[0]),
            }
        )
    return pd.DataFrame(rows).set_index("area")


def findings(a: Assessment) -> list[str]:
    """Plain-language findings a planner reads first."""
    s = a.scenario
    nat = a.surplus.national_mw
    local, when = _local(nat, s.display_timezone)
    tariff = a.surplus.tariff_usd_per_mwh
    out = [
        f"At the tariff of {tariff:.2f} USD/MWh ({tariff * s.exchange_rate_pkr_per_usd / 1000:.2f} PKR/kWh), the grid "
        f"could serve at least {float(mw_in_share_of_hours(nat.to_numpy(), 0.5)):,.0f} MW of extra load in half of "
        f"all hours, {float(mw_in_share_of_hours(nat.to_numpy(), 0.9)):,.0f} MW in 90 % and "
        f"{float(mw_in_share_of_hours(nat.to_numpy(), 0.99)):,.0f} MW in 99 % of hours, "
        "with all existing demand met, reserves kept and no unit above the tariff.",
    ]
    monthly = local.groupby(when.month).mean()
    best_month = int(np.argmax(monthly.to_numpy()))
    worst_month = int(np.argmin(monthly.to_numpy()))
    lowest = when[int(np.argmin(local.to_numpy()))]
    out.append(
        f"Surplus is largest in {_MONTHS[int(monthly.index[best_month]) - 1]} (mean {monthly.max():,.0f} MW) and "
        f"smallest in {_MONTHS[int(monthly.index[worst_month]) - 1]} (mean {monthly.min():,.0f} MW); the lowest hour "
        f"of the year is {lowest:%d %b %H:%M} local time with {nat.min():,.0f} MW."
    )
    hourly = local.groupby(when.hour).mean()
    peak_hour = int(hourly.index[int(np.argmax(hourly.to_numpy()))])
    low_hour = int(hourly.index[int(np.argmin(hourly.to_numpy()))])
    out.append(
        f"Across the day, surplus peaks around {peak_hour:02d}:00 and is smallest around {low_hour:02d}:00 local "
        f"time ({hourly.max():,.0f} against {hourly.min():,.0f} MW on average)."
    )
    table = summary_table(a)
    zones = table.drop(index=NATIONAL)
    p90 = zones["p90_mw"]
    best, worst = str(p90.index[int(np.argmax(p90.to_numpy()))]), str(p90.index[int(np.argmin(p90.to_numpy()))])
    out.append(
        f"Zone by zone (each alone), {best} can take the most: {p90.max():,.0f} MW in 90 % of hours; "
        f"{worst} the least: {p90.min():,.0f} MW. Siting by regional surplus matters."
    )
    h = a.headroom[(a.headroom["area"] == NATIONAL) & (a.headroom["threshold"] == "deliverable_supply")]
    parts = [
        f"{mw:,.0f} MW at {rate_text(rate)}"
        for mw, rate in zip(h["headroom_mw"].to_numpy(), h["curtailment_rate"].to_numpy(), strict=True)
    ]
    out.append(
        "National headroom (flat new load curtailed only when supply runs short): "
        f"firm {h['firm_mw'].iloc[0]:,.0f} MW; " + ", ".join(parts) + " annual curtailment."
    )
    use = a.corridor_use.assign(hours=lambda d: d["hours_at_forward_limit"] + d["hours_at_reverse_limit"])
    busy = use.sort_values("hours", ascending=False).head(3)
    busy = busy[busy["hours"] > 0]
    if len(busy):
        text = "; ".join(
            f"{name} {int(hours):,} h" for name, hours in zip(busy["corridor"], busy["hours"].to_numpy(), strict=True)
        )
        out.append(f"Corridors most often at their limit in the least-cost dispatch: {text}.")
    curve = a.tariff_curve[a.tariff_curve["area"] == NATIONAL]
    positive = curve[curve["mw_in_90pct_of_hours"] > 0]
    if len(positive):
        out.append(
            f"Below {positive['tariff_usd_per_mwh'].iloc[0]:.0f} USD/MWh there is no surplus in 90 % of hours; "
            f"at 150 USD/MWh it is {curve['mw_in_90pct_of_hours'].iloc[-1]:,.0f} MW."
        )
    return out


_DURATION_POINTS = 201


def duration_points(values: np.ndarray) -> tuple[list[float], list[float]]:
    """Sample a duration curve at 201 shares of hours: (share [%], MW exceeded in that share of hours).

    The value at share ``p`` is the ``ceil(p/100 * n)``-th largest value (the largest at 0 %).
    """
    ordered = np.sort(np.asarray(values, dtype=float))[::-1]
    share = np.linspace(0.0, 100.0, _DURATION_POINTS)
    rank = np.clip(np.ceil(share / 100.0 * len(ordered)).astype(int) - 1, 0, len(ordered) - 1)
    return share.tolist(), ordered[rank].tolist()


def monthly_hourly_means(series: pd.Series, timezone: str) -> pd.DataFrame:
    """Mean of ``series`` by month (rows 1-12) and hour of day (columns 0-23), in local time [MW]."""
    local, when = _local(series, timezone)
    grid = local.groupby([when.month, when.hour]).mean().unstack()
    return grid.reindex(index=range(1, 13), columns=range(24))


def _heatmaps(a: Assessment) -> Any:
    import plotly.graph_objects as go

    areas = _areas(a)
    vmax = max(float(s.max()) for s in areas.values()) or 1.0
    fig = new_chart(x_title="hour of day (Pakistan time)", height=420)
    fig.update_layout(hovermode="closest")
    for i, (area, s) in enumerate(areas.items()):
        grid = monthly_hourly_means(s, a.scenario.display_timezone)
        fig.add_trace(
            go.Heatmap(
                z=grid.to_numpy().tolist(),
                x=list(range(24)),
                y=_MONTHS,
                zmin=0.0,
                zmax=vmax,
                colorscale="Viridis",
                colorbar={"title": {"text": "MW"}},
                name=area,
                visible=i == 0,
                hovertemplate="%{y} %{x}:00: %{z:,.0f} MW<extra>" + area + "</extra>",
            )
        )
    names = list(areas)
    buttons = [{"label": area, "method": "update", "args": [{"visible": [n == area for n in names]}]} for area in names]
    fig.update_layout(updatemenus=[{"buttons": buttons, "x": 1.0, "y": 1.18, "xanchor": "right"}])
    fig.update_yaxes(autorange="reversed")
    return fig


def _duration_curves(a: Assessment) -> Any:
    import plotly.graph_objects as go

    fig = new_chart(x_title="share of hours [%]", y_title="surplus [MW]", height=440)
    share, nat = duration_points(a.surplus.national_mw.to_numpy())
    fig.add_trace(
        go.Scatter(
            x=share, y=nat, name=f"{NATIONAL} (joint)", line={"color": NATIONAL_COLOUR, "dash": "dash", "width": 3}
        )
    )
    colours = zone_colours(a.scenario.zone_ids)
    for z in a.scenario.zone_ids:
        _, values = duration_points(a.surplus.zone_mw[z].to_numpy())
        fig.add_trace(go.Scatter(x=share, y=values, name=z, line={"color": colours[z]}))
    return fig


def _tariff_curve(a: Assessment) -> Any:
    import plotly.graph_objects as go

    curve = a.tariff_curve[a.tariff_curve["area"] == NATIONAL]
    fig = new_chart(x_title="tariff [USD/MWh]", y_title="national surplus available [MW]")
    for col, label in zip(_SHARES, ("50 % of hours", "90 % of hours", "99 % of hours"), strict=True):
        fig.add_trace(
            go.Scatter(x=curve["tariff_usd_per_mwh"].tolist(), y=curve[col].tolist(), name=label, line={"shape": "hv"})
        )
    fig.add_vline(x=a.surplus.tariff_usd_per_mwh, line={"color": "grey", "dash": "dash"})
    fig.add_annotation(x=a.surplus.tariff_usd_per_mwh, y=1.0, yref="paper", text="tariff assessed", showarrow=False)
    return fig


def _mix_figure(a: Assessment) -> Any:
    import plotly.graph_objects as go

    mix = a.generation_mix
    fig = new_chart(x_title="generation in the least-cost dispatch [TWh]", height=60 + 28 * len(mix))
    fig.update_layout(hovermode="closest")
    fig.add_trace(
        go.Bar(
            y=[str(t) for t in mix.index[::-1]],
            x=(mix["energy_gwh"].to_numpy()[::-1] / 1000.0).tolist(),
            orientation="h",
            name="TWh",
            hovertemplate="%{y}: %{x:,.2f} TWh<extra></extra>",
        )
    )
    return fig


def _map(a: Assessment) -> Any:
    s = a.scenario
    table = summary_table(a)
    p90 = table["p90_mw"]
    values = {z: f"surplus in 90 % of hours {float(p90[z]):,.0f} MW (alone)" for z in s.zone_ids}
    return zone_map(s.zones, s.corridors, zone_colours(s.zone_ids), zone_values=values)


def _national_sensitivity(a: Assessment) -> pd.DataFrame:
    """National mean surplus change [MW] per driver at the lower and upper price, largest swing first."""
    assert a.sensitivity is not None
    nat = a.sensitivity[(a.sensitivity["area"] == NATIONAL) & (a.sensitivity["driver"] != "base")]
    wide = nat.pivot_table(index="driver", columns="change_pct", values="mean_change_mw", sort=False)
    prices = nat.pivot_table(index="driver", columns="change_pct", values="price_usd_per_mwh", sort=False)
    out = pd.DataFrame(
        {
            "base_price_usd_per_mwh": nat.groupby("driver", sort=False)["base_price_usd_per_mwh"].first(),
            "low_price_usd_per_mwh": prices[prices.columns.min()],
            "low_mean_change_mw": wide[wide.columns.min()],
            "high_price_usd_per_mwh": prices[prices.columns.max()],
            "high_mean_change_mw": wide[wide.columns.max()],
            "crosses_tariff_at_pct": nat.groupby("driver", sort=False)["crosses_tariff_at_pct"].first(),
        }
    )
    swing = out[["low_mean_change_mw", "high_mean_change_mw"]].abs().max(axis=1)
    return out.loc[swing.sort_values(ascending=False, kind="stable").index]


def _tornado(a: Assessment, table: pd.DataFrame) -> Any:
    import plotly.graph_objects as go

    base = float(a.surplus.national_mw.mean())
    fig = new_chart(x_title="national mean surplus [MW]", height=120 + 34 * len(table))
    fig.update_layout(hovermode="closest", barmode="overlay")
    drivers = [str(d) for d in table.index][::-1]
    for col, label, colour in (
        ("low_mean_change_mw", "price 10 % lower", "#1f77b4"),
        ("high_mean_change_mw", "price 10 % higher", "#d62728"),
    ):
        change = table[col].to_numpy()[::-1]
        fig.add_trace(
            go.Bar(
                y=drivers,
                x=change.tolist(),
                base=base,
                orientation="h",
                name=label,
                marker={"color": colour, "opacity": 0.75},
                hovertemplate="%{y}: %{x:+,.1f} MW<extra>" + label + "</extra>",
            )
        )
    fig.add_vline(x=base, line={"color": "grey", "width": 1})
    fig.add_annotation(x=base, y=1.0, yref="paper", text=f"base {base:,.0f} MW", showarrow=False)
    return fig


def sensitivity_findings(a: Assessment) -> list[str]:
    """Plain-language lines on which prices move the surplus (empty without the sweep)."""
    if a.sensitivity is None:
        return []
    table = _national_sensitivity(a)
    base = float(a.surplus.national_mw.mean())
    tariff = a.surplus.tariff_usd_per_mwh
    moving = table[table[["low_mean_change_mw", "high_mean_change_mw"]].abs().max(axis=1) >= 1.0]
    if moving.empty:
        return [f"No fuel price nor the tariff moving by 10 % changes the national mean surplus of {base:,.0f} MW."]
    out = []
    for driver, row in moving.iterrows():
        side = "low" if abs(float(row["low_mean_change_mw"])) >= abs(float(row["high_mean_change_mw"])) else "high"
        worst = float(row[f"{side}_mean_change_mw"])
        which = "lower" if side == "low" else "higher"
        if driver == "tariff":
            what = f"A tariff 10 % {which} ({float(row[f'{side}_price_usd_per_mwh']):.2f} USD/MWh)"
        else:
            cross = float(row["crosses_tariff_at_pct"])
            move = f"a {'rise' if cross > 0 else 'fall'} of {abs(cross):.1f} %"
            what = (
                f"{driver} at {row['base_price_usd_per_mwh']:.2f} USD/MWh reaches the {tariff:.2f} tariff with "
                f"{move} in its price; a price 10 % {which}"
            )
        out.append(f"{what} moves the national mean surplus from {base:,.0f} to {base + worst:,.0f} MW.")
    return out


def build_report(a: Assessment) -> HtmlReport:
    """Assemble the assessment report."""
    s = a.scenario
    report = HtmlReport(
        f"Regional surplus assessment: {s.title}",
        f"Scenario {s.name}; {len(s.index):,} intervals of {s.resolution_s // 60} min; tariff "
        f"{a.surplus.tariff_usd_per_mwh:.2f} USD/MWh; times shown in {s.display_timezone}.",
    )
    report.heading("Findings", "findings")
    report.bullets([*findings(a), *sensitivity_findings(a)])
    report.heading("Surplus by area", "summary")
    report.table(
        summary_table(a),
        "Surplus [MW]: mean, and the MW available in at least 50, 90 and 99 % of hours; firm = every hour; "
        "headroom = flat load with 1 % annual curtailment. Zones are each taken alone; national is the joint figure.",
        float_format="{:,.0f}",
    )
    report.heading("Map: zones and corridors", "map")
    report.chart(
        _map(a),
        "Zones at their main city (positions and their source in the scenario's SOURCES.md), corridors drawn "
        "wider for a larger limit (hover a corridor's middle for its limits each way). Schematic, drawn offline.",
    )
    report.heading("When the surplus is there", "heatmaps")
    report.chart(
        _heatmaps(a),
        "Mean surplus [MW] by month and hour of day (Pakistan time); choose the area in the menu (zones each alone).",
    )
    report.heading("Duration curves", "duration")
    report.chart(_duration_curves(a), "Hourly surplus sorted from largest to smallest.")
    report.heading("Tariff and surplus", "tariff")
    report.chart(_tariff_curve(a), "MW available nationally in 50, 90 and 99 % of hours at each tariff.")
    wide = a.tariff_curve[a.tariff_curve["area"] == NATIONAL].set_index("tariff_usd_per_mwh")[list(_SHARES)]
    report.table(wide.iloc[::2], "National tariff-surplus curve [MW] (every 10 USD/MWh).", float_format="{:,.0f}")
    if a.sensitivity is not None:
        report.heading("Sensitivity to fuel prices and the tariff", "sensitivity")
        table = _national_sensitivity(a)
        report.chart(
            _tornado(a, table),
            "National mean surplus with each fuel's marginal cost, and the tariff, 10 % lower and higher, one at a "
            "time. A fuel moves the surplus only when it crosses the tariff (or reorders the dear units).",
        )
        report.table(
            table,
            "Change of the national mean surplus [MW] at each price [USD/MWh]; crosses_tariff_at_pct: the change "
            "of the fuel's price at which it reaches the tariff [%]. Every zone is in sensitivity.csv.",
            float_format="{:,.1f}",
        )
    report.heading("Headroom (Duke method)", "headroom")
    shown = a.headroom[
        [
            "area",
            "threshold",
            "curtailment_rate",
            "headroom_mw",
            "firm_mw",
            "curtailed_hours_per_year",
            "mean_event_duration_h",
            "hours_kept_50pct_per_year",
        ]
    ].copy()
    shown["curtailment_rate"] = shown["curtailment_rate"] * 100
    report.table(
        shown.rename(columns={"curtailment_rate": "curtailment_rate_pct"}),
        "Flat new load [MW] for each annual curtailment rate, with curtailed hours per year, mean event length [h] "
        "and curtailed hours keeping at least half the load. 'deliverable_supply': threshold = demand + surplus "
        "(supply deliverable to the area, net of reserves, at or below the tariff). 'duke_seasonal_peak': the "
        "study's historical seasonal peak (summer peak for Apr-Oct, winter peak for Nov-Mar).",
        index=False,
        float_format="{:,.1f}",
        formats={"curtailment_rate_pct": "{:g}"},
    )
    report.heading("The least-cost dispatch behind it", "baseline")
    report.chart(_mix_figure(a), "Generation by technology serving existing demand at least fuel cost.")
    mix = a.generation_mix.assign(share_pct=lambda d: d["share"] * 100).drop(columns="share")
    report.table(mix, "Baseline generation mix.", float_format="{:,.1f}")
    report.table(
        a.corridor_use.set_index("corridor"),
        "Corridor use in the baseline: hours at each limit.",
        float_format="{:,.0f}",
    )
    report.paragraph(
        f"Fuel cost of the baseline: {money_text(a.surplus.baseline.fuel_cost_usd, s.exchange_rate_pkr_per_usd, 0)} "
        f"at {s.exchange_rate_pkr_per_usd:g} PKR/USD. The dispatch is on "
        "merit order; contracts that force fuels out of merit (for example take-or-pay LNG) are not modelled, so "
        "the mix can differ from the published one.",
        "note",
    )
    report.heading("Method", "method")
    report.paragraph(
        "Surplus in a zone and hour is the largest extra load that zone alone could take with all existing demand "
        "met, reserves held on dispatchable units, corridor limits respected, must-run output taken, and no unit "
        "whose marginal cost is above the tariff producing more than in the least-cost dispatch of existing demand. "
        "The national figure places the extra load anywhere. Both come from an exact max-flow/min-cut enumeration "
        "over all sets of zones, checked against the same problem solved as a linear programme."
    )
    return report
