"""Progress for long jobs: one line per step on stderr, with elapsed time."""

from __future__ import annotations

import sys
import time
from typing import Literal, TextIO

__all__ = ["Progress"]


class Progress:
    """Report the steps of a long job.

    Parameters
    ----------
    total_steps
        Number of steps the job will announce.
    stream
        Where to write; by default the standard error of the moment of each report (so a
        redirection after import is followed). ``None`` silences the reports.
    """

    def __init__(self, total_steps: int, stream: TextIO | Literal["stderr"] | None = "stderr") -> None:
        self.total_steps = total_steps
        self._stream = stream
        self.step_no = 0
        self.started = time.perf_counter()

    @property
    def stream(self) -> TextIO | None:
        """The stream the next report goes to, or None when silenced."""
        return sys.stderr if self._stream == "stderr" else self._stream

    def step(self, message: str) -> None:
        """Announce the next step."""
        self.step_no += 1
        if self.stream is not None:
            elapsed_s = time.perf_counter() - self.started
            self.stream.write(f"[{self.step_no}/{self.total_steps}] {elapsed_s:6.1f} s  {message}\n")
            self.stream.flush()

    def done(self, message: str = "done") -> None:
        """Announce the end of the job."""
        if self.stream is not None:
            elapsed_s = time.perf_counter() - self.started
            self.stream.write(f"{message} in {elapsed_s:.1f} s\n")
            self.stream.flush()
