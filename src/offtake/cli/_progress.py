"""Progress of a long command on standard error: elapsed time per step and a heartbeat while a step runs."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from types import TracebackType

import typer

__all__ = ["HEARTBEAT_S", "StepProgress"]

#: Seconds into a step at which a "still running" line is printed; then every last gap [s].
HEARTBEAT_S = (5.0, 15.0, 30.0, 60.0)


class StepProgress:
    """Print each step with the time since the command started and what the step before took.

    ``[plan   42.0 s | +37.5 s] reading results``: 42 s since the start, the step before this
    one took 37.5 s.

    While a step runs longer than a few seconds a background timer prints how long it has run
    (at 5, 15, 30 and 60 s, then every 30 s), so a solve of minutes is never silent. Use as a
    context manager so the timer stops with the command.

    Parameters
    ----------
    name
        Prefix of each line, e.g. ``plan``.
    echo
        Where lines go; standard error by default.
    marks
        Heartbeat times into a step [s]; after the last, every gap between the last two.
    clock
        Monotonic clock [s] (tests pass a fake one).
    """

    def __init__(
        self,
        name: str,
        echo: Callable[[str], None] | None = None,
        marks: tuple[float, ...] = HEARTBEAT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not marks or any(b <= a for a, b in itertools.pairwise(marks)) or marks[0] <= 0:
            raise ValueError("heartbeat marks must be positive and increasing")
        self.name = name
        self._echo = echo or (lambda line: typer.echo(line, err=True))
        self._marks = marks
        self._clock = clock
        self.started = clock()
        self._step = ""
        self._step_started = self.started
        self._beats = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _line(self, now: float, text: str, step_s: float | None = None) -> None:
        took = "" if step_s is None else f" | +{step_s:.1f} s"
        self._echo(f"[{self.name} {now - self.started:7.1f} s{took}] {text}")

    def __call__(self, message: str) -> None:
        """Start a step called ``message``."""
        with self._lock:
            now = self._clock()
            took = now - self._step_started if self._step else None
            self._step, self._step_started, self._beats = message, now, 0
            self._line(now, message, took)

    def next_mark(self) -> float:
        """Seconds into the current step of the next heartbeat [s]."""
        marks = self._marks
        if self._beats < len(marks):
            return marks[self._beats]
        gap = marks[-1] - marks[-2] if len(marks) > 1 else marks[-1]
        return marks[-1] + gap * (self._beats - len(marks) + 1)

    def beat(self) -> bool:
        """Print a heartbeat if the current step has reached its next mark; return whether one was printed."""
        with self._lock:
            if not self._step:
                return False
            now = self._clock()
            in_step = now - self._step_started
            if in_step < self.next_mark():
                return False
            self._beats += 1
            self._line(now, f"  still {self._step}: {in_step:.0f} s in this step")
            return True

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.beat()

    def __enter__(self) -> StepProgress:
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
