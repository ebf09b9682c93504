"""The vectorised Monte Carlo core: one block of paths at a time.

Random numbers come from ``numpy.random.SeedSequence(seed, spawn_key=(block,))``: block ``b`` of a
run always draws the same numbers, whether blocks run in this process or on a Dask cluster, so
results do not depend on how the work is spread.

Per path and month the model draws the BTC price (log random walk with Student-t shocks), the
external network hashrate (log random walk correlated with the price), fees per block, the GPU-hour
price, the gas price (a mean-reverting log walk of a multiplier of today's price), and per path a
demand-growth rate and a rooftop-solar build rate. Surplus per zone, month and hour of day is the
profile at the path's gas price (interpolated between profiles precomputed at a few multipliers,
:class:`GasArrays`; the base profile when there are none), less demand growth, plus rooftop
output (which lowers grid demand in daylight), clipped at zero; sites in a zone share its surplus
in proportion to their allocation and the total is capped by the national surplus. The fuel cost
of what they draw is the marginal cost profile at the same gas price, interpolated alike.

External hashrate grows at a trend plus an elasticity times the log of last month's hashprice over
the fleet's reference hashcost (machines are added above it and unplugged below it), with a
shock correlated with the BTC price. Each month every operator compares its cash margin
(revenue per MWh less other operating cost less the tariff) with zero: below it the site
stops for the month; after
``leave_after_months`` consecutive months below, it leaves for good. The programme's own hashrate
(from last month's mining energy) is added to the network, one month late as difficulty catches
up, so the programme lowers its own hashprice. All tariffs of the grid are evaluated on the same
random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from offtake.risk.inputs import RiskParameters

__all__ = ["DRIVER_NAMES", "BlockResult", "GasArrays", "RiskModel", "simulate_block"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

#: Paths per random-number block; fixed so that results never depend on chunking.
BLOCK_PATHS = 1000
_HASHES_PER_DIFFICULTY = 2.0**32
_BLOCKS_PER_DAY = 144.0
#: The random drivers, in the order of :attr:`BlockResult.driver_summaries`' first axis.
DRIVER_NAMES = ("BTC price", "hashrate", "fees", "GPU-hour price", "demand growth", "rooftop solar", "gas price")


@dataclass(frozen=True)
class GasArrays:
    """Surplus and marginal-cost profiles at multipliers of the gas price, on the model's zones.

    Axes: ``G`` multipliers, then as :class:`RiskModel`'s profiles.
    """

    multipliers: FloatArray  # [G] increasing, holds 1.0 and goes above it
    zone_surplus_mw: FloatArray  # [G, Z, 12, 24]
    national_surplus_mw: FloatArray  # [G, 12, 24]
    zone_marginal_cost_usd_per_mwh: FloatArray  # [G, Z, 12, 24]
    base_price_usd_per_mwh: float  # gas plants' marginal cost at multiplier 1


@dataclass(frozen=True)
class RiskModel:
    """Everything the Monte Carlo needs, as plain arrays (cheap to send to cluster workers).

    Axes: ``M`` months, ``Z`` zones holding sites, ``S`` sites, ``K`` tariff cases (case 0 uses each
    site's own tariff; cases 1.. apply one grid tariff to every site).
    """

    seed: int
    n_months: int
    month_of_year: IntArray  # [M] 0..11
    days_in_month: FloatArray  # [M]
    years_from_start: FloatArray  # [M] at mid-month [year]
    subsidy_btc: FloatArray  # [M] mean block subsidy [BTC]
    # surplus profiles [Z, 12, 24], national [12, 24]
    zone_surplus_mw: FloatArray
    zone_demand_mw: FloatArray
    zone_solar_share: FloatArray  # [Z] share of rooftop additions
    zone_marginal_cost_usd_per_mwh: FloatArray
    zone_loss_fraction: FloatArray  # [Z]
    zone_network_charge_usd_per_mwh: FloatArray  # [Z]
    national_surplus_mw: FloatArray
    national_demand_mw: FloatArray
    solar_mw_per_mw: FloatArray  # [12, 24]
    # sites [S]
    site_zone: IntArray
    site_allocated_mw: FloatArray
    site_is_mining: BoolArray
    site_efficiency_j_per_th: FloatArray  # NaN for AI
    tariff_cases_usd_per_mwh: FloatArray  # [K, S]
    # market at the start
    btc_price_usd: float
    external_hashrate_h_per_s: float
    fees_btc_per_block: float
    # operators
    pool_fee_fraction: float
    site_overhead_fraction: float
    miner_other_opex_usd_per_mwh: float
    ai_revenue_usd_per_mwh: float  # at the starting GPU-hour price
    ai_other_opex_usd_per_mwh: float
    ai_depreciation_usd_per_mwh: float
    # stochastic drivers (risk.toml) and the AI price path
    drivers: RiskParameters
    ai_price_trend_per_year: float
    ai_price_volatility_per_year: float
    gas: GasArrays | None = None

    @property
    def n_sites(self) -> int:
        """Number of sites."""
        return int(self.site_allocated_mw.shape[0])

    @property
    def n_cases(self) -> int:
        """Number of tariff cases."""
        return int(self.tariff_cases_usd_per_mwh.shape[0])


@dataclass
class BlockResult:
    """Results of one block of paths.

    Per-path totals over the horizon have shape [K, B]; monthly series of case 0 have shape [B, M].
    """

    block: int
    energy_mwh: FloatArray
    tariff_revenue_usd: FloatArray
    fuel_cost_usd: FloatArray
    network_cost_usd: FloatArray
    miners_margin_usd: FloatArray
    ai_margin_usd: FloatArray
    ai_taxable_profit_usd: FloatArray
    miners_stopped: BoolArray  # some mining site stopped at least one month
    miners_left: BoolArray  # some mining site left
    mining_mw_left_share: FloatArray  # share of mining MW that left
    monthly_energy_mwh: FloatArray
    monthly_tariff_revenue_usd: FloatArray
    monthly_contribution_usd: FloatArray  # revenue - fuel - network
    monthly_ai_taxable_profit_usd: FloatArray
    monthly_miners_margin_usd: FloatArray
    monthly_btc_price_usd: FloatArray
    monthly_hashprice_usd_per_ph_day: FloatArray
    monthly_mining_operating_share: FloatArray
    monthly_gas_multiplier: FloatArray  # [B, M] gas price over today's
    monthly_available_mwh: FloatArray  # [B, M] energy the sites could draw, before any stops
    driver_summaries: FloatArray  # [D, B] one number per driver and path (DRIVER_NAMES)


def _draws(model: RiskModel, block: int, n_paths: int) -> dict[str, FloatArray]:
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(model.seed, spawn_key=(block,))))
    m = model.n_months
    df = model.drivers.btc_student_t_df
    return {
        "price": rng.standard_t(df, size=(n_paths, m)) * np.sqrt((df - 2.0) / df),
        "hash": rng.standard_normal((n_paths, m)),
        "fee": rng.standard_normal((n_paths, m)),
        "ai": rng.standard_normal((n_paths, m)),
        "demand": rng.standard_normal(n_paths),
        "solar": rng.standard_normal(n_paths),
        # drawn last, so the streams of the other drivers are those of a model without gas
        "gas": rng.standard_normal((n_paths, m)),
    }


def _gas_path(model: RiskModel, d: dict[str, FloatArray]) -> FloatArray:
    """Gas price over today's per path and month [-], [B, M]: a mean-reverting log walk from 1."""
    dt = 1.0 / 12.0
    par = model.drivers
    sig = par.gas_volatility_per_year
    keep = float(np.exp(-par.gas_mean_reversion_per_year * dt))
    step = (par.gas_drift_per_year - 0.5 * sig * sig) * dt + sig * np.sqrt(dt) * d["gas"]
    log_x = np.empty_like(step)
    level = np.zeros(step.shape[0])
    for m in range(step.shape[1]):
        level = level * keep + step[:, m]
        log_x[:, m] = level
    return np.asarray(np.exp(log_x), dtype=np.float64)


def _driver_summaries(d: dict[str, FloatArray], gas: FloatArray) -> FloatArray:
    """One number per driver and path [D, B]: mean monthly shock, the per-path draw, mean log gas price."""
    return np.vstack(
        [
            d["price"].mean(axis=1),
            d["hash"].mean(axis=1),
            d["fee"].mean(axis=1),
            d["ai"].mean(axis=1),
            d["demand"],
            d["solar"],
            np.log(gas).mean(axis=1),
        ]
    )


def _at_gas_price(model: RiskModel, gas: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Zone surplus [B, Z, M, 24], national surplus [B, M, 24] and marginal cost [B, Z, M, 24].

    Linear in the multiplier between the two nodes around it (clipped to the nodes' range), in
    single precision; at a node the profile is that node's exactly.
    """
    g = model.gas
    assert g is not None
    f32 = np.float32
    moy = model.month_of_year
    nodes = g.multipliers
    x = np.clip(gas, nodes[0], nodes[-1])
    i = np.clip(np.searchsorted(nodes, x, side="right") - 1, 0, len(nodes) - 2)  # [B, M]
    w = (x - nodes[i]) / (nodes[i + 1] - nodes[i])
    n_zones = g.zone_surplus_mw.shape[1]
    # index arrays that broadcast to [B, Z, M] (zone tables) and [B, M] (national)
    i3, w3 = i[:, None, :], w[:, None, :, None]
    z3 = np.arange(n_zones)[None, :, None]
    m3 = np.arange(model.n_months)[None, None, :]
    m2 = np.arange(model.n_months)[None, :]

    def interp_zones(table: FloatArray) -> FloatArray:
        """Zone table [G, Z, M, 24] at each path's multiplier -> [B, Z, M, 24], single precision."""
        lo = table[i3, z3, m3]
        return np.asarray(lo + w3.astype(f32) * (table[i3 + 1, z3, m3] - lo))

    zone = interp_zones(g.zone_surplus_mw[:, :, moy, :].astype(f32))
    mc = interp_zones(g.zone_marginal_cost_usd_per_mwh[:, :, moy, :].astype(f32))
    # the national surplus stays in double precision, as without a gas surface
    table = g.national_surplus_mw[:, moy, :]  # [G, M, 24]
    lo = table[i, m2]
    national = lo + w[:, :, None] * (table[i + 1, m2] - lo)  # [B, M, 24]
    return zone, national, mc


def _market_paths(model: RiskModel, d: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """BTC price [USD], hashrate shocks, fees [BTC/block] and GPU-price factor, each [B, M]."""
    dt = 1.0 / 12.0
    sig = model.drivers.btc_volatility_per_year
    log_ret = (model.drivers.btc_drift_per_year - 0.5 * sig * sig) * dt + sig * np.sqrt(dt) * d["price"]
    price = model.btc_price_usd * np.exp(np.cumsum(log_ret, axis=1))
    rho = model.drivers.hashrate_price_correlation
    hash_shock = rho * d["price"] + np.sqrt(1.0 - rho * rho) * d["hash"]
    sig_f = model.drivers.fee_volatility_per_month
    fees = model.fees_btc_per_block * np.exp(sig_f * d["fee"] - 0.5 * sig_f * sig_f)
    sig_a = model.ai_price_volatility_per_year
    log_a = (model.ai_price_trend_per_year - 0.5 * sig_a * sig_a) * dt + sig_a * np.sqrt(dt) * d["ai"]
    ai_factor = np.exp(np.cumsum(log_a, axis=1))
    return price, hash_shock, fees, ai_factor


def _available_energy(model: RiskModel, d: dict[str, FloatArray], gas: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Energy each site could draw per month [MWh] and its fuel cost [USD/MWh], both [B, S, M].

    The [path, zone, month, hour] arrays are the largest of the model; they are built in single
    precision and in place.
    """
    f32 = np.float32
    moy = model.month_of_year
    t = model.years_from_start  # [M]
    growth = model.drivers.demand_growth_mean_per_year + model.drivers.demand_growth_sd_per_year * d["demand"]  # [B]
    solar_rate = np.maximum(
        model.drivers.solar_additions_mean_mw_per_year + model.drivers.solar_additions_sd_mw_per_year * d["solar"],
        0.0,
    )  # [B]
    extra_demand = (growth[:, None] * t[None, :]).astype(f32)  # [B, M] share of demand added
    solar_mw = (solar_rate[:, None] * t[None, :]).astype(f32)  # [B, M] rooftop MW added
    shape = model.solar_mw_per_mw[moy]  # [M, 24]

    zone_alloc = np.zeros(model.zone_surplus_mw.shape[0])
    np.add.at(zone_alloc, model.site_zone, model.site_allocated_mw)
    inv_alloc = np.divide(1.0, zone_alloc, out=np.zeros_like(zone_alloc), where=zone_alloc > 0).astype(f32)
    base: npt.NDArray[np.floating[Any]]
    mc: npt.NDArray[np.floating[Any]]
    if model.gas is None:
        base = model.zone_surplus_mw[:, moy, :].astype(f32)[None]  # [1, Z, M, 24]
        national_base = model.national_surplus_mw[moy][None]  # [1, M, 24]
        mc = model.zone_marginal_cost_usd_per_mwh[:, moy, :].astype(f32)[None]
    else:
        base, national_base, mc = _at_gas_price(model, gas)
    dem = model.zone_demand_mw[:, moy, :].astype(f32)
    sol = (model.zone_solar_share[:, None, None] * shape[None]).astype(f32)  # [Z, M, 24]

    ratio = np.multiply(extra_demand[:, None, :, None], -dem[None])  # [B, Z, M, 24]
    work = np.multiply(solar_mw[:, None, :, None], sol[None])
    ratio += work
    ratio += base
    ratio *= inv_alloc[None, :, None, None]
    np.clip(ratio, 0.0, 1.0, out=ratio)

    national = (
        national_base
        - extra_demand[:, :, None] * model.national_demand_mw[moy][None]
        + solar_mw[:, :, None] * shape[None]
    ).astype(f32)  # [B, M, 24]
    np.maximum(national, 0.0, out=national)
    del work
    drawn = np.einsum("bzmh,z->bmh", ratio, zone_alloc.astype(f32))  # [B, M, 24]
    if (drawn > national).any():
        cap = np.divide(national, drawn, out=np.ones_like(drawn), where=drawn > national)
        ratio *= cap[:, None, :, :]

    mean_ratio = ratio.sum(axis=3).astype(np.float64) / 24.0  # [B, Z, M] share of allocated power available
    if model.gas is None:
        weighted = np.einsum("bzmh,zmh->bzm", ratio, mc[0]).astype(np.float64) / 24.0
    else:
        weighted = np.einsum("bzmh,bzmh->bzm", ratio, mc).astype(np.float64) / 24.0
    mc_mean = np.divide(weighted, mean_ratio, out=np.zeros_like(weighted), where=mean_ratio > 0)
    hours = 24.0 * model.days_in_month  # [M]
    available = mean_ratio[:, model.site_zone, :] * model.site_allocated_mw[None, :, None] * hours[None, None, :]
    return available, mc_mean[:, model.site_zone, :]


def _site_classes(model: RiskModel) -> IntArray:
    """Class of each site: sites of one kind, efficiency and tariff in every case decide alike."""
    keys: dict[tuple[object, ...], int] = {}
    out = np.empty(model.n_sites, dtype=np.int64)
    for s in range(model.n_sites):
        eff = float(model.site_efficiency_j_per_th[s])
        key = (
            bool(model.site_is_mining[s]),
            -1.0 if np.isnan(eff) else eff,
            *model.tariff_cases_usd_per_mwh[:, s].tolist(),
        )
        out[s] = keys.setdefault(key, len(keys))
    return out


def simulate_block(model: RiskModel, block: int, n_paths: int) -> BlockResult:
    """Simulate ``n_paths`` paths of random-number block ``block``.

    Parameters
    ----------
    model
        The model.
    block
        Block number; selects the random stream.
    n_paths
        Paths in this block (``BLOCK_PATHS`` except possibly the last block).
    """
    d = _draws(model, block, n_paths)
    price, hash_shock, fees, ai_factor = _market_paths(model, d)
    gas = _gas_path(model, d)  # [B, M]
    available, mc = _available_energy(model, d, gas)  # [B, S, M]
    k_cases, n_months = model.n_cases, model.n_months
    # sites that decide alike are pooled into classes: the month loop runs on [K, B, C]
    site_class = _site_classes(model)
    n_classes = int(site_class.max()) + 1
    first = np.array([int(np.flatnonzero(site_class == c)[0]) for c in range(n_classes)])
    mining = model.site_is_mining[first]  # [C]
    eff = np.where(mining, model.site_efficiency_j_per_th[first], 1.0)
    tariff = model.tariff_cases_usd_per_mwh[:, first]  # [K, C]
    loss = model.zone_loss_fraction[model.site_zone]
    charge = model.zone_network_charge_usd_per_mwh[model.site_zone]
    members = np.zeros((model.n_sites, n_classes))
    members[np.arange(model.n_sites), site_class] = 1.0
    avail_c = np.einsum("bsm,sc->bcm", available, members, optimize=False)
    fuel_c = np.einsum("bsm,sc->bcm", available * mc / (1.0 - loss)[None, :, None], members, optimize=False)
    network_c = np.einsum("bsm,sc->bcm", available * charge[None, :, None], members, optimize=False)
    mw_c = model.site_allocated_mw @ members  # [C]

    overhead = 1.0 + model.site_overhead_fraction
    rev_per_hashprice = np.where(mining, (1.0 - model.pool_fee_fraction) / (0.024 * eff * overhead), 0.0)
    hash_per_mw = np.where(mining, 1e6 / (eff * overhead) * 1e12, 0.0)  # [C] H/s per MW drawn
    opex = np.where(mining, model.miner_other_opex_usd_per_mwh, model.ai_other_opex_usd_per_mwh)  # [C]
    hours = 24.0 * model.days_in_month
    mining_mw = float(mw_c[mining].sum())
    dt = 1.0 / 12.0
    sig_h = model.drivers.hashrate_volatility_per_year

    is_ai = (~mining).astype(float)  # [C]
    fixed_cost = opex + tariff[:, None, :]  # [K, 1, C]
    shape = (k_cases, n_paths, n_classes)
    consecutive = np.zeros(shape, dtype=np.int16)
    left = np.zeros(shape, dtype=bool)
    stopped_ever = np.zeros(shape, dtype=bool)
    energy_sum = np.zeros(shape)
    fuel_sum = np.zeros(shape)
    network_sum = np.zeros(shape)
    margin_sum = np.zeros(shape)
    monthly = {
        name: np.zeros((n_paths, n_months))
        for name in ("energy", "revenue", "contrib", "ai_tax", "miners", "hashprice", "operating")
    }
    external = np.full((k_cases, n_paths), model.external_hashrate_h_per_s)
    # difficulty sees the programme one month late; month 0 assumes every miner runs
    programme = np.broadcast_to(
        (avail_c[:, :, 0] * hash_per_mw[None, :]).sum(axis=1) / hours[0], (k_cases, n_paths)
    ).copy()
    for m in range(n_months):
        hashprice = (
            1e15
            * 86_400.0
            / ((external + programme) * 600.0)
            * ((model.subsidy_btc[m] + fees[:, m]) * price[:, m])[None, :]
        )
        ai_revenue = model.ai_revenue_usd_per_mwh * ai_factor[:, m]  # [B]
        # mining classes earn hashprice x rev_per_hashprice, AI classes the GPU revenue (one of the
        # two terms is 0)
        margin_per_mwh = hashprice[:, :, None] * rev_per_hashprice + (ai_revenue[:, None] * is_ai)[None] - fixed_cost
        below = margin_per_mwh < 0.0
        consecutive += 1
        consecutive *= below
        left |= consecutive >= model.drivers.leave_after_months
        operating = ~below & ~left
        stopped_ever |= ~operating
        energy = avail_c[None, :, :, m] * operating
        fuel = fuel_c[None, :, :, m] * operating
        network = network_c[None, :, :, m] * operating
        margin = energy * margin_per_mwh
        energy_sum += energy
        fuel_sum += fuel
        network_sum += network
        margin_sum += margin
        programme = (energy * hash_per_mw).sum(axis=2) / hours[m]
        growth = (
            model.drivers.hashrate_trend_per_year
            + model.drivers.hashrate_elasticity_per_year
            * np.log(hashprice / model.drivers.hashrate_reference_hashcost_usd_per_ph_day)
            - 0.5 * sig_h * sig_h
        ) * dt + sig_h * np.sqrt(dt) * hash_shock[:, m][None, :]
        external = external * np.exp(growth)
        e0 = energy[0]
        monthly["energy"][:, m] = e0.sum(axis=1)
        revenue0 = (e0 * tariff[0]).sum(axis=1)
        monthly["revenue"][:, m] = revenue0
        monthly["contrib"][:, m] = revenue0 - fuel[0].sum(axis=1) - network[0].sum(axis=1)
        monthly["ai_tax"][:, m] = ((margin[0] - e0 * model.ai_depreciation_usd_per_mwh) * ~mining).sum(axis=1)
        monthly["miners"][:, m] = (margin[0] * mining).sum(axis=1)
        monthly["hashprice"][:, m] = hashprice[0]
        if mining_mw > 0:
            monthly["operating"][:, m] = (operating[0] * (mw_c * mining)).sum(axis=1) / mining_mw
    left_mining = left & mining
    return BlockResult(
        block=block,
        energy_mwh=energy_sum.sum(axis=2),
        tariff_revenue_usd=(energy_sum * tariff[:, None, :]).sum(axis=2),
        fuel_cost_usd=fuel_sum.sum(axis=2),
        network_cost_usd=network_sum.sum(axis=2),
        miners_margin_usd=(margin_sum * mining).sum(axis=2),
        ai_margin_usd=(margin_sum * ~mining).sum(axis=2),
        ai_taxable_profit_usd=((margin_sum - energy_sum * model.ai_depreciation_usd_per_mwh) * ~mining).sum(axis=2),
        miners_stopped=(stopped_ever & mining).any(axis=2),
        miners_left=left_mining.any(axis=2),
        mining_mw_left_share=(left_mining * mw_c).sum(axis=2) / mining_mw
        if mining_mw > 0
        else np.zeros((k_cases, n_paths)),
        monthly_energy_mwh=monthly["energy"],
        monthly_tariff_revenue_usd=monthly["revenue"],
        monthly_contribution_usd=monthly["contrib"],
        monthly_ai_taxable_profit_usd=monthly["ai_tax"],
        monthly_miners_margin_usd=monthly["miners"],
        monthly_btc_price_usd=price,
        monthly_hashprice_usd_per_ph_day=monthly["hashprice"],
        monthly_mining_operating_share=monthly["operating"],
        monthly_gas_multiplier=gas,
        monthly_available_mwh=available.sum(axis=1),
        driver_summaries=_driver_summaries(d, gas),
    )
