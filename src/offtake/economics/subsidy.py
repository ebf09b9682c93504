"""The no-subsidy test: in every hour a site is served, its tariff must cover the cost of it.

The cost of serving one more MWh at a site in zone ``z`` in hour ``t`` is the marginal cost of the
unit that serves it, grossed up for network losses, plus the network (use-of-system) charge:

    required_usd_per_mwh[t, z] = marginal_cost_usd_per_mwh[t, z] / (1 - loss_fraction[z])
                                 + network_charge_usd_per_mwh[z]

Lenders refused any subsidised tariff, so a plan passes only if ``tariff >= required`` in every
served hour. The lowest tariff that passes is the largest ``required`` over the hours served.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from offtake.economics.data import Quantity, load_table, quantities, quantity
from offtake.errors import InputError
from offtake.scenario import Scenario

__all__ = [
    "NetworkCosts",
    "NoSubsidyResult",
    "load_network",
    "merit_order_marginal_cost",
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


def merit_order_marginal_cost(
    scenario: Scenario, extra_load_mw: float | np.ndarray | pd.Series = 0.0
) -> pd.Series:
    """Marginal cost of the unit serving the last MW of an extra national load [USD/MWh].

    Units are stacked nationally in merit order (must-run and variable units first, as their
    output is produced anyway, then by marginal cost). Existing demand takes the bottom of the
    stack; the extra load is served by the next units. If the extra load would leave less than
    the reserve requirement on the stack, or exceeds it, the cost is infinite: no tariff serves
    it without eating reserve. Corridor limits are not applied here.

    Parameters
    ----------
    scenario
        The scenario.
    extra_load_mw
        Extra national load per interval (or a constant) [MW].

    Returns
    -------
    pandas.Series
        Marginal cost per interval [USD/MWh], indexed like the scenario.
    """
    plants = scenario.plants
    order = np.lexsort(
        (
            plants["marginal_cost_usd_per_mwh"].to_numpy(),
            ~plants["must_run"].to_numpy() & ~plants["variable"].to_numpy(),
        )
    )
    available = scenario.available_mw.to_numpy(dtype=float)[:, order]
    costs = plants["marginal_cost_usd_per_mwh"].to_numpy(dtype=float)[order]
    cumulative = np.cumsum(available, axis=1)
    demand = scenario.demand_mw.to_numpy(dtype=float).sum(axis=1)
    extra = np.broadcast_to(np.asarray(extra_load_mw, dtype=float), demand.shape)
    position = demand + np.maximum(extra, 1e-6)
    unit = (cumulative < position[:, None]).sum(axis=1)
    reserve = scenario.reserve_requirement_mw().to_numpy()
    feasible = (unit < len(costs)) & (cumulative[:, -1] >= position + reserve)
    mc = np.where(feasible, costs[np.minimum(unit, len(costs) - 1)], np.inf)
    return pd.Series(mc, index=scenario.index, name="marginal_cost_usd_per_mwh")


@dataclass(frozen=True)
class NoSubsidyResult:
    """Outcome of the no-subsidy test.

    Attributes
    ----------
    passed
        True when every served hour is covered.
    failures
        One row per failing (interval, site): ``interval_start``, ``interval_end``, ``site_id``,
        ``zone``, ``served_mwh``, ``tariff_usd_per_mwh``, ``required_usd_per_mwh``,
        ``shortfall_usd`` (subsidy implied in that hour).
    failed_hours
        Intervals with at least one failing site.
    failed_mwh
        Energy served below cost [MWh].
    subsidy_usd
        Sum of ``(required - tariff) * served_mwh`` over failures [USD].
    lowest_passing_tariff_usd_per_mwh
        Per site, the lowest tariff that passes (largest requirement over its served hours).
    lowest_passing_tariff_all_usd_per_mwh
        The lowest single tariff that passes for every site.
    """

    passed: bool
    failures: pd.DataFrame
    failed_hours: int
    failed_mwh: float
    subsidy_usd: float
    lowest_passing_tariff_usd_per_mwh: pd.Series
    lowest_passing_tariff_all_usd_per_mwh: float


def no_subsidy_test(
    served_mw: pd.DataFrame,
    site_zone: Mapping[str, str],
    tariff_usd_per_mwh: Mapping[str, float] | float,
    marginal_cost_usd_per_mwh: pd.Series | pd.DataFrame,
    network: NetworkCosts,
    duration_h: float = 1.0,
) -> NoSubsidyResult:
    """Check that each site's tariff covers the cost of serving it in every hour it is served.

    Parameters
    ----------
    served_mw
        Power served per interval (index: aware interval starts) and site (columns: site ids) [MW].
    site_zone
        Zone of each site.
    tariff_usd_per_mwh
        Tariff per site, or one tariff for all [USD/MWh].
    marginal_cost_usd_per_mwh
        Marginal cost of the serving unit per interval, nationally (Series) or per zone
        (DataFrame with zone columns) [USD/MWh].
    network
        Losses and network charges.
    duration_h
        Interval length [h].
    """
    index = served_mw.index
    sites = [str(s) for s in served_mw.columns]
    missing = [s for s in sites if s not in site_zone]
    if missing:
        raise InputError(f"no zone for site(s) {', '.join(missing)}", field="site_zone")
    tariffs = np.array(
        [
            float(tariff_usd_per_mwh)
            if not isinstance(tariff_usd_per_mwh, Mapping)
            else float(tariff_usd_per_mwh[s])
            for s in sites
        ]
    )
    zones = [site_zone[s] for s in sites]
    if isinstance(marginal_cost_usd_per_mwh, pd.DataFrame):
        absent = sorted({z for z in zones if z not in marginal_cost_usd_per_mwh.columns})
        if absent:
            raise InputError(
                f"no marginal cost for zone(s) {', '.join(absent)}",
                field="marginal_cost_usd_per_mwh",
            )
        mc = marginal_cost_usd_per_mwh.reindex(index)[zones].to_numpy(dtype=float)
    else:
        mc = np.repeat(
            marginal_cost_usd_per_mwh.reindex(index).to_numpy(dtype=float)[:, None],
            len(sites),
            axis=1,
        )
    if np.isnan(mc).any():
        raise InputError(
            "marginal cost does not cover every interval of served_mw",
            field="marginal_cost_usd_per_mwh",
        )
    losses = np.array([network.loss_for(z) for z in zones])
    charges = np.array([network.charge_for(z) for z in zones])
    required = mc / (1.0 - losses) + charges
    served = served_mw.to_numpy(dtype=float)
    is_served = served > 1e-9
    fail = is_served & (tariffs[None, :] < required - 1e-9)
    rows, cols = np.nonzero(fail)
    served_mwh = served[rows, cols] * duration_h
    shortfall = required[rows, cols] - tariffs[cols]
    starts = pd.DatetimeIndex(index[rows])
    failures = pd.DataFrame(
        {
            "interval_start": starts,
            "interval_end": starts + pd.Timedelta(hours=duration_h),
            "site_id": [sites[c] for c in cols],
            "zone": [zones[c] for c in cols],
            "served_mwh": served_mwh,
            "tariff_usd_per_mwh": tariffs[cols],
            "required_usd_per_mwh": required[rows, cols],
            "shortfall_usd": np.where(np.isfinite(shortfall), shortfall * served_mwh, np.inf),
        }
    )
    lowest = pd.Series(
        np.where(is_served.any(axis=0), np.where(is_served, required, -np.inf).max(axis=0), 0.0),
        index=sites,
        name="lowest_passing_tariff_usd_per_mwh",
    )
    return NoSubsidyResult(
        passed=not fail.any(),
        failures=failures,
        failed_hours=int(fail.any(axis=1).sum()),
        failed_mwh=float(served_mwh.sum()),
        subsidy_usd=float(failures["shortfall_usd"].sum()),
        lowest_passing_tariff_usd_per_mwh=lowest,
        lowest_passing_tariff_all_usd_per_mwh=float(lowest.max()) if len(lowest) else 0.0,
    )
