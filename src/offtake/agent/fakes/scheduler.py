"""A fake job scheduler for tests: Slurm-like ``list``, ``states``, ``state``, ``suspend``, ``resume`` on a JSON file.

Run as ``python -m offtake.agent.fakes.scheduler STATE_FILE COMMAND [JOB]``. The file maps
job ids to ``RUNNING``, ``SUSPENDED`` or ``LOCKED`` (a job the scheduler will not suspend:
the command fails with exit 1 and says why on stderr, like ``scontrol`` on a job it refuses).
``power`` prints measured draws from ``STATE_FILE.watts.json`` (job -> watts, written by the
test; values are printed as they are, hostile ones included): ``<job> <watts>`` lines, or with
a job its watts (exit 1 where it has none).
Calls are serialised with a lock on the file, since the agent runs several at once.
Every change is appended to ``STATE_FILE.log`` (``time job state``) so a test can tell when it happened.
"""

from __future__ import annotations

import fcntl
import json
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    """Carry out one command; return the exit status."""
    if len(argv) < 2 or argv[1] not in ("list", "states", "state", "suspend", "resume", "power"):
        print("usage: scheduler STATE_FILE list|states|state|suspend|resume|power [JOB]", file=sys.stderr)
        return 2
    path, command = Path(argv[0]), argv[1]
    job = argv[2] if len(argv) > 2 else ""
    if command == "power":
        return _power(path, job)
    with path.open("r+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        jobs: dict[str, str] = json.load(f)
        if command == "list":
            print("\n".join(jobs))
            return 0
        if command == "states":
            print("\n".join(f"{j} {'RUNNING' if s == 'LOCKED' else s}" for j, s in jobs.items()))
            return 0
        if job not in jobs:
            print(f"Invalid job id specified: {job}", file=sys.stderr)
            return 1
        if command == "state":
            print("RUNNING" if jobs[job] == "LOCKED" else jobs[job])
            return 0
        if jobs[job] == "LOCKED":
            print(f"Job {job} is locked by its owner", file=sys.stderr)
            return 1
        jobs[job] = "SUSPENDED" if command == "suspend" else "RUNNING"
        f.seek(0)
        f.truncate()
        json.dump(jobs, f)
    with path.with_suffix(path.suffix + ".log").open("a", encoding="utf-8") as log:
        log.write(f"{time.time():.3f} {job} {jobs[job]}\n")
    return 0


def _power(path: Path, job: str) -> int:
    watts_file = path.with_suffix(path.suffix + ".watts.json")
    watts: dict[str, object] = json.loads(watts_file.read_text()) if watts_file.exists() else {}
    if not job:
        print("\n".join(f"{j} {w}" for j, w in watts.items()))
        return 0
    if job not in watts:
        print(f"no power reading for job {job}", file=sys.stderr)
        return 1
    print(watts[job])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
