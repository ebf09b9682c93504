"""The country's view: what the off-take earns the power sector, against what it pays anyway.

Capacity payments to idle plants are owed whether or not the surplus is sold (PKR 1,806 bn in
FY25). Selling surplus energy earns the tariff and costs the fuel burnt to make it (including the
energy lost on the way) and the network's cost of carrying it. The announced incentives cost the
treasury the taxes forgone: part of the income tax of AI facilities and, only where the
imports would happen without the programme, the import taxes on mining and server hardware.

The counterfactual is no programme. Without it the programme's hardware would not be imported,
so the import tax its exemption waives is not revenue the country loses: by default it is not
counted (``Incentives.import_tax_counted`` counts it, for a reader who holds that the imports
would happen anyway).

    net_gain = tariff_revenue - fuel_cost - network_cost - tax_forgone

reported in USD and PKR, and as a share of the capacity payments owed over the same period.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from offtake.economics.data import Quantity, load_sections
from offtake.errors import InputError

__all__ = ["CountryData", "CountryView", "Incentives", "country_view", "load_country"]


@dataclass(frozen=True)
class CountryData:
    """Power-sector and tax figures of the host country.

    Parameters
    ----------
    capacity_payments_pkr_per_year
        Capacity payments owed to generators per year [PKR/year].
    grid_generation_mwh_per_year
        Energy generated for the grid per year [MWh/year].
    average_fuel_cost_pkr_per_kwh
        Average fuel cost of generation [PKR/kWh].
    hardware_import_tax_fraction
        Taxes on importing mining and server hardware without an exemption [-].
    corporate_income_tax_fraction
        Standard corporate income tax rate [-].
    ai_reduced_income_tax_fraction
        Income tax rate of AI facilities under the announced reduction [-].
    quantities
        The sourced numbers of the data file.
    """

    capacity_payments_pkr_per_year: float
    capacity_payments_fiscal_year: str
    grid_generation_mwh_per_year: float
    average_fuel_cost_pkr_per_kwh: float
    hardware_import_tax_fraction: float
    corporate_income_tax_fraction: float
    ai_reduced_income_tax_fraction: float
    quantities: dict[str, Quantity]


def load_country(path: str | Path | None = None) -> CountryData:
    """Read ``pakistan.toml`` (the bundled file unless ``path`` is given)."""
    data = load_sections(path if path is not None else "pakistan.toml", ("power_sector", "incentives"))
    q = data.quantities

    def v(key: str, low: float = 0.0, high: float | None = None) -> float:
        return data.value(key, low, high)

    return CountryData(
        capacity_payments_pkr_per_year=v("power_sector.capacity_payments_pkr_per_year"),
        capacity_payments_fiscal_year=str(data.doc["power_sector"].get("fiscal_year", "")),
        grid_generation_mwh_per_year=v("power_sector.grid_generation_mwh_per_year", 1e-9),
        average_fuel_cost_pkr_per_kwh=v("power_sector.average_fuel_cost_pkr_per_kwh"),
        hardware_import_tax_fraction=v("incentives.hardware_import_tax_fraction", 0.0, 1.0),
        corporate_income_tax_fraction=v("incentives.corporate_income_tax_fraction", 0.0, 0.99),
        ai_reduced_income_tax_fraction=v("incentives.ai_reduced_income_tax_fraction", 0.0, 0.99),
        quantities=q,
    )


@dataclass(frozen=True)
class Incentives:
    """Which announced incentives are granted.

    Parameters
    ----------
    hardware_import_exemption
        Mining and server hardware enter free of import taxes.
    ai_tax_reduction
        AI facilities pay the reduced income tax rate.
    import_tax_counted
        Count the import tax the exemption waives as forgone by the country. Off by default:
        without the programme its hardware would not be imported, so no such tax would be
        collected.
    """

    hardware_import_exemption: bool = True
    ai_tax_reduction: bool = True
    import_tax_counted: bool = False

    def import_tax_fraction(self, data: CountryData) -> float:
        """Import tax the operators pay on hardware [-]."""
        return 0.0 if self.hardware_import_exemption else data.hardware_import_tax_fraction

    def ai_income_tax_fraction(self, data: CountryData) -> float:
        """Income tax rate AI facilities pay [-]."""
        return data.ai_reduced_income_tax_fraction if self.ai_tax_reduction else data.corporate_income_tax_fraction

    def mining_income_tax_fraction(self, data: CountryData) -> float:
        """Income tax rate mining operators pay (no announced reduction) [-]."""
        return data.corporate_income_tax_fraction

    def import_tax_waived_usd(self, data: CountryData, hardware_value_usd: float) -> float:
        """Import taxes the exemption waives on hardware of a value, counted or not [USD]."""
        return hardware_value_usd * data.hardware_import_tax_fraction if self.hardware_import_exemption else 0.0

    def import_tax_forgone_usd(self, data: CountryData, hardware_value_usd: float) -> float:
        """Import taxes counted as forgone by the country: the waived tax if counted, else 0 [USD]."""
        return self.import_tax_waived_usd(data, hardware_value_usd) if self.import_tax_counted else 0.0

    def ai_tax_forgone_usd(self, data: CountryData, ai_taxable_profit_usd: float) -> float:
        """Income tax not collected on AI facilities' taxable profit [USD]."""
        if not self.ai_tax_reduction or ai_taxable_profit_usd <= 0:
            return 0.0
        return ai_taxable_profit_usd * (data.corporate_income_tax_fraction - data.ai_reduced_income_tax_fraction)


@dataclass(frozen=True)
class CountryView:
    """The country's gain from the off-take over a period.

    All money attributes are in USD; :meth:`to_frame` adds PKR.
    """

    period_years: float
    energy_mwh: float
    tariff_revenue_usd: float
    fuel_cost_usd: float
    network_cost_usd: float
    import_tax_forgone_usd: float
    ai_tax_forgone_usd: float
    capacity_payments_usd: float
    exchange_rate_pkr_per_usd: float
    grid_generation_mwh: float

    @property
    def tax_forgone_usd(self) -> float:
        """All taxes forgone through the incentives [USD]."""
        return self.import_tax_forgone_usd + self.ai_tax_forgone_usd

    @property
    def contribution_usd(self) -> float:
        """Tariff revenue less fuel and network cost, before incentives [USD]."""
        return self.tariff_revenue_usd - self.fuel_cost_usd - self.network_cost_usd

    @property
    def net_gain_usd(self) -> float:
        """Contribution less taxes forgone [USD]."""
        return self.contribution_usd - self.tax_forgone_usd

    @property
    def share_of_capacity_payments(self) -> float:
        """Net gain as a share of the capacity payments owed over the period [-]."""
        return self.net_gain_usd / self.capacity_payments_usd if self.capacity_payments_usd else 0.0

    @property
    def relief_pkr_per_kwh(self) -> float:
        """Net gain spread over the grid's generation in the period [PKR/kWh]."""
        return self.net_gain_usd * self.exchange_rate_pkr_per_usd / (self.grid_generation_mwh * 1000.0)

    def to_frame(self) -> pd.DataFrame:
        """Return the view as a table with a USD and a PKR column (money rows) [USD], [PKR]."""
        rows = {
            "tariff revenue": self.tariff_revenue_usd,
            "fuel cost (incl. losses)": -self.fuel_cost_usd,
            "network cost": -self.network_cost_usd,
            "contribution": self.contribution_usd,
            "import taxes forgone": -self.import_tax_forgone_usd,
            "AI income tax forgone": -self.ai_tax_forgone_usd,
            "net gain": self.net_gain_usd,
            "capacity payments owed anyway": self.capacity_payments_usd,
        }
        frame = pd.DataFrame({"USD": pd.Series(rows)})
        frame["PKR"] = frame["USD"] * self.exchange_rate_pkr_per_usd
        return frame


def country_view(
    *,
    energy_mwh: float,
    tariff_revenue_usd: float,
    fuel_cost_usd: float,
    period_years: float,
    exchange_rate_pkr_per_usd: float,
    data: CountryData,
    incentives: Incentives | None = None,
    network_cost_usd: float = 0.0,
    hardware_value_usd: float = 0.0,
    ai_taxable_profit_usd: float = 0.0,
) -> CountryView:
    """Put the off-take's revenue against its costs and the capacity payments owed anyway.

    Parameters
    ----------
    energy_mwh
        Energy sold to sites [MWh].
    tariff_revenue_usd
        Tariff paid by the sites [USD].
    fuel_cost_usd
        Fuel burnt to make that energy, including losses [USD].
    period_years
        Length of the period [year].
    exchange_rate_pkr_per_usd
        PKR per USD [PKR/USD].
    data
        Country figures.
    incentives
        Incentives granted; both by default.
    network_cost_usd
        Cost of carrying the energy [USD].
    hardware_value_usd
        Value of hardware imported for the programme in the period [USD].
    ai_taxable_profit_usd
        Taxable profit of AI facilities in the period [USD].
    """
    if exchange_rate_pkr_per_usd <= 0 or period_years <= 0:
        raise InputError("exchange rate and period must be > 0", field="exchange_rate_pkr_per_usd")
    inc = incentives if incentives is not None else Incentives()
    return CountryView(
        period_years=period_years,
        energy_mwh=energy_mwh,
        tariff_revenue_usd=tariff_revenue_usd,
        fuel_cost_usd=fuel_cost_usd,
        network_cost_usd=network_cost_usd,
        import_tax_forgone_usd=inc.import_tax_forgone_usd(data, hardware_value_usd),
        ai_tax_forgone_usd=inc.ai_tax_forgone_usd(data, ai_taxable_profit_usd),
        capacity_payments_usd=data.capacity_payments_pkr_per_year * period_years / exchange_rate_pkr_per_usd,
        exchange_rate_pkr_per_usd=exchange_rate_pkr_per_usd,
        grid_generation_mwh=data.grid_generation_mwh_per_year * period_years,
    )
