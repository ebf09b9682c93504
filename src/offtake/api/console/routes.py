"""The console's pages and form actions; each calls one domain function as the signed-in person."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker
from starlette.background import BackgroundTask

from offtake.api.console import views
from offtake.api.console.certificates import certificate_routes
from offtake.api.console.programme import programme_routes
from offtake.api.console.render import page
from offtake.api.console.schematic import SchematicMap, schematic_map
from offtake.api.console.session import (
    COOKIE,
    ConsoleAuthError,
    Viewer,
    check_csrf,
    check_same_origin,
    current_viewer,
    require_role,
)
from offtake.api.console.violations import MAX_DAYS, violations_view
from offtake.errors import OfftakeError
from offtake.identity.users import (
    SignInError,
    authenticate_user,
    end_session,
    open_session,
    session_user,
    user_principal,
)
from offtake.ledger import store as ledger_store
from offtake.ledger.audit import record_change
from offtake.ledger.export import ExportSummary, export_ledger
from offtake.ledger.signing import Signer
from offtake.live.layout import feed_layout
from offtake.persistence.schema import ConsoleUser
from offtake.registry.kinds import list_licence_kinds
from offtake.registry.licences import apply_for_licence, transition_licence

__all__ = ["console_router", "mount_console"]

_HERE = Path(__file__).parent

#: Where each role lands after signing in.
HOME = {
    "grid_operator": "/control",
    "regulator": "/regulator",
    "operator": "/operator",
    "programme_office": "/programme",
}
#: How often the live stream looks for a new round or emergency [s].
STREAM_POLL_S = 1.0
#: Folder of the shipped Swagger UI assets (swagger-ui-dist, Apache-2.0) under ``static/``.
SWAGGER_UI = "swagger-ui-5.35.0"
#: How long a browser session lasts [s].
SESSION_LIFETIME_S = 8 * 3600

T = TypeVar("T")

ControlRoomViewer = Annotated[Viewer, require_role("grid_operator")]
RegulatorViewer = Annotated[Viewer, require_role("regulator")]
OperatorViewer = Annotated[Viewer, require_role("operator")]


def _factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


async def _read(request: Request, fn: Callable[[Session], T]) -> T:
    """Run a read in a worker thread with its own session."""

    def work() -> T:
        with _factory(request)() as session:
            return fn(session)

    return await run_in_threadpool(work)


async def _write(request: Request, fn: Callable[[Session], T]) -> T:
    """Run a write in a worker thread: one session, committed when ``fn`` returns."""

    def work() -> T:
        with _factory(request)() as session:
            out = fn(session)
            session.commit()
            return out

    return await run_in_threadpool(work)


def console_router() -> APIRouter:
    """Build the console's routes (pages at ``/``, ``/login``, ``/control``, ``/regulator``, ``/operator``)."""
    router = APIRouter(include_in_schema=False)
    _sign_in_routes(router)
    _control_routes(router)
    _regulator_routes(router)
    _operator_routes(router)
    programme_routes(router)
    certificate_routes(router)
    return router


def mount_console(app: FastAPI) -> None:
    """Serve the console on ``app``: its routes, its static assets and its sign-in redirect."""
    app.include_router(console_router())
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="console-static")

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        """Serve the REST API's Swagger UI from the assets shipped in the package (works offline)."""
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="offtake API",
            swagger_js_url=f"/static/{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"/static/{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    @app.exception_handler(ConsoleAuthError)
    async def to_sign_in(request: Request, exc: ConsoleAuthError) -> Response:
        if request.headers.get("accept", "").startswith("text/event-stream"):
            return Response(status_code=401)
        return RedirectResponse(f"/login?why={exc}", status_code=303)


# --------------------------------------------------------------------------- sign in and out


def _sign_in_routes(router: APIRouter) -> None:
    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        viewer = current_viewer(request)
        return RedirectResponse(HOME[viewer.role], status_code=303)

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, why: str = "") -> HTMLResponse:
        return page(request, "login.html", None, message=why)

    @router.post("/login", response_class=HTMLResponse)
    async def login(request: Request, name: Annotated[str, Form()], password: Annotated[str, Form()]) -> Response:
        check_same_origin(request)

        def work(session: Session) -> tuple[str, str] | str:
            known = session.get(ConsoleUser, name)
            locked_before = known.locked_until if known is not None else None
            try:
                user = authenticate_user(session, name, password)
            except SignInError as exc:
                if known is not None and known.locked_until != locked_before:
                    _audit(session, known, "console.locked", {"reason": "repeated wrong passwords"})
                return str(exc)
            signed = open_session(session, user, lifetime_s=SESSION_LIFETIME_S)
            _audit(session, user, "console.sign_in", {"lifetime_s": SESSION_LIFETIME_S})
            return signed.token, user.role

        outcome = await _write(request, work)
        if isinstance(outcome, str):
            return page(request, "login.html", None, status_code=401, message=outcome, name=name)
        token, role = outcome
        response = RedirectResponse(HOME[role], status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            max_age=SESSION_LIFETIME_S,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        check_same_origin(request)
        token = request.cookies.get(COOKIE)
        if token:

            def work(session: Session) -> None:
                found = session_user(session, token)
                end_session(session, token)
                if found is not None:
                    _audit(session, found[0], "console.sign_out", {})

            await _write(request, work)
        response = RedirectResponse("/login?why=signed+out", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response


def _audit(session: Session, user: ConsoleUser, action: str, detail: dict[str, Any]) -> None:
    """Record a sign-in, sign-out or lockout in the audit log (and so the ledger) under the user's name.

    These are few (people, not meters), and a regulator asks who was at the console when a
    cap or a licence changed, so they go where every other action goes, tamper-evident. A
    wrong password for an unknown name is not recorded: anyone could fill the ledger so.
    """
    record_change(session, user_principal(user), action, "user", user.name, detail, operator_id=user.operator_id)


# --------------------------------------------------------------------------- control room


def _control_routes(router: APIRouter) -> None:
    @router.get("/control", response_class=HTMLResponse)
    async def control(request: Request, viewer: ControlRoomViewer) -> HTMLResponse:
        view, drawing = await _control_view(request, viewer)
        return page(request, "control.html", viewer, view=view, map=drawing, zones=_zone_choices(view))

    @router.get("/control/live", response_class=HTMLResponse)
    async def control_live(request: Request, viewer: ControlRoomViewer) -> HTMLResponse:
        view, drawing = await _control_view(request, viewer)
        return page(request, "control_live.html", viewer, view=view, map=drawing)

    @router.get("/control/stream")
    async def control_stream(request: Request, viewer: ControlRoomViewer) -> StreamingResponse:
        return StreamingResponse(_changes(request), media_type="text/event-stream")

    @router.post("/control/emergency")
    async def declare(
        request: Request,
        viewer: ControlRoomViewer,
        csrf: Annotated[str, Form()],
        reason: Annotated[str, Form()],
        zone: Annotated[str, Form()] = "",
        duration_min: Annotated[float, Form(gt=0, le=7 * 24 * 60)] = 60.0,
        confirm: Annotated[str, Form()] = "",
    ) -> Response:
        check_same_origin(request)
        check_csrf(viewer, csrf)
        if confirm != "yes":
            return await _control_with(request, viewer, "tick the confirmation box to declare an emergency")
        live = _live(request)
        try:
            await run_in_threadpool(
                live.declare_emergency,
                viewer.principal,
                zone=zone or None,
                message=reason.strip(),
                at=datetime.now(UTC),
                duration=timedelta(minutes=duration_min),
            )
        except OfftakeError as exc:
            return await _control_with(request, viewer, str(exc))
        return RedirectResponse("/control", status_code=303)

    @router.post("/control/emergency/{emergency_id}/clear")
    async def clear(
        request: Request, emergency_id: str, viewer: ControlRoomViewer, csrf: Annotated[str, Form()]
    ) -> Response:
        check_same_origin(request)
        check_csrf(viewer, csrf)
        try:
            now = datetime.now(UTC)
            await run_in_threadpool(_live(request).clear_emergency, viewer.principal, emergency_id, at=now)
        except OfftakeError as exc:
            return await _control_with(request, viewer, str(exc))
        return RedirectResponse("/control", status_code=303)


def _live(request: Request) -> Any:
    from offtake.api.lifecycle import live_dispatch

    return live_dispatch(request.app)


async def _control_view(request: Request, viewer: Viewer) -> tuple[views.ControlRoom, SchematicMap | str | None]:
    """Return the control-room picture and its schematic map (None without a scenario feed, a text if unreadable)."""

    def work(session: Session) -> tuple[views.ControlRoom, SchematicMap | str | None]:
        view = views.control_room(session, viewer.principal, datetime.now(UTC))
        try:
            layout = feed_layout(request.app.state.settings.grid_feed)
        except OfftakeError as exc:
            return view, f"the map cannot be drawn: {exc}"
        return view, None if layout is None else schematic_map(layout, view.zones)

    return await _read(request, work)


def _zone_choices(view: views.ControlRoom) -> list[str]:
    return [z.zone for z in view.zones]


async def _control_with(request: Request, viewer: Viewer, message: str) -> HTMLResponse:
    view, drawing = await _control_view(request, viewer)
    zones = _zone_choices(view)
    return page(request, "control.html", viewer, status_code=400, view=view, map=drawing, zones=zones, message=message)


async def _changes(request: Request) -> AsyncIterator[bytes]:
    """Server-sent events: ``changed`` whenever a round or an emergency is recorded."""
    last = await _read(request, views.change_marker)
    yield b"event: ready\ndata: ok\n\n"
    while not await request.is_disconnected():
        await asyncio.sleep(STREAM_POLL_S)
        marker = await _read(request, views.change_marker)
        if marker != last:
            last = marker
            yield b"event: changed\ndata: round\n\n"


# --------------------------------------------------------------------------- regulator


_TRANSITIONS = {"approve": "approved", "activate": "active", "suspend": "suspended", "revoke": "revoked"}


def _limits(max_mw: str, max_energy_mwh: str) -> dict[str, float] | None:
    """Read the limits the regulator typed at approval (MW, MWh); None when both are empty."""
    given = {"max_mw": max_mw.strip(), "max_energy_mwh": max_energy_mwh.strip()}
    limits = {key: float(value) for key, value in given.items() if value}
    return limits or None


def _regulator_routes(router: APIRouter) -> None:
    @router.get("/regulator", response_class=HTMLResponse)
    async def regulator(request: Request, viewer: RegulatorViewer, message: str = "") -> HTMLResponse:
        view = await _read(request, lambda s: views.regulator_view(s, viewer.principal))
        view.key_id = request.app.state.signer.key_id
        return page(request, "regulator.html", viewer, view=view, message=message)

    @router.post("/regulator/licences/{licence_id}/{action}")
    async def licence_action(
        request: Request,
        licence_id: str,
        action: str,
        viewer: RegulatorViewer,
        csrf: Annotated[str, Form()],
        reason: Annotated[str, Form()] = "",
        max_mw: Annotated[str, Form()] = "",
        max_energy_mwh: Annotated[str, Form()] = "",
    ) -> Response:
        check_same_origin(request)
        check_csrf(viewer, csrf)
        state = _TRANSITIONS.get(action)
        if state is None:
            return RedirectResponse(f"/regulator?message=unknown+action+{action}", status_code=303)
        try:
            limits = _limits(max_mw, max_energy_mwh) if state == "approved" else None
        except ValueError:
            return RedirectResponse("/regulator?message=limits+must+be+numbers", status_code=303)

        def work(session: Session) -> None:
            transition_licence(
                session, viewer.principal, licence_id, state, at=datetime.now(UTC), reason=reason, limits=limits
            )

        try:
            await _write(request, work)
        except OfftakeError as exc:
            return RedirectResponse(f"/regulator?message={exc}", status_code=303)
        return RedirectResponse(f"/regulator?message=licence+{licence_id}+{state}", status_code=303)

    @router.get("/regulator/violations", response_class=HTMLResponse)
    async def violations(request: Request, viewer: RegulatorViewer, days: int = 7) -> HTMLResponse:
        message, status = "", 200
        if not 1 <= days <= MAX_DAYS:
            message, status, days = f"the period must be 1 to {MAX_DAYS} days; showing 7", 400, 7
        view = await _read(request, lambda s: violations_view(s, viewer.principal, datetime.now(UTC), days))
        return page(request, "violations.html", viewer, status, view=view, max_days=MAX_DAYS, message=message)

    @router.get("/regulator/ledger/export")
    async def ledger_export(request: Request, viewer: RegulatorViewer) -> Response:
        signer: Signer = request.app.state.signer
        folder = Path(tempfile.mkdtemp(prefix="offtake-export-"))  # private (0700), removed once sent
        target = folder / "ledger.offtake"

        def work(session: Session) -> ExportSummary:
            return export_ledger(session, target, signer)

        try:
            summary = await _read(request, work)
        except OfftakeError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            return RedirectResponse(f"/regulator?message=export+refused:+{exc}", status_code=303)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return FileResponse(
            summary.path,
            media_type="text/plain; charset=us-ascii",
            filename=f"offtake-ledger-{summary.entries}-{stamp}.txt",
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )

    @router.get("/regulator/ledger/public-key.pem")
    async def ledger_public_key(request: Request, viewer: RegulatorViewer) -> Response:
        signer: Signer = request.app.state.signer
        return Response(
            signer.public_pem(),
            media_type="application/x-pem-file",
            headers={"Content-Disposition": f'attachment; filename="offtake-ledger-{signer.key_id}.pem"'},
        )

    @router.get("/regulator/proof", response_class=HTMLResponse)
    async def proof(request: Request, viewer: RegulatorViewer, seq: int) -> HTMLResponse:
        def work(session: Session) -> dict[str, Any]:
            entry = ledger_store.get_entry(session, seq)
            checkpoint = ledger_store.latest_checkpoint(session)
            size = checkpoint.size if checkpoint is not None and checkpoint.size > seq else None
            found = ledger_store.inclusion_proof(session, seq, size)
            found["data_hex"] = entry.data.hex()
            found["data_text"] = entry.data.decode("utf-8", "replace")
            found["checkpoint_root"] = None if size is None or checkpoint is None else checkpoint.root.hex()
            return found

        try:
            found = await _read(request, work)
        except OfftakeError as exc:
            return page(request, "proof.html", viewer, error=str(exc), seq=seq)
        return page(request, "proof.html", viewer, proof=found, seq=seq)

    @router.get("/regulator/bills", response_class=HTMLResponse)
    async def bills(request: Request, viewer: RegulatorViewer, site_id: str, month: str) -> HTMLResponse:
        try:
            bill = await _read(request, lambda s: views.bill_view(s, viewer.principal, site_id, month))
        except OfftakeError as exc:
            return page(request, "bill.html", viewer, error=str(exc))
        return page(request, "bill.html", viewer, bill=bill)


# --------------------------------------------------------------------------- site operator


def _operator_routes(router: APIRouter) -> None:
    @router.get("/operator", response_class=HTMLResponse)
    async def operator(request: Request, viewer: OperatorViewer, message: str = "") -> HTMLResponse:
        view = await _read(request, lambda s: views.operator_view(s, viewer.principal, datetime.now(UTC)))
        kinds = await _read(request, lambda s: [k.id for k in list_licence_kinds(s)])
        return page(request, "operator.html", viewer, view=view, kinds=kinds, message=message)

    @router.post("/operator/licences")
    async def apply(
        request: Request,
        viewer: OperatorViewer,
        csrf: Annotated[str, Form()],
        kind_id: Annotated[str, Form()],
        reference: Annotated[str, Form()] = "",
    ) -> Response:
        check_same_origin(request)
        check_csrf(viewer, csrf)

        def work(session: Session) -> str:
            licence = apply_for_licence(
                session, viewer.principal, operator_id=str(viewer.operator_id), kind_id=kind_id, reference=reference
            )
            return licence.id

        try:
            licence_id = await _write(request, work)
        except OfftakeError as exc:
            return RedirectResponse(f"/operator?message={exc}", status_code=303)
        return RedirectResponse(f"/operator?message=applied+for+licence+{licence_id}", status_code=303)

    @router.get("/operator/bills", response_class=HTMLResponse)
    async def operator_bill(request: Request, viewer: OperatorViewer, site_id: str, month: str) -> HTMLResponse:
        try:
            bill = await _read(request, lambda s: views.bill_view(s, viewer.principal, site_id, month))
        except OfftakeError as exc:
            return page(request, "bill.html", viewer, error=str(exc))
        return page(request, "bill.html", viewer, bill=bill)
