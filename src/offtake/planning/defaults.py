"""Planning numbers that come from the world: the capacity payments a plan is measured against.

``src/offtake/data/<country>/planning.toml`` names the scenarios of a country; their capacity
payments are read from the country's economics data (``data/economics/<country>.toml``), their
one home. The curtailment-step limit is the dispatch contingency rule
(:func:`offtake.dispatch.policy.contingency_limit`), the same for plan and dispatch.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from offtake.economics import data as economics
from offtake.economics.country import load_country
from offtake.errors import InputError

__all__ = ["PlanningDefaults", "planning_defaults"]


@dataclass(frozen=True)
class PlanningDefaults:
    """Sourced planning numbers for one scenario.

    Parameters
    ----------
    capacity_payments_pkr
        Capacity payments of the year [PKR], or None if unknown.
    capacity_payments_year
        The fiscal year of those payments, e.g. ``FY25``.
    capacity_payments_source
        Where that number comes from.
    """

    capacity_payments_pkr: float | None = None
    capacity_payments_year: str = ""
    capacity_payments_source: str = ""


def _data_files() -> list[Path]:
    root = Path(str(resources.files("offtake") / "data"))
    return sorted(root.glob("*/planning.toml"))


def planning_defaults(scenario_name: str) -> PlanningDefaults:
    """Return the sourced planning numbers for a scenario.

    Parameters
    ----------
    scenario_name
        The scenario's ``name``, e.g. ``pakistan-2025``.

    Returns
    -------
    PlanningDefaults
        The numbers of the first data file listing the scenario; empty defaults if none does.
    """
    for path in _data_files():
        try:
            config: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"invalid TOML: {exc}", file=path) from None
        if scenario_name not in config.get("scenarios", []):
            continue
        country = load_country(economics.data_path(f"{path.parent.name}.toml"))
        payments = country.quantities["power_sector.capacity_payments_pkr_per_year"]
        return PlanningDefaults(
            capacity_payments_pkr=payments.value,
            capacity_payments_year=country.capacity_payments_fiscal_year,
            capacity_payments_source=payments.source,
        )
    return PlanningDefaults()
