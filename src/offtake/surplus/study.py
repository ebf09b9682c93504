"""The regional surplus assessment as one job: baseline, surplus, tariff curve, sensitivity and headroom.

:func:`run_assessment` computes everything a planner reads; :func:`write_outputs` writes
``surplus.csv``, ``tariff_curve.csv``, ``sensitivity.csv`` (unless the sweep was left out),
``headroom.csv``, ``baseline.csv`` and ``report.html``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from offtake.grid.baseline import least_cost_dispatch
from offtake.progress import Progress
from offtake.scenario import Scenario
from offtake.surplus.assess import SurplusResult, assess_surplus, tariff_curve
from offtake.surplus.headroom import duke_seasonal_threshold, headroom
from offtake.surplus.network import ZoneCuts
from offtake.surplus.sensitivity import sensitivity as sensitivity_sweep

__all__ = ["DUKE_RATES", "TARIFF_GRID_USD_PER_MWH", "Assessment", "run_assessment", "write_outputs"]

#: Annual curtailment limits tested by the Duke study (Norris et al. 2025) [fraction].
DUKE_RATES = (0.0025, 0.005, 0.01, 0.05)
#: Tariffs of the tariff-surplus curve, 0 to 150 USD/MWh in steps of 5 [USD/MWh].
TARIFF_GRID_USD_PER_MWH = tuple(float(t) for t in range(0, 151, 5))
#: Flow within this share of a corridor limit counts as "at the limit" [-].
AT_LIMIT_SHARE = 0.999
NATIONAL = "national"


@dataclass(frozen=True)
class Assessment:
    """Everything the assessment computed.

    Attributes
    ----------
    scenario
        The scenario assessed.
    surplus
        Surplus per zone and nationally at the tariff.
    tariff_curve
        MW available in 50, 90 and 99 % of hours per tariff and area.
    headroom
        One row per area, threshold kind and curtailment rate.
    corridor_use
        Per corridor: limits, hours at the limit in each direction, mean flow [MW].
    generation_mix
        Baseline generation by technology [GWh and share].
    sensitivity
        Surplus with each fuel's price and the tariff moved one at a time
        (:func:`offtake.surplus.sensitivity.sensitivity`); None when left out.
    """

    scenario: Scenario
    surplus: SurplusResult
    tariff_curve: pd.DataFrame
    headroom: pd.DataFrame
    corridor_use: pd.DataFrame
    generation_mix: pd.DataFrame
    sensitivity: pd.DataFrame | None = None


def run_assessment(
    scenario: Scenario,
    tariff_usd_per_mwh: float | None = None,
    rates: tuple[float, ...] = DUKE_RATES,
    progress: Progress | None = None,
    *,
    with_sensitivity: bool = True,
) -> Assessment:
    """Assess surplus and headroom of a scenario.

    Parameters
    ----------
    scenario
        The scenario.
    tariff_usd_per_mwh
        Off-take tariff [USD/MWh]; the scenario's default if not given.
    rates
        Annual curtailment rates for headroom [fraction].
    progress
        Where to report the steps (five steps, four without the sensitivity).
    with_sensitivity
        Sweep each fuel's price and the tariff (:mod:`offtake.surplus.sensitivity`).

    Returns
    -------
    Assessment
        All results.
    """
    progress = progress or Progress(5 if with_sensitivity else 4, stream=None)
    progress.step("least-cost dispatch of existing demand (linopy + HiGHS)")
    baseline = least_cost_dispatch(scenario)
    progress.step("surplus per zone and hour (exact cut enumeration)")
    surplus = assess_surplus(scenario, tariff_usd_per_mwh, baseline=baseline)
    progress.step(f"tariff-surplus curve at {len(TARIFF_GRID_USD_PER_MWH)} tariffs")
    curve = tariff_curve(scenario, baseline, TARIFF_GRID_USD_PER_MWH)
    table_sens = None
    if with_sensitivity:
        progress.step("sensitivity to each fuel's price and to the tariff")
        cuts = ZoneCuts.from_scenario(scenario)
        table_sens = sensitivity_sweep(scenario, baseline, surplus.tariff_usd_per_mwh, cuts=cuts)
    progress.step("headroom per zone and national (Duke method)")
    table = _headroom_table(scenario, surplus, rates)
    return Assessment(
        scenario=scenario,
        surplus=surplus,
        tariff_curve=curve,
        headroom=table,
        corridor_use=_corridor_use(scenario, surplus),
        generation_mix=_generation_mix(scenario, surplus),
        sensitivity=table_sens,
    )


def _headroom_table(scenario: Scenario, surplus: SurplusResult, rates: tuple[float, ...]) -> pd.DataFrame:
    frames = []
    demand = scenario.demand_mw
    areas = {z: (demand[z], surplus.zone_mw[z]) for z in scenario.zone_ids}
    areas[NATIONAL] = (demand.sum(axis=1), surplus.national_mw)
    for area, (d, s) in areas.items():
        for kind, threshold in (
            ("deliverable_supply", d + s),
            ("duke_seasonal_peak", duke_seasonal_threshold(d, timezone=scenario.display_timezone)),
        ):
            result = headroom(d, threshold, rates, timezone=scenario.display_timezone)
            frame = result.to_frame().reset_index()
            frame.insert(0, "threshold", kind)
            frame.insert(0, "area", area)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _corridor_use(scenario: Scenario, surplus: SurplusResult) -> pd.DataFrame:
    flows = surplus.baseline.flow_mw
    rows = []
    for k, c in enumerate(scenario.corridors):
        f = flows[:, k]
        rows.append(
            {
                "corridor": c.id,
                "from": c.from_zone,
                "to": c.to_zone,
                "forward_mw": c.forward_mw,
                "reverse_mw": c.reverse_mw,
                "mean_flow_mw": float(f.mean()),
                "hours_at_forward_limit": int((f >= AT_LIMIT_SHARE * c.forward_mw).sum()) if c.forward_mw > 0 else 0,
                "hours_at_reverse_limit": int((-f >= AT_LIMIT_SHARE * c.reverse_mw).sum()) if c.reverse_mw > 0 else 0,
            }
        )
    return pd.DataFrame(rows)


def _generation_mix(scenario: Scenario, surplus: SurplusResult) -> pd.DataFrame:
    fleet = surplus.baseline.fleet
    tech = [name.split("|")[1] for name in fleet.names]
    energy_gwh = surplus.baseline.generation_mw.sum(axis=0) * scenario.duration_h / 1000.0
    mix = pd.Series(energy_gwh, index=tech).groupby(level=0).sum().sort_values(ascending=False)
    return pd.DataFrame({"energy_gwh": mix, "share": mix / mix.sum()})


def _time_columns(scenario: Scenario) -> pd.DataFrame:
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return pd.DataFrame(
        {
            "interval_start": scenario.index.strftime(fmt),
            "interval_end": scenario.interval_end.strftime(fmt),
        }
    )


def write_outputs(assessment: Assessment, out_dir: str | Path) -> dict[str, Path]:
    """Write the CSV files and the report into ``out_dir``.

    Parameters
    ----------
    assessment
        Results of :func:`run_assessment`.
    out_dir
        Output folder, created if missing.

    Returns
    -------
    dict
        File role to path.
    """
    from offtake.surplus.report import build_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    s = assessment.scenario
    surplus = _time_columns(s)
    for z in s.zone_ids:
        surplus[z] = np.round(assessment.surplus.zone_mw[z].to_numpy(), 1)
    surplus[NATIONAL] = np.round(assessment.surplus.national_mw.to_numpy(), 1)
    paths = {
        "surplus": out / "surplus.csv",
        "headroom": out / "headroom.csv",
        "tariff_curve": out / "tariff_curve.csv",
    }
    if assessment.sensitivity is not None:
        paths["sensitivity"] = out / "sensitivity.csv"
    paths["baseline"] = out / "baseline.csv"
    paths["report"] = out / "report.html"
    surplus.to_csv(paths["surplus"], index=False)
    assessment.headroom.to_csv(paths["headroom"], index=False, float_format="%.4f")
    assessment.tariff_curve.to_csv(paths["tariff_curve"], index=False, float_format="%.1f")
    if assessment.sensitivity is not None:
        assessment.sensitivity.to_csv(paths["sensitivity"], index=False, float_format="%.3f")
    baseline = _time_columns(s)
    base = assessment.surplus.baseline
    for zi, z in enumerate(s.zone_ids):
        baseline[f"price_{z}_usd_per_mwh"] = np.round(base.zone_price_usd_per_mwh[:, zi], 2)
    for k, c in enumerate(s.corridors):
        baseline[f"flow_{c.id}_mw"] = np.round(base.flow_mw[:, k], 1)
    baseline.to_csv(paths["baseline"], index=False)
    build_report(assessment).write(paths["report"])
    return paths
