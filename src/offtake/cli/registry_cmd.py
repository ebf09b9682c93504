"""``offtake registry``: operators, sites, allocation import, contracts and bills from the server host.

Licences are in :mod:`offtake.cli.licence_cmd`. Every command acts as the local administrator
(the regulator's and the grid operator's rights), as a thin wrapper over :mod:`offtake.registry`.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from offtake.cli._platform import admin_session
from offtake.cli.server_cmd import DatabaseOpt, DataDirOpt
from offtake.units import WH_PER_MWH

__all__ = ["register"]

AtOpt = Annotated[str | None, typer.Option("--at", help="When it happens (ISO 8601 with offset; default now).")]


def register(app: typer.Typer) -> None:
    """Add the ``registry`` command group to ``app``."""
    from offtake.cli import contract_cmd, licence_cmd

    group = typer.Typer(help="Programme registry (runs as the local administrator).", no_args_is_help=True)

    @group.command("add-operator")
    def add_operator(
        operator_id: Annotated[str, typer.Argument(metavar="OPERATOR_ID", help="Operator id.")],
        name: Annotated[str, typer.Argument(metavar="NAME", help="Operator name.")],
        at: AtOpt = None,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Register an operator."""
        from offtake.identity.principal import SYSTEM
        from offtake.registry.sites import create_operator
        from offtake.timeutil import parse_utc

        when = parse_utc(at, field="--at") if at else None
        with admin_session(database_url, data_dir) as session:
            create_operator(session, SYSTEM, operator_id, name, at=when)
        typer.echo(f"operator {operator_id} registered")

    @group.command("operators")
    def operators(database_url: DatabaseOpt = None, data_dir: DataDirOpt = None) -> None:
        """List operators: id and name."""
        from offtake.identity.principal import SYSTEM
        from offtake.registry.sites import list_operators

        with admin_session(database_url, data_dir, write=False) as session:
            for operator in list_operators(session, SYSTEM):
                typer.echo(f"{operator.id}\t{operator.name}")

    @group.command("add-site")
    def add_site(
        site_id: Annotated[str, typer.Argument(metavar="SITE_ID", help="Site id.")],
        operator: Annotated[str, typer.Option("--operator", help="Operator id.")],
        zone: Annotated[str, typer.Option("--zone", help="Grid zone, e.g. LESCO.")],
        kind: Annotated[str, typer.Option("--kind", help="mining or ai.")],
        licence: Annotated[str | None, typer.Option("--licence", help="Licence the site draws under.")] = None,
        connection_mw: Annotated[
            float | None, typer.Option("--connection-mw", help="Connection capacity [MW].")
        ] = None,
        name: Annotated[str, typer.Option("--name", help="Human name.")] = "",
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Register a site (sites in an imported allocation are registered by the import)."""
        from offtake.identity.principal import SYSTEM
        from offtake.registry.sites import create_site

        with admin_session(database_url, data_dir) as session:
            create_site(
                session,
                SYSTEM,
                site_id=site_id,
                operator_id=operator,
                zone=zone,
                kind=kind,
                name=name,
                licence_id=licence,
                connection_mw=connection_mw,
            )
        typer.echo(f"site {site_id} registered ({kind}, {zone}, operator {operator})")

    @group.command("sites")
    def sites(
        operator: Annotated[str | None, typer.Option("--operator", help="Only this operator's sites.")] = None,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """List sites: id, operator, zone, kind, licence."""
        from offtake.identity.principal import SYSTEM
        from offtake.registry.sites import list_sites

        with admin_session(database_url, data_dir, write=False) as session:
            for site in list_sites(session, SYSTEM, operator_id=operator):
                typer.echo(f"{site.id}\t{site.operator_id}\t{site.zone}\t{site.kind}\t{site.licence_id or '-'}")

    @group.command("attach-licence")
    def attach(
        site_id: Annotated[str, typer.Argument(metavar="SITE_ID", help="Site id.")],
        licence_id: Annotated[
            str | None, typer.Argument(metavar="[LICENCE_ID]", help="Licence id (omit with --detach).")
        ] = None,
        detach: Annotated[bool, typer.Option("--detach", help="Detach the site's licence.")] = False,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Set the licence a site draws power under (of the same operator, covering its kind)."""
        from offtake.errors import InputError
        from offtake.identity.principal import SYSTEM
        from offtake.registry.sites import attach_licence

        if (licence_id is None) == (not detach):
            raise InputError("give a LICENCE_ID, or --detach alone", field="LICENCE_ID")
        with admin_session(database_url, data_dir) as session:
            attach_licence(session, SYSTEM, site_id, None if detach else licence_id)
        typer.echo(f"site {site_id} detached from its licence" if detach else f"site {site_id} under {licence_id}")

    @group.command("import-allocation")
    def import_allocation(
        file: Annotated[Path, typer.Argument(metavar="FILE", help="allocation.csv from 'offtake plan'.")],
        valid_from: Annotated[str, typer.Option("--valid-from", help="When it takes effect (ISO 8601 with offset).")],
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Import the planner's allocation; its operators must be registered, unknown sites are registered."""
        from offtake.identity.principal import SYSTEM
        from offtake.registry.allocations import import_allocation as run_import
        from offtake.timeutil import parse_utc

        start = parse_utc(valid_from, field="--valid-from")
        with admin_session(database_url, data_dir) as session:
            result = run_import(session, SYSTEM, file, valid_from=start)
        typer.echo(
            f"imported {result.rows} allocations ({result.allocated_mw:,.1f} MW) "
            f"as {result.import_id}; "
            f"{len(result.sites_created)} new sites"
        )
        for site_id in result.sites_created:
            typer.echo(f"  new site {site_id}")

    @group.command("bill")
    def bill(
        site_id: Annotated[str, typer.Argument(metavar="SITE_ID", help="Site id.")],
        month: Annotated[str, typer.Argument(metavar="MONTH", help="Month, YYYY-MM.")],
        tz: Annotated[str, typer.Option(help="Billing time zone.")] = "UTC",
        scenario: Annotated[
            str,
            typer.Option(
                "--scenario",
                help="Scenario whose exchange rate states in PKR what no contract prices (allocation tariffs).",
            ),
        ] = "pakistan-2025",
        as_json: Annotated[bool, typer.Option("--json", help="Print the bill as JSON.")] = False,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Print a site's bill for a month: energy x tariff + penalties, in USD and PKR.

        PKR at each contract's exchange rate; energy billed at an allocation tariff (no contract
        in force) at the scenario's rate, stated on the bill.
        """
        from offtake.billing.bills import monthly_bill
        from offtake.identity.principal import SYSTEM

        with admin_session(database_url, data_dir, write=False) as session:
            computed = monthly_bill(session, SYSTEM, site_id, month, tz=tz)
        rates = contract_cmd.state_missing_rates(computed, scenario)
        result = computed.as_dict()
        if as_json:
            typer.echo(json.dumps(result, indent=2))
            return
        typer.echo(
            f"bill {site_id} {month} ({tz}): {result['energy_wh'] / WH_PER_MWH:,.3f} MWh, "
            f"over-draw {result['overdraw_wh'] / WH_PER_MWH:,.3f} MWh"
        )
        # exact amounts (micro-USD, paisa) so that energy + penalty = total as printed
        typer.echo(f"  energy  USD {_micro_usd_text(result['energy_micro_usd'])}")
        typer.echo(f"  penalty USD {_micro_usd_text(result['penalty_micro_usd'])}")
        typer.echo(f"  total   USD {Decimal(result['total_usd']):,}  PKR {Decimal(result['total_pkr']):,}")
        for line in rates:
            typer.echo(f"  rate    {line}")
        for warning in result["warnings"]:
            typer.echo(f"  warning: {warning}")

    licence_cmd.register(group)
    contract_cmd.register(group)
    app.add_typer(group, name="registry")


def _micro_usd_text(micro_usd: int) -> str:
    """Write an exact amount [micro-USD] as USD with six decimals and thousands separators."""
    return f"{Decimal(int(micro_usd)).scaleb(-6):,}"
