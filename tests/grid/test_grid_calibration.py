"""The least-cost dispatch of pakistan-2025 against published facts: the generation mix and the HVDC's use.

The bounds and the published figures live in ``tools/pakistan_2025/facts.toml`` with their sources
(``[generation_mix]``, ``[hvdc_check]``, ``[[minimum_offtake]]``) and are rendered into the scenario's
SOURCES.md.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from offtake import scenario
from offtake.grid import Baseline, least_cost_dispatch

FACTS = tomllib.loads(
    (Path(__file__).resolve().parents[2] / "tools" / "pakistan_2025" / "facts.toml").read_text(encoding="utf-8")
)


@pytest.fixture(scope="module")
def pk() -> scenario.Scenario:
    return scenario.load("pakistan-2025")


@pytest.fixture(scope="module")
def pk_dispatch(pk: scenario.Scenario) -> Baseline:
    return least_cost_dispatch(pk)


def shares_percent(baseline: Baseline) -> dict[str, float]:
    """Share of each technology in the annual generation of a dispatch [%]."""
    energy = baseline.generation_mw.sum(axis=0)
    tech = baseline.fleet.technology
    return {t: 100.0 * float(energy[tech == t].sum() / energy.sum()) for t in sorted(set(tech))}


def test_generation_mix_within_bounds_of_published_shares(pk_dispatch: Baseline) -> None:
    mix = FACTS["generation_mix"]
    got = shares_percent(pk_dispatch)
    off = {t: got.get(t, 0.0) - share for t, share in mix["published_percent"].items()}
    assert all(abs(d) <= mix["tolerance_points"] for d in off.values()), off
    # the contracts are what closes the gap: RLNG was 4.4 % and imported coal 16.0 % without them
    assert got["rlng_ccgt"] > got["coal_imported"]


def test_minimum_offtake_held_every_hour(pk: scenario.Scenario, pk_dispatch: Baseline) -> None:
    output = pk_dispatch.fleet.plant_output_mw(pk.available_mw, pk_dispatch.generation_mw)
    contracts = FACTS["minimum_offtake"]
    assert contracts
    for contract in contracts:
        for name in contract["plants"]:
            floor_mw = contract["min_output_pu"] * pk.plants.loc[name, "capacity_mw"]
            assert pk.plants.loc[name, "min_output_pu"] == contract["min_output_pu"]
            assert (output[name].to_numpy() >= floor_mw - 1e-6).all(), name
    # plants without a contract are not held: some RLNG plant sits at zero in some hour
    free = pk.plants.index[(pk.plants["technology"] == "rlng_ccgt") & (pk.plants["min_output_pu"] == 0)]
    assert (output[free].to_numpy() < 1e-6).any()


def test_hvdc_average_use_near_the_audit_figure(pk: scenario.Scenario, pk_dispatch: Baseline) -> None:
    check = FACTS["hvdc_check"]
    k = [c.id for c in pk.corridors].index(check["corridor"])
    use_percent = 100.0 * float(np.abs(pk_dispatch.flow_mw[:, k]).mean()) / check["reference_mw"]
    assert abs(use_percent - check["reported_percent"]) <= check["tolerance_points"], use_percent


def test_qesco_imports_within_the_official_capacity(pk: scenario.Scenario, pk_dispatch: Baseline) -> None:
    into = [c for c in pk.corridors if c.to_zone == "QESCO"]
    assert sum(c.forward_mw for c in into) == 1150.0  # APP via UrduPoint 2022-12-28: 1,100-1,150 MW
    ks = [pk.corridors.index(c) for c in into]
    assert pk_dispatch.flow_mw[:, ks].sum(axis=1).max() <= 1150.0 + 1e-6
