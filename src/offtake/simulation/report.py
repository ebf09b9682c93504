"""``report.html`` and ``kpis.json`` of a simulated year."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from offtake.dispatch import Reason
from offtake.report import HtmlReport
from offtake.simulation.engine import SimulationResult
from offtake.simulation.kpis import zone_served_mw

__all__ = ["write_outputs"]


def write_outputs(
    result: SimulationResult, kpis: dict[str, Any], out_dir: Path, title: str
) -> tuple[Path, Path]:
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
    page = HtmlReport(
        f"Simulated year of dispatch: {title}",
        f"{run['intervals']:,} intervals of {run['step_s']:g} s "
        f"from {run['start']} to {run['end']}, "
        f"{run['sites']} sites, seed {run['seed']}, safety margin {run['safety_k']:g} sigma, "
        f"contingency limit {k['stagger']['contingency_limit_mw']:,.0f} MW",
    )
    share = e["share_of_planner_bound"]
    findings = [
        (
            f"Energy absorbed within caps: {e['absorbed_within_caps_mwh'] / 1000:,.1f} GWh, "
            + (
                f"{share:.1%} of the planner's perfect-foresight bound "
                if share is not None
                else ""
            )
            + f"({e['planner_bound_mwh'] / 1000:,.1f} GWh); "
            + f"{e['share_of_hindsight_bound'] or 0:.1%} of what this year's real surplus allowed. "
            + "Sites that kept their licence all year absorbed "
            + f"{(e['licensed_sites_share_of_planner_bound'] or 0):.1%} of their bound "
            + f"(target {e['target_share']:.0%}: "
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
            + f". Look-ahead for slow sites held back at most {e['lookahead_cost_mwh']:,.1f} MWh."
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
                f"(flagged {ign['flagged_at']}, disconnected {ign['disconnected_at']}); "
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
        shown, "Curtailed % = curtailed energy over allocated energy; suspension is not counted."
    )
    page.figure(_fig_site_rates(sites), "Curtailment rate of each site against its annual limit.")
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
    page.figure(*_fig_tight_week(result))
    page.heading("Energy by month")
    page.figure(
        _fig_monthly(result),
        "Energy absorbed within caps, and what the real surplus allowed, by month.",
    )
    page.heading("Curtailment events")
    page.figure(_fig_events(k["events"]["lengths_h"]), "Lengths of curtailment events, all sites.")
    if result.ignoring_site is not None:
        page.heading("The site that ignored its cap")
        page.figure(_fig_ignoring(result), "Cap and metered draw of the site around its detection.")
    page.heading("Why caps were set")
    reasons = pd.DataFrame(
        {"site-intervals": [k["reasons"][r.name.lower()] for r in Reason]},
        index=[r.name.lower().replace("_", " ") for r in Reason],
    )
    reasons["share %"] = (
        reasons["site-intervals"] / max(1, int(reasons["site-intervals"].sum())) * 100.0
    )
    page.table(
        reasons,
        "Reason code of each site's cap, counted over all intervals.",
        float_format="{:,.2f}",
    )
    page.paragraph(
        "Method: the dispatch core sets caps from the control room's forecast (schedule, last "
        "interval's outages and persistent demand error) less a safety margin; the real surplus "
        "adds this interval's unit trips, demand error and emergencies. Sites follow caps with a "
        "first-order lag; one site ignores its cap and is found by metering.",
        "note",
    )
    return page


def _fig_site_rates(sites: pd.DataFrame) -> Any:
    fig = Figure(figsize=(9, 0.3 * len(sites) + 1.2))
    ax = fig.subplots()
    y = np.arange(len(sites))
    ax.barh(y, sites["curtailment_rate"] * 100.0, color="#4c72b0", label="curtailed")
    ax.scatter(
        sites["annual_curtailment_limit"] * 100.0,
        y,
        marker="|",
        s=200,
        color="#c44e52",
        label="limit",
    )
    ax.set_yticks(y, sites.index)
    ax.invert_yaxis()
    ax.set_xlabel("curtailed energy / allocated energy [%]")
    ax.legend(loc="lower right")
    return fig


def _fig_tight_week(result: SimulationResult) -> tuple[Any, str]:
    served = zone_served_mw(result)
    caps = result.cap_mw @ _onehot(result)
    # The zone and week where the caps moved most: the most dispatch action.
    movement = np.abs(np.diff(caps, axis=0, prepend=caps[:1]))
    per_week = max(1, int(7 * 86400 / result.step_s))
    n_weeks = max(1, served.shape[0] // per_week)
    totals = movement[: n_weeks * per_week].reshape(n_weeks, per_week, -1).sum(axis=1)
    week, zone = (int(v) for v in np.unravel_index(int(np.argmax(totals)), totals.shape))
    span = slice(week * per_week, min(served.shape[0], (week + 1) * per_week))
    t = result.index[span]
    fig = Figure(figsize=(10, 3.8))
    ax = fig.subplots()
    ax.plot(t, result.real_surplus_mw[span, zone], color="#999", lw=0.8, label="real surplus")
    ax.plot(t, result.forecast_mw[span, zone], color="#55a868", lw=0.8, label="forecast surplus")
    ax.plot(t, caps[span, zone], color="#4c72b0", lw=1.0, label="sum of caps")
    ax.plot(t, served[span, zone], color="#c44e52", lw=0.8, label="metered draw")
    ax.set_ylabel("MW")
    ax.legend(loc="upper right", fontsize=8)
    fig.autofmt_xdate()
    zone_id = result.zone_ids[zone]
    return fig, f"Zone {zone_id}, the week in which caps moved most (times UTC)."


def _fig_monthly(result: SimulationResult) -> Any:
    step_h = result.step_h
    within = np.minimum(result.draw_mw, result.cap_mw).sum(axis=1) * step_h / 1000.0
    zone_alloc = np.bincount(
        result.contracts.zone_index,
        weights=result.contracts.allocated_mw,
        minlength=len(result.zone_ids),
    )
    bound = np.minimum(result.real_surplus_mw, zone_alloc[None, :]).sum(axis=1) * step_h / 1000.0
    months = result.index.tz_convert("UTC").strftime("%Y-%m")
    frame = pd.DataFrame({"absorbed": within, "real surplus allowed": bound}, index=months)
    monthly = frame.groupby(level=0).sum()
    fig = Figure(figsize=(10, 3.5))
    ax = fig.subplots()
    monthly.plot.bar(ax=ax, color=["#4c72b0", "#bbbbbb"])
    ax.set_ylabel("GWh")
    ax.set_xlabel("")
    return fig


def _fig_events(lengths_h: list[float]) -> Any:
    fig = Figure(figsize=(8, 3.2))
    ax = fig.subplots()
    values = np.asarray(lengths_h)
    if values.size:
        bins = np.logspace(np.log10(max(values.min(), 1e-2)), np.log10(values.max() + 1e-9), 30)
        ax.hist(values, bins=list(bins), color="#4c72b0")
        ax.set_xscale("log")
    ax.set_xlabel("event length [h]")
    ax.set_ylabel("events")
    return fig


def _fig_ignoring(result: SimulationResult) -> Any:
    i = result.ignoring_site
    assert i is not None
    flagged = int(result.flagged_step[i])
    centre = flagged if flagged >= 0 else int(np.argmax(result.draw_mw[:, i] - result.cap_mw[:, i]))
    half = int(12 * 3600 / result.step_s)
    span = slice(max(0, centre - half), min(result.cap_mw.shape[0], centre + half))
    fig = Figure(figsize=(10, 3.2))
    ax = fig.subplots()
    t = result.index[span]
    ax.step(t, result.cap_mw[span, i], where="post", color="#4c72b0", label="cap")
    ax.step(t, result.draw_mw[span, i], where="post", color="#c44e52", label="metered draw")
    if flagged >= 0:
        ax.axvline(result.index[flagged], color="k", ls="--", lw=0.8, label="flagged")  # type: ignore[arg-type]
    ax.set_ylabel("MW")
    ax.set_title(result.contracts.site_ids[i], fontsize=10)
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    return fig


def _onehot(result: SimulationResult) -> Any:
    c = result.contracts
    onehot = np.zeros((c.n_sites, len(result.zone_ids)))
    onehot[np.arange(c.n_sites), c.zone_index] = 1.0
    return onehot
