"""Monte Carlo risk of the off-take: BTC price, hashrate, fees, halving, demand, rooftop solar and gas price.

Outputs the spread of absorbed energy, tariff revenue, the country's net gain and miners' margin,
the probability that miners stop or leave, and the tariff that keeps that probability under a
chosen level.
"""

from offtake.risk.engine import BLOCK_PATHS, DRIVER_NAMES, BlockResult, GasArrays, RiskModel, simulate_block
from offtake.risk.inputs import (
    GasSurface,
    RiskParameters,
    SurplusProfiles,
    load_risk_parameters,
    read_allocation,
    reduce_to_profiles,
    solar_shape,
)
from offtake.risk.run import RiskOptions, RiskResult, build_model, default_tariff_grid, run_risk

__all__ = [
    "BLOCK_PATHS",
    "DRIVER_NAMES",
    "BlockResult",
    "GasArrays",
    "GasSurface",
    "RiskModel",
    "RiskOptions",
    "RiskParameters",
    "RiskResult",
    "SurplusProfiles",
    "build_model",
    "default_tariff_grid",
    "load_risk_parameters",
    "read_allocation",
    "reduce_to_profiles",
    "run_risk",
    "simulate_block",
    "solar_shape",
]
