"""``offtake dispatch run-once``: one live dispatch round by hand."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from offtake.cli.server_cmd import DatabaseOpt, DataDirOpt
from offtake.timeutil import display_time

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``dispatch`` command group to ``app``."""
    group = typer.Typer(help="Live dispatch of caps to sites.", no_args_is_help=True)

    @group.command("run-once")
    def run_once(
        at: Annotated[
            str | None,
            typer.Option("--at", help="An instant of the interval to dispatch (ISO 8601 with offset; default now)."),
        ] = None,
        feed: Annotated[
            str | None,
            typer.Option("--feed", help="Grid feed, e.g. scenario:pakistan-2025 (default: OFFTAKE_GRID_FEED)."),
        ] = None,
        interval_s: Annotated[
            int | None,
            typer.Option("--interval-s", help="Dispatch interval [s] (default: OFFTAKE_DISPATCH_INTERVAL_S or 300)."),
        ] = None,
        no_publish: Annotated[
            bool, typer.Option("--no-publish", help="Record the caps without sending OpenADR events.")
        ] = False,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Dispatch the interval containing --at: caps recorded in the ledger and sent over OpenADR.

        Prints one JSON line: the interval, how many sites, the caps' total and the count of
        each reason. An interval already dispatched is not redone. The grid feed is prepared
        once and kept in the data folder (feed-cache/), so later rounds start at once.
        """
        from datetime import UTC, datetime

        from offtake.cli._platform import prepare_feed
        from offtake.live.driver import LiveDispatch
        from offtake.persistence.db import make_engine, make_session_factory
        from offtake.registry.setup import prepare_database
        from offtake.settings import Settings
        from offtake.timeutil import parse_utc

        settings = Settings.resolve(
            database_url=database_url, data_dir=data_dir, grid_feed=feed, dispatch_interval_s=interval_s
        )
        instant = parse_utc(at, field="--at") if at else datetime.now(UTC)
        grid_feed = prepare_feed(settings)
        engine = make_engine(settings.database_url)
        notifier = None
        try:
            prepare_database(engine)
            factory = make_session_factory(engine)
            vtn = None
            if not no_publish:
                from offtake.vtn.notify import WebhookNotifier
                from offtake.vtn.operations import Vtn

                notifier = WebhookNotifier(allow_private=settings.webhook_allow_private)
                vtn = Vtn(factory, notifier)
            typer.echo(f"dispatching {display_time(instant)} from {settings.grid_feed} ...", err=True)
            live = LiveDispatch(factory, grid_feed, settings.dispatch_interval_s, vtn)
            outcome = live.run_round(instant)
        finally:
            if notifier is not None:
                notifier.wait_idle(10.0)
                notifier.close()
            engine.dispose()
        if not outcome.created:
            typer.echo("this interval was dispatched before; showing the stored round", err=True)
        typer.echo(json.dumps(outcome.summary(), sort_keys=True))

    app.add_typer(group, name="dispatch")
