"""``offtake registry``: operators, allocation import and bills from the server host."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from offtake.cli.server_cmd import DatabaseOpt, DataDirOpt

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``registry`` command group to ``app``."""
    group = typer.Typer(help="Programme registry (runs as the local administrator).", no_args_is_help=True)

    def _open(database_url: str | None, data_dir: str | None):  # type: ignore[no-untyped-def]
        from offtake.persistence.db import make_engine
        from offtake.registry.setup import prepare_database
        from offtake.settings import Settings

        settings = Settings.resolve(database_url=database_url, data_dir=data_dir)
        engine = make_engine(settings.database_url)
        prepare_database(engine)
        return engine

    @group.command("add-operator")
    def add_operator(
        operator_id: Annotated[str, typer.Argument(help="Operator id.")],
        name: Annotated[str, typer.Argument(help="Operator name.")],
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Register an operator."""
        from offtake.identity.principal import SYSTEM
        from offtake.persistence.db import make_session_factory, session_scope
        from offtake.registry.sites import create_operator

        engine = _open(database_url, data_dir)
        try:
            with session_scope(make_session_factory(engine)) as session:
                create_operator(session, SYSTEM, operator_id, name)
        finally:
            engine.dispose()
        typer.echo(f"operator {operator_id} registered")

    @group.command("import-allocation")
    def import_allocation(
        file: Annotated[Path, typer.Argument(help="allocation.csv from 'offtake plan'.")],
        valid_from: Annotated[str, typer.Option("--valid-from", help="When it takes effect (ISO 8601 with offset).")],
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Import the planner's allocation; unknown sites are registered."""
        from offtake.identity.principal import SYSTEM
        from offtake.persistence.db import make_session_factory, session_scope
        from offtake.registry.allocations import import_allocation as run_import
        from offtake.timeutil import parse_utc

        start = parse_utc(valid_from, field="--valid-from")
        engine = _open(database_url, data_dir)
        try:
            with session_scope(make_session_factory(engine)) as session:
                result = run_import(session, SYSTEM, file, valid_from=start)
        finally:
            engine.dispose()
        typer.echo(
            f"imported {result.rows} allocations ({result.allocated_mw:,.1f} MW) "
            f"as {result.import_id}; "
            f"{len(result.sites_created)} new sites"
        )

    @group.command("bill")
    def bill(
        site_id: Annotated[str, typer.Argument(help="Site id.")],
        month: Annotated[str, typer.Argument(help="Month, YYYY-MM.")],
        tz: Annotated[str, typer.Option(help="Billing time zone.")] = "UTC",
        as_json: Annotated[bool, typer.Option("--json", help="Print the bill as JSON.")] = False,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Print a site's bill for a month (energy x tariff + penalties, USD and PKR)."""
        from offtake.billing.bills import monthly_bill
        from offtake.identity.principal import SYSTEM
        from offtake.persistence.db import make_session_factory

        engine = _open(database_url, data_dir)
        try:
            with make_session_factory(engine)() as session:
                result = monthly_bill(session, SYSTEM, site_id, month, tz=tz).as_dict()
        finally:
            engine.dispose()
        if as_json:
            typer.echo(json.dumps(result, indent=2))
            return
        typer.echo(
            f"bill {site_id} {month} ({tz}): {result['energy_wh'] / 1e6:,.3f} MWh, "
            f"over-draw {result['overdraw_wh'] / 1e6:,.3f} MWh"
        )
        typer.echo(f"  energy  USD {result['energy_micro_usd'] / 1e6:,.2f}")
        typer.echo(f"  penalty USD {result['penalty_micro_usd'] / 1e6:,.2f}")
        typer.echo(f"  total   USD {result['total_usd']}  PKR {result['total_pkr']}")
        for warning in result["warnings"]:
            typer.echo(f"  warning: {warning}")

    app.add_typer(group, name="registry")
