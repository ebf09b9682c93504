"""Verify the certificates of a ledger export offline: replay them and find every over-claim.

The export's integrity (leaf hashes, Merkle roots, signatures) is checked first by
:func:`offtake.ledger.export.verify_export`. Then every reading and certificate entry is
replayed through the same :class:`~offtake.certificates.book.Book` the platform uses, with
each certificate checked against the readings it names: a volume above the site's metered
energy times the hour's share, a reading issued against twice, a transfer or retirement of
more Wh than the holder holds — each is a finding naming the line, the entry and the
certificate. Even an edit whose leaf hash was recomputed (so only the Merkle root betrays it)
is found here as what it claims.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from offtake.certificates.book import ISSUE, KINDS, Book, ReadingFact
from offtake.certificates.shares import CertificateRules, ShareTable, load_rules
from offtake.errors import InputError
from offtake.ledger.encoding import parse_time
from offtake.ledger.export import Finding, VerifyReport, verify_export
from offtake.ledger.signing import CheckpointStatement

__all__ = ["CertificateReport", "verify_certificates"]


@dataclass
class CertificateReport:
    """Result of :func:`verify_certificates`."""

    ledger: VerifyReport
    certificates: int = 0
    issued_wh: int = 0
    transfers: int = 0
    retired_wh: int = 0
    held_wh: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the export is intact and no certificate is over-claimed."""
        return self.ledger.ok and not self.findings


def verify_certificates(
    path: str | Path,
    public_key: Ed25519PublicKey,
    *,
    known: tuple[CheckpointStatement, ...] = (),
    shares: ShareTable | None = None,
    rules: CertificateRules | None = None,
) -> CertificateReport:
    """Verify an export, then replay its readings and certificates and report every over-claim.

    Parameters
    ----------
    path
        The export file (``offtake ledger export``).
    public_key
        The ledger's public key, obtained independently.
    known
        Checkpoints the verifier already holds (see :func:`~offtake.ledger.export.verify_export`).
    shares
        Renewable shares the verifier computed itself (``offtake certificates shares``): each
        certificate's ``share_ppm`` must be the one for its zone, hour and technology.
    rules
        Certificate rules (bundled by default).
    """
    rules = rules or load_rules()
    report = CertificateReport(verify_export(path, public_key, known=known))
    book = Book(rules.hour, rules.share_denominator, check_readings=True)
    with Path(path).open("rb") as fh:
        fh.readline()
        for number, line in enumerate(fh, start=2):
            if not line.startswith(b"E\t"):
                continue
            parts = line.rstrip(b"\n").split(b"\t", 3)
            if len(parts) != 4:
                continue  # reported by verify_export
            _replay(book, parts[3], number, report, shares)
    report.certificates = len(book.certificates)
    report.issued_wh = sum(c.volume_wh for c in book.certificates.values())
    report.retired_wh = sum(book.retired_wh.values())
    report.held_wh = sum(book.holdings.values())
    return report


def _replay(book: Book, data: bytes, number: int, report: CertificateReport, shares: ShareTable | None) -> None:
    try:
        body = json.loads(data)
        kind, seq = body["kind"], int(body["seq"])
    except (ValueError, KeyError, TypeError):
        return  # a malformed entry is the export check's finding
    if kind == "reading":
        try:
            book.readings[seq] = ReadingFact(
                str(body["site"]), parse_time(body["start"]), parse_time(body["end"]), int(body["energy_wh"])
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            report.findings.append(
                Finding("malformed", "reading entry lacks its site, interval or energy", number, seq, seq)
            )
        return
    if kind not in KINDS:
        return
    if kind == "cert_transfer":
        report.transfers += 1
    problem = book.replay(seq, kind, body)
    if problem is not None:
        report.findings.append(Finding("over-claim", problem, number, seq, seq))
    elif kind == ISSUE and shares is not None:
        for cert in body["certificates"]:
            _check_share(cert, str(body["zone"]), shares, number, seq, report)


def _check_share(
    cert: dict[str, object], zone: str, shares: ShareTable, number: int, seq: int, report: CertificateReport
) -> None:
    start = parse_time(str(cert["start"]))
    try:
        expected = shares.of(zone, start).get(str(cert["technology"]), 0)
    except InputError as exc:
        report.findings.append(Finding("share", f"certificate {cert['id']}: {exc.message}", number, seq, seq))
        return
    if cert["share_ppm"] != expected:
        report.findings.append(
            Finding(
                "share",
                f"certificate {cert['id']}: share {cert['share_ppm']} ppm of {cert['technology']} in zone '{zone}' "
                f"at {cert['start']}, but the shares given say {expected} ppm",
                number,
                seq,
                seq,
            )
        )
