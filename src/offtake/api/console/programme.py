"""The programme office's pages: runs of assess, plan, risk and simulate, and their reports.

A finished plan's allocation can be imported into contracts from here (by a role that may write
the registry).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from offtake.api.console.jobs import KINDS, JobRunner, as_row
from offtake.api.console.render import page
from offtake.api.console.session import Viewer, check_csrf, check_same_origin, require_role
from offtake.errors import OfftakeError
from offtake.registry.allocations import import_allocation
from offtake.scenario.loader import bundled_names, resolve_path

__all__ = ["job_runner", "programme_routes"]

ProgrammeViewer = Annotated[Viewer, require_role("programme_office", "grid_operator")]
#: Files of a run the console serves.
OUTPUT_FILES = ("report.html", "allocation.csv", "surplus.csv", "headroom.csv", "summary.json", "kpis.json")


def job_runner(request: Request) -> JobRunner:
    """Return the application's run queue, made on first use under ``<data dir>/runs``."""
    state = request.app.state
    runner: JobRunner | None = getattr(state, "console_jobs", None)
    if runner is None:
        runner = JobRunner(Path(state.settings.data_dir) / "runs")
        state.console_jobs = runner
    return runner


def _scenarios(request: Request) -> dict[str, str]:
    """Scenarios a run may use: the bundled ones and those in ``<data dir>/scenarios`` (name -> path)."""
    found = {name: name for name in bundled_names()}
    local = Path(request.app.state.settings.data_dir) / "scenarios"
    if local.is_dir():
        found.update({p.name: str(p) for p in sorted(local.iterdir()) if (p / "scenario.toml").is_file()})
    return found


def _bundled_sites() -> dict[str, str]:
    """Candidate-site lists shipped with the bundled scenarios (name -> path)."""
    found = {}
    for name in bundled_names():
        for path in sorted(resolve_path(name).glob("sites*.csv")):
            found[f"{name}/{path.name}"] = str(path)
    return found


def programme_routes(router: APIRouter) -> None:
    """Add the programme office's routes to ``router``."""

    @router.get("/programme", response_class=HTMLResponse)
    def programme(request: Request, viewer: ProgrammeViewer, message: str = "") -> HTMLResponse:
        runs = [as_row(j) for j in job_runner(request).jobs()]
        plans = [r for r in runs if r["kind"] == "plan" and r["state"] == "done"]
        return page(
            request,
            "programme.html",
            viewer,
            runs=runs,
            plans=plans,
            scenarios=list(_scenarios(request)),
            sites=_bundled_sites(),
            kinds=list(KINDS),
            message=message,
            outputs=OUTPUT_FILES,
        )

    @router.get("/programme/live", response_class=HTMLResponse)
    def programme_live(request: Request, viewer: ProgrammeViewer) -> HTMLResponse:
        runs = [as_row(j) for j in job_runner(request).jobs()]
        return page(request, "programme_runs.html", viewer, runs=runs, outputs=OUTPUT_FILES)

    @router.post("/programme/runs")
    async def start_run(request: Request, viewer: ProgrammeViewer) -> Response:
        check_same_origin(request)
        form = await request.form()
        check_csrf(viewer, str(form.get("csrf", "")))
        kind = str(form.get("kind", ""))
        options = {k: str(v).strip() for k, v in form.items() if k not in ("csrf", "kind") and str(v).strip()}
        scenarios = _scenarios(request)
        if options.get("scenario") not in scenarios:
            return RedirectResponse("/programme?message=choose+a+scenario+from+the+list", status_code=303)
        options["scenario"] = scenarios[options["scenario"]]
        if options.get("sites") in _bundled_sites():
            options["sites"] = _bundled_sites()[options["sites"]]
        try:
            job = job_runner(request).submit(kind, options, viewer.name)
        except OfftakeError as exc:
            return RedirectResponse(f"/programme?message={exc}", status_code=303)
        return RedirectResponse(f"/programme?message=run+{job.id}+queued", status_code=303)

    @router.get("/programme/runs/{job_id}/{name}")
    def run_output(request: Request, job_id: str, name: str, viewer: ProgrammeViewer) -> FileResponse:
        if name not in OUTPUT_FILES:
            raise OfftakeError(f"'{name}' is not an output of a run")
        return FileResponse(job_runner(request).output(job_id, name))

    @router.post("/programme/runs/{job_id}/import")
    async def import_plan(
        request: Request, job_id: str, viewer: ProgrammeViewer, csrf: Annotated[str, Form()]
    ) -> Response:
        check_same_origin(request)
        check_csrf(viewer, csrf)
        path = job_runner(request).output(job_id, "allocation.csv")

        def work() -> str:
            with request.app.state.session_factory() as session:
                result = import_allocation(session, viewer.principal, path, valid_from=datetime.now(UTC))
                session.commit()
                return str(result)

        try:
            summary = await run_in_threadpool(work)
        except OfftakeError as exc:
            return RedirectResponse(f"/programme?message={exc}", status_code=303)
        return RedirectResponse(f"/programme?message=allocation+of+{job_id}+imported:+{summary}", status_code=303)
