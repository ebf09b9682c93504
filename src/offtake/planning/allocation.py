"""Write ``allocation.csv``, the plan that risk, simulation and the server read."""

from __future__ import annotations

from pathlib import Path

from offtake.allocation import write_allocation
from offtake.planning.results import PlanResult

__all__ = ["write_allocation_csv"]


def write_allocation_csv(result: PlanResult, path: str | Path) -> Path:
    """Write the allocation with exactly the columns of ``docs/formats.md``.

    Parameters
    ----------
    result
        A plan.
    path
        The file to write.

    Returns
    -------
    Path
        The file written.
    """
    return write_allocation(result.allocation_table(), path)
