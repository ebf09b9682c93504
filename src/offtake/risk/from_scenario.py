"""Glue between a scenario, its surplus assessment and the risk model's inputs.

The scenario year is dispatched once (:func:`offtake.grid.least_cost_dispatch`); the surplus,
the sites' served power and the no-subsidy test all use that one baseline. Each site is
served from the surplus at its own tariff (lower tariffs first, so dearer units go only to
sites that pay for them), and the result is checked against the no-subsidy rule of
:mod:`offtake.grid.subsidy`, the same rule the planner builds its allocation under.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from offtake.economics.subsidy import NetworkCosts, NoSubsidyResult, load_network, no_subsidy_test
from offtake.grid import Baseline, check_no_subsidy, least_cost_dispatch
from offtake.grid.baseline import redispatch
from offtake.grid.subsidy import ServingCost
from offtake.risk.inputs import GasSurface, SurplusProfiles, reduce_to_profiles
from offtake.scenario import Scenario
from offtake.surplus import assess_surplus
from offtake.surplus.assess import SurplusResult
from offtake.surplus.sensitivity import surplus_unchanged

__all__ = ["GAS_MULTIPLIERS", "PreparedInputs", "gas_multipliers", "gas_surface", "prepare_inputs", "served_by_tariff"]

#: Multipliers of the gas price at which the surplus is assessed; :func:`gas_multipliers` adds
#: two around each price at which a gas plant's cost crosses a tariff (a modelling choice, not a
#: number from the world). Paths beyond the range take its end.
GAS_MULTIPLIERS = (0.5, 0.75, 1.0, 1.5, 2.5)
#: Relative distance of the nodes placed either side of a tariff crossing [-].
_CROSSING_STEP = 0.005


@dataclass(frozen=True)
class PreparedInputs:
    """Scenario-derived inputs of a risk run.

    Attributes
    ----------
    profiles
        Month x hour profiles for the engine.
    served_mw
        Power served per interval and site in the scenario year [MW].
    marginal_cost_usd_per_mwh
        Marginal cost of the dearest unit serving the programme per interval (the baseline's
        marginal cost where nothing is served) [USD/MWh].
    no_subsidy
        The no-subsidy test of the scenario year at the allocation's tariffs.
    """

    profiles: SurplusProfiles
    served_mw: pd.DataFrame
    marginal_cost_usd_per_mwh: pd.Series
    no_subsidy: NoSubsidyResult
    baseline: Baseline | None = None
    surplus: SurplusResult | None = None


def served_by_tariff(scenario: Scenario, baseline: Baseline, allocation: pd.DataFrame) -> pd.DataFrame:
    """Power served per interval and site, each site from the surplus at its own tariff [MW].

    Tariffs are taken in increasing order. At each tariff, the surplus not yet taken is shared
    among the sites paying at least it by the rule of :func:`offtake.risk.inputs.served_hourly`
    (pro rata to the MW each still lacks, per zone, then capped nationally).

    Parameters
    ----------
    scenario
        The scenario.
    baseline
        Its least-cost dispatch.
    allocation
        Sites (``zone``, ``allocated_mw``, ``tariff_usd_per_mwh``), indexed by site id.
    """
    tariffs = allocation["tariff_usd_per_mwh"].to_numpy(dtype=float)
    zones = allocation["zone"].astype(str).to_numpy()
    allocated = allocation["allocated_mw"].to_numpy(dtype=float)
    served = np.zeros((len(scenario.index), len(allocation)))
    for tau in sorted(set(tariffs.tolist())):
        r = assess_surplus(scenario, tau, baseline=baseline)
        room = np.where(tariffs[None, :] >= tau, allocated[None, :] - served, 0.0).clip(0.0)
        add = np.zeros_like(room)
        for z in dict.fromkeys(zones):
            cols = np.flatnonzero(zones == z)
            left = (r.zone_mw[z].to_numpy(dtype=float) - served[:, cols].sum(axis=1)).clip(0.0)
            want = room[:, cols].sum(axis=1)
            ratio = np.divide(left, want, out=np.ones_like(want), where=want > left)
            add[:, cols] = room[:, cols] * ratio[:, None]
        national_left = (r.national_mw.to_numpy(dtype=float) - served.sum(axis=1)).clip(0.0)
        drawn = add.sum(axis=1)
        cap = np.divide(national_left, drawn, out=np.ones_like(drawn), where=drawn > national_left)
        served += add * cap[:, None]
    return pd.DataFrame(served, index=scenario.index, columns=allocation.index)


def prepare_inputs(
    scenario: Scenario,
    allocation: pd.DataFrame,
    *,
    network: NetworkCosts | None = None,
    baseline: Baseline | None = None,
) -> PreparedInputs:
    """Surplus profiles, the served power of the scenario year and its no-subsidy test.

    Parameters
    ----------
    scenario
        The scenario.
    allocation
        Sites from :func:`offtake.risk.inputs.read_allocation`.
    network
        Losses and network charges; the bundled data when not given.
    baseline
        Least-cost dispatch of ``scenario``; solved here when not given.
    """
    baseline = baseline or least_cost_dispatch(scenario)
    surplus, served, check, marginal, profiles = _assess(scenario, allocation, baseline)
    zones = {str(k): str(v) for k, v in allocation["zone"].items()}
    tariffs = {str(k): float(v) for k, v in allocation["tariff_usd_per_mwh"].items()}
    test = no_subsidy_test(served, zones, tariffs, check, network or load_network(), scenario.duration_h)
    return PreparedInputs(profiles, served, marginal, test, baseline, surplus)


def _assess(
    scenario: Scenario, allocation: pd.DataFrame, baseline: Baseline
) -> tuple[SurplusResult, pd.DataFrame, ServingCost, pd.Series, SurplusProfiles]:
    """Surplus at the highest tariff, served power, its check, the serving marginal cost, the profiles."""
    surplus = assess_surplus(scenario, float(allocation["tariff_usd_per_mwh"].max()), baseline=baseline)
    served = served_by_tariff(scenario, baseline, allocation)
    zone_of = pd.Series({str(k): str(v) for k, v in allocation["zone"].items()})
    tariff_of = pd.Series({str(k): float(v) for k, v in allocation["tariff_usd_per_mwh"].items()})
    check = check_no_subsidy(baseline, served, zone_of, tariff_of)
    marginal = _marginal_cost(baseline, served, check.dearest_cost_usd_per_mwh)
    profiles = reduce_to_profiles(surplus.zone_mw, surplus.national_mw, scenario.demand_mw, marginal)
    return surplus, served, check, marginal, profiles


def _marginal_cost(baseline: Baseline, served: pd.DataFrame, dearest: pd.Series) -> pd.Series:
    """Dearest serving unit where sites are served, else the baseline's dearest zone price [USD/MWh]."""
    top = float(np.max(baseline.fleet.marginal_cost_usd_per_mwh, initial=0.0))
    price = np.clip(baseline.zone_price_usd_per_mwh.max(axis=1, initial=0.0), 0.0, top)
    value = np.where(served.sum(axis=1).to_numpy() > 1e-9, dearest.to_numpy(dtype=float), price)
    return pd.Series(value, index=served.index, name="marginal_cost_usd_per_mwh")


def gas_multipliers(driven_costs_usd_per_mwh: np.ndarray, tariffs_usd_per_mwh: list[float]) -> np.ndarray:
    """:data:`GAS_MULTIPLIERS` and two nodes either side of each multiplier where a cost meets a tariff.

    Parameters
    ----------
    driven_costs_usd_per_mwh
        Marginal costs of the plant groups the gas price drives [USD/MWh].
    tariffs_usd_per_mwh
        Tariffs of the allocation [USD/MWh].
    """
    nodes = set(GAS_MULTIPLIERS)
    low, high = min(GAS_MULTIPLIERS), max(GAS_MULTIPLIERS)
    for tariff in tariffs_usd_per_mwh:
        for cost in {float(c) for c in driven_costs_usd_per_mwh if c > 0}:
            cross = tariff / cost
            if low < cross < high:
                nodes |= {round(cross * (1 - _CROSSING_STEP), 9), round(cross * (1 + _CROSSING_STEP), 9)}
    return np.array(sorted(nodes))


def gas_surface(
    scenario: Scenario,
    allocation: pd.DataFrame,
    prepared: PreparedInputs,
    technologies: tuple[str, ...],
    multipliers: np.ndarray | None = None,
) -> GasSurface | None:
    """Profiles of the risk engine at multipliers of the gas price; None if no plant burns that fuel.

    At each multiplier the marginal cost of every plant group of ``technologies`` is scaled, the
    baseline re-dispatched where the merit order moves, and the surplus assessed as by
    :func:`prepare_inputs`. Where the new costs provably leave the surplus at every tariff of
    the allocation as it is (:func:`offtake.surplus.sensitivity.surplus_unchanged`), the surplus
    and the served power are kept and only the serving cost scales, in the intervals whose
    dearest serving unit is a gas plant.

    Parameters
    ----------
    scenario
        The scenario.
    allocation
        Sites from :func:`offtake.risk.inputs.read_allocation`.
    prepared
        :func:`prepare_inputs` of the same scenario and allocation.
    technologies
        Technologies whose fuel the gas price drives (``risk.toml``'s ``gas_price.technologies``).
    multipliers
        Multipliers [-]; :func:`gas_multipliers` when not given.
    """
    baseline = prepared.baseline
    if baseline is None or prepared.surplus is None:
        raise ValueError("prepared inputs carry no baseline; use prepare_inputs")
    fleet = baseline.fleet
    chosen = np.isin(np.asarray(fleet.technology), list(technologies))
    if not chosen.any():
        return None
    costs = fleet.marginal_cost_usd_per_mwh
    tariffs = sorted({float(t) for t in allocation["tariff_usd_per_mwh"]})
    nodes = gas_multipliers(costs[chosen], tariffs) if multipliers is None else np.asarray(multipliers, dtype=float)
    driven = np.unique(costs[chosen])
    profiles: list[SurplusProfiles] = []
    for m in nodes.tolist():
        if m == 1.0:
            profiles.append(prepared.profiles)
            continue
        new_costs = np.where(chosen, costs * m, costs)
        if all(surplus_unchanged(baseline, new_costs, t) for t in tariffs):
            marginal = prepared.marginal_cost_usd_per_mwh.to_numpy(dtype=float)
            is_gas = np.isin(marginal, driven)
            scaled = pd.Series(np.where(is_gas, marginal * m, marginal), index=prepared.marginal_cost_usd_per_mwh.index)
            s = prepared.surplus
            profiles.append(reduce_to_profiles(s.zone_mw, s.national_mw, scenario.demand_mw, scaled))
        else:
            moved, _ = redispatch(baseline, new_costs)
            profiles.append(_assess(scenario, allocation, moved)[4])
    return GasSurface(technologies, float(costs[chosen].max()), nodes, tuple(profiles))
