"""offtake: turn a grid's surplus electricity into revenue, safely.

The library assesses surplus per zone and hour, plans allocations to flexible
loads, dispatches power caps, and meters, audits and bills the energy.
"""

from __future__ import annotations

from offtake.errors import InputError, OfftakeError

__all__ = ["InputError", "OfftakeError", "__version__"]

__version__ = "0.1.0"
