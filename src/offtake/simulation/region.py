"""The deliverable region of the simulated year: every zone set's value, scheduled and real.

The assessment gives, for every set of zones ``U``, the most extra load the network can
bring into ``U`` (:func:`offtake.surplus.assess.set_surplus`). The simulated year perturbs
that schedule the way the network would feel it, so that zone and national figures stay
consistent by construction:

- forced outages and demand forecast errors in zone ``z`` act as extra demand ``d_z`` there:
  every set holding ``z`` loses ``d_z`` (a set's value is clipped at zero, and stays zero
  where the schedule says it has nothing to give);
- a zonal emergency of severity ``s`` in zone ``z`` takes ``s`` x the zone's stand-alone real
  surplus away as extra demand in ``z``, so the zone keeps ``(1 - s)`` of it and every set
  holding ``z`` loses the same MW;
- a national emergency of severity ``s`` scales every set's value by ``(1 - s)``.

A zone's real surplus is then the least value over the sets holding it, the national one
the value of the set of all zones: a zone never exceeds the nation. Without the cut values
(a caller that passes zone and national surplus only) the sets are each zone alone and the
nation, with the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from offtake.dispatch.deliverable import SetProjection, zone_values_first

__all__ = ["Forecasts", "RealYear", "ScheduledSets", "Trouble"]

F64 = NDArray[np.float64]
B = NDArray[np.bool_]


@dataclass(frozen=True)
class ScheduledSets:
    """Scheduled value of every zone set per scenario interval.

    Attributes
    ----------
    member
        Boolean matrix (sets, zones).
    values_mw
        Value per scenario interval and set [MW], shape (periods, sets), at least zero.
    """

    member: B
    values_mw: F64

    @classmethod
    def from_zone_and_national(cls, zone_mw: F64, national_mw: F64 | None) -> ScheduledSets:
        """Build the sets of each zone alone and, if given, the nation."""
        n_z = zone_mw.shape[1]
        member = np.eye(n_z, dtype=bool)
        values = np.maximum(np.asarray(zone_mw, dtype=float), 0.0)
        if national_mw is not None:
            member = np.vstack([member, np.ones((1, n_z), dtype=bool)])
            values = np.column_stack([values, np.maximum(np.asarray(national_mw, dtype=float), 0.0)])
        return cls(member, values)

    @cached_property
    def matrix(self) -> F64:
        """Membership as floats, shape (sets, zones)."""
        return self.member.astype(float)

    @cached_property
    def _by_set(self) -> F64:
        """Values with the sets first, shape (sets, periods), contiguous."""
        return np.ascontiguousarray(self.values_mw.T)

    @property
    def national_index(self) -> int | None:
        """Row of the set of all zones, or None."""
        rows = np.flatnonzero(self.member.all(axis=1))
        return int(rows[0]) if rows.size else None

    def at_steps(self, lo: int, hi: int, per: int, *, interpolate: bool) -> F64:
        """Scheduled values for simulation steps ``lo..hi-1`` [MW], shape (sets, hi - lo).

        With ``interpolate`` the interval means sit at interval midpoints and are
        interpolated linearly (held at both ends), as :func:`offtake.simulation.trouble.to_steps`.
        """
        steps = np.arange(lo, hi)
        values = self._by_set
        n_periods = values.shape[1]
        if per == 1 or not interpolate:
            return np.asarray(values[:, np.minimum(steps // per, n_periods - 1)])
        x = (steps + 0.5) / per - 0.5
        below = np.floor(x)
        weight = x - below
        i0 = np.clip(below.astype(np.int64), 0, n_periods - 1)
        i1 = np.clip(below.astype(np.int64) + 1, 0, n_periods - 1)
        first = int(i0.min())
        window = np.ascontiguousarray(values[:, first : int(i1.max()) + 1])  # a few periods
        return np.asarray(window[:, i0 - first] * (1.0 - weight) + window[:, i1 - first] * weight)

    def perturb(
        self,
        scheduled_mw: F64,
        extra_demand_mw: F64,
        zone_severity: F64 | None = None,
        national_severity: F64 | None = None,
    ) -> F64:
        """Set values after extra demand and emergencies [MW], shape (sets, steps).

        Parameters
        ----------
        scheduled_mw
            Scheduled set values, shape (sets, steps) [MW].
        extra_demand_mw
            Outage loss plus demand error per step and zone, shape (steps, zones) [MW].
        zone_severity
            Severity of a zonal emergency per step and zone, shape (steps, zones) [-].
        national_severity
            Severity of a national emergency per step, shape (steps,) [-].
        """
        matrix = self.matrix
        value = scheduled_mw - matrix @ extra_demand_mw.T
        np.maximum(value, 0.0, out=value)
        value[scheduled_mw <= 0.0] = 0.0
        if zone_severity is not None and np.any(zone_severity > 0.0):
            cols = np.flatnonzero((zone_severity > 0.0).any(axis=1))
            before = zone_values_first(self.member, value[:, cols])  # (zones, cols)
            loss = zone_severity[cols].T * np.where(np.isfinite(before), before, 0.0)
            value[:, cols] = np.maximum(value[:, cols] - matrix @ loss, 0.0)
        if national_severity is not None and np.any(national_severity > 0.0):
            value *= 1.0 - national_severity
        return value

    def zone_and_national(self, values_mw: F64) -> tuple[F64, F64 | None]:
        """Stand-alone zone values (steps, zones) and the national value (steps,) [MW].

        ``values_mw`` has the sets first, shape (sets, steps).
        """
        zone = zone_values_first(self.member, values_mw).T
        zone = np.where(np.isfinite(zone), zone, 0.0)
        full = self.national_index
        return zone, (None if full is None else np.asarray(values_mw[full]))


@dataclass(frozen=True)
class Forecasts:
    """The control room's forecasts for a block of steps, now and ``horizon`` steps on.

    Attributes
    ----------
    start, stop
        The block's steps.
    zone
        Stand-alone zone forecast [MW], shape (steps, 1 + horizon, zones).
    cut
        Forecast of the dispatcher's zone sets [MW], shape (steps, 1 + horizon, sets).
    national
        National forecast [MW], shape (steps, 1 + horizon), or None.
    """

    start: int
    stop: int
    zone: F64
    cut: F64
    national: F64 | None

    @classmethod
    def empty(cls) -> Forecasts:
        """Return a block that holds no step."""
        return cls(0, 0, np.zeros((0, 1, 0)), np.zeros((0, 1, 0)), None)


@dataclass(frozen=True)
class RealYear:
    """What the grid could really take, per step, and how the metered load compared.

    Attributes
    ----------
    zone, scheduled
        Real and scheduled stand-alone surplus per step and zone [MW].
    national
        Real national surplus per step [MW], or None when there is no national set.
    joint_excess
        Largest excess of metered load over a zone set's real value per step [MW] (may be
        negative: the least headroom).
    joint_set
        Which set that was, per step.
    bound_mw
        Most load the sites could have drawn with perfect knowledge of the real values, within
        their allocations [MW], per step.
    """

    zone: F64
    scheduled: F64
    national: F64 | None
    joint_excess: F64
    joint_set: NDArray[np.int64]
    bound_mw: F64


@dataclass(frozen=True)
class Trouble:
    """The schedule and the trouble drawn for it, to derive forecasts and the real region.

    Attributes
    ----------
    sets
        Scheduled set values.
    per
        Simulation steps per scenario interval.
    interpolate
        Interpolate between scenario intervals.
    loss_mw, error_mw
        Outage loss and demand error per step and zone [MW].
    persistence
        AR(1) coefficient of the demand error per step [-].
    zone_severity, national_severity
        Emergency severity per step and zone, and per step [-].
    """

    sets: ScheduledSets
    per: int
    interpolate: bool
    loss_mw: F64
    error_mw: F64
    persistence: float
    zone_severity: F64
    national_severity: F64

    def forecasts(self, lo: int, hi: int, horizon: int, projection: SetProjection) -> Forecasts:
        """Forecasts made at steps ``lo..hi-1`` for the step itself and ``horizon`` steps on.

        At step ``t`` the control room knows the schedule, last step's outages and demand
        error (persisting, the error decaying by ``persistence`` per step) and the emergencies
        declared now (held over the horizon).
        """
        n_z = self.loss_mw.shape[1]
        last_loss = np.zeros((hi - lo, n_z))
        last_error = np.zeros((hi - lo, n_z))
        first = max(lo, 1)
        last_loss[first - lo :] = self.loss_mw[first - 1 : hi - 1]
        last_error[first - lo :] = self.error_mw[first - 1 : hi - 1]
        scheduled = self.sets.at_steps(lo, hi + horizon, self.per, interpolate=self.interpolate)
        matrix = self.sets.matrix
        loss_sets = matrix @ last_loss.T
        error_sets = matrix @ last_error.T
        zone_sev, nat_sev = self.zone_severity[lo:hi], self.national_severity[lo:hi]
        full = self.sets.national_index
        zone, cut, national = [], [], []
        for j in range(horizon + 1):
            values = scheduled[:, j : j + hi - lo] - loss_sets - self.persistence ** (j + 1) * error_sets
            np.maximum(values, 0.0, out=values)
            values[scheduled[:, j : j + hi - lo] <= 0.0] = 0.0
            if np.any(zone_sev > 0.0) or np.any(nat_sev > 0.0):
                values = self.sets.perturb(values, np.zeros_like(last_loss), zone_sev, nat_sev)
            projected = projection.reduce_first(values)
            cut.append(projected.T)
            if j == 0:  # every zone, for the record
                zone.append(self.sets.zone_and_national(values)[0])
            else:  # the zones that host sites are all the look-ahead needs
                ahead = zone_values_first(projection.member, projected).T
                zone.append(np.where(np.isfinite(ahead), ahead, 0.0))
            if full is not None:
                national.append(values[full])
        return Forecasts(
            lo,
            hi,
            np.stack(zone, axis=1),
            np.stack(cut, axis=1),
            np.stack(national, axis=1) if national else None,
        )

    def forecast_at(self, made: int, step: int) -> F64:
        """Return the value of every zone set forecast at step ``made`` for step ``step`` [MW].

        The same construction as :meth:`forecasts` (schedule, the outages and demand error known
        at ``made``, the emergencies declared then), for one pair of steps; ``made <= step``.
        The attribution of intervals outside the real region reads it
        (:mod:`offtake.simulation.kpis`).

        Returns
        -------
        numpy.ndarray
            Shape (sets,), at least zero.
        """
        n_z = self.loss_mw.shape[1]
        last_loss = self.loss_mw[made - 1] if made >= 1 else np.zeros(n_z)
        last_error = self.error_mw[made - 1] if made >= 1 else np.zeros(n_z)
        scheduled = self.sets.at_steps(step, step + 1, self.per, interpolate=self.interpolate)
        matrix = self.sets.matrix
        decay = self.persistence ** (step - made + 1)
        values = scheduled - (matrix @ (last_loss + decay * last_error))[:, None]
        np.maximum(values, 0.0, out=values)
        values[scheduled <= 0.0] = 0.0
        zone_sev = self.zone_severity[made : made + 1]
        nat_sev = self.national_severity[made : made + 1]
        if np.any(zone_sev > 0.0) or np.any(nat_sev > 0.0):
            values = self.sets.perturb(values, np.zeros((1, n_z)), zone_sev, nat_sev)
        return np.asarray(values[:, 0], dtype=float)

    def real(self, n_steps: int, served_mw: F64, allocated_mw: F64, zone_index: NDArray[np.int64]) -> RealYear:
        """Derive the real region step by step, and check the metered load against every set.

        Parameters
        ----------
        n_steps
            Number of steps.
        served_mw
            Metered flexible load per step and zone [MW], shape (steps, zones).
        allocated_mw, zone_index
            Allocation and zone of every site.
        """
        n_z = served_mw.shape[1]
        matrix = self.sets.matrix
        zone_alloc = np.bincount(zone_index, weights=allocated_mw, minlength=n_z)
        zone = np.empty((n_steps, n_z))
        scheduled_zone = np.empty((n_steps, n_z))
        has_national = self.sets.national_index is not None
        national = np.empty(n_steps) if has_national else None
        excess = np.empty(n_steps)
        which = np.empty(n_steps, dtype=np.int64)
        bound = np.empty(n_steps)
        for lo in range(0, n_steps, _CHUNK):
            hi = min(lo + _CHUNK, n_steps)
            scheduled = self.sets.at_steps(lo, hi, self.per, interpolate=self.interpolate)
            scheduled_zone[lo:hi] = self.sets.zone_and_national(scheduled)[0]
            values = self.sets.perturb(
                scheduled,
                self.loss_mw[lo:hi] + self.error_mw[lo:hi],
                self.zone_severity[lo:hi],
                self.national_severity[lo:hi],
            )
            z, nat = self.sets.zone_and_national(values)
            zone[lo:hi] = z
            if national is not None and nat is not None:
                national[lo:hi] = nat
            over = matrix @ served_mw[lo:hi].T - values
            excess[lo:hi] = over.max(axis=0)
            which[lo:hi] = self.sets.national_index or 0
            hot = np.flatnonzero(excess[lo:hi] > 0.0)  # the set left matters only when one was
            if hot.size:
                which[lo + hot] = over[:, hot].argmax(axis=0)
            # Most load within the region and the allocations: each zone alone gives at most
            # min(real, allocation); a set U at most its value plus what the zones outside it
            # give alone. By submodularity this is exact when every zone set is listed.
            alone = np.minimum(z, zone_alloc)
            outside = alone.sum(axis=1)[:, None] - alone @ matrix.T
            bound[lo:hi] = np.minimum((values + outside.T).min(axis=0), alone.sum(axis=1))
        return RealYear(zone, scheduled_zone, national, excess, which, bound)


#: Steps handled per block of vectorised work.
_CHUNK = 1024
