"""GPU jobs through a site's job scheduler: pause and resume jobs by running configured commands.

Where a cluster's power is set by which jobs run rather than by device power limits, the
agent suspends and resumes jobs through the scheduler's own commands, e.g. Slurm's
``scontrol suspend <job>`` / ``scontrol resume <job>``, or any script a site provides. Each
job is a machine of the site, drawing ``job_w`` when running and ``idle_w`` when suspended;
it has no power target, so the plan stops and resumes it.

Commands are argument lists (never a shell line): ``{job}`` in an argument is replaced by the
job id, and job ids must be plain names (letters, digits, ``._-``), so nothing a scheduler
prints can be injected into a command. A command succeeds when it exits with 0 within
``timeout_s``; otherwise the job is reported refused (with the end of its stderr) or timed out.
Jobs are listed by ``list`` (one id a line) when given, else taken from ``jobs``. A job's state
is read with ``states`` (one run a telemetry round, printing ``<job> <state>`` lines, e.g.
``squeue -h -o "%i %T"``) or ``state`` (one run a job, printing the state); states are
``RUNNING`` or ``SUSPENDED`` (Slurm's words, or ``R``/``S``; anything else is unknown).
Without either the state is what the agent last commanded.

A job's draw is measured where ``power`` is given: a command printing ``<job> <watts>`` lines
(one run a round, e.g. a script summing ``nvidia-smi --query-gpu=power.draw`` over each job's
GPUs), or, with ``{job}`` in it, one run a job printing its watts. A job it gives no finite,
non-negative figure for (and every job without ``power``) is counted at ``job_w`` or ``idle_w``,
its telemetry marked nominal, so that a site without a meter reports its energy as partly
nominal (see :func:`offtake.agent.ven.usage_report`).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from offtake.agent.machines import Command, CommandResult, Driver, MachineInfo, Telemetry
from offtake.errors import InputError

__all__ = ["JOB_ID", "JobHookDriver", "SchedulerConfig"]

#: What a job id may look like.
JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_PLACEHOLDER = "{job}"
_RUNNING = {"RUNNING", "R"}
_SUSPENDED = {"SUSPENDED", "S"}
#: Most scheduler commands running at once.
_CONCURRENT = 16


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """A ``[[scheduler]]`` table of ``site.toml``.

    Attributes
    ----------
    name
        Prefix of the machine ids (``name/job``).
    suspend, resume
        Commands (argument lists, ``{job}`` replaced).
    job_w
        Draw of one running job [W].
    idle_w
        Draw of a suspended job's share of the nodes [W].
    jobs
        Fixed job ids (when ``list`` is not given).
    list
        Command printing the job ids to control, one a line.
    state
        Command printing a job's state (``{job}`` replaced).
    states
        Command printing every job's state, ``<job> <state>`` a line (preferred to ``state``:
        one run a round).
    power
        Command printing measured draws [W]: ``<job> <watts>`` a line, or (with ``{job}``)
        one job's watts; none: the nominal ``job_w`` and ``idle_w``.
    timeout_s
        Longest a command may run [s].
    """

    name: str
    suspend: tuple[str, ...]
    resume: tuple[str, ...]
    job_w: float
    idle_w: float = 0.0
    jobs: tuple[str, ...] = ()
    list: tuple[str, ...] = ()
    state: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    power: tuple[str, ...] = ()
    timeout_s: float = 10.0

    def check(self, where: str) -> None:
        """Raise :class:`InputError` naming ``where`` for a table that cannot work."""
        for key in ("suspend", "resume"):
            argv = getattr(self, key)
            if not argv or _PLACEHOLDER not in " ".join(argv):
                raise InputError(f"expected a command (list of arguments) containing {_PLACEHOLDER}",
                                 field=f"{where}.{key}")  # fmt: skip
        if self.state and _PLACEHOLDER not in " ".join(self.state):
            raise InputError(f"expected a command containing {_PLACEHOLDER}", field=f"{where}.state")
        if not self.jobs and not self.list:
            raise InputError("give 'jobs' (ids) or 'list' (a command printing them)", field=where)
        for job in self.jobs:
            if not JOB_ID.match(job):
                raise InputError(f"'{job}' is not a job id (letters, digits, '._-')", field=f"{where}.jobs")
        if not 0 <= self.idle_w <= self.job_w or self.job_w <= 0:
            raise InputError(f"expected 0 <= idle_w <= job_w and job_w > 0, got {self.idle_w}, {self.job_w}",
                             field=where)  # fmt: skip
        if self.timeout_s <= 0:
            raise InputError(f"must be positive, got {self.timeout_s}", field=f"{where}.timeout_s")


class JobHookDriver(Driver):
    """Jobs of one scheduler, paused and resumed by commands.

    Parameters
    ----------
    config
        The scheduler's table.
    """

    kind = "job"

    def __init__(self, config: SchedulerConfig) -> None:
        self.config = config
        self._jobs: dict[str, str] = {}  # machine id -> job id
        self._running: dict[str, bool] = {}
        self._gate = asyncio.Semaphore(_CONCURRENT)

    async def _run(self, argv: Sequence[str], job: str | None = None) -> tuple[int | None, str, str]:
        """Run one command; return (exit code or ``None`` on timeout, stdout, stderr tail)."""
        args = [a.replace(_PLACEHOLDER, job) if job is not None else a for a in argv]
        async with self._gate:
            return await self._spawn(args)

    async def _spawn(self, args: list[str]) -> tuple[int | None, str, str]:
        try:
            proc = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.DEVNULL,
                                                        stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.PIPE)  # fmt: skip
        except OSError as exc:
            return 127, "", f"cannot run {args[0]}: {exc.strerror}"
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.config.timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return None, "", ""
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace").strip()[-300:]

    def _info(self, mid: str) -> MachineInfo:
        c = self.config
        return MachineInfo(mid, self.kind, f"{c.name} job", c.job_w, c.job_w, c.idle_w, False)

    async def discover(self) -> list[MachineInfo]:
        """Return the configured jobs, or those ``list`` prints (ids that are not plain names are skipped)."""
        ids = list(self.config.jobs)
        if self.config.list:
            code, out, _ = await self._run(self.config.list)
            if code == 0:
                ids = [line.strip() for line in out.splitlines() if JOB_ID.match(line.strip())]
        self._jobs = {f"{self.config.name}/{job}": job for job in ids}
        return self.machines()

    def machines(self) -> list[MachineInfo]:
        """Return the jobs found."""
        return [self._info(mid) for mid in self._jobs]

    @staticmethod
    def _word(text: str) -> bool | None:
        word = text.strip().upper()
        return True if word in _RUNNING else False if word in _SUSPENDED else None

    def _telemetry(self, mid: str, running: bool | None, measured: dict[str, float] | None = None) -> Telemetry:
        watts = (measured or {}).get(self._jobs.get(mid, ""))
        if running is None:
            return Telemetry(mid, True, None, watts)
        self._running[mid] = running
        if watts is not None:
            return Telemetry(mid, True, running, watts)
        return Telemetry(mid, True, running, self.config.job_w if running else self.config.idle_w, nominal=True)

    @staticmethod
    def _watts(text: str) -> float | None:
        try:
            value = float(text.strip())
        except ValueError:
            return None
        return value if math.isfinite(value) and value >= 0 else None

    async def _measured(self, ids: Sequence[str]) -> dict[str, float]:
        """Measured draw by job id [W] from ``power`` (jobs it gives no figure for are left out)."""
        if not self.config.power:
            return {}
        jobs = [self._jobs[m] for m in ids if m in self._jobs]
        if _PLACEHOLDER in " ".join(self.config.power):
            runs = await asyncio.gather(*(self._run(self.config.power, job) for job in jobs))
            pairs = [(job, self._watts(out)) for job, (code, out, _) in zip(jobs, runs, strict=True) if code == 0]
        else:
            code, out, _ = await self._run(self.config.power)
            split = (line.strip().partition(" ") for line in out.splitlines()) if code == 0 else iter(())
            pairs = [(job, self._watts(watts)) for job, _, watts in split]
        return {job: w for job, w in pairs if w is not None}

    async def _read_all(self, ids: Sequence[str], measured: dict[str, float]) -> list[Telemetry]:
        code, out, _ = await self._run(self.config.states)
        if code != 0:
            return [Telemetry(m, False) for m in ids]
        seen: dict[str, bool | None] = {}
        for line in out.splitlines():
            job, _, word = line.strip().partition(" ")
            seen[job] = self._word(word)
        return [self._telemetry(m, seen[self._jobs[m]], measured) if self._jobs.get(m) in seen
                else Telemetry(m, False) for m in ids]  # fmt: skip

    async def _read_one(self, mid: str, measured: dict[str, float]) -> Telemetry:
        job = self._jobs.get(mid)
        if job is None:
            return Telemetry(mid, False)
        running = self._running.get(mid)
        if self.config.state:
            code, out, _ = await self._run(self.config.state, job)
            if code != 0:
                return Telemetry(mid, False)
            running = self._word(out)
        return self._telemetry(mid, running, measured)

    async def read(self, ids: Sequence[str]) -> list[Telemetry]:
        """Each job's state (from ``states``, ``state``, or as last commanded) and its draw (measured or nominal)."""
        measured = await self._measured(ids)
        if self.config.states:
            return await self._read_all(ids, measured)
        return list(await asyncio.gather(*(self._read_one(m, measured) for m in ids)))

    async def _apply_one(self, c: Command) -> CommandResult:
        job = self._jobs.get(c.machine_id)
        if job is None:
            return CommandResult(c, False, "unreachable: no such job")
        stop = c.action == "stop"
        argv = self.config.suspend if stop else self.config.resume
        what = "suspend" if stop else "resume"
        code, _, err = await self._run(argv, job)
        if code is None:
            return CommandResult(c, False, f"timeout: {what} after {self.config.timeout_s:g} s")
        if code != 0:
            return CommandResult(c, False, f"refused: {what} (exit {code}){': ' + err if err else ''}")
        self._running[c.machine_id] = not stop
        return CommandResult(c, True, "suspended" if stop else "resumed")

    async def apply(self, commands: Sequence[Command]) -> list[CommandResult]:
        """Suspend (``stop``) or resume (``resume``, or ``power``: a job runs at its full draw)."""
        return list(await asyncio.gather(*(self._apply_one(c) for c in commands)))
