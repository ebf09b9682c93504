"""``report.html``: a self-contained page (interactive charts, drawn offline) explaining a plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from offtake.planning.expansion_report import expansion_section
from offtake.planning.results import PlanResult
from offtake.planning.terms_check import breach_table_rows
from offtake.report import HtmlReport, local_times, money_text, new_chart, share_text, zone_colours, zone_map
from offtake.scenario import Scenario
from offtake.timeutil import DISPLAY_TIMEZONE

__all__ = ["LEGEND_KEY_COLOUR", "daily_served", "render_report", "write_report"]

LEGEND_KEY_COLOUR = "#8c8c8c"
"""Neutral grey of the allocation chart's legend keys (firm solid, interruptible hatched), no zone's colour."""


def _colours(result: PlanResult, scenario: Scenario | None) -> dict[str, str]:
    """Return the zone colours: the scenario's order when known, else the plan's zone rows (same order)."""
    zones = scenario.zone_ids if scenario is not None else [str(z) for z in result.zones.index if z != "national"]
    return zone_colours(zones)


def _allocation_chart(result: PlanResult, colours: dict[str, str]) -> Any:
    """Stacked firm and interruptible bars per zone in the zone's colour; the legend's keys in neutral grey.

    A bar trace's legend swatch takes its first bar's colour, so the bars stay out of the legend and two
    empty traces of the same groups (solid and hatched grey) are its keys: clicking one hides that kind.
    """
    import plotly.graph_objects as go

    z = result.zones.drop(index="national")
    names = [str(n) for n in z.index]
    fig = new_chart(x_title="allocated [MW]", height=80 + 30 * len(z))
    fig.update_layout(barmode="stack", hovermode="y unified")
    for col, label, pattern in (("firm_mw", "firm", ""), ("interruptible_mw", "interruptible", "/")):
        fig.add_trace(
            go.Bar(
                y=names,
                x=z[col].astype(float).tolist(),
                orientation="h",
                name=label,
                legendgroup=label,
                showlegend=False,
                marker={"color": [colours.get(n, "#888") for n in names], "pattern": {"shape": pattern}},
                hovertemplate="%{x:,.1f} MW<extra>" + label + "</extra>",
            )
        )
        fig.add_trace(
            go.Bar(
                y=[None],
                x=[None],
                orientation="h",
                name=label,
                legendgroup=label,
                showlegend=True,
                hoverinfo="skip",
                marker={"color": LEGEND_KEY_COLOUR, "pattern": {"shape": pattern}},
            )
        )
    fig.update_yaxes(autorange="reversed")
    return fig


def daily_served(result: PlanResult) -> pd.DataFrame:
    """Load served to all sites per Pakistan-time day: ``min``, ``mean``, ``max`` [MW], indexed by day."""
    served = result.served_mw.sum(axis=1)
    stamps = pd.DatetimeIndex(served.index)
    local = stamps.tz_convert(DISPLAY_TIMEZONE) if stamps.tz is not None else stamps
    series = pd.Series(served.to_numpy(), index=local)
    daily = series.resample("D")
    return pd.DataFrame({"min": daily.min(), "mean": daily.mean(), "max": daily.max()}).dropna()


def _served_chart(result: PlanResult) -> Any:
    import plotly.graph_objects as go

    served = result.served_mw.sum(axis=1)
    allocated = float(result.allocation["allocated_mw"].sum())
    fig = new_chart(x_title="Pakistan time", y_title="site load served [MW]")
    if len(served) > 24 * 21:
        daily = daily_served(result)
        days = [d.strftime("%Y-%m-%d") for d in daily.index]
        fig.add_trace(go.Scatter(x=days, y=daily["min"].tolist(), name="daily min", line={"color": "#9ecae1"}))
        fig.add_trace(
            go.Scatter(x=days, y=daily["max"].tolist(), name="daily max", fill="tonexty", line={"color": "#9ecae1"})
        )
        fig.add_trace(go.Scatter(x=days, y=daily["mean"].tolist(), name="daily mean", line={"color": "#08519c"}))
    else:
        fig.add_trace(
            go.Scatter(x=local_times(served.index), y=served.tolist(), name="served", line={"color": "#08519c"})
        )
    fig.add_hline(y=allocated, line={"color": "black", "dash": "dash", "width": 1})
    fig.add_annotation(x=1.0, xref="paper", y=allocated, text=f"allocated {allocated:,.0f} MW", showarrow=False)
    return fig


def _duration_chart(result: PlanResult) -> Any:
    import plotly.graph_objects as go

    served = result.served_mw.sum(axis=1)
    allocated = float(result.allocation["allocated_mw"].sum())
    ordered = np.sort((allocated - served).clip(lower=0.0).to_numpy())[::-1]
    hours = np.arange(1, len(ordered) + 1) * result.horizon_h / max(len(ordered), 1)
    nonzero = int((ordered > 1e-6).sum())
    keep = min(len(ordered), max(2 * nonzero, 24))
    fig = new_chart(x_title="hours of the period", y_title="curtailed [MW]", height=320)
    fig.add_trace(
        go.Scatter(x=hours[:keep].tolist(), y=ordered[:keep].tolist(), name="curtailed", line={"color": "#d62728"})
    )
    return fig


def _binding_chart(result: PlanResult) -> Any:
    import plotly.graph_objects as go

    b = result.binding.head(12)
    fig = new_chart(x_title=f"worth of relaxing by 1 MW [{b['unit'].iloc[0]}] (log scale)", height=80 + 30 * len(b))
    fig.update_layout(hovermode="closest")
    fig.add_trace(
        go.Bar(
            y=[str(c) for c in b["constraint"]],
            x=b["worth_per_year"].astype(float).tolist(),
            orientation="h",
            name="worth",
            marker={"color": "#6a51a3"},
            hovertemplate="%{y}: %{x:,.0f}<extra></extra>",
        )
    )
    fig.update_xaxes(type="log")
    fig.update_yaxes(autorange="reversed")
    return fig


def _map(result: PlanResult, scenario: Scenario, colours: dict[str, str]) -> Any:
    alloc = result.allocation
    sites = pd.DataFrame({"zone": alloc["zone"], "mw": alloc["allocated_mw"].astype(float)}, index=alloc.index)
    sites = sites[sites["mw"] > 0]
    z = result.zones
    values = {
        str(k): f"allocated {float(z.loc[k, 'allocated_mw']):,.0f} MW at {int(z.loc[k, 'sites'])} sites"
        for k in z.index
        if k != "national"
    }
    return zone_map(scenario.zones, scenario.corridors, colours, sites=sites, zone_values=values)


def render_report(result: PlanResult, *, title: str = "", scenario: Scenario | None = None) -> str:
    """Render a plan as a self-contained HTML page.

    Parameters
    ----------
    result
        A plan.
    title
        Heading; defaults to the scenario name.
    scenario
        The scenario planned; with it the page has a map of zones, corridors and sites.

    Returns
    -------
    str
        The HTML text.
    """
    nat = result.national
    colours = _colours(result, scenario)
    report = HtmlReport(title or f"Allocation plan: {result.scenario_name}", _subtitle(result))
    report.kpis(_kpis(result))
    for line in result.terms.lines() if result.terms is not None else []:
        report.caution(f"Contract broken by the plan's own dispatch: {line}.")
    for line in result.simulated_terms.lines() if result.simulated_terms is not None else []:
        report.caution(f"Contract broken in the simulated year: {line}.")
    for note in [*result.warnings, *result.notes]:
        report.caution(note)
    if scenario is not None:
        report.heading("Map: zones, corridors and sites")
        report.chart(
            _map(result, scenario, colours),
            "Sites drawn around their zone's main city, area by allocated MW; corridors wider for a larger limit "
            "(hover a corridor's middle for its limits). Positions and their source: the scenario's SOURCES.md. "
            "Schematic, drawn offline.",
        )
    _zones_section(report, result, colours)
    _sites_section(report, result)
    _terms_section(report, result)
    _simulated_terms_section(report, result)
    report.heading("Curtailment profile")
    report.chart(
        _served_chart(result), "Load served to all sites over the period (daily range and mean for long periods)."
    )
    report.chart(_duration_chart(result), "Curtailment duration curve: curtailed MW sorted from largest.")
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
    rate = float(nat["exchange_rate_pkr_per_usd"])
    kpis = [
        ("allocated", f"{nat['allocated_mw']:,.0f} MW of {result.cap_mw:,.0f} MW cap"),
        ("firm / interruptible", f"{nat['firm_mw']:,.0f} / {nat['interruptible_mw']:,.0f} MW"),
        ("energy served", f"{nat['energy_mwh'] / 1e3:,.1f} GWh"),
        ("tariff revenue", money_text(nat["revenue_usd"], rate, 2)),
        ("extra fuel cost", money_text(nat["fuel_cost_usd"], rate, 2)),
        ("net margin", money_text(nat["net_margin_usd"], rate, 2)),
        ("exchange rate", f"{rate:g} PKR/USD"),
    ]
    share = nat.get("capacity_payments_offset_share")
    if share is not None:
        kpis.append((f"of {nat['capacity_payments_year']} capacity payments offset", share_text(share, 2)))
    sim = result.simulated_terms
    if sim is not None:
        broken = len(sim.sites_breaking_terms)
        kpis.append((f"sites breaking a term in {len(sim.runs)} simulated years", f"{broken}"))
    return kpis


def money_columns(frame: pd.DataFrame, rate_pkr_per_usd: float) -> pd.DataFrame:
    """Show ``*_usd`` columns as ``*_musd`` [M USD], with ``revenue_bn_pkr`` [bn PKR] after the revenue."""
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        name = str(col)
        if name.endswith("_usd"):
            out[name[: -len("_usd")] + "_musd"] = frame[col].astype(float) / 1e6
            if name == "revenue_usd":
                out["revenue_bn_pkr"] = frame[col].astype(float) * rate_pkr_per_usd / 1e9
        else:
            out[name] = frame[col]
    return out


def _zones_section(report: HtmlReport, result: PlanResult, colours: dict[str, str]) -> None:
    nat = result.national
    rate = float(nat["exchange_rate_pkr_per_usd"])
    report.heading("Allocation by zone")
    report.chart(
        _allocation_chart(result, colours),
        "Firm (solid) and interruptible (hatched) MW per zone, in the zone's colour; "
        "the legend keys are grey, click one to hide that kind.",
        alt="firm and interruptible MW per zone",
    )
    zones = result.zones.copy()
    zones["surplus_use"] = zones["surplus_use"] * 100
    zones = money_columns(zones.rename(columns={"surplus_use": "surplus_use_pct"}), rate)
    fmt = {"sites": "{:,.0f}", "surplus_use_pct": "{:,.1f}", "revenue_bn_pkr": "{:,.2f}"}
    fmt.update({c: "{:,.2f}" for c in zones.columns if c.endswith("_musd")})
    fmt.update({c: "{:,.0f}" for c in zones.columns if c.endswith("_mwh")})
    report.table(zones, f"Money in M USD; revenue also in bn PKR at {rate:g} PKR/USD.", formats=fmt)
    report.paragraph(
        "Revenue is what each zone's sites pay at their tariffs. Serving cost values their served energy at the "
        "zone price of each interval (the marginal cost of one more MWh in that zone, from the zone balance), "
        "so a zone's margin at zone price is what its sites pay above what serving them costs at the margin; a "
        "zone without sites shows zero. The extra fuel burnt is shown only nationally "
        f"({money_text(nat['fuel_cost_usd'], rate, 2)}, net margin {money_text(nat['net_margin_usd'], rate, 2)}): "
        "re-dispatch moves fuel between zones, so fuel per zone says nothing about where the sites are."
    )
    share = nat.get("capacity_payments_offset_share")
    if share is not None:
        report.paragraph(
            f"Capacity payments {nat['capacity_payments_year']}: PKR {nat['capacity_payments_pkr'] / 1e9:,.0f} bn "
            f"({nat['capacity_payments_source']}). Net margin per year "
            f"{money_text(nat['net_margin_usd_per_year'], rate)} at {rate:g} PKR/USD offsets "
            f"{share_text(share, 2)} of them."
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
    whole = ("expected_energy_mwh", "curtailed_hours", "curtailment_events")
    rate = float(result.national["exchange_rate_pkr_per_usd"])
    sites = money_columns(result.allocation[_SITE_COLUMNS], rate)
    formats = {c: "{:,.0f}" for c in whole} | {"revenue_musd": "{:,.2f}", "revenue_bn_pkr": "{:,.2f}"}
    formats |= {"tariff_usd_per_mwh": "{:,.2f}"}
    report.table(sites, f"Revenue in M USD and bn PKR at {rate:g} PKR/USD.", formats=formats)


def _terms_section(report: HtmlReport, result: PlanResult) -> None:
    """Show the planned year read against each site's contract terms, and every breach by how much."""
    check = result.terms
    if check is None:
        return
    report.heading("Contract terms in the planned year")
    report.paragraph(
        f"Read before any simulation: {check.rule}. Sites breaking a term: "
        f"{', '.join(check.sites_breaking_terms) if check.breaches else 'none'}."
    )
    if check.breaches:
        report.table(
            pd.DataFrame(breach_table_rows(check)).set_index("site_id"),
            "Excess: curtailed energy over the annual limit [MWh], hours over the longest event accepted, or hours "
            "below the AI floor.",
            formats={"limit": "{:,.4g}", "actual": "{:,.4g}", "excess": "{:,.2f}"},
        )


def _simulated_terms_section(report: HtmlReport, result: PlanResult) -> None:
    """Show each site's terms read against the simulated years, and every breach by seed."""
    check = result.simulated_terms
    if check is None:
        return
    report.heading("Contract terms in the simulated years")
    broken = check.sites_breaking_terms
    report.paragraph(
        f"Read before the plan is run: {check.rule}. Sites breaking a term in a simulated year: "
        f"{', '.join(broken) if broken else 'none'}."
    )
    ignoring = ", ".join(f"seed {r.seed}: {r.ignoring_site or 'none'}" for r in check.runs)
    report.paragraph(f"Site drawn to ignore its cap (suspended once found; its own terms not counted): {ignoring}.")
    rows = check.by_site()
    if rows:
        table = pd.DataFrame(rows).assign(seeds=lambda f: f["seeds"].map(lambda s: ", ".join(map(str, s))))
        report.table(
            table.set_index("site_id")[["term", "seeds", "limit", "worst", "unit", "cause"]],
            "Worst figure over the seeds: curtailment rate, longest event [h] or hours below the AI floor outside "
            "the site's zone's emergencies; the cause is the dispatch reasons of those intervals in the worst year.",
            formats={"limit": "{:,.4g}", "worst": "{:,.4g}"},
        )


def _binding_section(report: HtmlReport, result: PlanResult) -> None:
    report.heading("What binds, and what relaxing it is worth")
    report.paragraph(
        "Shadow prices of the binding constraints, summed over the intervals where they bind and scaled to a "
        "year: the gain in the objective if the limit were 1 MW looser (in every interval for hourly limits)."
    )
    if result.binding.empty:
        report.paragraph("Nothing binds: every constraint has slack.")
        return
    report.chart(_binding_chart(result), alt="worth of relaxing each binding constraint by 1 MW")
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


def write_report(result: PlanResult, path: str | Path, *, scenario: Scenario | None = None) -> Path:
    """Write ``report.html`` for a plan.

    Parameters
    ----------
    result
        A plan.
    path
        The file to write.
    scenario
        The scenario planned, for the map of zones, corridors and sites.

    Returns
    -------
    Path
        The file written.
    """
    out = Path(path)
    out.write_text(render_report(result, scenario=scenario), encoding="utf-8")
    return out
