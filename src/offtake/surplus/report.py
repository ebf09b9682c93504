"""The planner's report of the surplus assessment: findings, heat maps, curves and tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from offtake.report import HtmlReport
from offtake.surplus.assess import mw_in_share_of_hours
from offtake.surplus.study import NATIONAL, Assessment

__all__ = ["build_report", "findings", "sensitivity_findings", "summary_table"]

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
        f"{mw:,.0f} MW at {rate * 100:g} %"
        for mw, rate in zip(h["headroom_mw"].to_numpy(), h["curtailment_rate"].to_numpy(), strict=True)
    ]
    out.append(
        "National headroom (flat new load curtailed only when supply runs short): "
        f"firm {h['firm_mw'].iloc[0]:,.0f} MW; "
        + ", ".join(parts)
        + " annual curtailment."
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


def _heatmaps(a: Assessment) -> Figure:
    areas = _areas(a)
    n = len(areas)
    cols = 4
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(16, 3.2 * rows))
    axes = fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)
    vmax = max(float(s.max()) for s in areas.values()) or 1.0
    image = None
    for ax, (area, s) in zip(axes.flat, areas.items(), strict=False):
        local, when = _local(s, a.scenario.display_timezone)
        grid = local.groupby([when.month, when.hour]).mean().unstack()
        grid = grid.reindex(range(1, 13))
        image = ax.imshow(grid.to_numpy(), aspect="auto", origin="upper", cmap="viridis", vmin=0, vmax=vmax)
        ax.set_title(area)
        ax.set_yticks(range(12), _MONTHS, fontsize=7)
        ax.set_xticks(range(0, 24, 3))
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("hour (Pakistan time)")
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="mean surplus [MW]")
    return fig


def _duration_curves(a: Assessment) -> Figure:
    fig = Figure(figsize=(14, 4.5))
    left, right = fig.subplots(1, 2)
    nat = np.sort(a.surplus.national_mw.to_numpy())[::-1]
    share = np.arange(1, len(nat) + 1) / len(nat) * 100
    left.plot(share, nat, color="black")
    left.set_title("National (joint)")
    for z in a.scenario.zone_ids:
        values = np.sort(a.surplus.zone_mw[z].to_numpy())[::-1]
        right.plot(share, values, label=z)
    right.set_title("Each zone alone")
    right.legend(ncol=3, fontsize=8)
    for ax in (left, right):
        ax.set_xlabel("share of hours [%]")
        ax.set_ylabel("surplus [MW]")
        ax.grid(alpha=0.3)
    return fig


def _tariff_curve(a: Assessment) -> Figure:
    curve = a.tariff_curve[a.tariff_curve["area"] == NATIONAL]
    fig = Figure(figsize=(9, 4.5))
    ax = fig.subplots()
    for col, label in zip(_SHARES, ("50 % of hours", "90 % of hours", "99 % of hours"), strict=True):
        ax.step(curve["tariff_usd_per_mwh"], curve[col], where="post", label=label)
    ax.axvline(a.surplus.tariff_usd_per_mwh, color="grey", linestyle="--", label="tariff assessed")
    ax.set_xlabel("tariff [USD/MWh]")
    ax.set_ylabel("national surplus available [MW]")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def _mix_figure(a: Assessment) -> Figure:
    mix = a.generation_mix
    fig = Figure(figsize=(8, 3.8))
    ax = fig.subplots()
    ax.barh(mix.index[::-1], mix["energy_gwh"].to_numpy()[::-1] / 1000.0)
    ax.set_xlabel("generation in the least-cost dispatch [TWh]")
    ax.grid(alpha=0.3, axis="x")
    return fig


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


def _tornado(a: Assessment, table: pd.DataFrame) -> Figure:
    base = float(a.surplus.national_mw.mean())
    fig = Figure(figsize=(9, 0.45 * len(table) + 1.6), layout="constrained")
    ax = fig.subplots()
    rows = np.arange(len(table))[::-1]
    low = table["low_mean_change_mw"].to_numpy()
    high = table["high_mean_change_mw"].to_numpy()
    ax.barh(rows, low, left=base, color="tab:blue", label="price 10 % lower")
    ax.barh(rows, high, left=base, color="tab:red", alpha=0.7, label="price 10 % higher")
    ax.axvline(base, color="grey", linewidth=1, label=f"base {base:,.0f} MW")
    ends = np.concatenate([[base], base + low, base + high])
    pad = max(0.05 * float(ends.max() - ends.min()), 0.02 * abs(base), 1.0)
    ax.set_xlim(float(ends.min()) - pad, float(ends.max()) + pad)
    ax.set_yticks(rows, [str(d) for d in table.index])
    ax.set_xlabel("national mean surplus [MW]")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3, axis="x")
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
    report.heading("When the surplus is there", "heatmaps")
    report.figure(_heatmaps(a), "Mean surplus by month and hour of day, per area (zones each alone).")
    report.heading("Duration curves", "duration")
    report.figure(_duration_curves(a), "Hourly surplus sorted from largest to smallest.")
    report.heading("Tariff and surplus", "tariff")
    report.figure(_tariff_curve(a), "MW available nationally in 50, 90 and 99 % of hours at each tariff.")
    wide = a.tariff_curve[a.tariff_curve["area"] == NATIONAL].set_index("tariff_usd_per_mwh")[list(_SHARES)]
    report.table(wide.iloc[::2], "National tariff-surplus curve [MW] (every 10 USD/MWh).", float_format="{:,.0f}")
    if a.sensitivity is not None:
        report.heading("Sensitivity to fuel prices and the tariff", "sensitivity")
        table = _national_sensitivity(a)
        report.figure(
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
    )
    report.heading("The least-cost dispatch behind it", "baseline")
    report.figure(_mix_figure(a), "Generation by technology serving existing demand at least fuel cost.")
    mix = a.generation_mix.assign(share_pct=lambda d: d["share"] * 100).drop(columns="share")
    report.table(mix, "Baseline generation mix.", float_format="{:,.1f}")
    report.table(
        a.corridor_use.set_index("corridor"),
        "Corridor use in the baseline: hours at each limit.",
        float_format="{:,.0f}",
    )
    report.paragraph(
        f"Fuel cost of the baseline: {a.surplus.baseline.fuel_cost_usd / 1e9:,.2f} billion USD. The dispatch is on "
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
