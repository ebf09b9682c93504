"""Surplus assessment: least-cost baseline, surplus per zone and hour, headroom."""

from __future__ import annotations

from offtake.surplus.assess import SurplusResult, assess_surplus, tariff_curve
from offtake.surplus.baseline import Baseline, least_cost_dispatch
from offtake.surplus.headroom import HeadroomResult, duke_seasonal_threshold, headroom

__all__ = [
    "Baseline",
    "HeadroomResult",
    "SurplusResult",
    "assess_surplus",
    "duke_seasonal_threshold",
    "headroom",
    "least_cost_dispatch",
    "tariff_curve",
]
