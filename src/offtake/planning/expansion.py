"""Capacity expansion: new solar, wind and storage the off-take pays for, added to the allocation model.

The candidates (technology, zone, profile, largest build) and their costs live in
``data/economics/expansion.toml`` with sources. A candidate's profile is a column of the scenario's
``profiles.csv`` or computed from physics at its zone (:mod:`offtake.planning.expansion_profiles`);
other costs of capital are compared by :mod:`offtake.planning.expansion_finance`.
:func:`expansion_case` binds them to a scenario and its sites; :func:`add_expansion` adds to the linopy
model of :func:`offtake.planning.model.build_model`:

* ``new_mw[candidate]`` (0 to the zone's limit) and ``new_gen[time, candidate]``, with
  ``new_avail``: ``new_gen <= profile x new_mw`` (output may be curtailed).
* Per storage zone ``store_mw[store]``, ``store_mwh[store]``, ``charge``, ``discharge`` and
  ``soc[time, store]`` [MW, MWh]: ``charge_max``, ``discharge_max`` (<= power, both measured on the
  grid side), ``soc_max`` (<= energy) and ``soc_balance``, cyclic over the period:
  ``soc[t] = soc[t-1] + eta x charge[t] x dt - discharge[t] x dt / eta`` with ``eta`` the square root
  of the round-trip efficiency.
* ``charge_from_new_<zone>``: a battery charges only from the new plants of its zone, so everything
  it gives back is new renewable energy.
* ``new_to_sites_<zone>``: what the new plants and batteries of a zone put into the grid (output -
  charge + discharge) is at most what the zone's sites draw in that interval. The build serves the
  programme's sites, never the existing demand: it is paid by the off-take and sold to no one else.

The zone balance then carries the sites' load less that injection, and the objective (margin) pays
the annualised capital cost and fixed O&M of what is built, pro rata to the period, and the variable
O&M of what is generated. Because a zone's injection never exceeds its sites' load, the sites' energy
in an interval is new renewable energy up to the injection and grid power (the surplus) beyond it;
:mod:`offtake.planning.expansion_results` reads the build, its cost per MWh and each site's
renewable share from the solution.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import linopy
import numpy as np
import pandas as pd
import xarray as xr

from offtake.economics.data import Quantity, data_path, load_table, quantity
from offtake.errors import InputError
from offtake.planning.expansion_profiles import SOURCE_PHYSICS, SOURCE_SCENARIO, candidate_profiles
from offtake.scenario import Scenario
from offtake.timeutil import HOURS_PER_YEAR
from offtake.units import KW_PER_MW

__all__ = [
    "DEFAULT_FILE",
    "ExpansionCase",
    "ExpansionData",
    "ExpansionVariables",
    "StorageCost",
    "TechnologyCost",
    "add_expansion",
    "annuity_factor",
    "expansion_case",
    "fix_build",
    "load_expansion",
]

#: The bundled candidates and costs.
DEFAULT_FILE = "expansion.toml"

#: Technologies with a profile (generation candidates) and the storage one.
GENERATION_TECHNOLOGIES = ("solar_pv", "wind")
STORAGE_TECHNOLOGY = "battery"


def annuity_factor(rate: float, years: float) -> float:
    """Capital recovery factor: the yearly payment that repays 1 over ``years`` at ``rate`` [1/year]."""
    if rate == 0:
        return 1.0 / years
    grow = float((1.0 + rate) ** years)
    return rate * grow / (grow - 1.0)


@dataclass(frozen=True)
class TechnologyCost:
    """Costs of a generation technology [USD/kW, USD/kW/year, USD/MWh, year]."""

    capex_usd_per_kw: float
    fixed_om_usd_per_kw_year: float
    variable_om_usd_per_mwh: float
    lifetime_years: float

    def annual_usd_per_mw(self, rate: float) -> float:
        """Annualised capital cost plus fixed O&M of 1 MW [USD/MW/year]."""
        capex = self.capex_usd_per_kw * annuity_factor(rate, self.lifetime_years)
        return (capex + self.fixed_om_usd_per_kw_year) * KW_PER_MW


@dataclass(frozen=True)
class StorageCost:
    """Costs and efficiency of a battery [USD/kWh, USD/kW, 1/year, -, year]."""

    energy_capex_usd_per_kwh: float
    power_capex_usd_per_kw: float
    fixed_om_fraction_of_capex: float
    round_trip_efficiency: float
    lifetime_years: float

    def _factor(self, rate: float) -> float:
        return annuity_factor(rate, self.lifetime_years) + self.fixed_om_fraction_of_capex

    def annual_usd_per_mw(self, rate: float) -> float:
        """Annualised cost of 1 MW of charge/discharge power [USD/MW/year]."""
        return self.power_capex_usd_per_kw * KW_PER_MW * self._factor(rate)

    def annual_usd_per_mwh(self, rate: float) -> float:
        """Annualised cost of 1 MWh of energy capacity [USD/MWh/year]."""
        return self.energy_capex_usd_per_kwh * KW_PER_MW * self._factor(rate)

    @property
    def one_way_efficiency(self) -> float:
        """Efficiency of charging, and of discharging [-] (the square root of the round trip)."""
        return float(np.sqrt(self.round_trip_efficiency))


@dataclass(frozen=True)
class ExpansionData:
    """Candidates and costs of a data file.

    Attributes
    ----------
    file
        Where they were read from.
    scenarios
        Scenario names whose zones the candidates name.
    discount_rate
        Real discount rate [-].
    technologies
        Costs per generation technology.
    storage
        Battery costs (None without battery candidates).
    generators
        One row per candidate (index ``<zone> <technology>``): ``zone``, ``technology``,
        ``profile`` (a column of the scenario's profiles, or the physics kind), ``profile_source``
        (``scenario`` or ``physics``, :mod:`offtake.planning.expansion_profiles`), ``max_mw``.
    stores
        One row per battery zone (index: zone): ``max_mw``, ``max_mwh``.
    sources
        Each number's source, keyed by its dotted name.
    finance_cases
        Other real discount rates to compare the build at, by case name [-]
        (``[finance.cases.<name>]``, e.g. concessional lending).
    """

    file: Path
    scenarios: tuple[str, ...]
    discount_rate: float
    technologies: dict[str, TechnologyCost]
    storage: StorageCost | None
    generators: pd.DataFrame
    stores: pd.DataFrame
    sources: dict[str, Quantity] = field(default_factory=dict)
    finance_cases: dict[str, float] = field(default_factory=dict)

    def with_discount_rate(self, rate: float, *, name: str = "discount_rate") -> ExpansionData:
        """Return these candidates and costs at another real discount rate [-].

        Raises
        ------
        InputError
            Naming ``name`` if ``rate`` is not in [0, 1].
        """
        if not (np.isfinite(rate) and 0.0 <= rate <= 1.0):
            raise InputError(f"must be a real discount rate in [0, 1], got {rate:g}", field=name)
        return replace(self, discount_rate=float(rate))


def load_expansion(path: str | Path | None = None) -> ExpansionData:
    """Read candidates and costs; the bundled ``expansion.toml`` when ``path`` is None.

    Raises
    ------
    InputError
        Naming the file and field of anything missing, unsourced or out of range.
    """
    doc, file = load_table(path if path is not None else data_path(DEFAULT_FILE))
    sources: dict[str, Quantity] = {}

    def number(table: dict[str, Any], key: str, prefix: str, *, low: float, high: float = np.inf) -> float:
        q = quantity(table, key, file, prefix)
        if not low <= q.value <= high or not np.isfinite(q.value):
            raise InputError(
                f"must be in [{low:g}, {high:g}], got {q.value:g}", file=file, field=f"{prefix}{key}.value"
            )
        sources[f"{prefix}{key}"] = q
        return q.value

    finance = _section(doc, "finance", file)
    rate = number(finance, "discount_rate", "finance.", low=0.0, high=1.0)
    cases = finance.get("cases", {})
    if not isinstance(cases, dict) or not all(isinstance(v, dict) for v in cases.values()):
        raise InputError("expected [finance.cases.<name>] tables", file=file, field="finance.cases")
    finance_cases = {
        name: number(table, "discount_rate", f"finance.cases.{name}.", low=0.0, high=1.0)
        for name, table in cases.items()
    }
    candidates = _section(doc, "candidates", file)
    technologies: dict[str, TechnologyCost] = {}
    rows: list[dict[str, Any]] = []
    for tech in candidates:
        if tech not in (*GENERATION_TECHNOLOGIES, STORAGE_TECHNOLOGY):
            raise InputError(
                f"unknown technology '{tech}' (known: {', '.join((*GENERATION_TECHNOLOGIES, STORAGE_TECHNOLOGY))})",
                file=file,
                field=f"candidates.{tech}",
            )
    for tech in GENERATION_TECHNOLOGIES:
        if tech not in candidates:
            continue
        costs = _section(_section(doc, "technologies", file), tech, file, f"technologies.{tech}")
        p = f"technologies.{tech}."
        technologies[tech] = TechnologyCost(
            capex_usd_per_kw=number(costs, "capex_usd_per_kw", p, low=0.0),
            fixed_om_usd_per_kw_year=number(costs, "fixed_om_usd_per_kw_year", p, low=0.0),
            variable_om_usd_per_mwh=number(costs, "variable_om_usd_per_mwh", p, low=0.0),
            lifetime_years=number(costs, "lifetime_years", p, low=1.0, high=100.0),
        )
        rows.extend(_generator_rows(candidates[tech], tech, file, number))
    storage, stores = _storage(doc, candidates, file, number)
    generators = pd.DataFrame(rows, columns=["candidate", "zone", "technology", "profile", "profile_source", "max_mw"])
    scenarios = doc.get("scenarios", [])
    if not isinstance(scenarios, list) or not all(isinstance(s, str) for s in scenarios):
        raise InputError("expected a list of scenario names", file=file, field="scenarios")
    return ExpansionData(
        file=file,
        scenarios=tuple(scenarios),
        discount_rate=rate,
        technologies=technologies,
        storage=storage,
        generators=generators.set_index("candidate"),
        stores=stores,
        sources=sources,
        finance_cases=finance_cases,
    )


def _section(doc: dict[str, Any], key: str, file: Path, name: str | None = None) -> dict[str, Any]:
    table = doc.get(key)
    if not isinstance(table, dict):
        raise InputError("missing table", file=file, field=name or key)
    return table


def _zones(table: dict[str, Any], file: Path, prefix: str) -> list[str]:
    zones = table.get("zones")
    if not isinstance(zones, list) or not zones or not all(isinstance(z, str) for z in zones):
        raise InputError("expected a non-empty list of zone ids", file=file, field=f"{prefix}zones")
    if len(set(zones)) != len(zones):
        raise InputError("a zone is listed twice", file=file, field=f"{prefix}zones")
    return list(zones)


def _generator_rows(table: Any, tech: str, file: Path, number: Any) -> list[dict[str, Any]]:
    prefix = f"candidates.{tech}."
    if not isinstance(table, dict):
        raise InputError("expected a table", file=file, field=prefix[:-1])
    profile, physics = table.get("profile"), table.get("physics")
    by_zone = table.get("profile_by_zone", {})
    if (profile is None) == (physics is None):
        raise InputError(
            "give exactly one of 'profile' (a column of the scenario's profiles) and 'physics' "
            "(a profile computed at each zone)",
            file=file,
            field=f"{prefix}profile",
        )
    name = profile if physics is None else physics
    if not isinstance(name, str) or not name:
        key = "profile" if physics is None else "physics"
        raise InputError("expected a non-empty name", file=file, field=f"{prefix}{key}")
    if not isinstance(by_zone, dict) or not all(isinstance(v, str) for v in by_zone.values()):
        raise InputError('expected zone = "profile" pairs', file=file, field=f"{prefix}profile_by_zone")
    max_mw = number(table, "max_mw_per_zone", prefix, low=0.0)
    source = SOURCE_SCENARIO if physics is None else SOURCE_PHYSICS
    return [
        {
            "candidate": f"{z} {tech}",
            "zone": z,
            "technology": tech,
            "profile": by_zone.get(z, name),
            "profile_source": SOURCE_SCENARIO if z in by_zone else source,
            "max_mw": max_mw,
        }
        for z in _zones(table, file, prefix)
    ]


def _storage(
    doc: dict[str, Any], candidates: dict[str, Any], file: Path, number: Any
) -> tuple[StorageCost | None, pd.DataFrame]:
    empty = pd.DataFrame({"max_mw": [], "max_mwh": []}, index=pd.Index([], name="store", dtype=object))
    table = candidates.get(STORAGE_TECHNOLOGY)
    if table is None:
        return None, empty
    if not isinstance(table, dict):
        raise InputError("expected a table", file=file, field=f"candidates.{STORAGE_TECHNOLOGY}")
    costs = _section(doc, "storage", file)
    p = "storage."
    storage = StorageCost(
        energy_capex_usd_per_kwh=number(costs, "energy_capex_usd_per_kwh", p, low=0.0),
        power_capex_usd_per_kw=number(costs, "power_capex_usd_per_kw", p, low=0.0),
        fixed_om_fraction_of_capex=number(costs, "fixed_om_fraction_of_capex", p, low=0.0, high=1.0),
        round_trip_efficiency=number(costs, "round_trip_efficiency", p, low=1e-3, high=1.0),
        lifetime_years=number(costs, "lifetime_years", p, low=1.0, high=100.0),
    )
    prefix = f"candidates.{STORAGE_TECHNOLOGY}."
    zones = _zones(table, file, prefix)
    max_mw = number(table, "max_mw_per_zone", prefix, low=0.0)
    max_mwh = number(table, "max_mwh_per_zone", prefix, low=0.0)
    stores = pd.DataFrame(
        {"max_mw": [max_mw] * len(zones), "max_mwh": [max_mwh] * len(zones)},
        index=pd.Index(zones, name="store", dtype=object),
    )
    return storage, stores


@dataclass(frozen=True)
class ExpansionCase:
    """Candidates bound to a scenario and its sites: what :func:`add_expansion` adds.

    Attributes
    ----------
    data
        The data file's candidates and costs.
    generators
        Candidates in zones with sites (same columns as ``data.generators``) with
        ``annual_usd_per_mw``, ``variable_om_usd_per_mwh`` and ``profile_used`` (where the profile
        came from, in words).
    profiles
        Per-unit output of each candidate per interval [-], shape (time, candidate).
    stores
        Battery zones that have sites and a generation candidate to charge from.
    horizon_share
        Share of a year the period is [-]: fixed costs are paid pro rata.
    notes
        Candidates left out, in words.
    fixed
        The build is given (``max_mw`` and ``max_mwh`` are what is built), not chosen: the
        model only dispatches it (see :func:`fix_build`).
    min_share
        Least share of all the sites' energy over the period that must come from the new build
        [-] (0: none; the row ``min_renewable_share``).
    """

    data: ExpansionData
    generators: pd.DataFrame
    profiles: np.ndarray
    stores: pd.DataFrame
    horizon_share: float
    notes: tuple[str, ...] = ()
    fixed: bool = False
    min_share: float = 0.0

    @property
    def storage(self) -> StorageCost | None:
        """Battery costs."""
        return self.data.storage


def expansion_case(
    scenario: Scenario, sites: pd.DataFrame, data: ExpansionData, *, min_share: float = 0.0
) -> ExpansionCase:
    """Bind candidates to a scenario: check zones and profiles, keep the zones that have sites.

    Parameters
    ----------
    scenario
        The scenario (its profile columns are read from its folder).
    sites
        Candidate sites (``zone`` column).
    data
        Candidates and costs.
    min_share
        Least share of the sites' energy over the period from the new build [-].

    Raises
    ------
    InputError
        If a candidate names a zone the scenario lacks or a profile its ``profiles.csv`` lacks,
        or ``min_share`` is outside [0, 1].
    """
    if not 0.0 <= min_share <= 1.0:
        raise InputError(f"must be a share in [0, 1], got {min_share:g}", field="min_share")
    zones = set(scenario.zone_ids)
    for i, (cid, row) in enumerate(data.generators.iterrows()):
        if row["zone"] not in zones:
            raise InputError(
                f"zone '{row['zone']}' ({cid}) is not in scenario {scenario.name}",
                file=data.file,
                field=f"candidates.{row['technology']}.zones[{i}]",
            )
    for z in data.stores.index:
        if z not in zones:
            raise InputError(
                f"zone '{z}' is not in scenario {scenario.name}",
                file=data.file,
                field=f"candidates.{STORAGE_TECHNOLOGY}.zones",
            )
    site_zones = set(sites["zone"])
    # every candidate's profile is checked, those in zones without sites too
    all_profiles, used = candidate_profiles(scenario, data.generators, data.file)
    keep = data.generators["zone"].isin(site_zones).to_numpy()
    gens = data.generators[keep].copy()
    gens["profile_used"] = np.asarray(used, dtype=object)[keep]
    rate = data.discount_rate
    gens["annual_usd_per_mw"] = [data.technologies[t].annual_usd_per_mw(rate) for t in gens["technology"]]
    gens["variable_om_usd_per_mwh"] = [data.technologies[t].variable_om_usd_per_mwh for t in gens["technology"]]
    stores = data.stores[data.stores.index.isin(site_zones) & data.stores.index.isin(set(gens["zone"]))]
    notes: list[str] = []
    left = sorted(set(data.stores.index) - set(stores.index))
    if left:
        notes.append(f"No battery considered in {', '.join(left)}: no site there, or no new plant to charge it from.")
    horizon_h = len(scenario.index) * scenario.duration_h
    return ExpansionCase(
        data=data,
        generators=gens,
        profiles=all_profiles[:, keep],
        stores=stores,
        horizon_share=horizon_h / HOURS_PER_YEAR,
        notes=tuple(notes),
        min_share=min_share,
    )


def fix_build(case: ExpansionCase, build: pd.DataFrame) -> ExpansionCase:
    """Return ``case`` with its build fixed to ``build`` (``built_mw``, ``built_mwh`` per asset).

    Parameters
    ----------
    case
        Candidates bound to a scenario (the same candidates ``build`` was chosen from).
    build
        The build table of :class:`offtake.planning.expansion_results.ExpansionResult`.
    """
    gens = case.generators.copy()
    gens["limit_mw"] = gens["max_mw"]
    gens["max_mw"] = build["built_mw"].reindex(gens.index).fillna(0.0).to_numpy(dtype=float)
    stores = case.stores.copy()
    assets = [f"{z} {STORAGE_TECHNOLOGY}" for z in stores.index]
    stores["limit_mw"], stores["limit_mwh"] = stores["max_mw"], stores["max_mwh"]
    stores["max_mw"] = build["built_mw"].reindex(assets).fillna(0.0).to_numpy(dtype=float)
    stores["max_mwh"] = build["built_mwh"].reindex(assets).fillna(0.0).to_numpy(dtype=float)
    # what is not built has no variables: a smaller LP for the whole period
    keep = (gens["max_mw"] > 0).to_numpy()
    stores = stores[(stores["max_mw"] > 0) & (stores["max_mwh"] > 0) & stores.index.isin(set(gens.loc[keep, "zone"]))]
    # the share target was met when sizing; with the build given it is a result, not a row
    return replace(
        case, generators=gens[keep], profiles=case.profiles[:, keep], stores=stores, fixed=True, min_share=0.0
    )


@dataclass(frozen=True)
class ExpansionVariables:
    """What :func:`add_expansion` gives back to the model builder.

    Attributes
    ----------
    injection
        Per zone with candidates: new output - charge + discharge, dims (time,) [MW].
    cost_usd
        Cost of the build over the period: fixed costs pro rata plus variable O&M [USD].
    """

    injection: dict[str, linopy.LinearExpression]
    cost_usd: linopy.LinearExpression


def add_expansion(
    m: linopy.Model, case: ExpansionCase, served: linopy.Variable, sites: pd.DataFrame, duration_h: float
) -> ExpansionVariables:
    """Add the candidates, batteries and their rows to ``m`` (see the module text).

    Parameters
    ----------
    m
        The allocation model, with ``served[time, site]``.
    case
        Candidates bound to the scenario.
    served
        Load served per interval and site [MW].
    sites
        Candidate sites (``zone`` column), in the order of ``served``'s ``site`` coordinate.
    duration_h
        Length of one interval [h].
    """
    time = served.indexes["time"]
    gens = case.generators
    cand = pd.Index(gens.index, name="candidate")
    limit = xr.DataArray(gens["max_mw"].to_numpy(dtype=float), coords=[cand])
    new_mw = m.add_variables(lower=limit if case.fixed else 0.0, upper=limit, name="new_mw")
    new_gen = m.add_variables(lower=0.0, coords=[time, cand], name="new_gen")
    m.add_constraints(new_gen - xr.DataArray(case.profiles, coords=[time, cand]) * new_mw <= 0.0, name="new_avail")
    share = case.horizon_share
    cost = (new_mw * xr.DataArray(gens["annual_usd_per_mw"].to_numpy(dtype=float) * share, coords=[cand])).sum()
    vom = gens["variable_om_usd_per_mwh"].to_numpy(dtype=float)
    if (vom > 0).any():
        cost = cost + (new_gen * xr.DataArray(vom * duration_h, coords=[cand])).sum()
    charge, discharge = None, None
    if len(case.stores) and case.storage is not None:
        charge, discharge, store_cost = _add_storage(m, case, time, duration_h)
        cost = cost + store_cost
    site_zone = sites["zone"].to_numpy()
    injection: dict[str, linopy.LinearExpression] = {}
    for zone in dict.fromkeys(gens["zone"]):
        out = new_gen.sel(candidate=gens.index[gens["zone"].to_numpy() == zone]).sum("candidate")
        if charge is not None and discharge is not None and zone in case.stores.index:
            m.add_constraints(charge.sel(store=zone) - out <= 0.0, name=f"charge_from_new_{zone}")
            out = out - charge.sel(store=zone) + discharge.sel(store=zone)
        load = served.sel(site=sites.index[site_zone == zone]).sum("site")
        m.add_constraints(out - load <= 0.0, name=f"new_to_sites_{zone}")
        injection[zone] = out
    if case.min_share > 0:
        if not injection:
            raise InputError("no candidate plant is in a zone with sites", field="min_share")
        parts = list(injection.values())
        delivered = parts[0]
        for part in parts[1:]:
            delivered = delivered + part
        m.add_constraints(delivered.sum() - case.min_share * served.sum() >= 0.0, name="min_renewable_share")
    return ExpansionVariables(injection=injection, cost_usd=cost)


def _add_storage(
    m: linopy.Model, case: ExpansionCase, time: pd.Index, duration_h: float
) -> tuple[linopy.Variable, linopy.Variable, linopy.LinearExpression]:
    """Batteries: power, energy, charge, discharge and a cyclic state of charge."""
    assert case.storage is not None
    store = pd.Index(case.stores.index, name="store")
    power_max = xr.DataArray(case.stores["max_mw"].to_numpy(dtype=float), coords=[store])
    energy_max = xr.DataArray(case.stores["max_mwh"].to_numpy(dtype=float), coords=[store])
    power = m.add_variables(lower=power_max if case.fixed else 0.0, upper=power_max, name="store_mw")
    energy = m.add_variables(lower=energy_max if case.fixed else 0.0, upper=energy_max, name="store_mwh")
    charge = m.add_variables(lower=0.0, coords=[time, store], name="charge")
    discharge = m.add_variables(lower=0.0, coords=[time, store], name="discharge")
    soc = m.add_variables(lower=0.0, coords=[time, store], name="soc")
    m.add_constraints(charge - power <= 0.0, name="charge_max")
    m.add_constraints(discharge - power <= 0.0, name="discharge_max")
    m.add_constraints(soc - energy <= 0.0, name="soc_max")
    eta = case.storage.one_way_efficiency
    m.add_constraints(
        soc - soc.roll(time=1) - (eta * duration_h) * charge + (duration_h / eta) * discharge == 0.0,
        name="soc_balance",
    )
    rate = case.data.discount_rate
    share = case.horizon_share
    cost = (power * (case.storage.annual_usd_per_mw(rate) * share)).sum() + (
        energy * (case.storage.annual_usd_per_mwh(rate) * share)
    ).sum()
    return charge, discharge, cost
