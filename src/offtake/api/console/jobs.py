"""Runs started from the console: the same ``offtake`` commands, in a background process each.

A run is the command a planner would type (``offtake assess``, ``plan``, ``risk``,
``simulate``) started as a child process with its output folder under
``<data dir>/runs/<id>``; its numbered progress lines (step, elapsed time) are read as they come
and shown in the page, so no request ever waits for a model to solve. One run works at a time
(the machine's cores go to the solver); others wait in order. Each run has a time limit and every
child is stopped by its process id when the server stops.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from offtake.errors import InputError, NotFoundError

__all__ = ["KINDS", "Job", "JobRunner"]

#: Kinds of run and the options each takes (option -> command-line flag).
KINDS: dict[str, tuple[str, ...]] = {
    "assess": ("scenario", "tariff"),
    "plan": ("scenario", "sites", "cap_mw"),
    "risk": ("scenario", "allocation", "paths", "seed"),
    "simulate": ("scenario", "allocation", "step", "seed"),
}
#: Longest a run may take before it is stopped [s].
RUN_LIMIT_S = 3600.0


@dataclass
class Job:
    """One run: what was asked, its state and its last progress line."""

    id: str
    kind: str
    options: dict[str, str]
    by: str
    created: str
    state: str = "queued"
    progress: str = ""
    started_s: float | None = None
    elapsed_s: float = 0.0
    exit_code: int | None = None
    error: str = ""
    log: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        """Whether the run has ended (done, failed or stopped)."""
        return self.state in ("done", "failed", "stopped")


class JobRunner:
    """Queue and run console jobs one at a time in child processes.

    Parameters
    ----------
    folder
        Where each run's output folder is made (``<folder>/<id>``).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._jobs: dict[str, Job] = {}
        self._queue: deque[str] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._child: subprocess.Popen[str] | None = None
        self._load_finished()
        self._worker = threading.Thread(target=self._work, name="console-jobs", daemon=True)
        self._worker.start()

    def submit(self, kind: str, options: dict[str, str], by: str) -> Job:
        """Queue a run of ``kind`` with ``options``; raise :class:`InputError` naming a bad option."""
        if kind not in KINDS:
            raise InputError(f"unknown run '{kind}'; expected one of {', '.join(KINDS)}", field="kind")
        unknown = sorted(set(options) - set(KINDS[kind]))
        if unknown:
            raise InputError(f"a {kind} run takes no option {', '.join(unknown)}", field=unknown[0])
        if "allocation" in KINDS[kind]:
            options = {**options, "allocation": str(self._allocation_of(options.get("allocation", "")))}
        job = Job(f"{kind}-{int(time.time() * 1000):x}", kind, options, by, datetime.now(UTC).isoformat())
        with self._lock:
            self._jobs[job.id] = job
            self._queue.append(job.id)
        self._wake.set()
        return job

    def jobs(self) -> list[Job]:
        """Every run this server knows, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def get(self, job_id: str) -> Job:
        """One run, or :class:`NotFoundError`."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"run '{job_id}' does not exist")
        return job

    def output(self, job_id: str, name: str) -> Path:
        """Return a file of a finished run's output folder (``report.html``, ``allocation.csv``, ...)."""
        job = self.get(job_id)
        path = (self.folder / job.id / name).resolve()
        if path.parent != (self.folder / job.id).resolve() or not path.is_file():
            raise NotFoundError(f"run '{job_id}' has no file '{name}'")
        return path

    def stop(self) -> None:
        """Stop the worker and the running child (by its process id), for server shutdown."""
        self._stopping = True
        self._wake.set()
        child = self._child
        if child is not None and child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        self._worker.join(timeout=15)

    def _allocation_of(self, job_id: str) -> Path:
        plan = self.get(job_id) if job_id else None
        if plan is None or plan.kind != "plan" or plan.state != "done":
            raise InputError("choose a finished plan run whose allocation to use", field="allocation")
        return self.folder / plan.id / "allocation.csv"

    def _load_finished(self) -> None:
        if not self.folder.is_dir():
            return
        for record in sorted(self.folder.glob("*/job.json")):
            try:
                job = Job(**json.loads(record.read_text()))
            except (ValueError, TypeError):
                continue
            if job.finished:
                self._jobs[job.id] = job

    def _work(self) -> None:
        while not self._stopping:
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            while not self._stopping:
                with self._lock:
                    job_id = self._queue.popleft() if self._queue else None
                if job_id is None:
                    break
                self._run(self._jobs[job_id])

    def _run(self, job: Job) -> None:
        out = self.folder / job.id
        out.mkdir(parents=True, exist_ok=True)
        job.state, job.started_s = "running", time.monotonic()
        try:
            child = subprocess.Popen(
                _command(job, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
            )
        except OSError as exc:
            job.state, job.error = "failed", f"could not start: {exc}"
            self._record(job, out)
            return
        self._child = child
        timer = threading.Timer(RUN_LIMIT_S, lambda: os.killpg(child.pid, signal.SIGTERM))
        timer.start()
        with child:
            assert child.stderr is not None
            for line in child.stderr:
                self._progress(job, line.rstrip())
            job.exit_code = child.wait()
        timer.cancel()
        self._child = None
        job.elapsed_s = time.monotonic() - (job.started_s or time.monotonic())
        job.state = "done" if job.exit_code == 0 else ("stopped" if self._stopping else "failed")
        if job.exit_code != 0 and not job.error:
            job.error = job.log[-1] if job.log else f"exit code {job.exit_code}"
        self._record(job, out)

    def _progress(self, job: Job, line: str) -> None:
        if not line:
            return
        job.log = [*job.log[-199:], line]
        job.progress = line
        job.elapsed_s = time.monotonic() - (job.started_s or time.monotonic())

    def _record(self, job: Job, out: Path) -> None:
        (out / "job.json").write_text(json.dumps(asdict(job), indent=1))


def _command(job: Job, out: Path) -> list[str]:
    """Build the ``offtake`` command line of a run (the same one a person would type)."""
    flags: list[str] = []
    for option, value in job.options.items():
        if value != "":
            flags += [f"--{option.replace('_', '-')}", value]
    return [sys.executable, "-m", "offtake", job.kind, *flags, "--out", str(out)]


def as_row(job: Job) -> dict[str, Any]:
    """Show a run as the page lists it (elapsed time live while it runs)."""
    return {
        "id": job.id,
        "kind": job.kind,
        "options": ", ".join(f"{k} {v if k != 'allocation' else Path(v).parent.name}" for k, v in job.options.items()),
        "by": job.by,
        "state": job.state,
        "progress": job.progress,
        "elapsed": f"{_elapsed_s(job):.0f} s",
        "error": job.error,
    }


def _elapsed_s(job: Job) -> float:
    if job.state == "running" and job.started_s is not None:
        return time.monotonic() - job.started_s
    return job.elapsed_s
