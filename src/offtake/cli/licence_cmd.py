"""``offtake registry licence``: the regulator's licence lifecycle from the server host.

applied → approved (the regulator sets the limits) → active ⇄ suspended, → revoked; thin
wrappers over :mod:`offtake.registry.licences`, acting as the local administrator.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from offtake.cli._platform import admin_session
from offtake.cli.server_cmd import DatabaseOpt, DataDirOpt

__all__ = ["register"]

LicenceArg = Annotated[str, typer.Argument(metavar="LICENCE_ID", help="Licence id.")]
AtOpt = Annotated[str | None, typer.Option("--at", help="When it happens (ISO 8601 with offset; default now).")]


def _when(at: str | None) -> datetime | None:
    from offtake.timeutil import parse_utc

    return parse_utc(at, field="--at") if at else None


def _transition(
    database_url: str | None,
    data_dir: str | None,
    licence_id: str,
    to_state: str,
    reason: str,
    at: str | None,
    **more: Any,
) -> str:
    from offtake.identity.principal import SYSTEM
    from offtake.registry.licences import transition_licence

    with admin_session(database_url, data_dir) as session:
        licence = transition_licence(session, SYSTEM, licence_id, to_state, reason=reason, at=_when(at), **more)
        until = f" until {licence.valid_until.isoformat()}" if licence.valid_until else ""
        return f"licence {licence.id} ({licence.operator_id}, {licence.kind_id}) is {licence.state}{until}"


def register(registry: typer.Typer) -> None:
    """Add the ``licence`` command group to the ``registry`` group."""
    group = typer.Typer(help="Licences: apply, approve with limits, activate, suspend, revoke.", no_args_is_help=True)

    @group.command("kinds")
    def kinds(database_url: DatabaseOpt = None, data_dir: DataDirOpt = None) -> None:
        """List the licence kinds: id, site kinds covered, term, name."""
        from offtake.registry.kinds import list_licence_kinds

        with admin_session(database_url, data_dir, write=False) as session:
            for kind in list_licence_kinds(session):
                term = f"{kind.max_term_days} days" if kind.max_term_days else "no term"
                covers = ",".join(kind.site_kinds) or "-"
                typer.echo(f"{kind.id}\t{covers}\t{term}\t{kind.name}")

    @group.command("apply")
    def apply(
        operator: Annotated[str, typer.Argument(metavar="OPERATOR_ID", help="Operator applying.")],
        kind: Annotated[str, typer.Option("--kind", help="Licence kind (see 'licence kinds'), e.g. mining.")],
        licence_id: Annotated[str | None, typer.Option("--id", help="Licence id (default: generated).")] = None,
        reference: Annotated[str, typer.Option("--reference", help="The regulator's file reference.")] = "",
        at: AtOpt = None,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """File an operator's licence application (state applied); the regulator sets limits on approval."""
        from offtake.identity.principal import SYSTEM
        from offtake.registry.licences import apply_for_licence

        with admin_session(database_url, data_dir) as session:
            licence = apply_for_licence(
                session,
                SYSTEM,
                operator_id=operator,
                kind_id=kind,
                licence_id=licence_id,
                reference=reference,
                at=_when(at),
            )
            made = licence.id
        typer.echo(f"licence {made} applied for by {operator} ({kind})")

    @group.command("approve")
    def approve(
        licence_id: LicenceArg,
        max_mw: Annotated[
            float | None, typer.Option("--max-mw", help="Most power the licence's sites may be allocated [MW].")
        ] = None,
        max_energy_mwh: Annotated[
            float | None, typer.Option("--max-energy-mwh", help="Most energy over the licence's term [MWh].")
        ] = None,
        reason: Annotated[str, typer.Option("--reason", help="Why (kept in the ledger).")] = "approved",
        at: AtOpt = None,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Approve an application, with the regulator's limits (none given: no limit)."""
        limits: dict[str, float] = {}
        if max_mw is not None:
            limits["max_mw"] = max_mw
        if max_energy_mwh is not None:
            limits["max_energy_mwh"] = max_energy_mwh
        typer.echo(_transition(database_url, data_dir, licence_id, "approved", reason, at, limits=limits))
        if limits:
            typer.echo("  limits: " + ", ".join(f"{key} {value:g}" for key, value in limits.items()))

    @group.command("activate")
    def activate(
        licence_id: LicenceArg,
        valid_until: Annotated[
            str | None, typer.Option("--valid-until", help="End of validity (ISO 8601 with offset; default: the term).")
        ] = None,
        reason: Annotated[str, typer.Option("--reason", help="Why (kept in the ledger).")] = "activated",
        at: AtOpt = None,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Activate an approved (or re-activate a suspended) licence: its sites may draw power."""
        from offtake.timeutil import parse_utc

        until = parse_utc(valid_until, field="--valid-until") if valid_until else None
        typer.echo(_transition(database_url, data_dir, licence_id, "active", reason, at, valid_until=until))

    @group.command("suspend")
    def suspend(
        licence_id: LicenceArg,
        reason: Annotated[str, typer.Option("--reason", help="Why (kept in the ledger).")],
        at: AtOpt = None,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Suspend an active licence: its sites are dispatched to 0 from the next interval."""
        typer.echo(_transition(database_url, data_dir, licence_id, "suspended", reason, at))

    @group.command("revoke")
    def revoke(
        licence_id: LicenceArg,
        reason: Annotated[str, typer.Option("--reason", help="Why (kept in the ledger).")],
        at: AtOpt = None,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Revoke a licence (or refuse an application); final."""
        typer.echo(_transition(database_url, data_dir, licence_id, "revoked", reason, at))

    @group.command("list")
    def list_cmd(
        operator: Annotated[str | None, typer.Option("--operator", help="Only this operator's licences.")] = None,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """List licences: id, operator, kind, state, limits."""
        from offtake.identity.principal import SYSTEM
        from offtake.registry.licences import list_licences

        with admin_session(database_url, data_dir, write=False) as session:
            for licence in list_licences(session, SYSTEM, operator_id=operator):
                limits = ",".join(f"{k}={v}" for k, v in sorted(licence.limits.items())) or "-"
                typer.echo(f"{licence.id}\t{licence.operator_id}\t{licence.kind_id}\t{licence.state}\t{limits}")

    registry.add_typer(group, name="licence")
