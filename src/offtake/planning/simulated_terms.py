"""A plan's contract terms read against simulated years: what the report flags before any run.

The plan's own check (:mod:`offtake.planning.terms_check`) reads the planner's hourly
dispatch, which knows no forecast error, forced outage, emergency or response lag. Dispatch
meets all of them: on the bundled year the two Islamabad AI sites' floors were cut for 2 h
(seed 3) by the national limit while a zonal emergency in *another* zone (LESCO, severity
0.95) took that zone's surplus from every zone set holding it, the national set too; the
floors are released only in an emergency of the site's own zone, and the firm margin
(:mod:`offtake.planning.firm`) leaves emergencies out. So the plan command simulates the year
it planned on a few seeds, with the very code of ``offtake simulate`` (a driver-level step,
:mod:`offtake.simulation.plan_check`: planning cannot import the simulator), and this module
holds what came out, for the report, the command line and ``terms_check.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from offtake.planning.terms_check import PlanTermsCheck

__all__ = ["TERMS_CHECK_COLUMNS", "SimulatedRun", "SimulatedTerms", "terms_check_frame", "write_terms_check_csv"]

#: Columns of ``terms_check.csv``.
TERMS_CHECK_COLUMNS = ("site_id", "term", "source", "seed", "limit", "actual", "excess", "excess_unit", "cause")


@dataclass(frozen=True)
class SimulatedRun:
    """One simulated year of the plan.

    Attributes
    ----------
    seed
        Seed of the year's trouble (as ``offtake simulate --seed``).
    ignoring_site
        Site drawn to ignore its cap that year (suspended once found), or None.
    breaches
        Entries of ``kpis.json`` ``contracts.breaches``, each with a ``cause`` in words.
    """

    seed: int
    ignoring_site: str | None
    breaches: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class SimulatedTerms:
    """Which planned sites break their contract terms in the simulated years, and by how much.

    Attributes
    ----------
    step_s
        Dispatch step of the runs [s].
    runs
        One entry per seed.
    rule
        What was run, in words.
    """

    step_s: float
    runs: list[SimulatedRun] = field(default_factory=list)
    rule: str = ""

    @property
    def seeds(self) -> list[int]:
        """The seeds run."""
        return [r.seed for r in self.runs]

    @property
    def sites_breaking_terms(self) -> list[str]:
        """Ids of the sites with a breach in any run, sorted."""
        return sorted({str(b["site_id"]) for r in self.runs for b in r.breaches})

    def by_site(self) -> list[dict[str, Any]]:
        """One row per site and term broken: the seeds it broke in and the worst figure.

        Returns
        -------
        list of dict
            ``site_id``, ``term``, ``seeds`` (list), ``limit``, ``worst`` (the largest
            ``actual``: rate [-], longest event [h] or hours below the floor [h]), ``unit``
            and ``cause`` (of the worst run).
        """
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for run in self.runs:
            for b in run.breaches:
                key = (str(b["site_id"]), str(b["term"]))
                row = rows.setdefault(
                    key,
                    {"site_id": key[0], "term": key[1], "seeds": [], "limit": float(b["limit"]), "worst": -1.0},
                )
                row["seeds"].append(run.seed)
                if float(b["actual"]) > row["worst"]:
                    row["worst"], row["cause"] = float(b["actual"]), str(b.get("cause", ""))
        for row in rows.values():
            row["unit"] = _UNITS[row["term"]]
        return sorted(rows.values(), key=lambda r: (r["site_id"], r["term"]))

    def lines(self) -> list[str]:
        """One plain-language line per site and term broken in some simulated year."""
        return [_describe(row, len(self.runs), self.step_s) for row in self.by_site()]


_UNITS = {"annual_curtailment_limit": "share of allocated energy", "max_curtailment_duration_h": "h", "floor": "h"}


def _describe(row: dict[str, Any], n_runs: int, step_s: float) -> str:
    """Say one site's breach of one term over the simulated years."""
    seeds = ", ".join(str(s) for s in row["seeds"])
    where = f"in {len(row['seeds'])} of {n_runs} simulated years at {step_s / 60:g} min (seed {seeds})"
    term = row["term"]
    if term == "annual_curtailment_limit":
        what = (
            f"curtailment up to {100 * row['worst']:.2f} % of allocated energy against a limit of "
            f"{100 * row['limit']:.2f} %"
        )
    elif term == "max_curtailment_duration_h":
        what = f"longest curtailment event up to {round(row['worst'], 2):g} h against a limit of {row['limit']:g} h"
    else:
        hours = round(row["worst"], 2)
        what = f"below its floor of {row['limit']:,.1f} MW outside its zone's emergencies for up to {hours:g} h"
    cause = f"; {row['cause']}" if row.get("cause") else ""
    return f"{row['site_id']}: {what} {where}{cause}"


def _excess(breach: dict[str, Any]) -> tuple[float, str]:
    """Return a breach's excess in the term's unit (as the plan's own check's table)."""
    term = breach["term"]
    if term == "annual_curtailment_limit":
        return float(breach["excess_mwh"]), "MWh"
    if term == "max_curtailment_duration_h":
        return float(breach["actual"] - breach["limit"]), "h"
    return float(breach["hours_below"]), "h below floor"


def terms_check_frame(planned: PlanTermsCheck | None, simulated: SimulatedTerms | None) -> pd.DataFrame:
    """Every breach the plan knows before it is run: its own year's, then each simulated year's.

    Parameters
    ----------
    planned
        The plan's own check, or None.
    simulated
        The simulated years, or None (not run).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TERMS_CHECK_COLUMNS`; ``source`` is ``plan`` or ``simulated``, ``seed``
        empty for the plan's own year.
    """
    rows: list[dict[str, Any]] = []
    sources: list[tuple[str, int | None, list[dict[str, Any]]]] = []
    if planned is not None:
        sources.append(("plan", None, planned.breaches))
    sources.extend(("simulated", run.seed, run.breaches) for run in (simulated.runs if simulated else []))
    for source, seed, breaches in sources:
        for b in breaches:
            excess, unit = _excess(b)
            rows.append(
                {
                    "site_id": b["site_id"],
                    "term": b["term"],
                    "source": source,
                    "seed": seed,
                    "limit": float(b["limit"]),
                    "actual": float(b["actual"]),
                    "excess": excess,
                    "excess_unit": unit,
                    "cause": str(b.get("cause", "")),
                }
            )
    frame = pd.DataFrame(rows, columns=list(TERMS_CHECK_COLUMNS))
    frame["seed"] = frame["seed"].astype("Int64")
    return frame


def write_terms_check_csv(planned: PlanTermsCheck | None, simulated: SimulatedTerms | None, path: str | Path) -> Path:
    """Write ``terms_check.csv``: one row per breach (:func:`terms_check_frame`); a header alone when none."""
    out = Path(path)
    terms_check_frame(planned, simulated).to_csv(out, index=False)
    return out
