from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from offtake.dispatch.terms import TOL_MW
from offtake.planning import curtailment_stats


def test_events_and_lengths() -> None:
    served = np.array([10, 10, 0, 5, 10, 0, 0, 0, 10.0])
    s = curtailment_stats(served, 10.0, 1.0)
    # curtailed in hours 2-3 (one event of 2 h) and 5-7 (one of 3 h)
    assert s["curtailed_hours"] == 5
    assert s["curtailment_events"] == 2
    assert s["mean_event_h"] == 2.5
    assert s["longest_event_h"] == 3.0
    assert s["curtailed_energy_mwh"] == pytest.approx(45.0)
    assert s["expected_energy_mwh"] == pytest.approx(45.0)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=60), st.sampled_from([0.25, 1.0]))
def test_energy_is_conserved(fractions: list[float], duration_h: float) -> None:
    served = 50.0 * np.array(fractions)
    s = curtailment_stats(served, 50.0, duration_h)
    total = 50.0 * len(fractions) * duration_h
    # Served less than TOL_MW below the allocation is not curtailment (as at dispatch).
    slack = TOL_MW * len(fractions) * duration_h
    assert s["expected_energy_mwh"] + s["curtailed_energy_mwh"] == pytest.approx(total, abs=slack + 1e-9)
    assert s["expected_energy_mwh"] + s["curtailed_energy_mwh"] <= total + 1e-9
    assert s["curtailed_hours"] <= len(fractions) * duration_h
    assert s["longest_event_h"] <= s["curtailed_hours"] + 1e-12
