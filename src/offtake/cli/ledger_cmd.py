"""``offtake ledger``: export, verify offline, checkpoint, public key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from offtake.cli.server_cmd import DatabaseOpt, DataDirOpt

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``ledger`` command group to ``app``."""
    group = typer.Typer(help="The metering ledger: export, verify, checkpoints.", no_args_is_help=True)

    @group.command("export")
    def export(
        file: Annotated[Path, typer.Argument(help="File to write.")],
        checkpoint_every: Annotated[
            int, typer.Option(help="Add a signed checkpoint every N entries (locates changes).")
        ] = 1024,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Write every ledger entry and signed checkpoint to FILE, for offline verification."""
        from offtake.ledger.export import export_ledger
        from offtake.ledger.signing import load_or_create_signer
        from offtake.persistence.db import make_engine, make_session_factory
        from offtake.registry.setup import prepare_database
        from offtake.settings import Settings

        settings = Settings.resolve(database_url=database_url, data_dir=data_dir)
        engine = make_engine(settings.database_url)
        try:
            prepare_database(engine)
            signer = load_or_create_signer(settings.signing_key_path)
            with make_session_factory(engine)() as session:
                summary = export_ledger(session, file, signer, checkpoint_every=checkpoint_every)
        finally:
            engine.dispose()
        typer.echo(
            f"exported {summary.entries} entries and {summary.checkpoints} signed checkpoints "
            f"to {file} "
            f"(root {summary.root.hex()}, key {signer.key_id})"
        )

    @group.command("verify")
    def verify(
        file: Annotated[Path, typer.Argument(help="Export file.")],
        public_key: Annotated[str, typer.Option("--public-key", help="Ledger public key: PEM file or 64 hex digits.")],
    ) -> None:
        """Verify an export offline; print every altered, removed, reordered or missing entry."""
        from offtake.ledger.export import verify_export
        from offtake.ledger.signing import load_public_key

        if not file.exists():
            from offtake.errors import InputError

            raise InputError("file does not exist", file=file)
        report = verify_export(file, load_public_key(public_key))
        for finding in report.findings:
            typer.echo(f"{file}: {finding}")
        if not report.ok:
            typer.echo(f"FAILED: {len(report.findings)} problem(s) in {report.entries} entries", err=True)
            raise typer.Exit(1)
        root = report.root.hex() if report.root else ""
        typer.echo(f"OK: {report.entries} entries, {report.checkpoints} signed checkpoints, root {root}")

    @group.command("checkpoint")
    def checkpoint(database_url: DatabaseOpt = None, data_dir: DataDirOpt = None) -> None:
        """Sign a checkpoint of the current ledger now."""
        from offtake.ledger.signing import load_or_create_signer
        from offtake.ledger.store import latest_checkpoint, make_checkpoint
        from offtake.persistence.db import make_engine, make_session_factory, session_scope
        from offtake.registry.setup import prepare_database
        from offtake.settings import Settings

        settings = Settings.resolve(database_url=database_url, data_dir=data_dir)
        engine = make_engine(settings.database_url)
        try:
            prepare_database(engine)
            signer = load_or_create_signer(settings.signing_key_path)
            with session_scope(make_session_factory(engine)) as session:
                made = make_checkpoint(session, signer) or latest_checkpoint(session)
        finally:
            engine.dispose()
        if made is None:
            typer.echo("the ledger is empty: nothing to sign")
        else:
            typer.echo(f"checkpoint size {made.size} root {made.root.hex()} signed {made.signed_at.isoformat()}")

    @group.command("public-key")
    def public_key(
        out: Annotated[Path | None, typer.Option("--out", help="Write the PEM to this file.")] = None,
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Print (or write) the public key that verifies the ledger's checkpoints."""
        from offtake.ledger.signing import load_or_create_signer
        from offtake.settings import Settings

        settings = Settings.resolve(database_url=database_url, data_dir=data_dir)
        signer = load_or_create_signer(settings.signing_key_path)
        if out is not None:
            out.write_text(signer.public_pem(), encoding="ascii")
            typer.echo(f"wrote public key {signer.key_id} to {out}")
        else:
            typer.echo(signer.public_pem(), nl=False)

    app.add_typer(group, name="ledger")
