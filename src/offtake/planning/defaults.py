"""Planning numbers that come from the world: contingency step limit and capacity payments.

The step limit lives in ``src/offtake/data/<country>/planning.toml`` files, each naming the
scenarios it applies to, with a source for every number; the capacity payments of a country
covered by such a file are read from its economics data (``data/economics/<country>.toml``),
their one home.
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
    max_curtailment_step_mw
        Largest simultaneous curtailment step [MW], or None if no data file covers the scenario.
    step_source
        Where that number comes from.
    capacity_payments_pkr
        Capacity payments of the year [PKR], or None if unknown.
    capacity_payments_year
        The fiscal year of those payments, e.g. ``FY25``.
    capacity_payments_source
        Where that number comes from.
    """

    max_curtailment_step_mw: float | None = None
    step_source: str = ""
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
        contingency = config.get("contingency", {})
        step = contingency.get("max_curtailment_step_mw")
        country = load_country(economics.data_path(f"{path.parent.name}.toml"))
        payments = country.quantities["power_sector.capacity_payments_pkr_per_year"]
        return PlanningDefaults(
            max_curtailment_step_mw=float(step) if step is not None else None,
            step_source=f"{contingency.get('basis', '')}; {contingency.get('source', '')}".strip("; "),
            capacity_payments_pkr=payments.value,
            capacity_payments_year=country.capacity_payments_fiscal_year,
            capacity_payments_source=payments.source,
        )
    return PlanningDefaults()
