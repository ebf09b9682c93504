"""Surplus assessment: least-cost baseline, surplus per zone and hour, headroom."""

from __future__ import annotations

from offtake.surplus.assess import SurplusResult, assess_surplus, tariff_curve
from offtake.surplus.baseline import Baseline, least_cost_dispatch

__all__ = ["Baseline", "SurplusResult", "assess_surplus", "least_cost_dispatch", "tariff_curve"]
