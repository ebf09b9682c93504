"""``offtake certificates``: renewable shares, and issue, transfer, retire and list certificates.

The commands act as the local administrator (the issuer, and on behalf of a holder);
the offline check of an export is ``offtake ledger verify-certificates``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from offtake.cli._period import DaysOpt, first_days
from offtake.cli._platform import admin_session
from offtake.cli.server_cmd import DatabaseOpt, DataDirOpt

if TYPE_CHECKING:
    from offtake.certificates import ShareTable

__all__ = ["register"]


def _shares(shares_file: Path | None, scenario: str | None, days: int | None) -> ShareTable:
    from offtake.certificates import read_shares, shares_from_dispatch
    from offtake.errors import InputError
    from offtake.scenario import load

    if (shares_file is None) == (scenario is None):
        raise InputError("give either --shares FILE or --scenario NAME", field="--shares")
    if shares_file is not None:
        if not shares_file.exists():
            raise InputError("file does not exist", file=shares_file)
        return read_shares(shares_file)
    assert scenario is not None
    return shares_from_dispatch(first_days(load(scenario), days))


def register(app: typer.Typer) -> None:
    """Add the ``certificates`` command group to ``app``."""
    group = typer.Typer(help="Hourly clean-energy certificates: issue, transfer, retire, list.", no_args_is_help=True)

    @group.command("shares")
    def shares_cmd(
        scenario: Annotated[str, typer.Argument(help="Scenario name or folder (hourly).")],
        out: Annotated[Path, typer.Argument(help="CSV file to write (zone,hour_start,technology,share_ppm).")],
        days: DaysOpt = None,
    ) -> None:
        """Write the renewable share of every zone and hour, by technology, from the scenario's dispatch."""
        from offtake.certificates import write_shares

        rows = write_shares(_shares(None, scenario, days), out)
        typer.echo(f"wrote {rows} shares to {out}")

    @group.command("issue")
    def issue(
        site_id: Annotated[str, typer.Argument(metavar="SITE_ID", help="Site id.")],
        month: Annotated[str, typer.Argument(metavar="MONTH", help="Month, YYYY-MM.")],
        shares: Annotated[
            Path | None, typer.Option("--shares", help="Share CSV (offtake certificates shares).")
        ] = None,
        scenario: Annotated[
            str | None, typer.Option("--scenario", help="Dispatch this scenario for the shares.")
        ] = None,
        tz: Annotated[str, typer.Option(help="Time zone of the month.")] = "UTC",
        new_only: Annotated[bool, typer.Option("--new-only", help="Skip readings already issued against.")] = False,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Issue certificates for a site's readings in a month, one per hour and renewable technology."""
        from offtake.billing.bills import month_bounds
        from offtake.certificates import issue_certificates
        from offtake.identity.principal import SYSTEM
        from offtake.units import WH_PER_MWH

        start, end = month_bounds(month, tz)
        table = _shares(shares, scenario, None)
        with admin_session(database_url, data_dir) as session:
            issued = issue_certificates(session, SYSTEM, site_id, start, end, table, new_only=new_only)
        typer.echo(
            f"ledger entry {issued.seq}: {len(issued.certificates)} certificates, "
            f"{issued.volume_wh / WH_PER_MWH:,.3f} MWh of {issued.consumption_wh / WH_PER_MWH:,.3f} MWh "
            f"metered in {issued.readings} readings"
        )

    @group.command("transfer")
    def transfer(
        certificate: Annotated[str, typer.Argument(help="Certificate id (GC-...).")],
        volume_wh: Annotated[int, typer.Argument(help="Energy to transfer [Wh].")],
        source: Annotated[str, typer.Option("--from", help="Holding operator.")],
        target: Annotated[str, typer.Option("--to", help="Receiving operator (licensed).")],
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Transfer Wh of a certificate to another licensed operator (less than all splits it)."""
        from offtake.certificates import transfer_certificate
        from offtake.identity.principal import SYSTEM

        with admin_session(database_url, data_dir) as session:
            seq = transfer_certificate(session, SYSTEM, certificate, source, target, volume_wh)
        typer.echo(f"ledger entry {seq}: {volume_wh} Wh of {certificate} from {source} to {target}")

    @group.command("retire")
    def retire(
        certificate: Annotated[str, typer.Argument(help="Certificate id (GC-...).")],
        volume_wh: Annotated[int, typer.Argument(help="Energy to retire [Wh].")],
        holder: Annotated[str, typer.Option("--holder", help="Holding operator.")],
        beneficiary: Annotated[str, typer.Option("--beneficiary", help="On whose behalf the claim is made.")],
        claim: Annotated[str, typer.Option("--claim", help="The claim, e.g. 'hourly-matched load, July 2025'.")],
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Retire Wh of a certificate against a claim; they can never be claimed again."""
        from offtake.certificates import retire_certificate
        from offtake.identity.principal import SYSTEM

        with admin_session(database_url, data_dir) as session:
            seq = retire_certificate(
                session, SYSTEM, certificate, holder, volume_wh, beneficiary=beneficiary, claim=claim
            )
        typer.echo(f"ledger entry {seq}: {volume_wh} Wh of {certificate} retired by {holder} for {beneficiary}")

    @group.command("holdings")
    def holdings(
        holder: Annotated[str | None, typer.Option("--holder", help="Only this operator's holdings.")] = None,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """List the certificates held now: id, holder, hour (UTC), zone, technology, Wh."""
        from offtake.certificates import list_holdings
        from offtake.identity.principal import SYSTEM
        from offtake.ledger.encoding import format_time

        with admin_session(database_url, data_dir, write=False) as session:
            rows = list_holdings(session, SYSTEM, holder=holder)
        typer.echo("certificate,holder,site,zone,hour_start,technology,volume_wh")
        for h in rows:
            c = h.certificate
            typer.echo(f"{c.id},{h.holder},{c.site},{c.zone},{format_time(c.start)},{c.technology},{h.volume_wh}")
        typer.echo(f"{len(rows)} holdings, {sum(h.volume_wh for h in rows)} Wh", err=True)

    app.add_typer(group, name="certificates")
