"""Dispatch policy: safety margin, contingency limit, ramp limit and interval length."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from offtake.errors import InputError

__all__ = ["DispatchPolicy", "contingency_limit", "load_defaults"]


@cache
def _defaults_text() -> str:
    return (resources.files("offtake") / "data" / "dispatch" / "defaults.toml").read_text("utf-8")


def load_defaults() -> dict[str, Any]:
    """Return the sourced defaults of dispatch and simulation (``data/dispatch/defaults.toml``)."""
    return tomllib.loads(_defaults_text())


def contingency_limit(largest_unit_mw: float | None) -> tuple[float, str]:
    """Return the most load the flexible fleet may drop or pick up at once [MW], and why.

    The one rule, used by dispatch (the stagger) and by planning (the curtailment-step rows):
    ``[policy] contingency_limit_mw`` of ``data/dispatch/defaults.toml`` (the load loss a large
    system tolerates), or the scenario's largest unit where the scenario holds reserve for it
    and the defaults say so (``limit_to_largest_unit``): a load step of that size is a
    contingency the grid is built for.

    Parameters
    ----------
    largest_unit_mw
        The largest unit the scenario holds reserve for [MW], or None.

    Returns
    -------
    tuple
        The limit [MW] and its basis in words.
    """
    p = load_defaults()["policy"]
    limit = float(p["contingency_limit_mw"])
    if largest_unit_mw is not None and 0 < largest_unit_mw < limit and bool(p["limit_to_largest_unit"]):
        return float(largest_unit_mw), "the scenario's largest unit, which its reserve covers"
    return limit, "the largest load loss the system tolerates (data/dispatch/defaults.toml)"


@dataclass(frozen=True)
class DispatchPolicy:
    """How the dispatch core trades safety against energy served.

    Parameters
    ----------
    interval_s
        Length of one dispatch interval [s].
    safety_k
        Safety margin in standard deviations of the surplus forecast [-].
    contingency_limit_mw
        Most flexible load dropped, or picked up, in one step by routine dispatch [MW].
        Emergencies and licence suspensions are not held back by it.
    ramp_up_fraction_per_min
        Default ramp-up limit of a site, share of its allocation per minute [1/min].
    reference_tariff_usd_per_mwh
        Tariff of sites served pro rata, used to rank them against sites that bid
        [USD/MWh]: a bid above it is served first, a bid below it after.
    response_time_tolerance
        Dispatch plans each site to reach a new cap within ``(1 + response_time_tolerance)``
        x its contracted response time [-]: the slowest answer the compliance rule still
        counts as obedient (``[detection] response_time_tolerance``), so the look-ahead and
        the room kept for sites still ramping down cover every obedient site.
    """

    interval_s: float = 300.0
    safety_k: float = 3.0
    contingency_limit_mw: float = 2600.0
    ramp_up_fraction_per_min: float = 0.1
    reference_tariff_usd_per_mwh: float = 0.0
    response_time_tolerance: float = 1.0

    def __post_init__(self) -> None:
        checks = {
            "interval_s": self.interval_s > 0,
            "safety_k": self.safety_k >= 0,
            "contingency_limit_mw": self.contingency_limit_mw > 0,
            "ramp_up_fraction_per_min": self.ramp_up_fraction_per_min > 0,
            "reference_tariff_usd_per_mwh": self.reference_tariff_usd_per_mwh >= 0,
            "response_time_tolerance": self.response_time_tolerance >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise InputError(f"{getattr(self, name)} is out of range", field=name)

    @property
    def interval_min(self) -> float:
        """Interval length [min]."""
        return self.interval_s / 60.0

    @classmethod
    def default(
        cls,
        *,
        interval_s: float | None = None,
        largest_unit_mw: float | None = None,
        reference_tariff_usd_per_mwh: float = 0.0,
        safety_k: float | None = None,
    ) -> DispatchPolicy:
        """Build the policy from the sourced defaults.

        Parameters
        ----------
        interval_s
            Interval length [s]; the default file's value if None.
        largest_unit_mw
            The scenario's largest unit [MW]; when given and the defaults say so, the
            contingency limit is the smaller of the default and this.
        reference_tariff_usd_per_mwh
            Tariff of pro-rata sites [USD/MWh].
        safety_k
            Safety factor [-]; the default file's value if None.
        """
        defaults = load_defaults()
        p = defaults["policy"]
        limit, _ = contingency_limit(largest_unit_mw)
        return cls(
            interval_s=float(interval_s if interval_s is not None else p["interval_s"]),
            safety_k=float(safety_k if safety_k is not None else p["safety_k"]),
            contingency_limit_mw=limit,
            ramp_up_fraction_per_min=float(p["ramp_up_fraction_per_min"]),
            reference_tariff_usd_per_mwh=reference_tariff_usd_per_mwh,
            response_time_tolerance=float(defaults["detection"]["response_time_tolerance"]),
        )
