"""``--days``: study only the first days of a scenario (a quick look, a worked example)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

from offtake.errors import InputError

if TYPE_CHECKING:
    from offtake.scenario.model import Scenario

__all__ = ["DaysOpt", "first_days"]

DaysOpt = Annotated[
    int | None,
    typer.Option("--days", help="Use only the scenario's first N days (default: its whole period)."),
]


def first_days(loaded: Scenario, days: int | None) -> Scenario:
    """Cut the scenario to its first ``days`` days; the whole scenario when None."""
    if days is None:
        return loaded
    intervals = days * 86_400 // loaded.resolution_s
    available = len(loaded.index) * loaded.resolution_s / 86_400
    if days < 1 or intervals > len(loaded.index):
        raise InputError(f"must be between 1 and {available:g} (the scenario's days), got {days}", field="--days")
    return replace(
        loaded,
        index=loaded.index[:intervals],
        availability_pu=loaded.availability_pu.iloc[:intervals],
        demand_mw=loaded.demand_mw.iloc[:intervals],
    )
