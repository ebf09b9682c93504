"""The FastAPI application: ``create_app(settings)``.

``GET /healthz``, ``GET /openapi.json``, the token endpoint at ``POST /api/v1/auth/token``
and the REST API under ``/api/v1``. On start it migrates the database, loads (or creates)
the checkpoint signing key and the token secret, checks the ledger against the last checkpoint
in the checkpoint log (and does not start when it was rolled back or rewritten), and signs
checkpoints on a timer; with a
grid feed configured (``OFFTAKE_GRID_FEED``) it dispatches caps every interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from sqlalchemy import text

import offtake
from offtake.api.auth import client_cache, token_router
from offtake.api.console.routes import mount_console
from offtake.api.errors import install_error_handlers
from offtake.api.lifecycle import checkpoint_if_due, checkpoint_loop, live_dispatch
from offtake.api.limits import BodyLimit
from offtake.api.poll_lane import PollLane
from offtake.api.schemas import Health
from offtake.ledger.signing import Signer, load_or_create_signer
from offtake.ledger.witness import CheckpointLog, check_witnessed
from offtake.live.driver import run_on_clock
from offtake.persistence.db import make_engine, make_session_factory
from offtake.registry.setup import prepare_database
from offtake.settings import Settings
from offtake.vtn.webhooks import ALLOW_PRIVATE_KEY

__all__ = ["API_PREFIX", "create_app"]

#: Prefix of the versioned REST API.
API_PREFIX = "/api/v1"


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def create_app(
    settings: Settings | None = None,
    *,
    signer: Signer | None = None,
    routers: Sequence[APIRouter] = (),
    leader: bool = True,
    migrate: bool = True,
) -> FastAPI:
    """Build the application.

    Parameters
    ----------
    settings
        Server settings (default :meth:`Settings.resolve` from the environment).
    signer
        Checkpoint signer (default: the key at ``settings.signing_key_path``).
    routers
        More routers to serve, each with its own prefix (e.g. an OpenADR 3 VTN under
        ``/openadr3/3.0.1``); they share the database, tokens and error format.
    leader
        Whether this process is the ledger's checkpoint signer and runs the background tasks
        (checks the ledger against the checkpoint log at start, signs checkpoints, runs live
        dispatch). Of the processes of ``offtake serve --workers N`` only one is
        (:mod:`offtake.api.workers`); the others answer requests and append to the ledger
        through the database's lock, and never sign.
    migrate
        Migrate the database when the application starts (the worker supervisor migrates once
        before it starts the workers and passes False).

    Returns
    -------
    FastAPI
        The application; the database is migrated when it starts.
    """
    settings = settings or Settings.resolve()
    engine = make_engine(settings.database_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            await run_in_threadpool(prepare_database, engine)
        if settings.auth_recheck_s > 0:
            await run_in_threadpool(client_cache(app.state).warm)
        tasks: list[asyncio.Task[Any]] = []
        if leader:
            await run_in_threadpool(check_witnessed, app.state.session_factory, app.state.signer)
            tasks.append(asyncio.create_task(checkpoint_loop(app)))
            if settings.grid_feed:
                tasks.append(asyncio.create_task(run_on_clock(live_dispatch(app))))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            committer = getattr(app.state, "vtn_group_commit", None)
            if committer is not None:
                await run_in_threadpool(committer.close)
            versions = getattr(app.state, "vtn_nowait_versions", None)
            if versions is not None:
                versions.close()
            shared = getattr(app.state, "vtn_shared_versions", None)
            if shared is not None:
                await shared.aclose()
            jobs = getattr(app.state, "console_jobs", None)
            if jobs is not None:
                await run_in_threadpool(jobs.stop)
            if leader:
                with contextlib.suppress(Exception):
                    await run_in_threadpool(checkpoint_if_due, app)
            engine.dispose()

    app = FastAPI(
        title="offtake platform",
        version=offtake.__version__,
        description=(
            "Registry, access control, metering ledger with Merkle proofs and signed "
            "checkpoints, reconciliation and bills of a surplus-power programme."
        ),
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.leader = leader
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine, info={ALLOW_PRIVATE_KEY: settings.webhook_allow_private})
    app.state.token_secret = settings.load_token_secret()
    app.state.signer = signer or load_or_create_signer(settings.signing_key_path)
    if app.state.signer.witness is None:
        app.state.signer.witness = CheckpointLog(settings.checkpoint_log)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit_bytes=settings.max_body_bytes)
    app.add_middleware(PollLane)  # outermost of ours: a repeated poll skips the rest
    from offtake.api.routes.openadr import vtn_router

    # first: routes are matched in order and the VENs' polls are most of the traffic
    app.include_router(vtn_router("3.1.0"), prefix="/openadr3/3.1.0")
    app.include_router(vtn_router("3.0.1"), prefix="/openadr3/3.0.1")
    mount_console(app)

    @app.get("/healthz", tags=["health"], summary="Liveness and database check")
    def healthz() -> Health:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        return Health(status="ok", version=offtake.__version__)

    from offtake.api.routes import billing, certificates, dispatch, ledger, readings, registry

    app.include_router(token_router("/auth/token"), prefix=API_PREFIX)
    for module in (registry, readings, ledger, billing, dispatch, certificates):
        app.include_router(module.router, prefix=API_PREFIX)
    for extra in routers:
        app.include_router(extra)
    return app
