"""Network costs and the verdict of the no-subsidy test, as the reports show it.

The rule itself is defined once, in :mod:`offtake.grid.subsidy`: the extra output the sites
cause must be shareable so that each site takes only units at or below its tariff. This
module turns a check of that rule (:func:`offtake.grid.check_no_subsidy`) into the verdict
(:func:`no_subsidy_test`), and adds the *delivered* figure the rule does not enforce: the
dearest serving unit's marginal cost grossed up for losses plus the network charge,

    delivered_usd_per_mwh[t, zone] = marginal_cost_usd_per_mwh[t] / (1 - loss_fraction[zone])
                                     + network_charge_usd_per_mwh[zone]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from offtake.economics.data import Quantity, load_table, quantities, quantity
from offtake.errors import InputError
from offtake.grid.subsidy import ServingCost

__all__ = [
    "NetworkCosts",
    "NoSubsidyResult",
    "load_network",
    "no_subsidy_test",
]


@dataclass(frozen=True)
class NetworkCosts:
    """Losses and network charges between the serving units and a site.

    Parameters
    ----------
    loss_fraction
        Share of generated energy lost before the site meter [-].
    network_charge_usd_per_mwh
        Use-of-system charge per MWh delivered [USD/MWh].
    zone_loss_fraction, zone_network_charge_usd_per_mwh
        Per-zone overrides.
    quantities
        The sourced numbers of the data file.
    """

    loss_fraction: float
    network_charge_usd_per_mwh: float
    zone_loss_fraction: dict[str, float] = field(default_factory=dict)
    zone_network_charge_usd_per_mwh: dict[str, float] = field(default_factory=dict)
    quantities: dict[str, Quantity] = field(default_factory=dict)

    def loss_for(self, zone: str) -> float:
        """Loss fraction for a zone [-]."""
        return self.zone_loss_fraction.get(zone, self.loss_fraction)

    def charge_for(self, zone: str) -> float:
        """Network charge for a zone [USD/MWh]."""
        return self.zone_network_charge_usd_per_mwh.get(zone, self.network_charge_usd_per_mwh)

    def required_tariff_usd_per_mwh(self, marginal_cost_usd_per_mwh: float, zone: str) -> float:
        """Lowest tariff that covers one MWh served in ``zone`` at a marginal cost [USD/MWh]."""
        return marginal_cost_usd_per_mwh / (1.0 - self.loss_for(zone)) + self.charge_for(zone)


def load_network(path: str | Path | None = None) -> NetworkCosts:
    """Read ``network.toml`` (the bundled file unless ``path`` is given)."""
    doc, file = load_table(path if path is not None else "network.toml")
    default = doc.get("default")
    if not isinstance(default, dict):
        raise InputError("missing table", file=file, field="[default]")
    q = {f"default.{k}": v for k, v in quantities(default, file, "default.").items()}
    loss = quantity(default, "loss_fraction", file, "default.").value
    charge = quantity(default, "network_charge_usd_per_mwh", file, "default.").value
    zone_loss: dict[str, float] = {}
    zone_charge: dict[str, float] = {}
    for zone, table in dict(doc.get("zones", {})).items():
        prefix = f"zones.{zone}."
        if "loss_fraction" in table:
            zone_loss[zone] = quantity(table, "loss_fraction", file, prefix).value
        if "network_charge_usd_per_mwh" in table:
            zone_charge[zone] = quantity(table, "network_charge_usd_per_mwh", file, prefix).value
        q.update({f"{prefix}{k}": v for k, v in quantities(table, file, prefix).items()})
    for name, value in [
        ("default.loss_fraction", loss),
        *((f"zones.{z}.loss_fraction", v) for z, v in zone_loss.items()),
    ]:
        if not 0 <= value < 1:
            raise InputError(f"loss fraction must be in [0, 1), got {value}", file=file, field=name)
    return NetworkCosts(loss, charge, zone_loss, zone_charge, q)


@dataclass(frozen=True)
class NoSubsidyResult:
    """Outcome of the no-subsidy test.

    Attributes
    ----------
    passed
        True when every served hour is covered.
    failures
        One row per failing (interval, site): ``interval_start``, ``interval_end``, ``site_id``,
        ``zone``, ``served_mwh``, ``tariff_usd_per_mwh``, ``required_usd_per_mwh`` (the dearest
        unit running extra), ``shortfall_usd`` (subsidy implied in that hour).
    failed_hours
        Intervals with at least one failing site.
    failed_mwh
        Energy the sites take from units dearer than their tariff, or that cannot be
        delivered [MWh].
    subsidy_usd
        Sum of ``(required - tariff) x that energy`` over failures [USD].
    lowest_passing_tariff_usd_per_mwh
        Per site, the dearest unit running extra in the hours it is served: at that tariff it
        passes whatever the others pay [USD/MWh].
    lowest_passing_tariff_all_usd_per_mwh
        The lowest single tariff that passes for every site [USD/MWh].
    below_delivered_cost_hours
        Intervals in which a served site's tariff is below the delivered cost of the dearest
        serving unit (losses and network charge added; reported, not part of the rule).
    lowest_delivered_tariff_usd_per_mwh
        The lowest single tariff that also covers losses and the network charge [USD/MWh].
    """

    passed: bool
    failures: pd.DataFrame
    failed_hours: int
    failed_mwh: float
    subsidy_usd: float
    lowest_passing_tariff_usd_per_mwh: pd.Series
    lowest_passing_tariff_all_usd_per_mwh: float
    below_delivered_cost_hours: int = 0
    lowest_delivered_tariff_usd_per_mwh: float = 0.0


def no_subsidy_test(
    served_mw: pd.DataFrame,
    site_zone: Mapping[str, str],
    tariff_usd_per_mwh: Mapping[str, float] | float,
    check: ServingCost,
    network: NetworkCosts,
    duration_h: float = 1.0,
) -> NoSubsidyResult:
    """Verdict of the no-subsidy rule on a served profile, with the delivered-cost figures.

    Parameters
    ----------
    served_mw
        Power served per interval (index: aware interval starts) and site (columns: site ids) [MW].
    site_zone
        Zone of each site.
    tariff_usd_per_mwh
        Tariff per site, or one tariff for all [USD/MWh].
    check
        The rule checked on the grid model for this profile (:func:`offtake.grid.check_no_subsidy`).
    network
        Losses and network charges (reported, not part of the rule).
    duration_h
        Interval length [h].
    """
    sites = [str(s) for s in served_mw.columns]
    missing = [s for s in sites if s not in site_zone]
    if missing:
        raise InputError(f"no zone for site(s) {', '.join(missing)}", field="site_zone")
    tariffs = np.array(
        [
            float(tariff_usd_per_mwh[s]) if isinstance(tariff_usd_per_mwh, Mapping) else float(tariff_usd_per_mwh)
            for s in sites
        ]
    )
    zones = [site_zone[s] for s in sites]
    served = served_mw.to_numpy(dtype=float)
    is_served = served > 1e-9
    dearest = check.dearest_cost_usd_per_mwh.to_numpy(dtype=float)
    required = np.where(is_served, dearest[:, None], 0.0)
    breach = check.breach_mw[sites].to_numpy(dtype=float) + check.undeliverable_mw[sites].to_numpy(dtype=float)
    fail = is_served & (breach > 0)
    losses = np.array([network.loss_for(z) for z in zones])
    delivered = np.where(is_served, dearest[:, None] / (1.0 - losses) + [network.charge_for(z) for z in zones], 0.0)
    rows, cols = np.nonzero(fail)
    short_mwh = breach[rows, cols] * duration_h
    starts = pd.DatetimeIndex(served_mw.index[rows])
    failures = pd.DataFrame(
        {
            "interval_start": starts,
            "interval_end": starts + pd.Timedelta(hours=duration_h),
            "site_id": [sites[c] for c in cols],
            "zone": [zones[c] for c in cols],
            "served_mwh": served[rows, cols] * duration_h,
            "tariff_usd_per_mwh": tariffs[cols],
            "required_usd_per_mwh": required[rows, cols],
            "shortfall_usd": np.clip(required[rows, cols] - tariffs[cols], 0.0, None) * short_mwh,
        }
    )
    lowest = pd.Series(required.max(axis=0, initial=0.0), index=sites, name="lowest_passing_tariff_usd_per_mwh")
    below_delivery = is_served & (tariffs[None, :] < delivered - 1e-9)
    return NoSubsidyResult(
        passed=not fail.any(),
        failures=failures,
        failed_hours=int(fail.any(axis=1).sum()),
        failed_mwh=float(short_mwh.sum()),
        subsidy_usd=float(failures["shortfall_usd"].sum()),
        lowest_passing_tariff_usd_per_mwh=lowest,
        lowest_passing_tariff_all_usd_per_mwh=float(lowest.max()) if len(lowest) else 0.0,
        below_delivered_cost_hours=int(below_delivery.any(axis=1).sum()),
        lowest_delivered_tariff_usd_per_mwh=float(delivered.max(initial=0.0)),
    )
