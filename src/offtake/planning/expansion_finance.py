"""The build at other costs of capital: what concessional or local lending would change.

The data file's ``[finance.cases.<name>]`` tables give other real discount rates, each with its
source (concessional multilateral lending, the State Bank of Pakistan's policy rate, ...). For each
case, and for the file's own rate, :func:`finance_sensitivity` sizes the build again and reads what
it gives: MW per technology, cost per MWh of new energy delivered to the sites and their renewable
share. On a long period (sample days given) every row is read from the sizing on those days, so the
rows are alike to one another; the plan's own figures (over the whole period with the build fixed)
can differ a little from its row.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from offtake.errors import InputError
from offtake.planning.expansion import ExpansionData, expansion_case
from offtake.planning.expansion_plan import sample_days, sizing_options
from offtake.planning.model import PlanOptions
from offtake.planning.planner import plan
from offtake.planning.results import PlanResult
from offtake.scenario import Scenario

__all__ = ["BASE_CASE", "FINANCE_COLUMNS", "add_finance_sensitivity", "finance_sensitivity"]

#: Name of the row at the data file's own discount rate.
BASE_CASE = "base"

#: Columns of the sensitivity table.
FINANCE_COLUMNS = [
    "discount_rate",
    "solar_mw",
    "wind_mw",
    "battery_mw",
    "battery_mwh",
    "renewable_energy_mwh",
    "renewable_share",
    "cost_usd_per_mwh",
]


def finance_sensitivity(
    scenario: Scenario,
    sites: pd.DataFrame,
    options: PlanOptions,
    data: ExpansionData,
    *,
    days: int | None = None,
    min_share: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Size the build at the data file's rate and at each of its finance cases.

    Parameters
    ----------
    scenario, sites, options
        As for :func:`offtake.planning.plan`.
    data
        Candidates and costs, with ``finance_cases``.
    days
        Size on this many evenly spread days (as :func:`plan_with_expansion` does); None: the
        whole period.
    min_share
        Least renewable share held in every case [-].
    progress
        Called with a short message per case.

    Returns
    -------
    pandas.DataFrame
        One row per case (index ``case``, the file's rate first as ``base``) with
        ``FINANCE_COLUMNS``: the rate [-], MW and MWh built, new energy delivered [MWh], renewable
        share [-] and cost per MWh delivered [USD/MWh] (NaN where nothing is delivered).
    """
    say = progress or (lambda _: None)
    period = scenario if days is None else sample_days(scenario, days)
    solve_options = options if days is None else sizing_options(options)
    cases = {BASE_CASE: data.discount_rate, **data.finance_cases}
    rows: dict[str, dict[str, float]] = {}
    for name, rate in cases.items():
        say(f"finance case {name}: sizing the build at a real discount rate of {100 * rate:g} %")
        case = expansion_case(period, sites, data.with_discount_rate(rate), min_share=min_share)
        result = plan(period, sites, solve_options, expansion=case)
        assert result.expansion is not None
        z = {k: float(v) for k, v in result.expansion.zones.loc["national"].to_dict().items()}
        t = result.expansion.totals
        rows[name] = {
            "discount_rate": rate,
            "solar_mw": z["solar_mw"],
            "wind_mw": z["wind_mw"],
            "battery_mw": z["battery_mw"],
            "battery_mwh": z["battery_mwh"],
            "renewable_energy_mwh": float(t["renewable_energy_mwh"]),
            "renewable_share": float(t["renewable_share"]),
            "cost_usd_per_mwh": float(t["cost_usd_per_mwh"]),
        }
    table = pd.DataFrame.from_dict(rows, orient="index", columns=FINANCE_COLUMNS)
    table.index.name = "case"
    return table


def add_finance_sensitivity(
    result: PlanResult,
    scenario: Scenario,
    sites: pd.DataFrame,
    options: PlanOptions,
    data: ExpansionData,
    *,
    days: int | None = None,
    min_share: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Compute :func:`finance_sensitivity` and attach it to the plan's expansion result (for the report).

    Raises
    ------
    InputError
        If the plan has no expansion result or the data file has no finance cases.
    """
    if result.expansion is None:
        raise InputError("the finance sensitivity needs a plan with the expansion option", field="--finance-cases")
    if not data.finance_cases:
        raise InputError("no [finance.cases.<name>] tables to compare", file=data.file, field="finance.cases")
    result.expansion.finance = finance_sensitivity(
        scenario, sites, options, data, days=days, min_share=min_share, progress=progress
    )
    n = len(scenario.index)
    result.expansion.finance_basis = (
        f"Every row is sized and read on {days} days spread over the period (as the plan's build is sized), "
        "so the base row can differ a little from the whole-period figures above."
        if days is not None
        else f"Every row is sized and read on the whole period ({n:,} intervals)."
    )
