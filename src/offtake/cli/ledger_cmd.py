"""``offtake ledger``: readings in, export, offline checks, inclusion proofs, checkpoints, public key.

Offline checks cover an export, its certificates, a bill against an export, and an inclusion proof.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from offtake.cli.server_cmd import DatabaseOpt, DataDirOpt
from offtake.timeutil import display_time

__all__ = ["register"]


KnownOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--known-checkpoint",
        help="A checkpoint you hold (JSON text, or a file: saved API answers or the server's checkpoint log); "
        "the export must be consistent with it. Repeatable.",
    ),
]


def _known(values: list[str] | None) -> list[Any]:
    from offtake.ledger.witness import read_known_checkpoints

    return [c for value in values or [] for c in read_known_checkpoints(value)]


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
        from offtake.ledger.witness import CheckpointLog
        from offtake.persistence.db import make_engine, make_session_factory
        from offtake.registry.setup import prepare_database
        from offtake.settings import Settings

        settings = Settings.resolve(database_url=database_url, data_dir=data_dir)
        engine = make_engine(settings.database_url)
        try:
            prepare_database(engine)
            signer = load_or_create_signer(settings.signing_key_path)
            signer.witness = CheckpointLog(settings.checkpoint_log)
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
        known_checkpoint: KnownOpt = None,
    ) -> None:
        """Verify an export offline; print every altered, removed, reordered or missing entry."""
        from offtake.ledger.export import verify_export
        from offtake.ledger.signing import load_public_key

        if not file.exists():
            from offtake.errors import InputError

            raise InputError("file does not exist", file=file)
        report = verify_export(file, load_public_key(public_key), known=_known(known_checkpoint))
        for finding in report.findings:
            typer.echo(f"{file}: {finding}")
        if not report.ok:
            typer.echo(f"FAILED: {len(report.findings)} problem(s) in {report.entries} entries", err=True)
            raise typer.Exit(1)
        root = report.root.hex() if report.root else ""
        typer.echo(f"OK: {report.entries} entries, {report.checkpoints} signed checkpoints, root {root}")

    @group.command("verify-certificates")
    def verify_certificates_cmd(
        file: Annotated[Path, typer.Argument(help="Export file.")],
        public_key: Annotated[str, typer.Option("--public-key", help="Ledger public key: PEM file or 64 hex digits.")],
        known_checkpoint: KnownOpt = None,
        shares: Annotated[
            Path | None,
            typer.Option("--shares", help="Share CSV you computed (offtake certificates shares): check every share."),
        ] = None,
    ) -> None:
        """Verify an export and replay its certificates offline; print every over-claim."""
        from offtake.certificates.shares import read_shares
        from offtake.certificates.verify import verify_certificates
        from offtake.errors import InputError
        from offtake.ledger.signing import load_public_key

        for given in (file, shares):
            if given is not None and not given.exists():
                raise InputError("file does not exist", file=given)
        known = tuple(_known(known_checkpoint))
        table = None if shares is None else read_shares(shares)
        report = verify_certificates(file, load_public_key(public_key), known=known, shares=table)
        for finding in [*report.ledger.findings, *report.findings]:
            typer.echo(f"{file}: {finding}")
        if not report.ok:
            problems = len(report.ledger.findings) + len(report.findings)
            typer.echo(f"FAILED: {problems} problem(s) in {report.ledger.entries} entries", err=True)
            raise typer.Exit(1)
        typer.echo(
            f"OK: {report.ledger.entries} entries, {report.certificates} certificates, {report.issued_wh} Wh issued, "
            f"{report.transfers} transfers, {report.retired_wh} Wh retired, {report.held_wh} Wh held"
        )

    @group.command("verify-bill")
    def verify_bill_cmd(
        bill: Annotated[Path, typer.Argument(help="The bill as JSON (as the API returns it).")],
        export: Annotated[Path, typer.Option("--export", help="Ledger export holding the bill's ledger state.")],
        public_key: Annotated[str, typer.Option("--public-key", help="Ledger public key: PEM file or 64 hex digits.")],
        known_checkpoint: KnownOpt = None,
    ) -> None:
        """Check a bill offline against a ledger export: its root, readings, energy and amounts."""
        from offtake.billing.verify import load_bill, verify_bill
        from offtake.errors import InputError
        from offtake.ledger.signing import load_public_key

        if not export.exists():
            raise InputError("file does not exist", file=export)
        check = verify_bill(load_bill(bill), export, load_public_key(public_key), known=_known(known_checkpoint))
        for problem in check.problems:
            typer.echo(f"{bill}: {problem}")
        if not check.ok:
            typer.echo(f"FAILED: {len(check.problems)} problem(s)", err=True)
            raise typer.Exit(1)
        issued = "" if check.issued_entry is None else f", issued as ledger entry {check.issued_entry}"
        typer.echo(f"OK: {check.readings} readings, {check.energy_wh} Wh{issued}")

    @group.command("checkpoint")
    def checkpoint(database_url: DatabaseOpt = None, data_dir: DataDirOpt = None) -> None:
        """Sign a checkpoint of the current ledger now."""
        from offtake.ledger.signing import load_or_create_signer
        from offtake.ledger.store import latest_checkpoint, make_checkpoint
        from offtake.ledger.witness import CheckpointLog
        from offtake.persistence.db import make_engine, make_session_factory, session_scope
        from offtake.registry.setup import prepare_database
        from offtake.settings import Settings

        settings = Settings.resolve(database_url=database_url, data_dir=data_dir)
        engine = make_engine(settings.database_url)
        try:
            prepare_database(engine)
            signer = load_or_create_signer(settings.signing_key_path)
            signer.witness = CheckpointLog(settings.checkpoint_log)
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

    _register_readings_and_proofs(group)
    app.add_typer(group, name="ledger")


def _register_readings_and_proofs(group: typer.Typer) -> None:
    """Add ``add-readings``, ``prove`` and ``check-proof`` to the ``ledger`` group."""

    @group.command("add-readings")
    def add_readings(
        file: Annotated[
            Path, typer.Argument(metavar="FILE", help="CSV: site_id,meter_id,interval_start,interval_end,energy_wh.")
        ],
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Record meter readings from a CSV file (as a site's agent would over OpenADR or REST)."""
        from offtake.cli._platform import admin_session
        from offtake.cli._readings import read_readings_csv
        from offtake.identity.principal import SYSTEM
        from offtake.ledger.ingest import ingest_readings

        readings = read_readings_csv(file)
        with admin_session(database_url, data_dir) as session:
            result = ingest_readings(session, SYSTEM, readings)
        typer.echo(
            f"{result.accepted} readings accepted, {result.duplicates} duplicates; ledger size {result.ledger_size}"
        )
        for item, reading in zip(result.items, readings, strict=True):
            typer.echo(f"  {reading.site_id} {display_time(reading.interval_start)}: {item.status}, entry {item.seq}")

    @group.command("prove")
    def prove(
        seq: Annotated[int | None, typer.Argument(metavar="[SEQ]", help="Ledger entry number.")] = None,
        last: Annotated[bool, typer.Option("--last", help="Prove the newest entry.")] = False,
        out: Annotated[Path | None, typer.Option("--out", help="Write the proof to this file (default: print).")] = (
            None
        ),
        database_url: DatabaseOpt = None,
        data_dir: DataDirOpt = None,
    ) -> None:
        """Write an inclusion proof of one entry against a signed checkpoint (signed now if none covers it)."""
        import json

        from offtake.cli._platform import admin_session, open_settings
        from offtake.cli._readings import inclusion_document
        from offtake.errors import InputError
        from offtake.ledger.signing import load_or_create_signer

        if (seq is None) == (not last):
            raise InputError("give an entry number SEQ, or --last", field="SEQ")
        signer = load_or_create_signer(open_settings(database_url, data_dir).signing_key_path)
        with admin_session(database_url, data_dir) as session:
            document = inclusion_document(session, signer, seq)
        text = json.dumps(document, indent=2, sort_keys=True) + "\n"
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.write_text(text, encoding="utf-8")
            typer.echo(
                f"wrote the proof of entry {document['seq']} in the signed ledger of "
                f"{document['size']} entries to {out}"
            )

    @group.command("check-proof")
    def check_proof(
        file: Annotated[Path, typer.Argument(metavar="FILE", help="Proof from 'offtake ledger prove'.")],
        public_key: Annotated[str, typer.Option("--public-key", help="Ledger public key: PEM file or 64 hex digits.")],
    ) -> None:
        """Check an inclusion proof offline: entry, audit path, signed checkpoint."""
        from offtake.cli._readings import check_inclusion_document
        from offtake.ledger.signing import load_public_key

        problems, summary = check_inclusion_document(file, load_public_key(public_key))
        for problem in problems:
            typer.echo(f"{file}: {problem}")
        if problems:
            typer.echo(f"FAILED: {len(problems)} problem(s)", err=True)
            raise typer.Exit(1)
        typer.echo(f"OK: {summary}")
