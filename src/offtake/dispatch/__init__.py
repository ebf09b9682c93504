"""Dispatch: a power cap for every site, every interval, never more than the grid can give.

``Dispatcher.step`` is the one core both drivers call: the live clock in the server and the
simulated year (:mod:`offtake.simulation`).
"""

from __future__ import annotations

from offtake.dispatch.contracts import Contracts, read_allocation
from offtake.dispatch.core import Dispatcher, DispatchResult, GridState, Reason, SiteState
from offtake.dispatch.policy import DispatchPolicy, load_defaults

__all__ = [
    "Contracts",
    "DispatchPolicy",
    "DispatchResult",
    "Dispatcher",
    "GridState",
    "Reason",
    "SiteState",
    "load_defaults",
    "read_allocation",
]
