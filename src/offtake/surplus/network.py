r"""Exact surplus per zone by enumerating the cuts of the zone network.

For one interval the extra load a zone can take is a maximum flow: from the generating
groups (dispatchable ones through a reserve-limited pool, variable ones directly) through
the corridors to the demand of every zone (which must be met) and to the extra load. By
the max-flow min-cut theorem with lower bounds (Hoffman), the largest extra load at zone
``z`` is the minimum, over every set of zones ``U`` containing ``z``, of two cut values::

    A(U) = cap_disp(U) + vre(U) - demand(U) + import_limit(U)
    B(U) = pool + vre(U) - demand(U) - must_run(V \\ U) + import_limit(U)

where ``cap_disp`` is the dispatchable capacity that may serve extra load, ``vre`` the
variable output, ``must_run`` the least output of dispatchable units (must-run output, or
the minimum off-take of a fuel contract: a lower bound on what they draw from the pool),
``pool`` the most the dispatchable units may produce while keeping the reserve, and
``import_limit(U)`` the sum of corridor limits into ``U``. A must-run variable unit (wind,
solar) draws nothing from the pool: its output is part of ``vre`` and never enters
``must_run``.

A lower bound on a group's output appears only in ``B``: with the pool on the sink side of
the cut, the groups of zones outside ``U`` stay on the source side, and the arc from the
pool to each of them carries its lower bound across the cut (Hoffman's condition); in ``A``
and for the groups inside ``U`` no lower-bounded arc crosses the cut. So a minimum loading
per interval (a floor on each hour's output) keeps the surplus hourly and these cuts exact;
a minimum energy per month would couple the hours of the month and could not be written as
cuts of one interval.

Where the baseline spills must-run output, the network has the spill as an optional sink
bounded by the baseline's spill; it adds to no cut that can be least, so the values above
are unchanged, and the baseline itself (extra load zero) shows the flow is feasible.

The national joint surplus (extra load placed anywhere) is the case ``U`` = all zones.
With a dozen zones the 2^n sets are few, and every interval is done at once with matrix
products, so a year takes a fraction of a second. The tests check the result against the
linear programme in :mod:`offtake.grid.extra_load`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from offtake.scenario import Scenario

__all__ = ["ZoneCuts"]

#: Largest number of zones for which all cuts are enumerated (2^n sets).
MAX_ZONES = 16


@dataclass(frozen=True)
class ZoneCuts:
    """All zone sets of a network with their corridor import limits.

    Attributes
    ----------
    member
        Boolean matrix (sets, zones): which zones each non-empty set holds.
    import_limit_mw
        Sum of corridor limits into each set from outside it [MW].
    """

    member: np.ndarray
    import_limit_mw: np.ndarray

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> ZoneCuts:
        """Enumerate the zone sets of ``scenario``."""
        zone_pos = {z: i for i, z in enumerate(scenario.zone_ids)}
        arcs = []
        for c in scenario.corridors:
            arcs.append((zone_pos[c.from_zone], zone_pos[c.to_zone], c.forward_mw))
            arcs.append((zone_pos[c.to_zone], zone_pos[c.from_zone], c.reverse_mw))
        return cls.from_arcs(len(zone_pos), arcs)

    @classmethod
    def from_arcs(cls, n_zones: int, arcs: list[tuple[int, int, float]]) -> ZoneCuts:
        """Enumerate the zone sets of a network given as directed arcs ``(from, to, limit_mw)``."""
        if n_zones > MAX_ZONES:
            raise ValueError(f"{n_zones} zones: cut enumeration supports at most {MAX_ZONES}")
        codes = np.arange(1, 2**n_zones, dtype=np.int64)
        member = ((codes[:, None] >> np.arange(n_zones)) & 1).astype(bool)
        limit = np.zeros(len(codes))
        for src, dst, cap in arcs:
            limit += cap * (~member[:, src] & member[:, dst])
        return cls(member=member, import_limit_mw=limit)

    def set_values_mw(
        self,
        dispatchable_mw: np.ndarray,
        variable_mw: np.ndarray,
        must_run_mw: np.ndarray,
        demand_mw: np.ndarray,
        pool_mw: np.ndarray,
    ) -> np.ndarray:
        """Most extra load each zone set can take in total, per interval [MW], unclipped.

        Extra load ``x`` per zone is deliverable when ``x(U) <= value(U)`` for every set
        ``U`` (Gale's feasibility theorem); a zone's surplus is the least value over the sets
        holding it. Arguments as in :meth:`surplus_mw`.

        Returns
        -------
        numpy.ndarray
            ``min(A(U), B(U)) + import_limit(U)``, shape (intervals, sets) [MW].
        """
        m = self.member.astype(float)
        net_vre = (variable_mw - demand_mw).T
        cut_a = m @ (dispatchable_mw.T + net_vre)
        cut_b = m @ (net_vre + must_run_mw.T)
        cut_b += pool_mw - must_run_mw.sum(axis=1)
        value = np.minimum(cut_a, cut_b)
        value += self.import_limit_mw[:, None]
        return np.asarray(value.T)

    def surplus_mw(
        self,
        dispatchable_mw: np.ndarray,
        variable_mw: np.ndarray,
        must_run_mw: np.ndarray,
        demand_mw: np.ndarray,
        pool_mw: np.ndarray,
        chunk: int = 2048,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-zone and national surplus for every interval.

        Parameters
        ----------
        dispatchable_mw
            Dispatchable capacity that may serve load, per interval and zone [MW].
        variable_mw
            Variable renewable output available, per interval and zone [MW].
        must_run_mw
            Least output of dispatchable (not variable) units, which has to be taken from the
            pool: must-run output and contractual minimum off-take, per interval and zone [MW].
        demand_mw
            Existing demand per interval and zone [MW].
        pool_mw
            Most that all dispatchable units together may produce while holding the reserve,
            per interval [MW].
        chunk
            Intervals handled per matrix product (memory bound).

        Returns
        -------
        zone_mw : numpy.ndarray
            Extra load each zone could take alone, shape (intervals, zones) [MW].
        national_mw : numpy.ndarray
            Extra load the whole system could take, placed anywhere, shape (intervals,) [MW].
        """
        n_t, n_z = demand_mw.shape
        full = np.flatnonzero(self.member.all(axis=1))[0]
        zone_out = np.empty((n_t, n_z))
        national = np.empty(n_t)
        for lo in range(0, n_t, chunk):
            hi = min(lo + chunk, n_t)
            value = np.empty((len(self.member) + 1, hi - lo))
            value[0] = np.inf  # the empty set: never a cut for a zone
            value[1:] = self.set_values_mw(
                dispatchable_mw[lo:hi],
                variable_mw[lo:hi],
                must_run_mw[lo:hi],
                demand_mw[lo:hi],
                pool_mw[lo:hi],
            ).T
            # Row k holds the set whose bit z is (k >> z) & 1, so in the reshaped array axis
            # n_z - 1 - z is zone z; index 1 on it selects the sets holding z, as a view.
            cube = value.reshape((2,) * n_z + (hi - lo,))
            for z in range(n_z):
                selector: list[int | slice] = [slice(None)] * (n_z + 1)
                selector[n_z - 1 - z] = 1
                zone_out[lo:hi, z] = cube[tuple(selector)].reshape(-1, hi - lo).min(axis=0)
            national[lo:hi] = value[full + 1]
        return np.clip(zone_out, 0.0, None), np.clip(national, 0.0, None)
