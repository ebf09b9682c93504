"""Joint deliverability: the loads that every set of zones can take together.

Extra load ``x`` per zone is deliverable when, for every non-empty set of zones ``U``, the
load placed in ``U`` is at most what the network can bring into ``U``: ``x(U) <= value(U)``
(Gale's feasibility theorem on the max-flow model of :mod:`offtake.surplus.network`). A
zone's stand-alone surplus is the least value over the sets holding it and the national
surplus is the value of the set of all zones, so a check per zone and one national check
is not enough: two zones behind one corridor can each be within their own surplus and
together exceed the corridor.

Dispatch only needs the sets seen through the zones that host sites: zones without sites
carry no load, so a set's constraint depends only on which site zones it holds, and of
the sets holding the same site zones only the smallest value counts.
:class:`SetProjection` makes that reduction once; :func:`joint_fill` keeps a priority
fill inside the region.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "SetProjection",
    "is_lattice",
    "joint_fill",
    "set_sigma_mw",
    "zone_values_first",
    "zone_values_mw",
]

F64 = NDArray[np.float64]
B = NDArray[np.bool_]
#: Numerical slack when comparing powers [MW].
EPS_MW = 1e-6


def _codes(member: B) -> NDArray[np.int64]:
    weights = np.left_shift(np.int64(1), np.arange(member.shape[1], dtype=np.int64))
    return np.asarray(member.astype(np.int64) @ weights, dtype=np.int64)


@dataclass(frozen=True)
class SetProjection:
    """The zone sets of a network seen through the zones that host load.

    Attributes
    ----------
    member
        Boolean matrix (sets, zones) of the projected sets, over all zones (only used zones
        are ever True).
    group
        For every set of the full network, the projected set it maps to, or -1 for a set
        that holds no used zone, shape (full sets,).
    """

    member: B
    group: NDArray[np.int64]
    lattice_drop: tuple[int, ...] | None = None

    @classmethod
    def build(cls, full_member: B, used: B) -> SetProjection:
        """Project ``full_member`` (sets, zones) onto the zones flagged in ``used`` (zones,)."""
        full_member = np.asarray(full_member, dtype=bool)
        used = np.asarray(used, dtype=bool)
        if full_member.ndim != 2 or full_member.shape[1] != used.size:
            raise ValueError(f"member {full_member.shape} does not match {used.size} zones")
        projected = _codes(full_member & used[None, :])
        codes, group = np.unique(projected, return_inverse=True)
        member = ((codes[:, None] >> np.arange(used.size)) & 1).astype(bool)
        group = np.asarray(group, dtype=np.int64)
        if codes.size and codes[0] == 0:  # sets holding no used zone constrain nothing
            member = member[1:]
            group = group - 1
        drop = None
        if is_lattice(full_member):
            # Axis n - 1 - z of the reshaped lattice is zone z; the unused zones' axes go.
            n_z = used.size
            drop = tuple(n_z - 1 - z for z in range(n_z) if not used[z])
        return cls(member=member, group=group, lattice_drop=drop)

    @property
    def n_sets(self) -> int:
        """Number of projected sets."""
        return int(self.member.shape[0])

    def reduce(self, values_mw: F64) -> F64:
        """Least value of the full sets mapping to each projected set [MW].

        Parameters
        ----------
        values_mw
            Values of the full sets, shape (..., full sets) [MW].

        Returns
        -------
        numpy.ndarray
            Shape (..., projected sets) [MW].
        """
        values = np.moveaxis(np.asarray(values_mw, dtype=float), -1, 0)
        return np.asarray(np.moveaxis(self.reduce_first(values), 0, -1))

    def reduce_first(self, values_mw: F64) -> F64:
        """As :meth:`reduce`, with the sets on the first axis: (full sets, ...) -> (sets, ...).

        The fast layout for many intervals at once: on a complete lattice the reduction is a
        minimum over the unused zones' axes of a reshaped view.
        """
        values = np.asarray(values_mw, dtype=float)
        rest = values.shape[1:]
        if self.n_sets == 0:
            return np.zeros((0, *rest))
        if self.lattice_drop is not None:
            cube = _cube(values)
            reduced = cube.min(axis=self.lattice_drop) if self.lattice_drop else cube
            return np.asarray(reduced.reshape((-1, *rest))[1:])
        return np.asarray(np.minimum.reduceat(values[self.order], self.starts, axis=0))

    @cached_property
    def order(self) -> NDArray[np.int64]:
        """Full sets that map to a projected set, sorted by it."""
        return _order(self.group)

    @cached_property
    def starts(self) -> NDArray[np.int64]:
        """Where each projected set's run begins in :attr:`order`."""
        return _starts(self.group)


def _order(group: NDArray[np.int64]) -> NDArray[np.int64]:
    keep = np.flatnonzero(group >= 0)
    return np.asarray(keep[np.argsort(group[keep], kind="stable")], dtype=np.int64)


def _starts(group: NDArray[np.int64]) -> NDArray[np.int64]:
    sorted_groups = np.sort(group[group >= 0])
    return np.asarray(np.flatnonzero(np.diff(np.concatenate(([-1], sorted_groups)))), dtype=np.int64)


def is_lattice(member: B) -> bool:
    """Whether ``member`` lists every non-empty zone set, in the order of its bit code."""
    n_sets, n_z = member.shape
    return bool(n_sets == 2**n_z - 1 and np.array_equal(_codes(member), np.arange(1, 2**n_z)))


def _cube(values: F64) -> F64:
    """Lattice values (sets first) with the empty set (inf) in front, one axis of 2 per zone."""
    rest = values.shape[1:]
    n_z = int(np.log2(values.shape[0] + 1))
    padded = np.empty((values.shape[0] + 1, *rest))
    padded[0] = np.inf
    padded[1:] = values
    return padded.reshape((*((2,) * n_z), *rest))


def zone_values_mw(member: B, values_mw: F64) -> F64:
    """Each zone's stand-alone value: the least value over the sets holding it [MW].

    Parameters
    ----------
    member
        Boolean matrix (sets, zones).
    values_mw
        Set values, shape (..., sets) [MW].

    Returns
    -------
    numpy.ndarray
        Shape (..., zones) [MW]; ``inf`` for a zone in no set.
    """
    values = np.moveaxis(np.asarray(values_mw, dtype=float), -1, 0)
    return np.asarray(np.moveaxis(zone_values_first(member, values), 0, -1))


def zone_values_first(member: B, values_mw: F64) -> F64:
    """As :func:`zone_values_mw`, with the sets on the first axis: (sets, ...) -> (zones, ...)."""
    values = np.asarray(values_mw, dtype=float)
    n_z = member.shape[1]
    out = np.empty((n_z, *values.shape[1:]))
    if n_z > 1 and is_lattice(member):
        # Peel one zone axis at a time: the sets holding zone z are the half of what is left
        # with index 1 on its axis; then fold that axis away. About 2 x 2^n values read.
        rest = values.shape[1:]
        block = _cube(values).reshape((2, -1, *rest))
        for axis in range(n_z):
            z = n_z - 1 - axis
            out[z] = block[1].min(axis=0)
            block = np.minimum(block[0], block[1])
            if axis < n_z - 1:
                block = block.reshape((2, -1, *rest))
        return out
    for z in range(n_z):
        held = member[:, z]
        out[z] = values[held].min(axis=0) if held.any() else np.inf
    return out


def set_sigma_mw(matrix: F64, zone_sigma_mw: F64) -> F64:
    """Return the standard deviation of each set's forecast error, zone errors independent [MW]."""
    return np.asarray(np.sqrt(matrix @ (np.asarray(zone_sigma_mw, dtype=float) ** 2)), dtype=float)


def joint_fill(zone_level_mw: F64, matrix: F64, member: B, limit_mw: F64) -> F64 | None:
    """Grant zone loads level by level so that every set stays within its limit.

    Levels are served in order. A level whose load fits is granted whole; otherwise its
    zones are raised together in proportion to their request (pro rata across zones) until
    a set becomes tight, the zones of that set are frozen (nothing more can go there, for
    this level or any later one), and the others go on rising. On a polymatroid this
    progressive filling serves as much as the region allows at every level.

    Parameters
    ----------
    zone_level_mw
        Requested load per zone and priority level [MW], shape (zones, levels).
    matrix
        Set membership as floats, shape (sets, zones).
    member
        Set membership, shape (sets, zones).
    limit_mw
        Most load each set may take [MW], shape (sets,).

    Returns
    -------
    numpy.ndarray or None
        Share of each (zone, level) request granted, shape (zones, levels), or None when the
        whole request fits.
    """
    load = zone_level_mw.sum(axis=1)
    if np.all(matrix @ load <= limit_mw + EPS_MW):
        return None
    cumulative = np.cumsum(zone_level_mw, axis=1)
    fits = np.all(matrix @ cumulative <= limit_mw[:, None] + EPS_MW, axis=0)
    first = int(np.argmin(fits))  # the first level that does not fit (one exists)
    granted = np.zeros_like(zone_level_mw)
    granted[:, :first] = zone_level_mw[:, :first]
    slack = limit_mw - (matrix @ cumulative[:, first - 1] if first > 0 else 0.0)
    np.maximum(slack, 0.0, out=slack)
    frozen = np.zeros(zone_level_mw.shape[0], dtype=bool)
    for level in range(first, zone_level_mw.shape[1]):
        want = np.where(frozen, 0.0, zone_level_mw[:, level])
        got = np.zeros_like(want)
        while want.any():
            rate = matrix @ want
            rising = rate > EPS_MW
            with np.errstate(all="ignore"):
                ratio = np.where(rising, slack / rate, np.inf)
            step = float(ratio.min())
            if step >= 1.0:
                got += want
                slack -= rate
                break
            step = max(step, 0.0)
            got += step * want
            slack -= step * rate
            np.maximum(slack, 0.0, out=slack)
            frozen |= member[rising & (ratio <= step + 1e-12)].any(axis=0)
            want = np.where(frozen, 0.0, want * (1.0 - step))
        granted[:, level] = got
    with np.errstate(all="ignore"):
        share = np.where(zone_level_mw > 0.0, granted / zone_level_mw, 0.0)
    return np.asarray(np.clip(share, 0.0, 1.0), dtype=float)
