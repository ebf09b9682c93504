"""AI data-centre economics: revenue per MWh of facility energy and the break-even power price.

One MW at the facility meter runs ``1000 / (server_power_kw_per_gpu * pue)`` GPUs. Sold at
``price_usd_per_gpu_hour`` for a share ``utilisation_fraction`` of the hours, it earns

    revenue_usd_per_mwh = 1000 / (kw_per_gpu * pue) * utilisation * price_usd_per_gpu_hour

The facility is assumed to draw its full power whether or not GPU-hours are sold (idle GPUs in a
training or inference fleet stay powered), which makes the break-even conservative.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from offtake.economics.bitcoin import HOURS_PER_MONTH
from offtake.economics.data import Quantity, load_sections
from offtake.errors import InputError

__all__ = [
    "AiParameters",
    "ai_breakeven_usd_per_mwh",
    "ai_capex_usd_per_mw",
    "ai_revenue_usd_per_mwh",
    "gpus_per_mw",
    "load_ai",
]


@dataclass(frozen=True)
class AiParameters:
    """Economics of a GPU data centre, per GPU.

    Parameters
    ----------
    price_usd_per_gpu_hour
        Price of one GPU-hour sold [USD/GPU-h].
    server_power_kw_per_gpu
        Server (IT) power per GPU, including CPUs and network [kW/GPU].
    utilisation_fraction
        Share of GPU-hours sold [-].
    pue
        Facility power over IT power [-].
    capex_usd_per_gpu
        Server hardware per GPU before import taxes [USD/GPU].
    facility_capex_usd_per_gpu
        Building and plant per GPU [USD/GPU].
    hardware_life_months, facility_life_months
        Depreciation lives [month].
    other_opex_usd_per_gpu_hour
        Non-power operating cost per installed GPU-hour [USD/GPU-h].
    required_return_fraction_per_year
        After-tax return asked of the capital [1/year].
    price_trend_per_year
        Expected log change of the GPU-hour price per year [1/year].
    price_volatility_per_year
        Volatility of the GPU-hour price [1/sqrt(year)].
    quantities
        The sourced numbers of the data file.
    """

    price_usd_per_gpu_hour: float
    server_power_kw_per_gpu: float
    utilisation_fraction: float
    pue: float
    capex_usd_per_gpu: float
    facility_capex_usd_per_gpu: float
    hardware_life_months: float
    facility_life_months: float
    other_opex_usd_per_gpu_hour: float
    required_return_fraction_per_year: float
    price_trend_per_year: float = 0.0
    price_volatility_per_year: float = 0.0
    quantities: dict[str, Quantity] | None = None

    def with_price(self, price_usd_per_gpu_hour: float) -> AiParameters:
        """Return a copy with another GPU-hour price."""
        return replace(self, price_usd_per_gpu_hour=price_usd_per_gpu_hour)


def load_ai(path: str | Path | None = None) -> AiParameters:
    """Read ``ai.toml`` (the bundled file unless ``path`` is given)."""
    data = load_sections(path if path is not None else "ai.toml", ("gpu", "risk"))
    file, q = data.file, data.quantities
    v = data.value

    params = AiParameters(
        price_usd_per_gpu_hour=v("gpu.price_usd_per_gpu_hour"),
        server_power_kw_per_gpu=v("gpu.server_power_kw_per_gpu"),
        utilisation_fraction=v("gpu.utilisation_fraction"),
        pue=v("gpu.pue"),
        capex_usd_per_gpu=v("gpu.capex_usd_per_gpu"),
        facility_capex_usd_per_gpu=v("gpu.facility_capex_usd_per_gpu"),
        hardware_life_months=v("gpu.hardware_life_months"),
        facility_life_months=v("gpu.facility_life_months"),
        other_opex_usd_per_gpu_hour=v("gpu.other_opex_usd_per_gpu_hour"),
        required_return_fraction_per_year=v("gpu.required_return_fraction_per_year"),
        price_trend_per_year=v("risk.price_trend_per_year"),
        price_volatility_per_year=v("risk.price_volatility_per_year"),
        quantities=q,
    )
    if not 0 < params.utilisation_fraction <= 1:
        raise InputError("must be in (0, 1]", file=file, field="gpu.utilisation_fraction.value")
    if params.pue < 1:
        raise InputError("PUE must be >= 1", file=file, field="gpu.pue.value")
    return params


def gpus_per_mw(params: AiParameters) -> float:
    """GPUs one MW at the facility meter runs [GPU/MW]."""
    return 1000.0 / (params.server_power_kw_per_gpu * params.pue)


def ai_revenue_usd_per_mwh(params: AiParameters, price_usd_per_gpu_hour: Any = None) -> Any:
    """Revenue per MWh of facility energy [USD/MWh].

    Parameters
    ----------
    params
        Facility economics.
    price_usd_per_gpu_hour
        GPU-hour price instead of ``params.price_usd_per_gpu_hour`` (may be an array) [USD/GPU-h].

    Examples
    --------
    >>> p = AiParameters(2.0, 1.0, 0.5, 1.25, 0, 0, 60, 180, 0, 0)
    >>> ai_revenue_usd_per_mwh(p)
    800.0
    """
    price = params.price_usd_per_gpu_hour if price_usd_per_gpu_hour is None else price_usd_per_gpu_hour
    return gpus_per_mw(params) * params.utilisation_fraction * price


def ai_capex_usd_per_mw(params: AiParameters, import_tax_fraction: float = 0.0) -> float:
    """Capital per MW of facility power: servers (with import taxes) and building [USD/MW]."""
    per_gpu = params.capex_usd_per_gpu * (1.0 + import_tax_fraction) + params.facility_capex_usd_per_gpu
    return gpus_per_mw(params) * per_gpu


def ai_breakeven_usd_per_mwh(
    params: AiParameters,
    *,
    import_tax_fraction: float = 0.0,
    income_tax_fraction: float = 0.0,
    include_capital: bool = True,
    price_usd_per_gpu_hour: Any = None,
) -> Any:
    """Highest power price at which an AI data centre covers its costs [USD/MWh].

    Parameters
    ----------
    params
        Facility economics.
    import_tax_fraction
        Taxes on importing servers, share of their price [-]; 0 under an exemption.
    income_tax_fraction
        Income tax rate on the operator's profit [-]; the announced AI facility tax reduction
        lowers it.
    include_capital
        Include depreciation and the required return on capital (full break-even); False gives
        the cash break-even that decides whether running for another month pays.
    price_usd_per_gpu_hour
        GPU-hour price to use instead of the one in ``params`` [USD/GPU-h].
    """
    n = gpus_per_mw(params)
    revenue = ai_revenue_usd_per_mwh(params, price_usd_per_gpu_hour)
    opex = n * params.other_opex_usd_per_gpu_hour
    if not include_capital:
        return revenue - opex
    servers = n * params.capex_usd_per_gpu * (1.0 + import_tax_fraction)
    building = n * params.facility_capex_usd_per_gpu
    depreciation = servers / (params.hardware_life_months * HOURS_PER_MONTH) + building / (
        params.facility_life_months * HOURS_PER_MONTH
    )
    capital_return = (
        (servers + building)
        * params.required_return_fraction_per_year
        / (12 * HOURS_PER_MONTH)
        / (1.0 - income_tax_fraction)
    )
    return revenue - opex - depreciation - capital_return
