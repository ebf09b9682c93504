"""The fleet plan: a site cap turned into which machines run and at what power target.

A pure function of the cap and what is known of each machine. The rules:

* The budget is the cap less the headroom kept for the meter's tolerance.
* Machines that cannot be commanded (unreachable, or that refused the last command) are
  counted at their last measured draw, or at their rating when never measured: the draw is
  real even when the agent cannot see or change it.
* Reachable machines that stop still draw their standby power.
* Curtailment is soft first: machines with a power target are turned down together (one
  common level between each machine's lowest and highest target) before any machine is
  stopped; machines without a power target are stopped before machines with one; stopped
  machines are the ones with the largest draw, so the fewest stop.
* Restarts are staggered: at most ``max_start_w`` of machines that are stopped now may be
  started by one plan (the rest wait for the next plan), so a site does not step back on at once.
* Power targets are whole watts, rounded down: the plan never exceeds the budget when the
  machines that cannot be commanded and the standby draw of the others fit in it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["FleetPlan", "MachineView", "Target", "plan_fleet"]


@dataclass(frozen=True, slots=True)
class MachineView:
    """What the planner knows of one machine.

    Attributes
    ----------
    id
        Machine id (its address for an ASIC, ``node/gpu`` for a GPU).
    min_w, max_w
        Lowest and highest power target the firmware accepts [W]; for a machine without a
        power target, ``max_w`` is its draw when running.
    standby_w
        Draw when stopped [W].
    power_target
        Whether the firmware takes a power target (else only stop and resume).
    controllable
        Whether the agent can command it now (reachable, and it did not refuse).
    running
        Whether it is running (hashing or computing) now.
    draw_w
        Last measured draw [W], or ``None`` if never measured.
    """

    id: str
    min_w: float
    max_w: float
    standby_w: float
    power_target: bool
    controllable: bool
    running: bool
    draw_w: float | None

    def fixed_draw_w(self) -> float:
        """Draw counted for a machine that cannot be commanded [W]."""
        return self.draw_w if self.draw_w is not None else self.max_w


@dataclass(frozen=True, slots=True)
class Target:
    """What one controllable machine should do.

    Attributes
    ----------
    run
        Run (True) or stop (False).
    power_w
        Power target [W, whole] when running with a power target; ``None`` otherwise.
    """

    run: bool
    power_w: int | None


@dataclass(frozen=True, slots=True)
class FleetPlan:
    """The plan for one cap.

    Attributes
    ----------
    cap_w
        The site cap [W].
    budget_w
        Cap less headroom [W].
    targets
        Target of each controllable machine, by id.
    fixed_w
        Draw counted for machines that cannot be commanded [W].
    planned_w
        Highest draw of the plan: targets, standby of stopped machines and ``fixed_w`` [W].
    deferred
        Ids of stopped machines the budget would run but the restart stagger holds back.
    feasible
        False when the fixed draw and standby alone exceed the budget.
    """

    cap_w: float
    budget_w: float
    targets: dict[str, Target]
    fixed_w: float
    planned_w: float
    deferred: tuple[str, ...]
    feasible: bool


def _lo(m: MachineView) -> int:
    """Lowest whole-watt target of a tunable machine [W]."""
    return math.ceil(m.min_w)


def _hi(m: MachineView) -> int:
    """Highest whole-watt target of a tunable machine, never below its lowest [W]."""
    return max(_lo(m), math.floor(m.max_w))


def _need(on_off: Sequence[MachineView], tunable: Sequence[MachineView]) -> float:
    """Power above standby of running ``on_off`` at full and ``tunable`` at their lowest [W]."""
    return sum(m.max_w - m.standby_w for m in on_off) + sum(_lo(m) - m.standby_w for m in tunable)


def _planned_draw(machine: MachineView, target: Target) -> float:
    if not target.run:
        return machine.standby_w
    return float(target.power_w) if target.power_w is not None else machine.max_w


def plan_fleet(
    cap_w: float,
    machines: Sequence[MachineView],
    *,
    headroom_w: float = 0.0,
    max_start_w: float = math.inf,
) -> FleetPlan:
    """Plan the fleet under a cap.

    Parameters
    ----------
    cap_w
        Site cap [W].
    machines
        Every machine of the site.
    headroom_w
        Kept below the cap for the meter's tolerance [W].
    max_start_w
        Most rated power of stopped machines one plan may start [W].

    Returns
    -------
    FleetPlan
        Targets within the budget whenever the uncommandable draw and standby fit.
    """
    budget = max(0.0, cap_w - max(0.0, headroom_w))
    fixed = sum(m.fixed_draw_w() for m in machines if not m.controllable)
    ours = [m for m in machines if m.controllable]
    standby = sum(m.standby_w for m in ours)
    room = budget - fixed - standby  # power above standby the controllable machines may add
    feasible = room >= 0
    # Candidates to run: running ones first; stopped ones within the restart allowance.
    started_w = 0.0
    candidates: list[MachineView] = []
    deferred: list[str] = []
    for m in sorted(ours, key=lambda m: (not m.running, m.max_w, m.id)):
        if m.running:
            candidates.append(m)
        elif started_w + m.max_w <= max_start_w:
            candidates.append(m)
            started_w += m.max_w
        else:
            deferred.append(m.id)
    on_off = sorted((m for m in candidates if not m.power_target), key=lambda m: (-m.max_w, m.id))
    tunable = sorted((m for m in candidates if m.power_target), key=lambda m: (-m.min_w, m.id))
    # Stop machines without a power target, largest first, then tunable ones, until the
    # tunable ones at their lowest target fit.
    need = _need(on_off, tunable)
    first_on = 0
    while first_on < len(on_off) and need > room:
        need -= on_off[first_on].max_w - on_off[first_on].standby_w
        first_on += 1
    first_tune = 0
    while first_tune < len(tunable) and need > room:
        need -= _lo(tunable[first_tune]) - tunable[first_tune].standby_w
        first_tune += 1
    on_off, tunable = on_off[first_on:], tunable[first_tune:]
    targets = {m.id: Target(False, None) for m in ours}
    for m in on_off:
        targets[m.id] = Target(True, None)
    left = room - _need(on_off, tunable)
    span = sum(_hi(m) - _lo(m) for m in tunable)
    level = 1.0 if span <= 0 else min(1.0, max(0.0, left / span))
    for m in tunable:
        targets[m.id] = Target(True, _lo(m) + math.floor(level * (_hi(m) - _lo(m))))
    planned = fixed + sum(_planned_draw(m, targets[m.id]) for m in ours)
    return FleetPlan(cap_w, budget, targets, fixed, planned, tuple(sorted(deferred)), feasible)
