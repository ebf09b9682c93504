"""``report.html`` and ``kpis.json`` of a simulated year."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from offtake.dispatch import Reason
from offtake.report import DISPLAY_TIMEZONE, HtmlReport, local_times, new_chart, rate_text, share_text, zone_colours
from offtake.simulation.engine import SimulationResult
from offtake.simulation.kpis import zone_served_mw

__all__ = ["event_histogram", "monthly_energy", "step_text", "tightest_week", "write_outputs"]


def write_outputs(result: SimulationResult, kpis: dict[str, Any], out_dir: Path, title: str) -> tuple[Path, Path]:
    """Write ``kpis.json`` and ``report.html`` into ``out_dir``.

    Parameters
    ----------
    result
        The simulated year.
    kpis
        Its key figures (:func:`offtake.simulation.compute_kpis`).
    out_dir
        Output folder, created if missing.
    title
        Scenario title for the page.

    Returns
    -------
    tuple of Path
        Paths of ``kpis.json`` and ``report.html``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    kpi_path = out_dir / "kpis.json"
    kpi_path.write_text(json.dumps(kpis, indent=2) + "\n", encoding="utf-8")
    html_path = _report(result, kpis, title).write(out_dir / "report.html")
    return kpi_path, html_path


def _report(result: SimulationResult, k: dict[str, Any], title: str) -> HtmlReport:
    e, s, ign = k["energy"], k["safety"], k["ignoring_site"]
    run = k["run"]
    tz = DISPLAY_TIMEZONE
    colours = zone_colours(result.zone_ids)
    days = run["intervals"] * run["step_s"] / 86400.0
    page = HtmlReport(
        f"Simulated dispatch at {step_text(run['step_s'])} steps over {days:,.4g} days: {title}",
        f"{run['intervals']:,} intervals of {run['step_s']:g} s "
        f"from {_local_text(run['start'], tz)} to {_local_text(run['end'], tz)} ({tz}), "
        f"{run['sites']} sites, seed {run['seed']}, safety margin {run['safety_k']:g} sigma, "
        f"contingency limit {k['stagger']['contingency_limit_mw']:,.0f} MW",
    )
    share = e["share_of_planner_bound"]
    findings = [
        (
            f"Energy absorbed within caps: {e['absorbed_within_caps_mwh'] / 1000:,.1f} GWh, "
            + (f"{share_text(share)} of the planner's perfect-foresight bound " if share is not None else "")
            + f"({e['planner_bound_mwh'] / 1000:,.1f} GWh); "
            + f"{share_text(e['share_of_hindsight_bound'] or 0)} of what this year's real surplus allowed. "
            + "Sites that kept their licence all year absorbed "
            + f"{share_text(e['licensed_sites_share_of_planner_bound'] or 0)} of their bound "
            + f"(target {rate_text(e['target_share'])}: "
            + ("met" if e["meets_target"] else "NOT met")
            + "); a suspended site loses its energy by enforcement, not by dispatch."
        ),
        (
            f"Intervals where served flexible load left the real deliverable region (some set "
            f"of zones, of {s['zone_sets']:,}, took more than the network could bring in): "
            f"{s['intervals_over_real_surplus']:,} (target 0), "
            f"{s['energy_over_real_surplus_mwh']:,.1f} MWh in all, "
            f"at most {s['max_excess_mw']:,.1f} MW; over a zone's own real surplus "
            f"{s['zone_intervals_over_real_surplus']:,} zone-intervals"
            + (
                f", over the national real surplus {s['national_intervals_over_real_surplus']:,} intervals"
                if "national_intervals_over_real_surplus" in s
                else ""
            )
            + f". Look-ahead for slow sites and room for sites ramping down held back at most "
            f"{e['lookahead_cost_mwh']:,.1f} MWh."
        ),
        (
            f"Curtailment events: {k['events']['count']:,}, mean {k['events']['mean_h']:.2f} h, "
            f"median {k['events']['median_h']:.2f} h, longest {k['events']['max_h']:.1f} h."
        ),
    ]
    if ign.get("site_id"):
        findings.append(
            f"Site ignoring its cap: {ign['site_id']}, "
            + (
                f"found {ign['hours_to_detection']:.2f} h after its first over-draw "
                f"(flagged {_local_text(ign['flagged_at'], tz)}, "
                f"disconnected {_local_text(ign['disconnected_at'], tz)}, Pakistan time); "
                if ign["found"]
                else "NOT found; "
            )
            + f"over-draw {ign['over_draw_mwh']:,.1f} MWh, "
            + f"peak {ign['peak_over_draw_mw']:,.1f} MW. "
            f"Other sites flagged: {', '.join(ign['false_positives']) or 'none'}."
        )
    findings.append(
        f"Trouble drawn: {k['trouble']['forced_outages']} forced unit outages "
        f"({k['trouble']['outage_unit_hours']:,.0f} unit-hours), "
        f"{len(k['trouble']['emergencies'])} emergencies; "
        "stagger deferred curtailment in "
        f"{k['stagger']['intervals_with_deferred_curtailment']} intervals "
        f"(at most {k['stagger']['max_deferred_mw']:,.1f} MW)."
    )
    broken = k["contracts"]["sites_breaking_terms"]
    findings.append(
        f"CONTRACT TERMS BROKEN by {len(broken)} site(s): {', '.join(broken)} (table below)."
        if broken
        else "Every site kept its contracted floor, annual curtailment and event-length terms."
    )
    page.heading("Key figures")
    page.bullets(findings)

    page.heading("Served load above real surplus, by cause")
    causes = pd.DataFrame(s["by_cause"]).T
    causes.columns = ["intervals", "energy [MWh]"]
    causes["intervals"] = causes["intervals"].astype(int)
    page.table(
        causes,
        "Each interval outside the real region is put down to the first cause that explains it on the "
        "set of zones it left, in this order.",
    )

    page.heading("Sites against their contract terms")
    sites = pd.DataFrame(k["sites"]).set_index("site_id")
    shown = sites[
        [
            "zone",
            "kind",
            "allocated_mw",
            "energy_mwh",
            "curtailment_rate",
            "annual_curtailment_limit",
            "deepest_curtailment",
            "max_curtailment_fraction",
            "events",
            "mean_event_h",
            "longest_event_h",
            "max_curtailment_duration_h",
            "hours_below_floor",
            "over_draw_mwh",
        ]
    ].copy()
    for col in (
        "curtailment_rate",
        "annual_curtailment_limit",
        "deepest_curtailment",
        "max_curtailment_fraction",
    ):
        shown[col] = shown[col] * 100.0
    shown.columns = [
        "zone",
        "kind",
        "MW",
        "energy MWh",
        "curtailed %",
        "limit %",
        "deepest %",
        "depth limit %",
        "events",
        "mean h",
        "longest h",
        "limit h",
        "h below floor",
        "over-draw MWh",
    ]
    page.table(
        shown,
        "Curtailed % = curtailed energy over allocated energy; suspension is not counted. Limits as contracted.",
        formats={"limit %": "{:g}", "depth limit %": "{:g}", "limit h": "{:g}", "curtailed %": "{:,.3g}"},
    )
    page.chart(
        _fig_site_rates(sites, colours),
        "Curtailment rate of each site (in its zone's colour) against its annual limit.",
    )
    if broken:
        page.heading("Contract terms broken")
        table = pd.DataFrame(k["contracts"]["breaches"]).set_index("site_id")[["term", "limit", "actual"]]
        page.table(
            table,
            "annual_curtailment_limit: share of allocated energy; max_curtailment_duration_h: longest event [h]; "
            "floor: floor [MW] and hours below it outside declared emergencies. "
            + k["contracts"]["rule"].capitalize()
            + ".",
        )

    page.heading("The tightest week")
    page.chart(*_fig_tight_week(result, tz))
    page.heading("Energy by month")
    page.chart(
        _fig_monthly(result, tz),
        "Energy absorbed within caps, and what the real surplus allowed, by calendar month in Pakistan time.",
    )
    page.heading("Curtailment events")
    page.chart(_fig_events(k["events"]["lengths_h"]), "Lengths of curtailment events, all sites.")
    if result.ignoring_site is not None:
        page.heading("The site that ignored its cap")
        page.chart(_fig_ignoring(result, tz), "Cap and metered draw of the site around its detection (Pakistan time).")
    page.heading("Why caps were set")
    reasons = pd.DataFrame(
        {"site-intervals": [k["reasons"][r.name.lower()] for r in Reason]},
        index=[r.name.lower().replace("_", " ") for r in Reason],
    )
    reasons["share %"] = reasons["site-intervals"] / max(1, int(reasons["site-intervals"].sum())) * 100.0
    page.table(
        reasons,
        "Reason code of each site's cap, counted over all intervals.",
        float_format="{:,.2f}",
    )
    page.paragraph(
        "Method: the dispatch core sets caps from the control room's forecast (schedule, last "
        "interval's outages and persistent demand error) less a safety margin; the real surplus "
        "adds this interval's unit trips, demand error and emergencies. Sites ramp to their caps "
        "within their actual response time; one site ignores its cap and is found by metering.",
        "note",
    )
    return page


def step_text(step_s: float) -> str:
    """Write a dispatch step as people say it: ``5-min``, ``1-h``, ``30-s``."""
    if step_s >= 3600 and step_s % 3600 == 0:
        return f"{step_s / 3600:g}-h"
    if step_s >= 60 and step_s % 60 == 0:
        return f"{step_s / 60:g}-min"
    return f"{step_s:g}-s"


def _local_text(iso: str | None, timezone: str) -> str:
    """Write an ISO instant as Pakistan wall-clock text (``2024-07-01 05:00``)."""
    if iso is None:
        return "?"
    return local_times([pd.Timestamp(iso)], timezone)[0]


def _fig_site_rates(sites: pd.DataFrame, colours: dict[str, str]) -> Any:
    import plotly.graph_objects as go

    names = [str(s) for s in sites.index]
    fig = new_chart(x_title="curtailed energy / allocated energy [%]", height=80 + 22 * len(sites))
    fig.update_layout(hovermode="y unified")
    fig.add_trace(
        go.Bar(
            y=names,
            x=(sites["curtailment_rate"].astype(float) * 100.0).tolist(),
            orientation="h",
            name="curtailed",
            marker={"color": [colours.get(str(z), "#888") for z in sites["zone"]]},
            hovertemplate="%{x:.3g} %<extra>curtailed</extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            y=names,
            x=(sites["annual_curtailment_limit"].astype(float) * 100.0).tolist(),
            mode="markers",
            name="limit",
            marker={"symbol": "line-ns-open", "size": 16, "color": "#c44e52", "line": {"width": 3}},
            hovertemplate="%{x:.3g} %<extra>limit</extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def tightest_week(result: SimulationResult) -> tuple[slice, int]:
    """Return the intervals and the zone of the week in which the sum of caps moved most."""
    caps = result.cap_mw @ _onehot(result)
    movement = np.abs(np.diff(caps, axis=0, prepend=caps[:1]))
    per_week = max(1, int(7 * 86400 / result.step_s))
    n_weeks = max(1, caps.shape[0] // per_week)
    totals = movement[: n_weeks * per_week].reshape(n_weeks, per_week, -1).sum(axis=1)
    week, zone = (int(v) for v in np.unravel_index(int(np.argmax(totals)), totals.shape))
    return slice(week * per_week, min(caps.shape[0], (week + 1) * per_week)), zone


def _fig_tight_week(result: SimulationResult, timezone: str) -> tuple[Any, str]:
    import plotly.graph_objects as go

    served = zone_served_mw(result)
    caps = result.cap_mw @ _onehot(result)
    span, zone = tightest_week(result)
    t = local_times(result.index[span], timezone)
    fig = new_chart(x_title=f"time ({timezone})", y_title="MW", height=400)
    for values, label, colour in (
        (result.real_surplus_mw[span, zone], "real surplus", "#999999"),
        (result.forecast_mw[span, zone], "forecast surplus", "#55a868"),
        (caps[span, zone], "sum of caps", "#4c72b0"),
        (served[span, zone], "metered draw", "#c44e52"),
    ):
        fig.add_trace(go.Scatter(x=t, y=np.asarray(values, dtype=float).tolist(), name=label, line={"color": colour}))
    zone_id = result.zone_ids[zone]
    return fig, f"Zone {zone_id}, the week in which caps moved most (Pakistan time)."


def monthly_energy(result: SimulationResult, timezone: str) -> pd.DataFrame:
    """Energy absorbed within caps and what the real surplus allowed, per calendar month in ``timezone`` [GWh]."""
    step_h = result.step_h
    within = np.minimum(result.draw_mw, result.cap_mw).sum(axis=1) * step_h / 1000.0
    zone_alloc = np.bincount(
        result.contracts.zone_index,
        weights=result.contracts.allocated_mw,
        minlength=len(result.zone_ids),
    )
    bound = np.minimum(result.real_surplus_mw, zone_alloc[None, :]).sum(axis=1) * step_h / 1000.0
    months = result.index.tz_convert(timezone).strftime("%Y-%m")
    frame = pd.DataFrame({"absorbed": within, "real surplus allowed": bound}, index=months)
    return frame.groupby(level=0).sum()


def _fig_monthly(result: SimulationResult, timezone: str) -> Any:
    import plotly.graph_objects as go

    monthly = monthly_energy(result, timezone)
    fig = new_chart(x_title=f"month ({timezone})", y_title="GWh", height=360)
    fig.update_layout(barmode="group")
    for col, colour in (("absorbed", "#4c72b0"), ("real surplus allowed", "#bbbbbb")):
        fig.add_trace(go.Bar(x=list(monthly.index), y=monthly[col].tolist(), name=col, marker={"color": colour}))
    fig.update_xaxes(type="category")
    return fig


def event_histogram(lengths_h: list[float]) -> tuple[list[float], list[float], list[int]]:
    """Count curtailment events in 30 log-spaced bins: (bin starts [h], bin ends [h], events)."""
    values = np.asarray(lengths_h, dtype=float)
    if not values.size:
        return [], [], []
    edges = np.logspace(np.log10(max(values.min(), 1e-2)), np.log10(values.max() + 1e-9), 31)
    counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
    return edges[:-1].tolist(), edges[1:].tolist(), [int(c) for c in counts]


def _fig_events(lengths_h: list[float]) -> Any:
    import plotly.graph_objects as go

    lows, highs, counts = event_histogram(lengths_h)
    fig = new_chart(x_title="event length [h] (log scale)", y_title="events", height=320)
    fig.update_layout(hovermode="closest")
    centres = [float(np.sqrt(a * b)) for a, b in zip(lows, highs, strict=True)]
    widths = [b - a for a, b in zip(lows, highs, strict=True)]
    fig.add_trace(
        go.Bar(
            x=centres,
            y=counts,
            width=widths,
            name="events",
            marker={"color": "#4c72b0"},
            customdata=[[a, b] for a, b in zip(lows, highs, strict=True)],
            hovertemplate="%{customdata[0]:.2f}-%{customdata[1]:.2f} h: %{y} events<extra></extra>",
        )
    )
    if centres:
        fig.update_xaxes(type="log")
    return fig


def _fig_ignoring(result: SimulationResult, timezone: str) -> Any:
    import plotly.graph_objects as go

    i = result.ignoring_site
    assert i is not None
    flagged = int(result.flagged_step[i])
    centre = flagged if flagged >= 0 else int(np.argmax(result.draw_mw[:, i] - result.cap_mw[:, i]))
    half = int(12 * 3600 / result.step_s)
    span = slice(max(0, centre - half), min(result.cap_mw.shape[0], centre + half))
    t = local_times(result.index[span], timezone)
    fig = new_chart(x_title=f"time ({timezone})", y_title="MW", title=result.contracts.site_ids[i], height=340)
    fig.add_trace(go.Scatter(x=t, y=result.cap_mw[span, i].tolist(), name="cap", line={"shape": "hv"}))
    fig.add_trace(
        go.Scatter(
            x=t, y=result.draw_mw[span, i].tolist(), name="metered draw", line={"shape": "hv", "color": "#c44e52"}
        )
    )
    if flagged >= 0:
        when = local_times([result.index[flagged]], timezone)[0]
        fig.add_shape(type="line", x0=when, x1=when, y0=0, y1=1, yref="paper", line={"dash": "dash", "width": 1})
        fig.add_annotation(x=when, y=1.0, yref="paper", text="flagged", showarrow=False)
    return fig


def _onehot(result: SimulationResult) -> Any:
    c = result.contracts
    onehot = np.zeros((c.n_sites, len(result.zone_ids)))
    onehot[np.arange(c.n_sites), c.zone_index] = 1.0
    return onehot
