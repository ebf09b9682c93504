"""Compare scenario years: surplus by zone and hour of day, headroom, and what the programme does to it.

:func:`run_outlook` runs, for each scenario, the same engines as ``offtake assess`` (the least-cost
baseline, the exact surplus per zone and nationally, the Duke headroom against deliverable supply) and
reduces them to what a comparison of years needs; :func:`write_outlook` writes the CSV files and the
HTML report (``offtake outlook``).

The programme is a flat load of ``programme_mw`` placed anywhere (the national surplus): in an hour it
*fits* when the national surplus is at least ``programme_mw``, and it *absorbs*
``min(programme_mw, national surplus)``; the rest of its energy would be curtailed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from offtake.errors import InputError
from offtake.grid.baseline import least_cost_dispatch
from offtake.progress import Progress
from offtake.scenario import Scenario
from offtake.surplus.assess import SurplusResult, assess_surplus, mw_in_share_of_hours
from offtake.surplus.headroom import headroom
from offtake.surplus.study import DUKE_RATES, NATIONAL

__all__ = ["Outlook", "YearOutlook", "default_programme_mw", "run_outlook", "summarise", "write_outlook"]

#: MWh per GWh.
_MWH_PER_GWH = 1000.0


def default_programme_mw(path: Path | None = None) -> float:
    """Return the announced programme [MW] from ``data/pakistan/programme.toml`` (or ``path``).

    Raises
    ------
    InputError
        If the file or its ``programme_mw`` value is missing or not a positive number.
    """
    path = path or Path(str(resources.files("offtake") / "data" / "pakistan" / "programme.toml"))
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", file=path) from None
    entry = raw.get("programme_mw")
    value = entry.get("value") if isinstance(entry, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InputError(f"expected {{value = <MW > 0>, source = ...}}, got {entry!r}", file=path, field="programme_mw")
    return float(value)


@dataclass(frozen=True)
class YearOutlook:
    """One scenario's figures.

    Attributes
    ----------
    scenario
        The scenario.
    surplus
        Its surplus per zone and nationally at its default tariff.
    by_hour
        Rows per area and local hour of day: mean surplus and mean demand [MW], and for the
        national area the share of such hours in which the programme fits [-].
    summary
        Rows per area: demand [GWh], mean surplus, MW in 90 % of hours, firm level and the
        headroom at each rate [MW].
    programme
        One row: the programme's fit and absorbed energy.
    """

    scenario: Scenario
    surplus: SurplusResult
    by_hour: pd.DataFrame
    summary: pd.DataFrame
    programme: pd.DataFrame


@dataclass(frozen=True)
class Outlook:
    """The comparison: one :class:`YearOutlook` per scenario, in the order given."""

    years: tuple[YearOutlook, ...]
    programme_mw: float
    rates: tuple[float, ...]

    def table(self, name: str) -> pd.DataFrame:
        """All scenarios' ``by_hour``, ``summary`` or ``programme`` rows, with a ``scenario`` column."""
        frames = [getattr(y, name).assign(scenario=y.scenario.name) for y in self.years]
        frame = pd.concat(frames, ignore_index=True)
        ordered: pd.DataFrame = frame[["scenario", *[c for c in frame.columns if c != "scenario"]]]
        return ordered


def _areas(scenario: Scenario, surplus: SurplusResult) -> dict[str, tuple[pd.Series, pd.Series]]:
    """Demand and surplus per area (each zone, then national) [MW]."""
    demand = scenario.demand_mw
    areas = {z: (demand[z], surplus.zone_mw[z]) for z in scenario.zone_ids}
    areas[NATIONAL] = (demand.sum(axis=1), surplus.national_mw)
    return areas


def summarise(
    scenario: Scenario, surplus: SurplusResult, programme_mw: float, rates: Sequence[float] = DUKE_RATES
) -> YearOutlook:
    """Reduce one scenario's surplus to the outlook's figures.

    Parameters
    ----------
    scenario
        The scenario.
    surplus
        Its surplus (:func:`offtake.surplus.assess_surplus`).
    programme_mw
        The programme's flat load [MW].
    rates
        Curtailment rates of the headroom [fraction].

    Returns
    -------
    YearOutlook
        The scenario's figures.
    """
    hour = pd.DatetimeIndex(scenario.index).tz_convert(scenario.display_timezone).hour
    areas = _areas(scenario, surplus)
    hour_rows: list[pd.DataFrame] = []
    summary_rows: list[dict[str, float | str]] = []
    for area, (demand, values) in areas.items():
        frame = pd.DataFrame({"surplus": values.to_numpy(), "demand": demand.to_numpy(), "hour": hour})
        grouped = frame.groupby("hour")
        rows = pd.DataFrame(
            {
                "area": area,
                "hour": grouped["surplus"].mean().index,
                "mean_surplus_mw": grouped["surplus"].mean().to_numpy(),
                "mean_demand_mw": grouped["demand"].mean().to_numpy(),
            }
        )
        if area == NATIONAL:
            fits = (frame["surplus"] >= programme_mw).groupby(frame["hour"]).mean()
            rows["programme_fits_share"] = fits.to_numpy()
        hour_rows.append(rows)
        result = headroom(demand, demand + values, rates, timezone=scenario.display_timezone)
        row: dict[str, float | str] = {
            "area": area,
            "demand_gwh": float(demand.sum()) * scenario.duration_h / _MWH_PER_GWH,
            "mean_surplus_mw": float(values.mean()),
            "mw_in_90pct_of_hours": float(mw_in_share_of_hours(values.to_numpy(), 0.9)),
            "firm_mw": result.firm_mw,
        }
        for rate in rates:
            row[f"headroom_{rate * 100:g}pct_mw"] = result.headroom_mw(rate)
        summary_rows.append(row)
    return YearOutlook(
        scenario=scenario,
        surplus=surplus,
        by_hour=pd.concat(hour_rows, ignore_index=True),
        summary=pd.DataFrame(summary_rows),
        programme=_programme(scenario, surplus.national_mw, programme_mw, rates),
    )


def _programme(scenario: Scenario, national: pd.Series, programme_mw: float, rates: Sequence[float]) -> pd.DataFrame:
    """Tabulate what a flat ``programme_mw`` load placed anywhere gets from the national surplus.

    ``headroom_after_<rate>pct_mw`` is the national headroom (deliverable-supply threshold) left
    for further flat load once the programme takes what it absorbs in each hour [MW].
    """
    national_mw = national.to_numpy()
    hours = len(national_mw) * scenario.duration_h
    absorbed_mw = np.minimum(national_mw, programme_mw)
    wanted_gwh = programme_mw * hours / _MWH_PER_GWH
    absorbed_gwh = float(absorbed_mw.sum()) * scenario.duration_h / _MWH_PER_GWH
    row: dict[str, float] = {
        "programme_mw": programme_mw,
        "share_of_hours_fits": float((national_mw >= programme_mw).mean()),
        "share_of_hours_none": float((national_mw <= 0).mean()),
        "absorbed_gwh": absorbed_gwh,
        "absorbed_share": absorbed_gwh / wanted_gwh,
        "curtailed_gwh": wanted_gwh - absorbed_gwh,
        "mean_surplus_after_mw": float((national_mw - absorbed_mw).mean()),
    }
    demand = scenario.demand_mw.sum(axis=1)
    after = headroom(demand + absorbed_mw, demand + national, rates, timezone=scenario.display_timezone)
    for rate in rates:
        row[f"headroom_after_{rate * 100:g}pct_mw"] = after.headroom_mw(rate)
    return pd.DataFrame([row])


def run_outlook(
    scenarios: Sequence[Scenario],
    programme_mw: float,
    rates: Sequence[float] = DUKE_RATES,
    progress: Progress | None = None,
) -> Outlook:
    """Assess each scenario at its default tariff and summarise it for the comparison.

    Parameters
    ----------
    scenarios
        The scenarios, in the order the report shows them; names must differ.
    programme_mw
        The programme's flat load [MW], > 0.
    rates
        Curtailment rates of the headroom [fraction].
    progress
        Where to report: two steps per scenario.

    Returns
    -------
    Outlook
        One :class:`YearOutlook` per scenario.
    """
    if not programme_mw > 0 or not np.isfinite(programme_mw):
        raise InputError(f"must be > 0 [MW], got {programme_mw:g}", field="--programme-mw")
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names) or not names:
        raise InputError(f"give two or more different scenarios, got {', '.join(names) or 'none'}", field="--scenarios")
    progress = progress or Progress(2 * len(scenarios), stream=None)
    years = []
    for scenario in scenarios:
        progress.step(f"{scenario.name}: least-cost dispatch of existing demand (linopy + HiGHS)")
        baseline = least_cost_dispatch(scenario)
        progress.step(f"{scenario.name}: surplus per zone and hour, headroom, the programme")
        years.append(summarise(scenario, assess_surplus(scenario, baseline=baseline), programme_mw, rates))
    return Outlook(years=tuple(years), programme_mw=float(programme_mw), rates=tuple(rates))


def write_outlook(outlook: Outlook, out_dir: str | Path) -> dict[str, Path]:
    """Write ``surplus_by_hour.csv``, ``summary.csv``, ``programme.csv`` and ``report.html`` into ``out_dir``.

    Returns
    -------
    dict
        File role to path.
    """
    from offtake.surplus.outlook_report import build_outlook_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "by_hour": out / "surplus_by_hour.csv",
        "summary": out / "summary.csv",
        "programme": out / "programme.csv",
        "report": out / "report.html",
    }
    outlook.table("by_hour").to_csv(paths["by_hour"], index=False, float_format="%.2f")
    outlook.table("summary").to_csv(paths["summary"], index=False, float_format="%.2f")
    outlook.table("programme").to_csv(paths["programme"], index=False, float_format="%.4f")
    build_outlook_report(outlook).write(paths["report"])
    return paths
