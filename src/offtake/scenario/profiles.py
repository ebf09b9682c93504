"""A scenario's profile columns (``profiles.csv``) as a table, for models that build new plants.

The loader turns profiles into each plant's availability; the capacity-expansion option of the
planner needs the columns themselves (a candidate solar or wind plant has a profile but no row in
``plants.csv`` yet). Read again from the scenario's folder, checked as the loader checks them,
and cut to the scenario's intervals (so a scenario shortened to its first days gets the same days).
"""

from __future__ import annotations

import pandas as pd

from offtake.errors import InputError
from offtake.scenario.loader import _check_values, _period, _read_series_table, _read_toml, _table
from offtake.scenario.model import Scenario

__all__ = ["load_profiles"]


def load_profiles(scenario: Scenario) -> pd.DataFrame:
    """Return the scenario's profiles [per unit], one column per profile, indexed like ``scenario``.

    Parameters
    ----------
    scenario
        A scenario loaded from a folder (``scenario.path``).

    Returns
    -------
    pandas.DataFrame
        Profiles in [0, 1] per interval; no columns when the scenario has no profiles file.

    Raises
    ------
    InputError
        If the file is malformed, or does not cover the scenario's intervals.
    """
    toml_path = scenario.path / "scenario.toml"
    config = _read_toml(toml_path)
    expected, resolution_s, _ = _period(config, toml_path)
    files = _table(config, "files", toml_path)
    path = scenario.path / str(files.get("profiles", "profiles.csv"))
    if not path.exists():
        return pd.DataFrame(index=scenario.index)
    table = _read_series_table(path, expected, resolution_s)
    _check_values(table, path, low=0.0, high=1.0, what="availability [per unit]")
    missing = scenario.index.difference(pd.DatetimeIndex(table.index))
    if len(missing):
        raise InputError(f"no profile for {len(missing)} of the scenario's intervals (first {missing[0]})", file=path)
    return table.reindex(scenario.index)
