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
from offtake.risk.inputs import SurplusProfiles, reduce_to_profiles
from offtake.scenario import Scenario
from offtake.surplus import assess_surplus

__all__ = ["PreparedInputs", "prepare_inputs", "served_by_tariff"]


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
    surplus = assess_surplus(scenario, float(allocation["tariff_usd_per_mwh"].max()), baseline=baseline)
    served = served_by_tariff(scenario, baseline, allocation)
    zones = {str(k): str(v) for k, v in allocation["zone"].items()}
    tariffs = {str(k): float(v) for k, v in allocation["tariff_usd_per_mwh"].items()}
    zone_of, tariff_of = pd.Series(zones), pd.Series(tariffs)
    check = check_no_subsidy(baseline, served, zone_of, tariff_of)
    marginal = _marginal_cost(baseline, served, check.dearest_cost_usd_per_mwh)
    profiles = reduce_to_profiles(surplus.zone_mw, surplus.national_mw, scenario.demand_mw, marginal)
    test = no_subsidy_test(served, zones, tariffs, check, network or load_network(), scenario.duration_h)
    return PreparedInputs(profiles, served, marginal, test)


def _marginal_cost(baseline: Baseline, served: pd.DataFrame, dearest: pd.Series) -> pd.Series:
    """Dearest serving unit where sites are served, else the baseline's dearest zone price [USD/MWh]."""
    top = float(np.max(baseline.fleet.marginal_cost_usd_per_mwh, initial=0.0))
    price = np.clip(baseline.zone_price_usd_per_mwh.max(axis=1, initial=0.0), 0.0, top)
    value = np.where(served.sum(axis=1).to_numpy() > 1e-9, dearest.to_numpy(dtype=float), price)
    return pd.Series(value, index=served.index, name="marginal_cost_usd_per_mwh")
