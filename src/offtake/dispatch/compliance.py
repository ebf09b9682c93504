"""Finding sites that ignore their caps, the same way in the simulated year and live.

A site that follows its caps moves from its draw at the start of an interval towards its
new cap with a first-order lag; its mean draw over an interval of length ``T`` is at most::

    allowed = cap + (start_draw - cap) * (tau / T) * (1 - exp(-T / tau))

where ``tau`` is its contracted response time stretched by the stated tolerance
(``[detection] response_time_tolerance``: real sites answer slower than contracted now and
then). A site whose metered mean draw exceeds ``allowed`` by more than
``max(tolerance_mw, tolerance_share x allocation)`` in ``consecutive_intervals`` intervals in
a row is flagged as ignoring its cap. A slow site that does move towards its caps is never
flagged: its excess over the cap shrinks by the same law that ``allowed`` assumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from offtake.dispatch.policy import load_defaults
from offtake.errors import InputError

__all__ = ["ComplianceMonitor", "ComplianceRule", "allowed_draw_mw"]

F64 = NDArray[np.float64]
B = NDArray[np.bool_]


@dataclass(frozen=True)
class ComplianceRule:
    """When a site counts as ignoring its cap (sourced defaults in ``[detection]``).

    Parameters
    ----------
    tolerance_mw
        Least over-draw that counts [MW].
    tolerance_share
        Over-draw that counts, share of the site's allocation [-]; the larger of the two
        applies.
    response_time_tolerance
        Slack on the contracted response time, share of it [-]: a site may answer up to
        ``(1 + response_time_tolerance)`` x its contracted response time.
    consecutive_intervals
        Intervals in a row over the allowance before the site is flagged.
    """

    tolerance_mw: float
    tolerance_share: float
    response_time_tolerance: float
    consecutive_intervals: int

    def __post_init__(self) -> None:
        checks = {
            "tolerance_mw": self.tolerance_mw >= 0,
            "tolerance_share": self.tolerance_share >= 0,
            "response_time_tolerance": self.response_time_tolerance >= 0,
            "consecutive_intervals": self.consecutive_intervals >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise InputError(f"{getattr(self, name)} is out of range", field=name)

    @classmethod
    def default(cls, **overrides: Any) -> ComplianceRule:
        """Read the sourced defaults, with keyword overrides."""
        d = load_defaults()["detection"]
        values: dict[str, Any] = {
            "tolerance_mw": float(d["tolerance_mw"]),
            "tolerance_share": float(d["tolerance_share"]),
            "response_time_tolerance": float(d["response_time_tolerance"]),
            "consecutive_intervals": int(d["consecutive_intervals"]),
        }
        values.update(overrides)
        return cls(**values)

    def threshold_mw(self, allocated_mw: F64) -> F64:
        """Over-draw that counts, per site [MW]."""
        share = self.tolerance_share * np.asarray(allocated_mw, dtype=float)
        return np.asarray(np.maximum(self.tolerance_mw, share), dtype=float)


def allowed_draw_mw(
    cap_mw: F64, start_draw_mw: F64, response_time_s: F64, interval_s: float, response_time_tolerance: float
) -> F64:
    """Most mean draw over an interval that a site following its cap can show [MW].

    Parameters
    ----------
    cap_mw
        Cap of the interval [MW].
    start_draw_mw
        Draw at the start of the interval [MW].
    response_time_s
        Contracted response time [s].
    interval_s
        Interval length [s].
    response_time_tolerance
        Slack on the response time, share of it [-].

    Returns
    -------
    numpy.ndarray
        The allowance per site [MW]; never below the cap.
    """
    tau = np.maximum(np.asarray(response_time_s, dtype=float) * (1.0 + response_time_tolerance), 1e-3)
    lag = (tau / interval_s) * (1.0 - np.exp(-interval_s / tau))
    cap = np.asarray(cap_mw, dtype=float)
    return np.asarray(np.maximum(cap + (np.asarray(start_draw_mw, dtype=float) - cap) * lag, cap), dtype=float)


class ComplianceMonitor:
    """Keep the run of over-draws of every site and flag those that ignore their caps.

    Parameters
    ----------
    allocated_mw
        Allocation per site [MW].
    response_time_s
        Contracted response time per site [s].
    interval_s
        Interval length [s].
    rule
        Tolerances; the sourced defaults if None.
    """

    def __init__(
        self, allocated_mw: F64, response_time_s: F64, interval_s: float, rule: ComplianceRule | None = None
    ) -> None:
        self.rule = rule or ComplianceRule.default()
        self.interval_s = float(interval_s)
        self._response = np.asarray(response_time_s, dtype=float)
        tau = np.maximum(self._response * (1.0 + self.rule.response_time_tolerance), 1e-3)
        self._lag = (tau / self.interval_s) * (1.0 - np.exp(-self.interval_s / tau))
        self._threshold = self.rule.threshold_mw(allocated_mw)
        n = len(self._threshold)
        self.streak = np.zeros(n, dtype=np.int64)
        self.flagged = np.zeros(n, dtype=bool)
        self.last_over_mw = np.zeros(n)

    def observe(self, cap_mw: F64, start_draw_mw: F64, mean_draw_mw: F64) -> B:
        """Meter one interval; return the sites flagged by it (newly).

        Parameters
        ----------
        cap_mw
            Caps of the interval [MW].
        start_draw_mw
            Draw at the start of the interval [MW].
        mean_draw_mw
            Metered mean draw over the interval [MW].

        Returns
        -------
        numpy.ndarray
            True for sites flagged in this interval.
        """
        cap = np.asarray(cap_mw, dtype=float)
        allowed = np.maximum(cap + (np.asarray(start_draw_mw, dtype=float) - cap) * self._lag, cap)
        over = np.asarray(mean_draw_mw, dtype=float) - allowed
        self.last_over_mw = over
        self.streak = np.where(over > self._threshold, self.streak + 1, 0)
        newly = (self.streak >= self.rule.consecutive_intervals) & ~self.flagged
        self.flagged |= newly
        return newly
