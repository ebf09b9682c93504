"""Glue between a scenario, its surplus assessment and the risk model's inputs."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import pandas as pd

from offtake.economics.subsidy import (
    NetworkCosts,
    NoSubsidyResult,
    load_network,
    merit_order_marginal_cost,
    no_subsidy_test,
)
from offtake.errors import InputError
from offtake.risk.inputs import SurplusProfiles, reduce_to_profiles, served_hourly
from offtake.scenario import Scenario

__all__ = ["PreparedInputs", "assess_scenario_surplus", "prepare_inputs"]


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
        Marginal cost of the unit serving the programme per interval [USD/MWh].
    no_subsidy
        The no-subsidy test of the scenario year at the allocation's tariffs.
    """

    profiles: SurplusProfiles
    served_mw: pd.DataFrame
    marginal_cost_usd_per_mwh: pd.Series
    no_subsidy: NoSubsidyResult


def assess_scenario_surplus(
    scenario: Scenario, tariff_usd_per_mwh: float | None
) -> tuple[pd.DataFrame, pd.Series]:
    """Per-zone and national surplus of a scenario from :func:`offtake.surplus.assess_surplus`."""
    try:
        module = importlib.import_module("offtake.surplus")
    except ImportError:
        raise InputError(
            "the surplus assessment (offtake.surplus) is not available in this installation"
        ) from None
    result = module.assess_surplus(scenario, tariff_usd_per_mwh=tariff_usd_per_mwh)
    return result.zone_mw, result.national_mw


def prepare_inputs(
    scenario: Scenario,
    allocation: pd.DataFrame,
    *,
    surplus: tuple[pd.DataFrame, pd.Series] | None = None,
    network: NetworkCosts | None = None,
) -> PreparedInputs:
    """Surplus profiles, the served power of the scenario year and its no-subsidy test.

    Parameters
    ----------
    scenario
        The scenario.
    allocation
        Sites from :func:`offtake.risk.inputs.read_allocation`.
    surplus
        Per-zone and national surplus [MW]; assessed from the scenario at the highest tariff of
        the allocation when not given.
    network
        Losses and network charges; the bundled data when not given.
    """
    if surplus is None:
        surplus = assess_scenario_surplus(scenario, float(allocation["tariff_usd_per_mwh"].max()))
    zone_mw, national_mw = surplus
    served = served_hourly(zone_mw, national_mw, allocation)
    marginal = merit_order_marginal_cost(
        scenario, served.sum(axis=1).reindex(scenario.index).fillna(0.0)
    )
    profiles = reduce_to_profiles(zone_mw, national_mw, scenario.demand_mw, marginal)
    test = no_subsidy_test(
        served,
        {str(k): str(v) for k, v in allocation["zone"].items()},
        {str(k): float(v) for k, v in allocation["tariff_usd_per_mwh"].items()},
        marginal,
        network or load_network(),
        duration_h=scenario.duration_h,
    )
    return PreparedInputs(profiles, served, marginal, test)
