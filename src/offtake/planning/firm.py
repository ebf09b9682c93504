"""Firm tranches within the firm deliverable surplus: what dispatch can keep, after a margin.

Dispatch serves AI firm tranches first, but only within the real deliverable region: every
set of zones ``U`` takes at most ``value(U)`` of extra load (the assessment's cuts,
:func:`offtake.surplus.assess.set_surplus`), and the real value falls below the scheduled one
when units trip or demand runs above its forecast. A firm tranche is served in every interval,
so the firm MW of the sites in ``U`` must fit the *least* value of ``U`` over the period less
a margin for those two:

``sum_{s in U} firm_s <= min_t [ value(U, t) - z x sqrt(var_demand + var_outage(U)) - h x sqrt(var_demand) ]``

* ``var_demand(U, t) = sum_{z in U} (demand_error_rel_sigma x demand(z, t))^2``: independent
  zone forecast errors, the simulated year's model (``data/dispatch/defaults.toml``,
  ``[forecast]``);
* ``var_outage(U) = sum over units in U of FOR (1 - FOR) unit_mw^2``: independent forced
  outages of the units that make the surplus (dispatchable, marginal cost at or below the
  tariff), split into units and rated as the simulated year does (``[outages.*]``);
* ``z``: the margin in standard deviations, ``[firm_margin]`` of the country's
  ``planning.toml``;
* ``h = safety_k x sqrt(1 - phi^2)``: what dispatch itself always holds back, in the same
  standard deviations. The core takes ``safety_k`` x the one-step forecast error's standard
  deviation off every set's value (``docs/dispatch.md``, rules 3-4), and the one-step error of
  an AR(1) error with stationary deviation ``sigma`` and step persistence
  ``phi = hourly_persistence ** (interval_s / 1 h)`` has deviation ``sigma x sqrt(1 - phi^2)``
  (``data/dispatch/defaults.toml``: ``[policy] safety_k``, ``interval_s``, ``[forecast]
  hourly_persistence``). On the bundled year the national set's tightest hour (13 July 2024,
  18:00 UTC) had 96 MW of firm room after the 1.645-sigma margin, and dispatch holds back
  105 MW there: the room is 0, where the plan had put 96 MW of Islamabad AI floors that the
  simulated year then cut (seed 5: 11 h below the floor, events of 4.7-4.8 h).

Emergencies are not in the margin: a declared emergency releases floors (force majeure,
``docs/dispatch.md``). The rows are added to the allocation model by :func:`add_firm_rows`
beside, not inside, :func:`offtake.planning.model.build_model`.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import linopy
import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import NDArray

from offtake.dispatch.policy import load_defaults
from offtake.errors import InputError
from offtake.grid.baseline import Baseline
from offtake.scenario import Scenario
from offtake.surplus.assess import set_surplus
from offtake.units import S_PER_H

__all__ = [
    "FirmLimits",
    "FirmMargin",
    "add_firm_rows",
    "dispatch_holdback",
    "firm_limits",
    "firm_margin_for",
    "outage_variance_mw2",
]

F64 = NDArray[np.float64]
#: Name of the linopy constraint holding the firm rows.
FIRM_ROWS = "firm_deliverable"


@dataclass(frozen=True)
class FirmMargin:
    """How much of the scheduled surplus firm tranches may rely on.

    Parameters
    ----------
    z
        Margin in standard deviations of the surplus error [-].
    demand_error_rel_sigma
        Standard deviation of a zone's demand forecast error, share of its demand [-].
    source
        Where the numbers come from, in words.
    dispatch_holdback
        What dispatch holds back off every set, in standard deviations of the demand error
        [-]: ``safety_k x sqrt(1 - phi^2)`` (module docstring); 0 for none.
    """

    z: float
    demand_error_rel_sigma: float
    source: str = ""
    dispatch_holdback: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.z) and self.z >= 0):
            raise InputError(f"must be a number >= 0, got {self.z}", field="firm_margin.z")
        if not (math.isfinite(self.demand_error_rel_sigma) and self.demand_error_rel_sigma >= 0):
            raise InputError(
                f"must be a number >= 0, got {self.demand_error_rel_sigma}", field="demand_error_rel_sigma"
            )
        if not (math.isfinite(self.dispatch_holdback) and self.dispatch_holdback >= 0):
            raise InputError(f"must be a number >= 0, got {self.dispatch_holdback}", field="dispatch_holdback")


def firm_margin_for(scenario_name: str) -> FirmMargin | None:
    """Return the firm margin of a scenario from its country's ``planning.toml``, or None if it has none.

    The demand error is the dispatch defaults' (``[forecast] demand_error_rel_sigma``), its one home;
    so are the numbers of dispatch's own holdback (:func:`dispatch_holdback`).
    """
    root = Path(str(resources.files("offtake") / "data"))
    for path in sorted(root.glob("*/planning.toml")):
        try:
            config: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"invalid TOML: {exc}", file=path) from None
        if scenario_name not in config.get("scenarios", []) or "firm_margin" not in config:
            continue
        section = config["firm_margin"]
        try:
            z = float(section["z"])
        except (KeyError, TypeError, ValueError):
            raise InputError("needs a number 'z'", file=path, field="firm_margin.z") from None
        sigma = float(load_defaults()["forecast"]["demand_error_rel_sigma"])
        return FirmMargin(z, sigma, str(section.get("source", "")), dispatch_holdback())
    return None


def dispatch_holdback(defaults: dict[str, Any] | None = None) -> float:
    """Return ``safety_k x sqrt(1 - phi^2)``: dispatch's safety margin in stationary demand-error deviations [-].

    Parameters
    ----------
    defaults
        The dispatch defaults (``data/dispatch/defaults.toml``); read if None.
    """
    d = defaults if defaults is not None else load_defaults()
    phi = float(d["forecast"]["hourly_persistence"]) ** (float(d["policy"]["interval_s"]) / S_PER_H)
    return float(d["policy"]["safety_k"]) * math.sqrt(max(0.0, 1.0 - phi * phi))


def outage_variance_mw2(scenario: Scenario, tariff_usd_per_mwh: float) -> F64:
    """Variance of the power lost to forced outages per zone [MW^2], shape (zones,).

    Each plant that makes surplus (not variable, marginal cost at or below the tariff) is split
    into equal units of at most its class's ``unit_mw``; each unit is out with probability
    ``FOR = MTTR / (MTTF + MTTR)``, independently.
    """
    classes = [(name, v) for name, v in load_defaults()["outages"].items() if isinstance(v, dict)]
    plants = scenario.plants
    counts = (~plants["variable"]) & (plants["marginal_cost_usd_per_mwh"] <= tariff_usd_per_mwh)
    zone_pos = {z: i for i, z in enumerate(scenario.zone_ids)}
    out = np.zeros(len(zone_pos))
    for name in plants.index[counts.to_numpy()]:
        plant = plants.loc[name]
        capacity = float(plant["capacity_mw"])
        if capacity <= 0:
            continue
        rates = _rates_for(str(plant["technology"]), classes)
        forced = float(rates["mttr_h"]) / (float(rates["mttf_h"]) + float(rates["mttr_h"]))
        n_units = max(1, math.ceil(capacity / float(rates["unit_mw"]) - 1e-9))
        unit = capacity / n_units
        out[zone_pos[str(plant["zone"])]] += n_units * forced * (1.0 - forced) * unit * unit
    return out


def _rates_for(technology: str, classes: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Return the outage class of a technology: the first whose words occur in it, else ``default``."""
    tech = technology.lower()
    fallback: dict[str, Any] | None = None
    for name, rates in classes:
        if name == "default":
            fallback = rates
        elif any(str(word) in tech for word in rates.get("match", [])):
            return rates
    if fallback is None:
        raise InputError("no [outages.default] class", field="outages")
    return fallback


@dataclass(frozen=True)
class FirmLimits:
    """The firm MW every zone set can carry.

    Attributes
    ----------
    member
        Zone sets, Boolean matrix (sets, zones) in the scenario's zone order.
    limit_mw
        Least value of each set over the period less its margin, at least 0 [MW].
    margin_mw
        The margin at that interval, dispatch's holdback included [MW].
    at
        Interval of the period where each set's limit is set.
    """

    member: NDArray[np.bool_]
    limit_mw: F64
    margin_mw: F64
    at: NDArray[np.int64]


def firm_limits(
    scenario: Scenario, baseline: Baseline, margin: FirmMargin, tariff_usd_per_mwh: float | None = None
) -> FirmLimits:
    """Return the firm MW every zone set can carry over the scenario's period (module docstring).

    Parameters
    ----------
    scenario
        The scenario.
    baseline
        Its least-cost dispatch without sites.
    margin
        The margin's parameters.
    tariff_usd_per_mwh
        Tariff the surplus is measured at [USD/MWh]; the scenario's default if None.

    Returns
    -------
    FirmLimits
        One limit per zone set.
    """
    tariff = scenario.default_tariff_usd_per_mwh if tariff_usd_per_mwh is None else float(tariff_usd_per_mwh)
    member, values = set_surplus(scenario, tariff, baseline)
    matrix = member.astype(float)
    demand = scenario.demand_mw[scenario.zone_ids].to_numpy(dtype=float)
    var_demand = ((margin.demand_error_rel_sigma * demand) ** 2) @ matrix.T
    var = var_demand + matrix @ outage_variance_mw2(scenario, tariff)
    total = margin.z * np.sqrt(var) + margin.dispatch_holdback * np.sqrt(var_demand)
    room = values - total
    at = np.argmin(room, axis=0)
    cols = np.arange(room.shape[1])
    return FirmLimits(member, np.maximum(room[at, cols], 0.0), total[at, cols], at)


def add_firm_rows(model: linopy.Model, sites: pd.DataFrame, zone_ids: list[str], limits: FirmLimits) -> int:
    """Limit the firm MW of the sites in every zone set that could exceed its firm limit.

    Parameters
    ----------
    model
        An allocation model (:func:`offtake.planning.model.build_model`) with variable ``firm``.
    sites
        Its candidate sites (``zone``, ``requested_mw``, ``max_curtailment_fraction``).
    zone_ids
        The scenario's zones, the order of ``limits.member``'s columns.
    limits
        The firm limits.

    Returns
    -------
    int
        Number of rows added (sets whose candidate firm MW could exceed the limit).
    """
    pos = {z: i for i, z in enumerate(zone_ids)}
    in_set = limits.member[:, [pos[str(z)] for z in sites["zone"]]]  # (sets, sites)
    most = sites["requested_mw"].to_numpy(dtype=float) * (1.0 - sites["max_curtailment_fraction"].to_numpy(dtype=float))
    rows = np.flatnonzero((in_set.astype(float) @ most) > limits.limit_mw + 1e-6)
    if not len(rows):
        return 0
    sets = pd.RangeIndex(len(rows), name="firm_set")
    site_ix = pd.Index(sites.index, name="site")
    weight = xr.DataArray(in_set[rows].astype(float), coords=[sets, site_ix])
    bound = xr.DataArray(limits.limit_mw[rows], coords=[sets])
    model.add_constraints((model.variables["firm"] * weight).sum("site") <= bound, name=FIRM_ROWS)
    return len(rows)
