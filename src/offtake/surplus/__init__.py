"""Surplus assessment: surplus per zone and hour against the least-cost baseline, headroom.

The grid model and its least-cost baseline live in :mod:`offtake.grid`.
"""

from __future__ import annotations

from offtake.surplus.assess import SurplusResult, assess_surplus, tariff_curve
from offtake.surplus.headroom import HeadroomResult, duke_seasonal_threshold, headroom

__all__ = [
    "HeadroomResult",
    "SurplusResult",
    "assess_surplus",
    "duke_seasonal_threshold",
    "headroom",
    "tariff_curve",
]
