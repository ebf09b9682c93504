"""Bitcoin mining economics: subsidy by height and date, hashprice, ASICs, break-even power price.

Hashprice is the expected revenue of one PH/s of hashing for one day [USD/PH/s/day]:

    blocks_per_ph_day = 1e15 * 86,400 / (difficulty * 2**32)
    hashprice_usd     = blocks_per_ph_day * (subsidy_btc + fees_btc_per_block) * btc_price_usd

A miner of efficiency ``e`` [J/TH] draws ``0.024 * e`` MWh per PH/s per day, so its revenue per
MWh is ``hashprice / (0.024 * e)``, less the pool fee and grossed up for site overhead.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from offtake.economics.data import Quantity, data_path, load_sections
from offtake.errors import InputError
from offtake.timeutil import parse_utc, require_aware

__all__ = [
    "HOURS_PER_MONTH",
    "AsicModel",
    "BitcoinData",
    "HalvingSchedule",
    "MarketState",
    "MiningCosts",
    "blocks_per_ph_day",
    "difficulty_from_hashrate",
    "hashprice_usd_per_ph_day",
    "hashrate_from_difficulty",
    "load_asic_models",
    "load_bitcoin",
    "miner_breakeven_usd_per_mwh",
    "miner_revenue_usd_per_mwh",
]

#: Hashes per difficulty-1 block: 2**32.
_HASHES_PER_DIFFICULTY = 2.0**32
#: Seconds in a day [s].
_SECONDS_PER_DAY = 86_400.0
#: Hours in an average month of a 365-day year [h].
HOURS_PER_MONTH = 730.0

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class HalvingSchedule:
    """The block subsidy schedule and the mapping between block height and time.

    Parameters
    ----------
    initial_subsidy_sat
        Subsidy of the first era [sat].
    halving_interval_blocks
        Blocks between halvings.
    mean_block_interval_s
        Block interval used to project heights beyond the last anchor [s].
    target_block_interval_s
        Protocol target block interval [s].
    anchors
        Known (height, aware UTC time) pairs in increasing order.
    """

    initial_subsidy_sat: int
    halving_interval_blocks: int
    mean_block_interval_s: float
    target_block_interval_s: float
    anchors: tuple[tuple[int, datetime], ...]

    def subsidy_sat(self, height: int) -> int:
        """Block subsidy at ``height`` [sat], exactly as the consensus rule computes it."""
        if height < 0:
            raise ValueError("height must be >= 0")
        halvings = height // self.halving_interval_blocks
        return 0 if halvings >= 64 else self.initial_subsidy_sat >> halvings

    def subsidy_btc(self, height: int) -> float:
        """Block subsidy at ``height`` [BTC]."""
        return self.subsidy_sat(height) / 1e8

    def height_at(self, when: datetime) -> int:
        """Best estimate of the chain height at an instant.

        Between anchors the height is interpolated linearly in time; after the last anchor it is
        projected at ``mean_block_interval_s``.
        """
        when = require_aware(when, field="when")
        if when < self.anchors[0][1]:
            raise ValueError(f"{when.isoformat()} is before the first anchor")
        for (h0, t0), (h1, t1) in zip(self.anchors, self.anchors[1:], strict=False):
            if t0 <= when < t1:
                share = (when - t0).total_seconds() / (t1 - t0).total_seconds()
                return h0 + math.floor(share * (h1 - h0))
        h_last, t_last = self.anchors[-1]
        return h_last + math.floor((when - t_last).total_seconds() / self.mean_block_interval_s)

    def time_of_height(self, height: int) -> datetime:
        """Time at which ``height`` is (or was) reached, interpolated as in :meth:`height_at`."""
        for (h0, t0), (h1, t1) in zip(self.anchors, self.anchors[1:], strict=False):
            if h0 <= height <= h1:
                return t0 + (t1 - t0) * ((height - h0) / (h1 - h0))
        h_last, t_last = self.anchors[-1]
        if height < self.anchors[0][0]:
            raise ValueError("height before the first anchor")
        return t_last + timedelta(seconds=(height - h_last) * self.mean_block_interval_s)

    def halvings(self, until: datetime) -> list[tuple[int, datetime, float]]:
        """Halvings up to ``until``: (height, time, subsidy after [BTC]); future ones projected."""
        until = require_aware(until, field="until")
        out: list[tuple[int, datetime, float]] = []
        height = self.halving_interval_blocks
        while True:
            when = self.time_of_height(height)
            if when > until:
                return out
            out.append((height, when, self.subsidy_btc(height)))
            height += self.halving_interval_blocks

    def subsidy_btc_at(self, when: datetime) -> float:
        """Block subsidy in force at an instant [BTC]."""
        return self.subsidy_btc(self.height_at(when))

    def mean_subsidy_btc(self, start: datetime, end: datetime) -> float:
        """Block subsidy averaged over the blocks mined between two instants [BTC].

        A halving inside the interval splits it in proportion to the blocks mined on each side.
        """
        h0, h1 = self.height_at(start), self.height_at(end)
        if h1 <= h0:
            return self.subsidy_btc(h0)
        total = 0.0
        height = h0
        while height < h1:
            next_halving = (height // self.halving_interval_blocks + 1) * self.halving_interval_blocks
            upper = min(next_halving, h1)
            total += (upper - height) * self.subsidy_btc(height)
            height = upper
        return total / (h1 - h0)


@dataclass(frozen=True)
class MarketState:
    """The Bitcoin market at a reference date, the starting point of the risk model.

    Parameters
    ----------
    as_of
        Reference instant, aware UTC.
    difficulty
        Network difficulty [-].
    btc_price_usd
        BTC price [USD/BTC].
    fees_btc_per_block
        Mean transaction fees per block [BTC].
    """

    as_of: datetime
    difficulty: float
    btc_price_usd: float
    fees_btc_per_block: float

    @property
    def hashrate_h_per_s(self) -> float:
        """Network hashrate implied by the difficulty [H/s]."""
        return float(hashrate_from_difficulty(self.difficulty))


@dataclass(frozen=True)
class MiningCosts:
    """A mining operator's costs besides power.

    Parameters
    ----------
    pool_fee_fraction
        Share of mining revenue kept by the pool [-].
    site_overhead_fraction
        Site power (cooling, transformers) on top of ASIC power [-].
    hardware_cost_usd_per_th
        ASIC price before import taxes [USD/(TH/s)].
    hardware_life_months
        Depreciation life of the ASICs [month].
    other_opex_usd_per_mwh
        Non-power operating cost per MWh drawn [USD/MWh].
    required_return_fraction_per_year
        After-tax return asked of the hardware capital [1/year].
    """

    pool_fee_fraction: float
    site_overhead_fraction: float
    hardware_cost_usd_per_th: float
    hardware_life_months: float
    other_opex_usd_per_mwh: float
    required_return_fraction_per_year: float


@dataclass(frozen=True)
class AsicModel:
    """A mining machine.

    Parameters
    ----------
    model
        Model name.
    hashrate_th_s
        Rated hashrate [TH/s]; NaN when not published.
    power_w
        Rated wall power [W]; NaN when not published.
    efficiency_j_per_th
        Energy per terahash [J/TH].
    estimate
        True when the figures are not confirmed by a source.
    source
        Where the figures come from.
    """

    model: str
    hashrate_th_s: float
    power_w: float
    efficiency_j_per_th: float
    estimate: bool
    source: str


@dataclass(frozen=True)
class BitcoinData:
    """Everything in ``bitcoin.toml``.

    Parameters
    ----------
    schedule
        Subsidy schedule and height/time anchors.
    market
        Market state at the reference date.
    costs
        Mining costs besides power.
    default_asic
        Model name assumed for mining sites that do not name one.
    quantities
        Every sourced number of the file, keyed by ``section.name``.
    """

    schedule: HalvingSchedule
    market: MarketState
    costs: MiningCosts
    default_asic: str
    quantities: dict[str, Quantity]


def load_bitcoin(path: str | Path | None = None) -> BitcoinData:
    """Read ``bitcoin.toml`` (the bundled file unless ``path`` is given)."""
    data = load_sections(path if path is not None else "bitcoin.toml", ("protocol", "market", "mining"))
    doc, file, q = data.doc, data.file, data.quantities
    anchors: list[tuple[int, datetime]] = []
    for i, entry in enumerate(doc.get("anchors", [])):
        if not isinstance(entry, dict) or "height" not in entry or "timestamp" not in entry or "source" not in entry:
            raise InputError("each anchor needs height, timestamp and source", file=file, field=f"anchors[{i}]")
        anchors.append(
            (
                int(entry["height"]),
                parse_utc(str(entry["timestamp"]), field=f"anchors[{i}].timestamp", file=str(file)),
            )
        )
    if not anchors or any(b[0] <= a[0] or b[1] <= a[1] for a, b in itertools.pairwise(anchors)):
        raise InputError("anchors must be non-empty and increase in height and time", file=file, field="anchors")

    v = data.value

    schedule = HalvingSchedule(
        initial_subsidy_sat=int(v("protocol.initial_subsidy_sat")),
        halving_interval_blocks=int(v("protocol.halving_interval_blocks")),
        mean_block_interval_s=v("protocol.mean_block_interval_s"),
        target_block_interval_s=v("protocol.target_block_interval_s"),
        anchors=tuple(anchors),
    )
    market_table = doc["market"]
    market = MarketState(
        as_of=parse_utc(str(market_table.get("as_of", "")), field="market.as_of", file=str(file)),
        difficulty=v("market.difficulty"),
        btc_price_usd=v("market.btc_price_usd"),
        fees_btc_per_block=v("market.fees_btc_per_block"),
    )
    costs = MiningCosts(
        pool_fee_fraction=v("mining.pool_fee_fraction"),
        site_overhead_fraction=v("mining.site_overhead_fraction"),
        hardware_cost_usd_per_th=v("mining.hardware_cost_usd_per_th"),
        hardware_life_months=v("mining.hardware_life_months"),
        other_opex_usd_per_mwh=v("mining.other_opex_usd_per_mwh"),
        required_return_fraction_per_year=v("mining.required_return_fraction_per_year"),
    )
    return BitcoinData(schedule, market, costs, str(doc["mining"].get("default_asic", "")), q)


def load_asic_models(path: str | Path | None = None) -> dict[str, AsicModel]:
    """Read the ASIC model table (``asic_models.csv``), keyed by model name."""
    file = Path(path) if path is not None else data_path("asic_models.csv")
    if not file.is_file():
        raise InputError("file not found", file=file)
    frame = pd.read_csv(file, dtype=str, keep_default_na=False)
    required = ("model", "hashrate_th_s", "power_w", "efficiency_j_per_th", "estimate", "source")
    for col in required:
        if col not in frame.columns:
            raise InputError(f"missing column '{col}'", file=file, line=1, field=col)
    models: dict[str, AsicModel] = {}
    for i, row in enumerate(frame.to_dict("records")):
        line = i + 2
        numbers: dict[str, float] = {}
        for col in ("hashrate_th_s", "power_w", "efficiency_j_per_th"):
            text = row[col].strip()
            try:
                numbers[col] = float(text) if text else math.nan
            except ValueError:
                raise InputError(f"expected a number, got '{text}'", file=file, line=line, field=col) from None
        eff = numbers["efficiency_j_per_th"]
        if not eff > 0:
            raise InputError("efficiency must be > 0 J/TH", file=file, line=line, field="efficiency_j_per_th")
        th, w = numbers["hashrate_th_s"], numbers["power_w"]
        if not math.isnan(th) and not math.isnan(w) and abs(w / th - eff) > 0.05 * eff:
            raise InputError(
                f"power_w / hashrate_th_s = {w / th:.2f} J/TH disagrees with efficiency {eff}",
                file=file,
                line=line,
                field="efficiency_j_per_th",
            )
        if not row["source"].strip():
            raise InputError("every model needs a source", file=file, line=line, field="source")
        estimate = row["estimate"].strip().lower()
        if estimate not in ("true", "false"):
            raise InputError("expected true or false", file=file, line=line, field="estimate")
        name = row["model"].strip()
        if name in models:
            raise InputError(f"model '{name}' appears twice", file=file, line=line, field="model")
        models[name] = AsicModel(name, th, w, eff, estimate == "true", row["source"].strip())
    return models


def blocks_per_ph_day(difficulty: Any) -> Any:
    """Return the expected blocks found per PH/s per day at a difficulty [blocks/(PH/s)/day]."""
    return 1e15 * _SECONDS_PER_DAY / (difficulty * _HASHES_PER_DIFFICULTY)


def hashrate_from_difficulty(difficulty: Any, block_interval_s: float = 600.0) -> Any:
    """Network hashrate that finds one block per ``block_interval_s`` at a difficulty [H/s]."""
    return difficulty * _HASHES_PER_DIFFICULTY / block_interval_s


def difficulty_from_hashrate(hashrate_h_per_s: Any, block_interval_s: float = 600.0) -> Any:
    """Difficulty at which a network hashrate finds one block per ``block_interval_s`` [-]."""
    return hashrate_h_per_s * block_interval_s / _HASHES_PER_DIFFICULTY


def hashprice_usd_per_ph_day(difficulty: Any, subsidy_btc: Any, fees_btc_per_block: Any, btc_price_usd: Any) -> Any:
    """Hashprice [USD/(PH/s)/day].

    Parameters
    ----------
    difficulty
        Network difficulty [-].
    subsidy_btc
        Block subsidy [BTC].
    fees_btc_per_block
        Mean fees per block [BTC].
    btc_price_usd
        BTC price [USD/BTC].

    Examples
    --------
    >>> round(hashprice_usd_per_ph_day(152e12, 3.125, 0.02, 91_000), 1)
    37.9
    """
    return blocks_per_ph_day(difficulty) * (subsidy_btc + fees_btc_per_block) * btc_price_usd


def miner_revenue_usd_per_mwh(
    hashprice: Any,
    efficiency_j_per_th: Any,
    pool_fee_fraction: float = 0.0,
    site_overhead_fraction: float = 0.0,
) -> Any:
    """Mining revenue per MWh drawn at the meter [USD/MWh].

    Parameters
    ----------
    hashprice
        Hashprice [USD/(PH/s)/day].
    efficiency_j_per_th
        ASIC efficiency [J/TH].
    pool_fee_fraction
        Share of revenue kept by the pool [-].
    site_overhead_fraction
        Site power on top of ASIC power [-].
    """
    return hashprice * (1.0 - pool_fee_fraction) / (0.024 * efficiency_j_per_th * (1.0 + site_overhead_fraction))


def miner_breakeven_usd_per_mwh(
    hashprice: Any,
    efficiency_j_per_th: float,
    *,
    pool_fee_fraction: float = 0.0,
    site_overhead_fraction: float = 0.0,
    other_opex_usd_per_mwh: float = 0.0,
    hardware_cost_usd_per_th: float = 0.0,
    import_tax_fraction: float = 0.0,
    hardware_life_months: float = 36.0,
    required_return_fraction_per_year: float = 0.0,
    income_tax_fraction: float = 0.0,
) -> Any:
    """Highest power price at which a miner covers its costs [USD/MWh].

    With the defaults this is the power-only break-even of domain.md §5.3,
    ``hashprice / (0.024 * J/TH)``. Pool fee and site overhead lower it; giving a hardware cost adds
    depreciation and a required after-tax return on the hardware (the full break-even), in which
    the import tax on hardware and the income tax rate enter, so incentives can be compared.

    Parameters
    ----------
    hashprice
        Hashprice [USD/(PH/s)/day].
    efficiency_j_per_th
        ASIC efficiency [J/TH].
    pool_fee_fraction, site_overhead_fraction
        See :func:`miner_revenue_usd_per_mwh` [-].
    other_opex_usd_per_mwh
        Non-power operating cost [USD/MWh].
    hardware_cost_usd_per_th
        ASIC price before import taxes [USD/(TH/s)]; 0 gives the cash break-even.
    import_tax_fraction
        Taxes on importing the hardware, share of its price [-]; 0 under an exemption.
    hardware_life_months
        Depreciation life [month].
    required_return_fraction_per_year
        After-tax return asked of the hardware capital [1/year].
    income_tax_fraction
        Income tax rate on the operator's profit [-].
    """
    revenue = miner_revenue_usd_per_mwh(hashprice, efficiency_j_per_th, pool_fee_fraction, site_overhead_fraction)
    th_per_mw = 1e6 / (efficiency_j_per_th * (1.0 + site_overhead_fraction))
    capex_usd_per_mw = th_per_mw * hardware_cost_usd_per_th * (1.0 + import_tax_fraction)
    depreciation = capex_usd_per_mw / (hardware_life_months * HOURS_PER_MONTH)
    capital_return = (
        capex_usd_per_mw * required_return_fraction_per_year / (12 * HOURS_PER_MONTH) / (1.0 - income_tax_fraction)
    )
    return revenue - other_opex_usd_per_mwh - depreciation - capital_return
