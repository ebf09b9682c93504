"""``offtake serve``, ``offtake db upgrade`` and ``offtake client add``."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["register", "settings_from"]

DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL (default: OFFTAKE_DATABASE_URL or a SQLite file)."),
]
DataDirOpt = Annotated[
    str | None,
    typer.Option(
        "--data-dir",
        help="Folder for the SQLite file and keys (default: OFFTAKE_DATA_DIR or ~/.local/share/offtake).",
    ),
]


def settings_from(database_url: str | None, data_dir: str | None) -> object:
    """Resolve server settings with the command-line values first."""
    from offtake.settings import Settings

    return Settings.resolve(database_url=database_url, data_dir=data_dir)


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``db`` and ``client`` to ``app``."""

    @app.command("serve")
    def serve(
        host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
        port: Annotated[int | None, typer.Option(help="Port (default 8600).")] = None,
        feed: Annotated[
            str | None,
            typer.Option(
                "--feed",
                help="Grid feed for live dispatch, e.g. scenario:pakistan-2025 (default: OFFTAKE_GRID_FEED; "
                "none: no live dispatch).",
            ),
        ] = None,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
        workers: Annotated[
            int,
            typer.Option(
                "--workers",
                min=1,
                max=64,
                help="Server processes (default 1). One of them signs ledger checkpoints and runs "
                "live dispatch; all answer requests.",
            ),
        ] = 1,
    ) -> None:
        """Run the platform server (registry, ledger, bills, OpenADR 3, live dispatch) under uvicorn.

        Says at start-up what it serves: the database, the data folder, the grid feed (prepared
        before the first interval) and whether live dispatch is on, and why not. With
        ``--workers N`` it runs N processes on one socket (``offtake.api.workers``).
        """
        from offtake.api.app import create_app
        from offtake.api.runner import serve as run_server
        from offtake.cli._platform import open_settings, prepare_feed

        settings = open_settings(database_url, data_dir, host=host, port=port, grid_feed=feed)
        typer.echo(f"offtake server on http://{settings.host}:{settings.port}", err=True)
        typer.echo(f"  database: {_safe_url(settings.database_url)} (migrated at start-up)", err=True)
        typer.echo(
            f"  data folder: {settings.data_dir} (ledger key {settings.signing_key_path.name}, "
            f"checkpoints every {settings.checkpoint_interval_s:g} s or {settings.checkpoint_every_entries} entries)",
            err=True,
        )
        if settings.grid_feed:
            prepare_feed(settings)
            typer.echo(
                f"  live dispatch: on, every {settings.dispatch_interval_s} s aligned to UTC, "
                "caps to the ledger and over OpenADR 3",
                err=True,
            )
        else:
            typer.echo(
                "  live dispatch: off: no grid feed (give --feed scenario:pakistan-2025 or set "
                "OFFTAKE_GRID_FEED); emergencies are recorded but no caps are sent",
                err=True,
            )
        if workers > 1:
            from offtake.api.workers import serve_workers

            typer.echo(f"  workers: {workers} processes (worker 0 signs checkpoints)", err=True)
            serve_workers(settings, workers)
            return
        run_server(create_app(settings), settings.host, settings.port)

    db = typer.Typer(help="Database schema.", no_args_is_help=True)

    @db.command("upgrade")
    def prepare_database(database_url: DatabaseOpt = None, data_dir: DataDirOpt = None) -> None:
        """Create or migrate the database schema to the newest version."""
        from offtake.persistence.db import make_engine
        from offtake.registry.setup import prepare_database
        from offtake.settings import Settings

        settings = Settings.resolve(database_url=database_url, data_dir=data_dir)
        engine = make_engine(settings.database_url)
        try:
            prepare_database(engine)
        finally:
            engine.dispose()
        typer.echo(f"database at {_safe_url(settings.database_url)} is up to date")

    app.add_typer(db, name="db")

    client = typer.Typer(help="OAuth2 clients.", no_args_is_help=True)

    @client.command("add")
    def add(
        name: Annotated[str, typer.Argument(help="Name of the client (person, system or site agent).")],
        role: Annotated[str, typer.Option("--role", help="grid_operator, regulator, operator or ven.")],
        operator: Annotated[str | None, typer.Option("--operator", help="Operator id (operator role).")] = None,
        site: Annotated[str | None, typer.Option("--site", help="Site id (ven role).")] = None,
        scope: Annotated[
            str | None,
            typer.Option("--scope", help="Space-separated scopes (default: all of the role)."),
        ] = None,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Register a client and print its id and secret (the secret is shown only once)."""
        from offtake.identity.credentials import create_client
        from offtake.persistence.db import make_engine, make_session_factory, session_scope
        from offtake.registry.setup import prepare_database
        from offtake.settings import Settings

        settings = Settings.resolve(database_url=database_url, data_dir=data_dir)
        engine = make_engine(settings.database_url)
        try:
            prepare_database(engine)
            with session_scope(make_session_factory(engine)) as session:
                issued = create_client(
                    session,
                    name,
                    role,
                    operator_id=operator,
                    site_id=site,
                    scopes=scope.split() if scope else None,
                )
        finally:
            engine.dispose()
        typer.echo(f"client_id: {issued.client_id}")
        typer.echo(f"client_secret: {issued.client_secret}")

    @client.command("list")
    def list_clients(database_url: DatabaseOpt = None, data_dir: DataDirOpt = None) -> None:
        """List clients: id, role, operator or site, state, name (never secrets)."""
        from sqlalchemy import select

        from offtake.persistence.db import make_engine, make_session_factory
        from offtake.persistence.schema import ApiClient
        from offtake.registry.setup import prepare_database
        from offtake.settings import Settings

        settings = Settings.resolve(database_url=database_url, data_dir=data_dir)
        engine = make_engine(settings.database_url)
        try:
            prepare_database(engine)
            with make_session_factory(engine)() as session:
                rows = session.execute(select(ApiClient).order_by(ApiClient.created_at)).scalars()
                for c in rows:
                    state = "disabled" if c.disabled_at else "active"
                    bound = c.site_id or c.operator_id or "-"
                    typer.echo(f"{c.client_id}\t{c.role}\t{bound}\t{state}\t{c.name}")
        finally:
            engine.dispose()

    @client.command("disable")
    def disable(
        client_id: Annotated[str, typer.Argument(help="Client id to disable.")],
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Disable a client; its tokens stop working at once."""
        from offtake.identity.credentials import disable_client
        from offtake.persistence.db import make_engine, make_session_factory, session_scope
        from offtake.registry.setup import prepare_database
        from offtake.settings import Settings

        settings = Settings.resolve(database_url=database_url, data_dir=data_dir)
        engine = make_engine(settings.database_url)
        try:
            prepare_database(engine)
            with session_scope(make_session_factory(engine)) as session:
                disable_client(session, client_id)
        finally:
            engine.dispose()
        typer.echo(f"client {client_id} disabled")

    app.add_typer(client, name="client")


def _safe_url(url: str) -> str:
    """Return the database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
