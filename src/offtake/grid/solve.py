"""Solving a grid LP with HiGHS: one wrapper for the baseline, the planner and the checks."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any, Literal

import linopy
import numpy as np

from offtake.errors import OfftakeError

__all__ = ["PDLP_ACCEPT", "PDLP_TOLERANCE", "SolveError", "solution_quality", "solve_model"]

#: PDLP stops at this relative primal-dual gap (and the same relative feasibility) [-].
PDLP_TOLERANCE = 1e-7

#: A first-order solution is accepted when HiGHS measures its relative primal-dual objective
#: error and its largest relative primal infeasibility at or below this [-].
PDLP_ACCEPT = 1e-5


class SolveError(OfftakeError):
    """The optimisation found no solution (infeasible or failed)."""


def solve_model(
    m: linopy.Model,
    options: dict[str, float | int | str] | None = None,
    *,
    what: str = "plan",
    method: Literal["simplex", "pdlp"] = "simplex",
    quiet: bool = False,
) -> float:
    """Solve with HiGHS and return the objective value.

    Parameters
    ----------
    m
        The model.
    options
        HiGHS options.
    what
        Name of the problem for error messages.
    method
        ``simplex`` (HiGHS chooses; dual simplex for these LPs) or ``pdlp`` (first order,
        without presolve so that the duals stay those PDLP computed). HiGHS marks a PDLP
        result "unknown" when its dual is less accurate than the simplex tolerances; it is
        accepted when the relative primal-dual objective error and primal infeasibility are
        within ``PDLP_ACCEPT`` (see :func:`solution_quality`).
    quiet
        Discard what the solver prints instead of sending it to standard error.

    Returns
    -------
    float
        Optimal objective value.

    Raises
    ------
    SolveError
        If no optimum is found.
    """
    opts: dict[str, Any] = {"output_flag": False}
    if method == "pdlp":
        opts.update(solver="pdlp", presolve="off", pdlp_optimality_tolerance=PDLP_TOLERANCE)
    opts.update(options or {})
    linopy_log = logging.getLogger("linopy")
    level = linopy_log.level
    if method == "pdlp":  # linopy warns that the status is "unknown"; judged below instead
        linopy_log.setLevel(logging.ERROR)
    try:
        with _solver_chatter_to_stderr(quiet):
            status, condition = m.solve(solver_name="highs", io_api="direct", **opts)
    finally:
        linopy_log.setLevel(level)
    accepted = condition == "optimal"
    if method == "pdlp" and status == "ok" and condition == "unknown":
        quality = solution_quality(m)
        accepted = quality["objective_error_rel"] <= PDLP_ACCEPT and quality["primal_infeasibility_rel"] <= PDLP_ACCEPT
    if status != "ok" or not accepted:
        hint = ""
        if condition in ("infeasible", "infeasible_or_unbounded"):
            hint = (
                ": demand, reserve and corridor limits cannot all be met in some interval"
                if what == "baseline"
                else ": the constraints admit no plan"
            )
        elif method == "pdlp":
            hint = " (PDLP did not reach the required accuracy; try method 'simplex')"
        raise SolveError(f"{what}: the solver ended with status {status}, {condition}{hint}")
    value = m.objective.value
    if value is None:
        raise SolveError(f"{what}: the solver returned no objective value")
    return float(value)


def solution_quality(m: linopy.Model) -> dict[str, float]:
    """Accuracy of the last solve as HiGHS measures it.

    Parameters
    ----------
    m
        A model solved by :func:`solve_model`.

    Returns
    -------
    dict
        ``objective_error_rel`` (relative gap between primal and dual objective [-]),
        ``primal_infeasibility_rel`` and ``dual_infeasibility_rel`` (largest relative
        violations [-]); NaN where HiGHS reports none.
    """
    info = m.solver_model.getInfo() if m.solver_model is not None else None

    def value(name: str) -> float:
        v = float(getattr(info, name, float("nan"))) if info is not None else float("nan")
        return v if np.isfinite(v) and v >= 0 else float("nan")

    return {
        "objective_error_rel": value("primal_dual_objective_error"),
        "primal_infeasibility_rel": value("max_relative_primal_infeasibility"),
        "dual_infeasibility_rel": value("max_relative_dual_infeasibility"),
    }


@contextlib.contextmanager
def _solver_chatter_to_stderr(quiet: bool = False) -> Iterator[None]:
    """Send what the solver prints on standard output to standard error (or, quiet, nowhere).

    HiGHS prints its banner from C++ straight to file descriptor 1; a command's standard
    output is kept for its results.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (embedded use)
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno() if quiet else 2, 1)
        with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
