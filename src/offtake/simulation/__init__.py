"""The simulated year: the dispatch core driven through a year of realistic trouble."""

from __future__ import annotations

from offtake.simulation.engine import SimulationResult, simulate
from offtake.simulation.kpis import compute_kpis
from offtake.simulation.trouble import TroubleParams

__all__ = ["SimulationResult", "TroubleParams", "compute_kpis", "simulate"]
