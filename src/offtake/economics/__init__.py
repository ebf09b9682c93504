"""Economics of the off-take: miners, AI data centres, the no-subsidy test and the country's view.

Every number from the world is read from the data files in ``offtake/data/economics/``, each
with its unit, source and an estimate flag.
"""

from offtake.economics.ai import (
    AiParameters,
    ai_breakeven_usd_per_mwh,
    ai_revenue_usd_per_mwh,
    load_ai,
)
from offtake.economics.bitcoin import (
    AsicModel,
    BitcoinData,
    HalvingSchedule,
    hashprice_usd_per_ph_day,
    load_asic_models,
    load_bitcoin,
    miner_breakeven_usd_per_mwh,
    miner_revenue_usd_per_mwh,
)
from offtake.economics.country import (
    CountryData,
    CountryView,
    Incentives,
    country_view,
    load_country,
)
from offtake.economics.data import Quantity
from offtake.economics.subsidy import (
    NetworkCosts,
    NoSubsidyResult,
    load_network,
    no_subsidy_test,
)

__all__ = [
    "AiParameters",
    "AsicModel",
    "BitcoinData",
    "CountryData",
    "CountryView",
    "HalvingSchedule",
    "Incentives",
    "NetworkCosts",
    "NoSubsidyResult",
    "Quantity",
    "ai_breakeven_usd_per_mwh",
    "ai_revenue_usd_per_mwh",
    "country_view",
    "hashprice_usd_per_ph_day",
    "load_ai",
    "load_asic_models",
    "load_bitcoin",
    "load_country",
    "load_network",
    "miner_breakeven_usd_per_mwh",
    "miner_revenue_usd_per_mwh",
    "no_subsidy_test",
]
