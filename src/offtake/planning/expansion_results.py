"""What the expansion option says: what to build where, what it costs a MWh, how renewable each site is.

Renewable share, as this module defines it: in each interval and zone, the new plants and batteries
put ``injection = output - charge + discharge`` into the grid, and the LP keeps it at most the load of
the zone's sites (:mod:`offtake.planning.expansion`). That energy exists only because the off-take
paid for it and goes to no one else, so the sites of the zone draw it first; the rest of their load
is grid power (the surplus). A site's renewable share in an interval is ``injection / load of the
zone's sites``, the same for every site of the zone (they share the zone's supply pro rata to what
they draw), and nothing where the site draws nothing. Existing renewables in the grid mix are not
counted: they would run without the programme (the hourly certificates of
:mod:`offtake.certificates` account for them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import linopy
import numpy as np
import pandas as pd

from offtake.planning.expansion import STORAGE_TECHNOLOGY, ExpansionCase
from offtake.planning.results import PlanResult
from offtake.timeutil import HOURS_PER_YEAR

__all__ = ["ExpansionResult", "add_expansion_result", "read_expansion", "write_renewable_share_csv"]

#: Built capacity below this is read as nothing (solver accuracy, not a world number) [MW or MWh].
BUILT_ZERO = 1e-3


@dataclass
class ExpansionResult:
    """The build of one plan.

    Attributes
    ----------
    build
        One row per candidate and battery (index ``<zone> <technology>``): ``zone``, ``technology``,
        ``profile`` (where a generator's profile came from, in words), ``built_mw``, ``max_mw``,
        ``built_mwh`` and ``max_mwh`` (batteries), ``energy_mwh`` (generated, or discharged),
        ``curtailed_mwh`` (what the built plant could have made and did not), ``capacity_factor`` [-]
        and ``cost_usd`` over the period.
    zones
        Per zone with candidates: ``solar_mw``, ``wind_mw``, ``battery_mw``, ``battery_mwh``,
        ``site_energy_mwh``, ``renewable_energy_mwh`` (delivered to the sites), ``renewable_share``,
        ``cost_usd``, ``cost_usd_per_mwh``; and a ``national`` row.
    site_share
        Per site: ``energy_mwh``, ``renewable_energy_mwh``, ``renewable_share`` over the period.
    share
        Renewable share per interval and site [-] (NaN where the site draws nothing).
    renewable_mw
        New renewable power delivered per interval and site [MW].
    generation_mw
        Output of each built candidate per interval [MW] (columns as ``build``'s generators).
    charge_mw, discharge_mw, soc_mwh
        Per interval and battery zone: charge and discharge (grid side) [MW], state of charge [MWh].
    totals
        ``cost_usd`` (period), ``cost_usd_per_year``, ``renewable_energy_mwh`` (delivered),
        ``cost_usd_per_mwh`` (of delivered new energy), ``generated_mwh``, ``curtailed_mwh``,
        ``storage_loss_mwh``, ``renewable_share`` (of all site energy).
    notes
        Caveats in words.
    sources
        The data file and each number's source.
    finance
        The build at other costs of capital
        (:func:`offtake.planning.expansion_finance.finance_sensitivity`), when asked for.
    finance_basis
        What period ``finance``'s rows were sized and read on, in words.
    """

    build: pd.DataFrame
    zones: pd.DataFrame
    site_share: pd.DataFrame
    share: pd.DataFrame
    renewable_mw: pd.DataFrame
    generation_mw: pd.DataFrame
    charge_mw: pd.DataFrame
    discharge_mw: pd.DataFrame
    soc_mwh: pd.DataFrame
    totals: dict[str, float]
    notes: list[str]
    sources: dict[str, str]
    finance: pd.DataFrame | None = None
    finance_basis: str = ""


def read_expansion(
    case: ExpansionCase, model: linopy.Model, sites: pd.DataFrame, served_mw: pd.DataFrame, duration_h: float
) -> ExpansionResult:
    """Read the build, its cost and the sites' renewable share from a solved plan.

    Parameters
    ----------
    case
        The candidates the model was built with.
    model
        The solved allocation model.
    sites
        Candidate sites (``zone``).
    served_mw
        Load served per interval and site [MW], as the plan reads it.
    duration_h
        Length of one interval [h].
    """
    sol = model.solution
    gens = case.generators
    built = _clean(sol["new_mw"].to_series().reindex(gens.index).to_numpy(dtype=float))
    gen = np.clip(sol["new_gen"].transpose("time", "candidate").to_numpy(), 0.0, None)
    rate = case.data.discount_rate
    rows = [
        _generator_row(case, cid, built[i], gen[:, i], case.profiles[:, i], duration_h)
        for i, cid in enumerate(gens.index)
    ]
    charge = np.zeros((len(served_mw), len(case.stores)))
    discharge = np.zeros_like(charge)
    soc = np.zeros_like(charge)
    if len(case.stores) and case.storage is not None:
        charge = np.clip(sol["charge"].transpose("time", "store").to_numpy(), 0.0, None)
        discharge = np.clip(sol["discharge"].transpose("time", "store").to_numpy(), 0.0, None)
        soc = np.clip(sol["soc"].transpose("time", "store").to_numpy(), 0.0, None)
        power = _clean(sol["store_mw"].to_series().reindex(case.stores.index).to_numpy(dtype=float))
        energy = _clean(sol["store_mwh"].to_series().reindex(case.stores.index).to_numpy(dtype=float))
        for j, zone in enumerate(case.stores.index):
            cost = (
                power[j] * case.storage.annual_usd_per_mw(rate) + energy[j] * case.storage.annual_usd_per_mwh(rate)
            ) * case.horizon_share
            rows.append(
                {
                    "asset": f"{zone} {STORAGE_TECHNOLOGY}",
                    "zone": zone,
                    "technology": STORAGE_TECHNOLOGY,
                    "profile": "",
                    "built_mw": power[j],
                    "max_mw": float(case.stores.get("limit_mw", case.stores["max_mw"]).to_numpy(dtype=float)[j]),
                    "built_mwh": energy[j],
                    "max_mwh": float(case.stores.get("limit_mwh", case.stores["max_mwh"]).to_numpy(dtype=float)[j]),
                    "energy_mwh": float(discharge[:, j].sum() * duration_h),
                    "curtailed_mwh": 0.0,
                    "capacity_factor": np.nan,
                    "cost_usd": cost,
                }
            )
    build = pd.DataFrame(rows).set_index("asset")
    renewable = _delivered(case, sites, served_mw, gen, charge, discharge)
    share = pd.DataFrame(
        np.where(
            served_mw.to_numpy() > 0,
            renewable.to_numpy() / np.where(served_mw.to_numpy() > 0, served_mw.to_numpy(), 1.0),
            np.nan,
        ),
        index=served_mw.index,
        columns=served_mw.columns,
    )
    site_share = _site_share(served_mw, renewable, duration_h)
    zones = _zone_table(build, sites, site_share)
    totals = _totals(build, zones, gen, charge, discharge, duration_h, case.horizon_share)
    notes = list(case.notes)
    if case.min_share > 0:
        notes.append(f"The build is sized to give the sites at least {100 * case.min_share:g} % of their energy.")
    notes.append(
        "New plants serve only the programme's sites: in every hour a zone's new output (less battery "
        "charging, plus discharging) is at most what its sites draw; output beyond that is curtailed or stored."
    )
    sources = {
        "file": str(case.data.file),
        **{
            k: f"{q.value:g} {q.unit}: {q.source}" + (" [estimate]" if q.estimate else "")
            for k, q in case.data.sources.items()
        },
    }
    index = served_mw.index

    def frame(values: np.ndarray, columns: pd.Index) -> pd.DataFrame:
        return pd.DataFrame(values, index=index, columns=columns)

    stores = pd.Index(case.stores.index, name="store")
    return ExpansionResult(
        build=build,
        zones=zones,
        site_share=site_share,
        share=share,
        renewable_mw=renewable,
        generation_mw=frame(gen, pd.Index(gens.index, name="candidate")),
        charge_mw=frame(charge, stores),
        discharge_mw=frame(discharge, stores),
        soc_mwh=frame(soc, stores),
        totals=totals,
        notes=notes,
        sources=sources,
    )


def _clean(values: np.ndarray) -> np.ndarray:
    return np.where(values > BUILT_ZERO, values, 0.0)


def _generator_row(
    case: ExpansionCase, cid: str, built: float, gen: np.ndarray, profile: np.ndarray, dt: float
) -> dict[str, Any]:
    row = case.generators.loc[cid].to_dict()
    energy = float(gen.sum() * dt)
    possible = float(profile.sum() * built * dt)
    hours = len(gen) * dt
    return {
        "asset": cid,
        "zone": row["zone"],
        "technology": row["technology"],
        "profile": row.get("profile_used", row["profile"]),
        "built_mw": built,
        "max_mw": float(row.get("limit_mw", row["max_mw"])),
        "built_mwh": np.nan,
        "max_mwh": np.nan,
        "energy_mwh": energy,
        "curtailed_mwh": max(possible - energy, 0.0),
        "capacity_factor": energy / (built * hours) if built > 0 else np.nan,
        "cost_usd": built * float(row["annual_usd_per_mw"]) * case.horizon_share
        + energy * float(row["variable_om_usd_per_mwh"]),
    }


def _delivered(
    case: ExpansionCase,
    sites: pd.DataFrame,
    served_mw: pd.DataFrame,
    gen: np.ndarray,
    charge: np.ndarray,
    discharge: np.ndarray,
) -> pd.DataFrame:
    """Return the new renewable power each site draws per interval [MW]: its zone's injection pro rata."""
    served = served_mw.to_numpy(dtype=float)
    out = np.zeros_like(served)
    site_zone = sites.loc[served_mw.columns, "zone"].to_numpy()
    gen_zone = case.generators["zone"].to_numpy()
    for zone in dict.fromkeys(gen_zone):
        inject = gen[:, gen_zone == zone].sum(axis=1)
        if zone in case.stores.index:
            j = case.stores.index.get_loc(zone)
            inject = inject - charge[:, j] + discharge[:, j]
        cols = site_zone == zone
        load = served[:, cols].sum(axis=1)
        inject = np.clip(inject, 0.0, load)  # at most the load (the LP row), solver noise removed
        ratio = np.divide(inject, load, out=np.zeros_like(load), where=load > 0)
        out[:, cols] = served[:, cols] * ratio[:, None]
    return pd.DataFrame(out, index=served_mw.index, columns=served_mw.columns)


def _site_share(served_mw: pd.DataFrame, renewable: pd.DataFrame, dt: float) -> pd.DataFrame:
    energy = served_mw.sum(axis=0) * dt
    new = renewable.sum(axis=0) * dt
    return pd.DataFrame(
        {
            "energy_mwh": energy,
            "renewable_energy_mwh": new,
            "renewable_share": (new / energy.where(energy > 0)).astype(float),
        }
    )


def _zone_table(build: pd.DataFrame, sites: pd.DataFrame, site_share: pd.DataFrame) -> pd.DataFrame:
    rows = []
    zone_of = sites.loc[site_share.index, "zone"]
    for zone in dict.fromkeys(build["zone"]):
        b = build[build["zone"] == zone]
        s = site_share[zone_of.to_numpy() == zone]
        rows.append(_zone_row(zone, b, s))
    table = pd.DataFrame(rows).set_index("zone")
    table.loc["national"] = {k: v for k, v in _zone_row("national", build, site_share).items() if k != "zone"}
    return table


def _zone_row(zone: str, b: pd.DataFrame, s: pd.DataFrame) -> dict[str, Any]:
    def mw(tech: str, column: str = "built_mw") -> float:
        return float(b.loc[b["technology"] == tech, column].sum())

    new = float(s["renewable_energy_mwh"].sum())
    energy = float(s["energy_mwh"].sum())
    cost = float(b["cost_usd"].sum())
    return {
        "zone": zone,
        "solar_mw": mw("solar_pv"),
        "wind_mw": mw("wind"),
        "battery_mw": mw(STORAGE_TECHNOLOGY),
        "battery_mwh": mw(STORAGE_TECHNOLOGY, "built_mwh"),
        "site_energy_mwh": energy,
        "renewable_energy_mwh": new,
        "renewable_share": new / energy if energy > 0 else np.nan,
        "cost_usd": cost,
        "cost_usd_per_mwh": cost / new if new > 0 else np.nan,
    }


def _totals(
    build: pd.DataFrame,
    zones: pd.DataFrame,
    gen: np.ndarray,
    charge: np.ndarray,
    discharge: np.ndarray,
    dt: float,
    horizon_share: float,
) -> dict[str, float]:
    nat = zones.loc["national"].to_dict()
    cost = float(nat["cost_usd"])
    return {
        "cost_usd": cost,
        "cost_usd_per_year": cost / horizon_share if horizon_share > 0 else np.nan,
        "renewable_energy_mwh": float(nat["renewable_energy_mwh"]),
        "cost_usd_per_mwh": float(nat["cost_usd_per_mwh"]),
        "generated_mwh": float(gen.sum() * dt),
        "curtailed_mwh": float(build["curtailed_mwh"].sum()),
        "storage_loss_mwh": float((charge.sum() - discharge.sum()) * dt),
        "renewable_share": float(nat["renewable_share"]),
        "hours_per_year": float(HOURS_PER_YEAR),
    }


def write_renewable_share_csv(result: ExpansionResult, path: Path) -> None:
    """Write each site's renewable share per interval: ``interval_start``, then one column per site [-].

    Empty where the site draws nothing in the interval; times in UTC (ISO 8601).
    """
    table = result.share.copy()
    table.index = pd.DatetimeIndex(table.index).strftime("%Y-%m-%dT%H:%M:%SZ")
    table.index.name = "interval_start"
    table.round(6).to_csv(path, na_rep="")


def add_expansion_result(plan: PlanResult, expansion: ExpansionResult) -> None:
    """Attach the build to a plan and take its cost off the plan's net margin.

    ``national`` gains ``new_build_cost_usd`` (period) and ``net_margin_before_build_usd``;
    ``net_margin_usd``, its yearly figure and the share of capacity payments it offsets are after
    the build's cost.
    """
    nat = plan.national
    cost = expansion.totals["cost_usd"]
    before = float(nat["net_margin_usd"])
    nat["net_margin_before_build_usd"] = before
    nat["new_build_cost_usd"] = cost
    nat["net_margin_usd"] = before - cost
    nat["net_margin_usd_per_year"] = (before - cost) * plan.annual_factor
    share = nat.get("capacity_payments_offset_share")
    if share is not None and before != 0:
        nat["capacity_payments_offset_share"] = share * (before - cost) / before
    plan.expansion = expansion
    plan.notes.extend(expansion.notes)
