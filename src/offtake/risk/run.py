"""Build the risk model from data files and an allocation, run it in process or on Dask, summarise.

The same seed gives the same result, in process or on a cluster: paths are simulated in fixed
blocks of ``BLOCK_PATHS`` with one random stream per block, and the cluster only decides where
each block runs.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, TextIO

import numpy as np
import numpy.typing as npt
import pandas as pd

from offtake.economics.ai import AiParameters, ai_revenue_usd_per_mwh, gpus_per_mw, load_ai
from offtake.economics.bitcoin import (
    HOURS_PER_MONTH,
    AsicModel,
    BitcoinData,
    load_asic_models,
    load_bitcoin,
)
from offtake.economics.country import CountryData, Incentives, load_country
from offtake.economics.subsidy import NetworkCosts, load_network
from offtake.errors import InputError
from offtake.risk.engine import BLOCK_PATHS, DRIVER_NAMES, BlockResult, GasArrays, RiskModel, simulate_block
from offtake.risk.inputs import GasSurface, RiskParameters, SurplusProfiles, load_risk_parameters, solar_shape
from offtake.units import SiteKind

__all__ = ["RiskOptions", "RiskResult", "build_model", "default_tariff_grid", "run_risk"]

FloatArray = npt.NDArray[np.float64]


def default_tariff_grid() -> tuple[float, ...]:
    """Uniform tariffs of the tariff solve: 40 to 140 in steps of 5 [USD/MWh]."""
    return tuple(float(t) for t in range(40, 141, 5))


@dataclass(frozen=True)
class RiskOptions:
    """Choices of one risk run.

    Parameters
    ----------
    seed
        Seed of the random streams.
    n_months
        Horizon [month].
    start
        First month (aware UTC, first of a month); default: month after the market's date.
    tariff_usd_per_mwh
        One tariff for every site instead of the allocation's [USD/MWh].
    tariff_grid_usd_per_mwh
        Uniform tariffs evaluated on the same random numbers for the tariff solve [USD/MWh].
    asic_model
        ASIC model of the mining sites; default from ``bitcoin.toml``.
    incentives
        Incentives granted.
    target
        Event the tariff solve bounds: a miner ``leave``s, or ``stop``s for a month.
    max_probability
        Highest acceptable probability of that event [-].
    """

    seed: int
    n_months: int = 36
    start: datetime | None = None
    tariff_usd_per_mwh: float | None = None
    tariff_grid_usd_per_mwh: tuple[float, ...] = field(default_factory=default_tariff_grid)
    asic_model: str | None = None
    incentives: Incentives = field(default_factory=Incentives)
    target: Literal["leave", "stop"] = "leave"
    max_probability: float = 0.10


@dataclass(frozen=True)
class _Context:
    """What the summary needs besides the engine's arrays."""

    months: pd.DatetimeIndex
    site_ids: tuple[str, ...]
    asic: AsicModel
    hardware_value_usd: float
    import_tax_forgone_usd: float
    ai_tax_rate_gap: float
    exchange_rate_pkr_per_usd: float
    country: CountryData
    options: RiskOptions


def _month_starts(start: datetime, n_months: int) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(start), periods=n_months + 1, freq="MS")


def build_model(
    profiles: SurplusProfiles,
    allocation: pd.DataFrame,
    options: RiskOptions,
    *,
    exchange_rate_pkr_per_usd: float,
    bitcoin: BitcoinData | None = None,
    asics: dict[str, AsicModel] | None = None,
    ai: AiParameters | None = None,
    network: NetworkCosts | None = None,
    parameters: RiskParameters | None = None,
    country: CountryData | None = None,
    gas: GasSurface | None = None,
) -> tuple[RiskModel, _Context]:
    """Assemble the engine's arrays from profiles, an allocation and the data files.

    Parameters
    ----------
    profiles
        Month x hour surplus profiles of the scenario.
    allocation
        Sites as returned by :func:`offtake.risk.inputs.read_allocation`.
    options
        Run options.
    exchange_rate_pkr_per_usd
        PKR per USD of the scenario [PKR/USD].
    bitcoin, asics, ai, network, parameters, country
        Data; the bundled files when not given.
    gas
        Profiles at multipliers of the gas price (:func:`offtake.risk.from_scenario.gas_surface`);
        without it the surplus does not move with the gas price.
    """
    if options.n_months < 1 or options.n_months > 600:
        raise InputError("months must be between 1 and 600", field="months")
    btc = bitcoin or load_bitcoin()
    models = asics or load_asic_models()
    ai_params = ai or load_ai()
    net = network or load_network()
    par = parameters or load_risk_parameters()
    ctry = country or load_country()
    asic_name = options.asic_model or btc.default_asic
    if asic_name not in models:
        raise InputError(f"unknown ASIC model '{asic_name}' (models: {', '.join(models)})", field="asic_model")
    asic = models[asic_name]

    start = options.start
    if start is None:
        as_of = pd.Timestamp(btc.market.as_of)
        start = (as_of.tz_convert("UTC").normalize().replace(day=1) + pd.offsets.MonthBegin(1)).to_pydatetime()
    if start.tzinfo is None:
        raise InputError("start must carry a time zone", field="start")
    edges = _month_starts(start.astimezone(UTC), options.n_months)
    months = edges[:-1]
    days = np.asarray((edges[1:] - edges[:-1]).days, dtype=float)
    subsidy = np.array(
        [btc.schedule.mean_subsidy_btc(a.to_pydatetime(), b.to_pydatetime()) for a, b in itertools.pairwise(edges)]
    )
    seconds_from_start = np.asarray((months - months[0]).total_seconds(), dtype=float) + days * 43_200.0
    years_from_start = seconds_from_start / (365.25 * 86_400.0)
    lead_years = max((months[0] - pd.Timestamp(btc.market.as_of)).total_seconds(), 0.0) / (365.25 * 86_400.0)
    external_hash = btc.market.hashrate_h_per_s * float(np.exp(par.hashrate_trend_per_year * lead_years))

    zones_used = sorted(set(allocation["zone"]), key=profiles.zone_ids.index) if len(allocation) else []
    missing = [z for z in zones_used if z not in profiles.zone_ids]
    if missing:
        raise InputError(
            f"allocation names zone(s) without a surplus profile: {', '.join(missing)}",
            field="zone",
        )
    zi = [profiles.zone_index(z) for z in zones_used]
    all_demand = profiles.demand_mw.sum(axis=(1, 2))
    demand_share = (
        all_demand / all_demand.sum() if all_demand.sum() > 0 else np.full(len(all_demand), 1.0 / len(all_demand))
    )
    site_zone = np.array([zones_used.index(z) for z in allocation["zone"]], dtype=np.int64)
    is_mining = (allocation["kind"] == SiteKind.MINING).to_numpy()
    tariffs = allocation["tariff_usd_per_mwh"].to_numpy(dtype=float)
    if options.tariff_usd_per_mwh is not None:
        tariffs = np.full(len(allocation), float(options.tariff_usd_per_mwh))
    grid = np.asarray(options.tariff_grid_usd_per_mwh, dtype=float)
    cases = np.vstack([tariffs[None, :], np.repeat(grid[:, None], len(allocation), axis=1)])

    import_tax = options.incentives.import_tax_fraction(ctry)
    n_gpu = gpus_per_mw(ai_params)
    ai_dep = n_gpu * (
        ai_params.capex_usd_per_gpu * (1.0 + import_tax) / (ai_params.hardware_life_months * HOURS_PER_MONTH)
        + ai_params.facility_capex_usd_per_gpu / (ai_params.facility_life_months * HOURS_PER_MONTH)
    )
    alloc_mw = allocation["allocated_mw"].to_numpy(dtype=float)
    th_per_mw = 1e6 / (asic.efficiency_j_per_th * (1.0 + btc.costs.site_overhead_fraction))
    hardware_value = float(
        alloc_mw[is_mining].sum() * th_per_mw * btc.costs.hardware_cost_usd_per_th
        + alloc_mw[~is_mining].sum() * n_gpu * ai_params.capex_usd_per_gpu
    )
    model = RiskModel(
        seed=int(options.seed),
        n_months=options.n_months,
        month_of_year=np.asarray(months.month, dtype=np.int64) - 1,
        days_in_month=days,
        years_from_start=years_from_start,
        subsidy_btc=subsidy,
        zone_surplus_mw=profiles.zone_surplus_mw[zi],
        zone_demand_mw=profiles.demand_mw[zi],
        zone_solar_share=demand_share[zi],
        zone_marginal_cost_usd_per_mwh=profiles.marginal_cost_usd_per_mwh[zi],
        zone_loss_fraction=np.array([net.loss_for(z) for z in zones_used]),
        zone_network_charge_usd_per_mwh=np.array([net.charge_for(z) for z in zones_used]),
        national_surplus_mw=profiles.national_surplus_mw,
        national_demand_mw=profiles.demand_mw.sum(axis=0),
        solar_mw_per_mw=solar_shape(
            par.solar_latitude_deg,
            par.solar_longitude_deg,
            par.solar_specific_yield_kwh_per_kw_year,
        ),
        site_zone=site_zone,
        site_allocated_mw=alloc_mw,
        site_is_mining=is_mining,
        site_efficiency_j_per_th=np.where(is_mining, asic.efficiency_j_per_th, np.nan),
        tariff_cases_usd_per_mwh=cases,
        btc_price_usd=btc.market.btc_price_usd,
        external_hashrate_h_per_s=external_hash,
        fees_btc_per_block=btc.market.fees_btc_per_block,
        pool_fee_fraction=btc.costs.pool_fee_fraction,
        site_overhead_fraction=btc.costs.site_overhead_fraction,
        miner_other_opex_usd_per_mwh=btc.costs.other_opex_usd_per_mwh,
        ai_revenue_usd_per_mwh=float(ai_revenue_usd_per_mwh(ai_params)),
        ai_other_opex_usd_per_mwh=n_gpu * ai_params.other_opex_usd_per_gpu_hour,
        ai_depreciation_usd_per_mwh=ai_dep,
        drivers=par,
        ai_price_trend_per_year=ai_params.price_trend_per_year,
        ai_price_volatility_per_year=ai_params.price_volatility_per_year,
        gas=_gas_arrays(gas, profiles, zi),
    )
    inc = options.incentives
    context = _Context(
        months=months,
        site_ids=tuple(str(s) for s in allocation.index),
        asic=asic,
        hardware_value_usd=hardware_value,
        import_tax_forgone_usd=inc.import_tax_forgone_usd(ctry, hardware_value),
        ai_tax_rate_gap=(ctry.corporate_income_tax_fraction - ctry.ai_reduced_income_tax_fraction)
        if inc.ai_tax_reduction
        else 0.0,
        exchange_rate_pkr_per_usd=exchange_rate_pkr_per_usd,
        country=ctry,
        options=options,
    )
    return model, context


def _gas_arrays(gas: GasSurface | None, profiles: SurplusProfiles, zi: list[int]) -> GasArrays | None:
    """Return the gas surface on the zones holding sites, or None."""
    if gas is None:
        return None
    if gas.profiles[0].zone_ids != profiles.zone_ids:
        raise InputError("the gas-price profiles cover other zones than the surplus profiles", field="gas")
    return GasArrays(
        multipliers=np.asarray(gas.multipliers, dtype=float),
        zone_surplus_mw=np.stack([p.zone_surplus_mw[zi] for p in gas.profiles]),
        national_surplus_mw=np.stack([p.national_surplus_mw for p in gas.profiles]),
        zone_marginal_cost_usd_per_mwh=np.stack([p.marginal_cost_usd_per_mwh[zi] for p in gas.profiles]),
        base_price_usd_per_mwh=float(gas.base_price_usd_per_mwh),
    )


def _blocks(n_paths: int) -> list[tuple[int, int]]:
    return [(b, min(BLOCK_PATHS, n_paths - b * BLOCK_PATHS)) for b in range((n_paths + BLOCK_PATHS - 1) // BLOCK_PATHS)]


def _run_chunk(model: RiskModel, chunk: Sequence[tuple[int, int]]) -> list[BlockResult]:
    return [simulate_block(model, block, n) for block, n in chunk]


def _concat(results: list[BlockResult]) -> dict[str, np.ndarray]:
    results = sorted(results, key=lambda r: r.block)
    out: dict[str, np.ndarray] = {}
    for name in BlockResult.__dataclass_fields__:
        if name == "block":
            continue
        arrays = [getattr(r, name) for r in results]
        axis = 1 if arrays[0].ndim == 2 and not name.startswith("monthly") else 0
        out[name] = np.concatenate(arrays, axis=axis)
    return out


@dataclass
class RiskResult:
    """Paths of a risk run and their summaries.

    Attributes
    ----------
    model
        The engine's inputs.
    arrays
        Per-path totals [K, N] and monthly series of case 0 [N, M] (see :class:`BlockResult`).
    """

    model: RiskModel
    context: _Context
    arrays: dict[str, np.ndarray]

    @property
    def n_paths(self) -> int:
        """Number of paths."""
        return int(self.arrays["energy_mwh"].shape[1])

    @property
    def months(self) -> pd.DatetimeIndex:
        """Month starts of the horizon (aware UTC)."""
        return self.context.months

    @property
    def tariff_grid_usd_per_mwh(self) -> FloatArray:
        """Uniform tariffs of cases 1.. [USD/MWh]."""
        return np.asarray(self.context.options.tariff_grid_usd_per_mwh, dtype=float)

    @property
    def period_years(self) -> float:
        """Horizon length [year]."""
        return float(self.model.days_in_month.sum() / 365.25)

    def country_net_usd(self, case: int = 0) -> FloatArray:
        """Country's net gain per path over the horizon [USD]."""
        a = self.arrays
        ai_forgone = np.maximum(a["ai_taxable_profit_usd"][case], 0.0) * self.context.ai_tax_rate_gap
        contribution = a["tariff_revenue_usd"][case] - a["fuel_cost_usd"][case] - a["network_cost_usd"][case]
        net = contribution - ai_forgone - self.context.import_tax_forgone_usd
        return np.asarray(net, dtype=np.float64)

    def outcome_paths(self, case: int = 0) -> pd.DataFrame:
        """Per-path outcomes of a case: absorbed TWh and money in USD."""
        a = self.arrays
        return pd.DataFrame(
            {
                "absorbed_twh": a["energy_mwh"][case] / 1e6,
                "tariff_revenue_usd": a["tariff_revenue_usd"][case],
                "country_net_gain_usd": self.country_net_usd(case),
                "miners_margin_usd": a["miners_margin_usd"][case],
                "ai_margin_usd": a["ai_margin_usd"][case],
            }
        )

    def percentiles(self, case: int = 0) -> pd.DataFrame:
        """P5, P50 and P95 of the outcomes, with money also in PKR."""
        paths = self.outcome_paths(case)
        table = paths.quantile([0.05, 0.5, 0.95]).T
        table.columns = ["P5", "P50", "P95"]
        rate = self.context.exchange_rate_pkr_per_usd
        money = [c for c in paths.columns if c.endswith("_usd")]
        pkr = table.loc[money] * rate
        pkr.index = [c.replace("_usd", "_pkr") for c in money]
        return pd.concat([table, pkr])

    def probabilities(self) -> pd.DataFrame:
        """P(a miner stops a month) and P(leaves), at the allocation's and each grid tariff."""
        a = self.arrays
        labels = ["allocation"] + [f"{t:g}" for t in self.tariff_grid_usd_per_mwh]
        return pd.DataFrame(
            {
                "tariff_usd_per_mwh": [np.nan, *self.tariff_grid_usd_per_mwh],
                "p_miner_stops": a["miners_stopped"].mean(axis=1),
                "p_miner_leaves": a["miners_left"].mean(axis=1),
                "expected_mining_mw_left_share": a["mining_mw_left_share"].mean(axis=1),
                "absorbed_twh_p50": np.median(a["energy_mwh"], axis=1) / 1e6,
                "tariff_revenue_usd_p50": np.median(a["tariff_revenue_usd"], axis=1),
                "country_net_gain_usd_p50": [
                    float(np.median(self.country_net_usd(k))) for k in range(self.model.n_cases)
                ],
            },
            index=pd.Index(labels, name="case"),
        )

    def solved_tariff_usd_per_mwh(self) -> float | None:
        """Highest grid tariff at which P(target event) is within the limit, as at all lower ones.

        Returns None when even the lowest grid tariff exceeds the limit [USD/MWh].
        """
        opts = self.context.options
        key = "miners_left" if opts.target == "leave" else "miners_stopped"
        p = self.arrays[key][1:].mean(axis=1)
        grid = self.tariff_grid_usd_per_mwh
        order = np.argsort(grid)
        best: float | None = None
        for i in order:
            if p[i] > opts.max_probability:
                break
            best = float(grid[i])
        return best

    @property
    def allocated_energy_mwh(self) -> float:
        """Energy the allocation would draw running at its full MW for the whole horizon [MWh]."""
        return float(self.model.site_allocated_mw.sum() * 24.0 * self.model.days_in_month.sum())

    def energy_shortfall(self, fractions: Sequence[float] = (0.25, 0.5, 0.75)) -> pd.DataFrame:
        """Share of paths whose energy over the horizon falls below a fraction of the allocation's.

        Parameters
        ----------
        fractions
            Thresholds as fractions of :attr:`allocated_energy_mwh` [-].

        Returns
        -------
        pandas.DataFrame
            Per threshold: ``threshold_twh``, ``p_absorbed_below`` (energy drawn by the sites that
            run) and ``p_available_below`` (energy the surplus offered them) [-].
        """
        full = self.allocated_energy_mwh
        absorbed = self.arrays["energy_mwh"][0]
        available = self.arrays["monthly_available_mwh"].sum(axis=1)
        rows = [
            {
                "threshold_share": f,
                "threshold_twh": f * full / 1e6,
                "p_absorbed_below": float((absorbed < f * full).mean()),
                "p_available_below": float((available < f * full).mean()),
            }
            for f in fractions
        ]
        return pd.DataFrame(rows).set_index("threshold_share")

    def variance_attribution(self) -> pd.DataFrame:
        """Share of each headline's variance across paths carried by each driver (first order).

        Each headline (absorbed energy, the country's net gain) is regressed on one summary per
        driver and path (:data:`offtake.risk.engine.DRIVER_NAMES`: mean monthly shock, or the
        path's draw, or the mean log gas price); the drivers are independent, so the share of
        driver ``j`` is ``beta_j^2 var(x_j) / var(y)``, and what the linear fit leaves is the
        share of non-linear effects and interactions.

        Returns
        -------
        pandas.DataFrame
            Index: drivers, then ``non-linear and interactions``; columns ``absorbed_twh`` and
            ``country_net_gain_usd`` [-]; NaN where a headline does not vary.
        """
        x = np.asarray(self.arrays["driver_summaries"], dtype=float).T  # [N, D]
        headlines = {"absorbed_twh": self.arrays["energy_mwh"][0] / 1e6, "country_net_gain_usd": self.country_net_usd()}
        out: dict[str, list[float]] = {}
        for name, y in headlines.items():
            out[name] = _first_order_shares(x, np.asarray(y, dtype=float))
        return pd.DataFrame(out, index=pd.Index([*DRIVER_NAMES, "non-linear and interactions"], name="driver"))

    def driver_tornado(self, low: float = 0.1, high: float = 0.9) -> pd.DataFrame:
        """Mean headline in the paths where each driver is low, and where it is high.

        Parameters
        ----------
        low, high
            Quantiles of the driver's summary that bound the low and the high paths [-].

        Returns
        -------
        pandas.DataFrame
            Per driver: ``absorbed_twh_low``/``_high`` [TWh] and ``country_net_gain_usd_low``/``_high``
            [USD], means over the paths with the driver at or below its ``low`` quantile and at or
            above its ``high`` one.
        """
        x = np.asarray(self.arrays["driver_summaries"], dtype=float)  # [D, N]
        headlines = {"absorbed_twh": self.arrays["energy_mwh"][0] / 1e6, "country_net_gain_usd": self.country_net_usd()}
        rows = []
        for values in x:
            lo_cut, hi_cut = np.quantile(values, [low, high])
            row: dict[str, float] = {}
            for name, y in headlines.items():
                row[f"{name}_low"] = float(np.mean(y[values <= lo_cut]))
                row[f"{name}_high"] = float(np.mean(y[values >= hi_cut]))
            rows.append(row)
        return pd.DataFrame(rows, index=pd.Index(list(DRIVER_NAMES), name="driver"))

    def monthly_quantiles(self, name: str, quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> pd.DataFrame:
        """Quantiles across paths of a monthly series of case 0, per month."""
        values = np.quantile(self.arrays[name], quantiles, axis=0).T
        return pd.DataFrame(values, index=self.months, columns=[f"P{round(q * 100)}" for q in quantiles])


def _first_order_shares(x: FloatArray, y: FloatArray) -> list[float]:
    """Shares of var(y) carried by each column of x by least squares, then the remainder [-]."""
    n, k = x.shape
    var_y = float(y.var())
    if n <= k + 1 or not var_y > 0:
        return [float("nan")] * (k + 1)
    sd = x.std(axis=0)
    keep = sd > 0
    z = np.zeros_like(x)
    z[:, keep] = (x[:, keep] - x[:, keep].mean(axis=0)) / sd[keep]
    design = np.column_stack([np.ones(n), z[:, keep]])
    beta = np.linalg.lstsq(design, y, rcond=None)[0][1:]
    shares = np.zeros(k)
    shares[keep] = beta**2 / var_y
    return [*(float(v) for v in shares), max(0.0, 1.0 - float(shares.sum()))]


def run_risk(
    model: RiskModel,
    context: _Context,
    n_paths: int,
    *,
    scheduler_address: str | None = None,
    progress: TextIO | None = sys.stderr,
) -> RiskResult:
    """Simulate ``n_paths`` paths in process or on a Dask cluster.

    Parameters
    ----------
    model, context
        From :func:`build_model`.
    n_paths
        Number of paths.
    scheduler_address
        Address of a Dask distributed scheduler (``tcp://host:port``); in process when None.
        Workers must be able to import ``offtake``.
    progress
        Where to report progress; None for silence.
    """
    if n_paths < 1:
        raise InputError("paths must be >= 1", field="paths")
    blocks = _blocks(n_paths)
    results: list[BlockResult] = []
    if scheduler_address is None:
        for i, (block, n) in enumerate(blocks):
            results.append(simulate_block(model, block, n))
            if progress is not None:
                progress.write(f"risk: block {i + 1}/{len(blocks)} ({(i + 1) * 100 // len(blocks)}%)\n")
                progress.flush()
    else:
        results = _run_on_dask(model, blocks, scheduler_address, progress)
    arrays = _concat(results)
    if model.gas is not None:
        arrays["monthly_gas_price_usd_per_mwh"] = arrays["monthly_gas_multiplier"] * model.gas.base_price_usd_per_mwh
    return RiskResult(model=model, context=context, arrays=arrays)


def _run_on_dask(
    model: RiskModel, blocks: list[tuple[int, int]], address: str, progress: TextIO | None
) -> list[BlockResult]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - dask is a dependency
        raise InputError("--scheduler needs dask[distributed] installed") from exc
    try:
        client = Client(address, timeout=20, set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address}: {exc}", field="scheduler") from None
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        n_chunks = min(len(blocks), 4 * n_workers)
        chunks = [blocks[i::n_chunks] for i in range(n_chunks)]
        shared = client.scatter(model, broadcast=True)  # type: ignore[no-untyped-call]
        futures = [client.submit(_run_chunk, shared, chunk, pure=False) for chunk in chunks]
        out: list[BlockResult] = []
        with client.as_current():
            for done, future in enumerate(as_completed(futures), start=1):  # type: ignore[no-untyped-call]
                out.extend(future.result())
                if progress is not None:
                    progress.write(f"risk: chunk {done}/{len(chunks)} done on the cluster\n")
                    progress.flush()
        return out
    finally:
        client.close()  # type: ignore[no-untyped-call]
