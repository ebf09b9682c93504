"""Key figures of a simulated year: energy, safety, contract terms, events, the ignoring site."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from offtake.dispatch import Reason
from offtake.dispatch.terms import contract_breaches, curtailed_intervals, curtailment_runs, term_figures
from offtake.simulation.engine import TOL_MW, SimulationResult
from offtake.units import SiteKind

__all__ = [
    "EXCEEDANCE_CAUSES",
    "UNFORESEEN_CAUSES",
    "compute_kpis",
    "contract_breaches",
    "curtailment_runs",
    "zone_served_mw",
]

#: Causes an interval of served load outside the real deliverable region is put down to, in
#: the order tried, on the zone set it left (``_safety``). The first five are events nobody can
#: foresee inside an interval, or a site breaking its contract (:data:`UNFORESEEN_CAUSES`); the
#: rest are dispatch's own.
#:
#: - ``drop not in the forecast within the response time``: the over-draw of sites still
#:   ramping down to their caps covers the excess, and for each of those sites the forecast
#:   the dispatcher had one planned response time earlier (contracted x (1 +
#:   ``response_time_tolerance``), in whole intervals, at least one) less its margin held the
#:   load that came: the drop (a unit trip, a forecast error beyond the margin) was news inside
#:   the site's response time. So the cause lasts no longer than that response time after
#:   the news: once a drop is in the forecast a site's lag is dispatch's own;
#: - ``forecast error beyond margin``: the load was within the dispatcher's own forecast of
#:   the interval less its margin, and the real value fell below it;
#: - ``site response lag``: over-draw of sites ramping down after a drop the forecast did show
#:   one response time before (the look-ahead should have covered it);
#: - ``load above the forecast region``: whatever is left; the load was above what the
#:   dispatcher's own forecast allowed.
EXCEEDANCE_CAUSES = (
    "site ignoring its cap",
    "emergency onset",
    "unit trip within the interval",
    "drop not in the forecast within the response time",
    "forecast error beyond margin",
    "emergency after onset",
    "site response lag",
    "staggered curtailment",
    "load above the forecast region",
)
#: Causes nobody can foresee inside an interval (or a site breaking its contract).
UNFORESEEN_CAUSES = EXCEEDANCE_CAUSES[:5]
#: Share of the planner's bound the year should absorb [-] (issue 5 target).
ENERGY_TARGET = 0.97


def zone_served_mw(result: SimulationResult) -> NDArray[np.float64]:
    """Metered flexible load per interval and zone [MW], shape (T, Z)."""
    onehot = np.zeros((result.contracts.n_sites, len(result.zone_ids)))
    onehot[np.arange(result.contracts.n_sites), result.contracts.zone_index] = 1.0
    return np.asarray(result.draw_mw @ onehot, dtype=float)


def compute_kpis(result: SimulationResult, *, runtime_s: float | None = None) -> dict[str, Any]:
    """Key figures of the year, as a JSON-ready dict.

    Parameters
    ----------
    result
        The simulated year.
    runtime_s
        Wall time of the run [s], recorded if given.

    Returns
    -------
    dict
        ``energy``, ``safety``, ``sites``, ``events``, ``ignoring_site``, ``stagger``,
        ``trouble``, ``reasons`` and ``run`` sections.
    """
    c = result.contracts
    step_h = result.step_h
    n_steps = result.cap_mw.shape[0]
    hours = n_steps * step_h
    cap, draw = result.cap_mw, result.draw_mw
    within = np.minimum(draw, cap)
    absorbed_mwh = float(draw.sum() * step_h)
    within_mwh = float(within.sum() * step_h)
    planner_mwh = float(c.expected_energy_mwh.sum())
    # Sites the platform suspended (the one that ignored its cap) lose energy by enforcement, not by
    # dispatch; the dispatch figure is judged on the sites that kept their licence all year.
    kept = result.flagged_step < 0
    kept_bound_mwh = float(c.expected_energy_mwh[kept].sum())
    kept_within_mwh = float(within[:, kept].sum() * step_h)
    kept_share = kept_within_mwh / kept_bound_mwh if kept_bound_mwh > 0 else None
    energy = {
        "absorbed_mwh": absorbed_mwh,
        "absorbed_within_caps_mwh": within_mwh,
        "planner_bound_mwh": planner_mwh,
        "share_of_planner_bound": within_mwh / planner_mwh if planner_mwh > 0 else None,
        "licensed_sites_planner_bound_mwh": kept_bound_mwh,
        "licensed_sites_absorbed_within_caps_mwh": kept_within_mwh,
        "licensed_sites_share_of_planner_bound": kept_share,
        "target_share": ENERGY_TARGET,
        "meets_target": bool(kept_share is not None and kept_share >= ENERGY_TARGET),
        "hindsight_bound_mwh": result.bound_hindsight_mwh,
        "share_of_hindsight_bound": (
            within_mwh / result.bound_hindsight_mwh if result.bound_hindsight_mwh > 0 else None
        ),
        "allocated_energy_mwh": float(c.allocated_mw.sum() * hours),
        # Caps lowered by the look-ahead and the room kept for sites ramping down, summed [MWh]:
        # the most they can have cost.
        "lookahead_cost_mwh": float(result.lookahead_mw.sum() * step_h),
    }

    served = zone_served_mw(result)
    safety = _safety(result, served, draw, cap)
    over_cap = np.maximum(draw - cap, 0.0)
    # Curtailment under the contract: below allocation, not under a suspended licence nor
    # outside the contract's dates (the one definition, offtake.dispatch.terms).
    curtailed = curtailed_intervals(cap, c.allocated_mw, result.reason)
    # Floors are released in a declared emergency (force majeure): only hours outside count.
    outside = ~result.emergency_zone[:, c.zone_index]
    terms = term_figures(cap, c, step_h, curtailed, floor_counted=outside)
    sites = []
    all_lengths: list[float] = []
    for i, site in enumerate(c.site_ids):
        alloc = float(c.allocated_mw[i])
        figures = terms[i]
        all_lengths.extend(figures.pop("lengths_h").tolist())
        depth = float(np.where(curtailed[:, i], (alloc - cap[:, i]) / alloc, 0.0).max()) if alloc > 0 else 0.0
        sites.append(
            {
                "site_id": site,
                "zone": result.zone_ids[c.zone_index[i]],
                "kind": SiteKind.AI.value if c.is_ai[i] else SiteKind.MINING.value,
                "allocated_mw": alloc,
                "energy_mwh": float(within[:, i].sum() * step_h),
                "expected_energy_mwh": float(c.expected_energy_mwh[i]),
                **figures,
                "deepest_curtailment": depth,
                "max_curtailment_fraction": float(c.max_curtailment_fraction[i]),
                "within_depth": bool(depth <= c.max_curtailment_fraction[i] + 1e-6),
                "suspended_hours": float((result.reason[:, i] == Reason.SUSPENDED).sum() * step_h),
                "over_draw_mwh": float(over_cap[:, i].sum() * step_h),
            }
        )
    lengths_all = np.asarray(all_lengths)
    events = {
        "count": int(lengths_all.size),
        "mean_h": float(lengths_all.mean()) if lengths_all.size else 0.0,
        "median_h": float(np.median(lengths_all)) if lengths_all.size else 0.0,
        "max_h": float(lengths_all.max()) if lengths_all.size else 0.0,
        "lengths_h": [round(x, 4) for x in lengths_all.tolist()],
    }

    ignoring: dict[str, Any] = {"site_id": None}
    flagged = [c.site_ids[i] for i in np.flatnonzero(result.flagged_step >= 0)]
    if result.ignoring_site is not None:
        i = result.ignoring_site
        f_step = int(result.flagged_step[i])
        first_over = np.flatnonzero(over_cap[:, i] > TOL_MW)
        ignoring = {
            "site_id": c.site_ids[i],
            "found": f_step >= 0,
            "flagged_at": result.index[f_step].isoformat() if f_step >= 0 else None,
            "first_over_draw_at": result.index[int(first_over[0])].isoformat() if first_over.size else None,
            "hours_to_detection": (
                float((f_step - first_over[0] + 1) * step_h) if f_step >= 0 and first_over.size else None
            ),
            "disconnected_at": (
                result.index[int(result.disconnected_step[i])].isoformat() if result.disconnected_step[i] >= 0 else None
            ),
            "over_draw_mwh": float(over_cap[:, i].sum() * step_h),
            "over_draw_before_flag_mwh": float(over_cap[: max(f_step + 1, 0), i].sum() * step_h)
            if f_step >= 0
            else float(over_cap[:, i].sum() * step_h),
            "peak_over_draw_mw": float(over_cap[:, i].max()),
        }
    ignoring["flagged_sites"] = flagged
    ignoring["false_positives"] = [s for s in flagged if s != ignoring.get("site_id")]

    reason_counts = np.bincount(result.reason.ravel().astype(np.int64), minlength=len(Reason))
    reasons = {r.name.lower(): int(reason_counts[r.value]) for r in Reason}
    stagger = {
        "intervals_with_deferred_curtailment": int((result.deferred_mw > TOL_MW).sum()),
        "max_deferred_mw": float(result.deferred_mw.max()) if n_steps else 0.0,
        "contingency_limit_mw": result.policy.contingency_limit_mw,
    }
    trouble = {
        "forced_outages": len(result.outages),
        "outage_unit_hours": float(sum((o.end - o.start) for o in result.outages) * step_h),
        "emergencies": [
            {
                "start": result.index[e.start].isoformat(),
                "duration_h": (e.end - e.start) * step_h,
                "zone": e.zone or "national",
                "severity": round(e.severity, 3),
            }
            for e in result.emergencies
        ],
    }
    run: dict[str, Any] = {
        "seed": result.seed,
        "step_s": result.step_s,
        "intervals": n_steps,
        "sites": c.n_sites,
        "start": result.index[0].isoformat(),
        "end": (result.index[-1] + (result.index[1] - result.index[0])).isoformat() if n_steps > 1 else None,
        "safety_k": result.policy.safety_k,
        "ramp_up_fraction_per_min": result.policy.ramp_up_fraction_per_min,
    }
    if runtime_s is not None:
        run["runtime_s"] = round(runtime_s, 3)
    return {
        "energy": energy,
        "safety": safety,
        "contracts": contract_breaches(sites, hours),
        "sites": sites,
        "events": events,
        "ignoring_site": ignoring,
        "stagger": stagger,
        "trouble": trouble,
        "reasons": reasons,
        "run": run,
    }


def _safety(
    result: SimulationResult, served: NDArray[np.float64], draw: NDArray[np.float64], cap: NDArray[np.float64]
) -> dict[str, Any]:
    """Check served load against the real region: per zone, nationally and over every zone set.

    Zone and national real surplus are both read off the same zone sets (the least value of
    the sets holding a zone, the value of all zones), so a zone never exceeds the nation and an
    interval over a zone's or the nation's real surplus is always one over some set.
    """
    c = result.contracts
    step_h = result.step_h
    n_z = len(result.zone_ids)
    excess = served - result.real_surplus_mw
    over_zone = excess > TOL_MW
    excess_pos = np.where(over_zone, excess, 0.0)
    joint = result.joint_excess_mw
    over = joint > TOL_MW
    safety: dict[str, Any] = {
        "intervals_over_real_surplus": int(over.sum()),
        "energy_over_real_surplus_mwh": float(np.maximum(joint, 0.0).sum() * step_h),
        "max_excess_mw": float(max(0.0, joint.max())) if joint.size else 0.0,
        "target_intervals": 0,
        "zone_intervals_over_real_surplus": int(over_zone.sum()),
        "zone_energy_over_real_surplus_mwh": float(excess_pos.sum() * step_h),
        "zone_sets": int(result.set_member.shape[0]),
    }
    if result.national_real_mw is not None:
        nat_excess = served.sum(axis=1) - result.national_real_mw
        safety["national_intervals_over_real_surplus"] = int((nat_excess > TOL_MW).sum())
        safety["national_energy_over_real_surplus_mwh"] = float(np.maximum(nat_excess, 0.0).sum() * step_h)
        gap = result.real_surplus_mw - result.national_real_mw[:, None]
        safety["zone_real_within_national"] = bool(np.all(gap <= TOL_MW))
    # Attribute each interval outside the region to a cause, on the zone set it left.
    member = result.set_member[result.joint_set]  # (T, Z): the zones of the set left
    onehot = np.zeros((c.n_sites, n_z))
    onehot[np.arange(c.n_sites), c.zone_index] = 1.0
    over_cap = np.maximum(draw - cap, 0.0)
    lag = ((over_cap @ onehot) * member).sum(axis=1)
    ignoring = np.zeros_like(lag)
    if result.ignoring_site is not None:
        i = result.ignoring_site
        ignoring = over_cap[:, i] * member[:, c.zone_index[i]]
    onset = _emergency_onset(result)
    in_emergency = (result.emergency_zone & member).any(axis=1)
    unforeseen_lag, within_forecast = _foreseen(result, served, over_cap, over, joint)
    masks = [
        ignoring >= joint - TOL_MW,
        (onset & member).any(axis=1),
        (result.new_outage_zone & member).any(axis=1),
        unforeseen_lag >= joint - TOL_MW,
        within_forecast,
        in_emergency,
        lag >= joint - TOL_MW,
        result.deferred_mw > TOL_MW,
        np.ones_like(over),
    ]
    causes: dict[str, dict[str, float]] = {}
    left = over.copy()
    hits: dict[str, NDArray[np.bool_]] = {}
    for name, mask in zip(EXCEEDANCE_CAUSES, masks, strict=True):
        hit = left & mask
        hits[name] = hit
        causes[name] = {"intervals": int(hit.sum()), "energy_mwh": float(joint[hit].sum() * step_h)}
        left &= ~hit
    # The unforeseen lag's longest run, against the longest planned response time it may last.
    allocated = result.contracts.allocated_mw > 0
    safety["unforeseen_lag"] = {
        "longest_run_s": _longest_run(hits[EXCEEDANCE_CAUSES[3]]) * result.step_s,
        "bound_s": float(_leads(result)[allocated].max(initial=1)) * result.step_s,
    }
    safety["by_cause"] = causes
    return safety


def _emergency_onset(result: SimulationResult) -> NDArray[np.bool_]:
    """Intervals within the sites' longest contracted response time of an emergency's start."""
    c = result.contracts
    longest = float(c.response_time_s.max()) if c.n_sites else 0.0
    steps = 1 + int(np.ceil(longest / result.step_s - 1e-9))
    onset = np.zeros_like(result.emergency_zone)
    zone_pos = {z: i for i, z in enumerate(result.zone_ids)}
    for event in result.emergencies:
        span = slice(event.start, min(event.end, event.start + steps))
        if event.zone is None:
            onset[span, :] = True
        else:
            onset[span, zone_pos[event.zone]] = True
    return onset


def _leads(result: SimulationResult) -> NDArray[np.int64]:
    """Each site's planned response time in whole intervals, at least one."""
    c = result.contracts
    ramp_s = c.response_time_s * (1.0 + result.policy.response_time_tolerance)
    return np.maximum(np.ceil(ramp_s / result.step_s - 1e-9), 1).astype(np.int64)


def _foreseen(
    result: SimulationResult,
    served: NDArray[np.float64],
    over_cap: NDArray[np.float64],
    over: NDArray[np.bool_],
    joint: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Read back the forecasts the dispatcher had, for every interval outside the real region.

    Returns, per interval, the over-draw of the sites on the set left whose forecast one
    planned response time before (less its margin) held the interval's load [MW], and
    whether the load was within the forecast of the interval itself less its margin.
    """
    c = result.contracts
    unforeseen = np.zeros(len(over))
    within = np.zeros(len(over), dtype=bool)
    trouble = result.trouble
    if trouble is None or result.sigma_mw.size == 0:
        return unforeseen, within
    k = result.policy.safety_k
    used = np.zeros(len(result.zone_ids), dtype=bool)
    used[c.zone_index] = True
    leads = _leads(result)
    for t in np.flatnonzero(over):
        row = int(result.joint_set[t])
        member = result.set_member[row]
        load = float(served[t, member].sum())
        zones = member & used

        def budget(made: int, step: int = int(t), row: int = row, zones: NDArray[np.bool_] = zones) -> float:
            if made < 0:  # before the year: no forecast existed
                return float("inf")
            value = float(trouble.forecast_at(made, step)[row])
            return value - k * float(np.sqrt((result.sigma_mw[made, zones] ** 2).sum()))

        within[t] = load <= budget(int(t)) + TOL_MW
        sites = np.flatnonzero(member[c.zone_index] & (over_cap[t] > TOL_MW))
        cache: dict[int, float] = {}
        for i in sites:
            made = int(t - leads[i])
            if made not in cache:
                cache[made] = budget(made)
            if load <= cache[made] + TOL_MW:
                unforeseen[t] += over_cap[t, i]
    return unforeseen, within


def _longest_run(mask: NDArray[np.bool_]) -> int:
    """Longest run of True in a row [intervals]."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return 0
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [idx.size - 1]])
    return int((ends - starts + 1).max())
