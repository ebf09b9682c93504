"""Progress lines of long commands: elapsed time per step and a heartbeat that does not spam."""

from __future__ import annotations

import time

import pytest

from offtake.cli._progress import StepProgress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_steps_show_elapsed_and_previous_step_time() -> None:
    lines: list[str] = []
    clock = FakeClock()
    progress = StepProgress("plan", lines.append, clock=clock)
    progress("loading")
    clock.now += 2.5
    progress("solving")
    assert lines == ["[plan     0.0 s] loading", "[plan     2.5 s | +2.5 s] solving"]


def test_heartbeat_at_the_marks_then_every_last_gap() -> None:
    lines: list[str] = []
    clock = FakeClock()
    progress = StepProgress("plan", lines.append, marks=(5.0, 15.0, 30.0), clock=clock)
    assert not progress.beat()  # no step yet
    progress("solving the LP")
    printed = []
    for second in range(1, 80):
        clock.now = 100.0 + second
        if progress.beat():
            printed.append(second)
    assert printed == [5, 15, 30, 45, 60, 75]
    assert lines[-1] == "[plan    75.0 s]   still solving the LP: 75 s in this step"
    clock.now += 1.0
    progress("reading results")  # a new step starts its marks again
    clock.now += 4.0
    assert not progress.beat()
    clock.now += 1.0
    assert progress.beat()


def test_timer_thread_prints_while_a_step_runs_and_stops_with_the_command() -> None:
    lines: list[str] = []
    with StepProgress("plan", lines.append, marks=(0.2, 0.4)) as progress:
        progress("solving")
        time.sleep(1.2)
    count = len(lines)
    assert count >= 3 and "still solving" in lines[1]
    time.sleep(0.7)
    assert len(lines) == count  # stopped


@pytest.mark.parametrize("marks", [(), (0.0,), (5.0, 5.0), (10.0, 5.0)])
def test_bad_marks_are_refused(marks: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="increasing"):
        StepProgress("plan", marks=marks)
