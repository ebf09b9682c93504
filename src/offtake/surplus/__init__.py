"""Surplus assessment: how much extra load each zone and the nation can take."""

from __future__ import annotations

from offtake.surplus.headroom import HeadroomResult, duke_seasonal_threshold, headroom

__all__ = ["HeadroomResult", "duke_seasonal_threshold", "headroom"]
