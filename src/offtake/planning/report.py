"""``report.html``: a self-contained page (plots as embedded PNG) explaining a plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from offtake.planning.expansion_report import expansion_section
from offtake.planning.results import PlanResult
from offtake.report import HtmlReport

__all__ = ["render_report", "write_report"]

def _allocation_chart(result: PlanResult) -> Any:
    z = result.zones.drop(index="national")
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(z) + 1.2))
    y = np.arange(len(z))
    ax.barh(y, z["firm_mw"], color="#1f77b4", label="firm")
    ax.barh(y, z["interruptible_mw"], left=z["firm_mw"], color="#ff9f1c", label="interruptible")
    ax.set_yticks(y, z.index)
    ax.invert_yaxis()
    ax.set_xlabel("allocated [MW]")
    ax.set_title("Allocation by zone")
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return fig


def _curtailment_chart(result: PlanResult) -> Any:
    served = result.served_mw.sum(axis=1)
    allocated = float(result.allocation["allocated_mw"].sum())
    curtailed = (allocated - served).clip(lower=0.0)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": [2.2, 1]})
    stamps = pd.DatetimeIndex(served.index)
    local = stamps.tz_convert("Asia/Karachi") if stamps.tz is not None else stamps
    series = pd.Series(served.to_numpy(), index=local)
    if len(series) > 24 * 21:
        daily = series.resample("D")
        a1.fill_between(
            daily.min().index,
            daily.min().to_numpy(),
            daily.max().to_numpy(),
            color="#9ecae1",
            label="daily range",
        )
        a1.plot(
            daily.mean().index, daily.mean().to_numpy(), color="#08519c", lw=1, label="daily mean"
        )
    else:
        a1.plot(series.index, series.to_numpy(), color="#08519c", lw=1, label="served")
    locator = mdates.AutoDateLocator(tz=local.tz)  # type: ignore[no-untyped-call]
    a1.xaxis.set_major_locator(locator)
    concise = mdates.ConciseDateFormatter(locator, tz=local.tz)  # type: ignore[no-untyped-call]
    a1.xaxis.set_major_formatter(concise)
    a1.axhline(allocated, color="k", ls="--", lw=1, label="allocated")
    a1.set_ylabel("site load served [MW]")
    a1.set_title("Load served to all sites (Pakistan time)")
    a1.legend(loc="lower left", fontsize=8)
    a1.grid(alpha=0.3)
    ordered = np.sort(curtailed.to_numpy())[::-1]
    hours = np.arange(1, len(ordered) + 1) * result.horizon_h / max(len(ordered), 1)
    a2.plot(hours, ordered, color="#d62728")
    a2.set_xlabel("hours of the period")
    a2.set_ylabel("curtailed [MW]")
    a2.set_title("Curtailment duration curve")
    a2.grid(alpha=0.3)
    nonzero = int((ordered > 1e-6).sum())
    if nonzero:
        a2.set_xlim(0, max(hours[min(nonzero, len(hours) - 1)] * 1.2, 1.0))
    return fig


def _binding_chart(result: PlanResult) -> Any:
    b = result.binding.head(12)
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(b) + 1.2))
    y = np.arange(len(b))
    ax.barh(y, b["worth_per_year"], color="#6a51a3")
    ax.set_yticks(y, b["constraint"])
    ax.invert_yaxis()
    ax.set_xlabel(f"worth of relaxing by 1 MW [{b['unit'].iloc[0]}]")
    ax.set_xscale("log")
    ax.set_title("What binds")
    ax.grid(axis="x", alpha=0.3)
    return fig


def render_report(result: PlanResult, *, title: str = "") -> str:
    """Render a plan as a self-contained HTML page.

    Parameters
    ----------
    result
        A plan.
    title
        Heading; defaults to the scenario name.

    Returns
    -------
    str
        The HTML text.
    """
    nat = result.national
    report = HtmlReport(title or f"Allocation plan: {result.scenario_name}", _subtitle(result))
    report.kpis(_kpis(result))
    for note in [*result.warnings, *result.notes]:
        report.caution(note)
    _zones_section(report, result)
    _sites_section(report, result)
    report.heading("Curtailment profile")
    report.figure(_curtailment_chart(result), alt="load served over the period and curtailment duration curve")
    _binding_section(report, result)
    expansion_section(report, result)
    report.heading("Model")
    t = result.timings_s
    report.paragraph(
        f"{nat['variables']:,} variables, {nat['constraints']:,} constraints; baseline "
        f"{t.get('baseline_s', 0):.1f} s, build {t.get('build_s', 0):.1f} s, solve {t.get('solve_s', 0):.1f} s "
        "(linopy + HiGHS)."
    )
    return report.render()


def _subtitle(result: PlanResult) -> str:
    aim = "net margin (tariff revenue minus fuel cost)" if result.objective == "margin" else "energy absorbed"
    step = "none" if result.step_limit_mw is None else f"{result.step_limit_mw:,.0f} MW"
    source = f" ({result.step_source})" if result.step_source else ""
    sizes = "minimum sizes enforced (MILP)" if result.min_sizes else "any size (LP)"
    return (
        f"Objective: {aim}; {sizes}; period {result.horizon_h:,.0f} h; curtailment step limit {step}{source}. "
        f"{_solver_line(result.national)}"
    )


def _kpis(result: PlanResult) -> list[tuple[str, str]]:
    nat = result.national
    money = "USD"
    kpis = [
        ("allocated", f"{nat['allocated_mw']:,.0f} MW of {result.cap_mw:,.0f} MW cap"),
        ("firm / interruptible", f"{nat['firm_mw']:,.0f} / {nat['interruptible_mw']:,.0f} MW"),
        ("energy served", f"{nat['energy_mwh'] / 1e3:,.1f} GWh"),
        ("tariff revenue", f"{nat['revenue_usd'] / 1e6:,.2f} M {money}"),
        ("extra fuel cost", f"{nat['fuel_cost_usd'] / 1e6:,.2f} M {money}"),
        ("net margin", f"{nat['net_margin_usd'] / 1e6:,.2f} M {money}"),
    ]
    share = nat.get("capacity_payments_offset_share")
    if share is not None:
        kpis.append((f"of {nat['capacity_payments_year']} capacity payments offset", f"{100 * share:.2f} %"))
    return kpis


def _zones_section(report: HtmlReport, result: PlanResult) -> None:
    nat = result.national
    report.heading("Allocation by zone")
    report.figure(_allocation_chart(result), alt="firm and interruptible MW per zone")
    zones = result.zones.copy()
    zones["surplus_use"] = zones["surplus_use"] * 100
    zones = zones.rename(columns={"surplus_use": "surplus_use_pct"})
    fmt = {"sites": "{:,.0f}", "surplus_use_pct": "{:,.1f}"}
    fmt.update({c: "{:,.0f}" for c in zones.columns if c.endswith("_usd") or c.endswith("_mwh")})
    report.table(zones, formats=fmt)
    report.paragraph(
        "Revenue is what each zone's sites pay at their tariffs. Serving cost values their served energy at the "
        "zone price of each interval (the marginal cost of one more MWh in that zone, from the zone balance), "
        "so a zone's margin at zone price is what its sites pay above what serving them costs at the margin; a "
        "zone without sites shows zero. The extra fuel burnt is shown only nationally "
        f"({nat['fuel_cost_usd'] / 1e6:,.2f} M USD, net margin {nat['net_margin_usd'] / 1e6:,.2f} M USD): "
        "re-dispatch moves fuel between zones, so fuel per zone says nothing about where the sites are."
    )
    share = nat.get("capacity_payments_offset_share")
    if share is not None:
        report.paragraph(
            f"Capacity payments {nat['capacity_payments_year']}: PKR {nat['capacity_payments_pkr'] / 1e9:,.0f} bn "
            f"({nat['capacity_payments_source']}). Net margin per year {nat['net_margin_usd_per_year'] / 1e6:,.1f} "
            f"M USD at {nat['exchange_rate_pkr_per_usd']:g} PKR/USD offsets {100 * share:.2f} % of them."
        )


_SITE_COLUMNS = [
    "operator",
    "zone",
    "kind",
    "firm_mw",
    "interruptible_mw",
    "allocated_mw",
    "tariff_usd_per_mwh",
    "expected_energy_mwh",
    "curtailed_hours",
    "curtailment_events",
    "mean_event_h",
    "longest_event_h",
    "max_curtailment_duration_h",
    "revenue_usd",
]


def _sites_section(report: HtmlReport, result: PlanResult) -> None:
    report.heading("Sites")
    whole = ("expected_energy_mwh", "revenue_usd", "curtailed_hours", "curtailment_events")
    report.table(result.allocation[_SITE_COLUMNS], formats={c: "{:,.0f}" for c in whole})


def _binding_section(report: HtmlReport, result: PlanResult) -> None:
    report.heading("What binds, and what relaxing it is worth")
    report.paragraph(
        "Shadow prices of the binding constraints, summed over the intervals where they bind and scaled to a "
        "year: the gain in the objective if the limit were 1 MW looser (in every interval for hourly limits)."
    )
    if result.binding.empty:
        report.paragraph("Nothing binds: every constraint has slack.")
        return
    report.figure(_binding_chart(result), alt="worth of relaxing each binding constraint by 1 MW")
    report.table(
        result.binding.set_index("constraint"), formats={"hours_binding": "{:,.0f}", "worth_per_year": "{:,.0f}"}
    )


def _solver_line(national: dict[str, Any]) -> str:
    """Say how the plan was solved and how accurately."""
    method = str(national.get("solver_method", ""))
    if not method:
        return ""
    gap = national.get("solver_objective_error_rel")
    line = f"Solved with {method}"
    if isinstance(gap, float) and np.isfinite(gap):
        line += f" (relative primal-dual objective error {gap:.1e})"
    if "PDLP" in method:
        line += (
            "; a first-order method: the allocation and energy are accurate to that gap, "
            "shadow prices approximately, and where several dual solutions are optimal the "
            "one shown may differ from a simplex vertex"
        )
    return line + "."


def write_report(result: PlanResult, path: str | Path) -> Path:
    """Write ``report.html`` for a plan.

    Parameters
    ----------
    result
        A plan.
    path
        The file to write.

    Returns
    -------
    Path
        The file written.
    """
    out = Path(path)
    out.write_text(render_report(result), encoding="utf-8")
    return out
