"""Hourly clean-energy certificates: issued from metered readings, transferred, retired, verified.

For every Wh a site draws in an hour, the renewable share of its zone in that hour (by
technology, :mod:`offtake.certificates.shares`) is certified as granular certificates in the
EnergyTag manner: hourly production and consumption period, volume in Wh, zone, technology.
Certificates exist only as ledger entries (:mod:`offtake.certificates.book` says what they
hold and the rules of replaying them); licensed operators transfer them (splitting in whole
Wh) and retire them against a claim, and no Wh is claimed twice.

Entry points
------------
- :func:`issue_certificates`, :func:`transfer_certificate`, :func:`retire_certificate`,
  :func:`list_holdings`, :func:`list_retirements`, :func:`get_certificate` — the platform's
  operations.
- :func:`shares_from_dispatch`, :func:`read_shares`, :func:`shares_from_rows`, :func:`write_shares` —
  renewable shares.
- :func:`verify_certificates` — replay an export offline and find every over-claim.
"""

from __future__ import annotations

from offtake.certificates.book import Book, Certificate, Retirement
from offtake.certificates.operations import (
    CertificateState,
    Holding,
    Issuance,
    get_certificate,
    issue_certificates,
    list_holdings,
    list_retirements,
    load_book,
    retire_certificate,
    transfer_certificate,
)
from offtake.certificates.shares import (
    ShareTable,
    load_rules,
    read_shares,
    shares_from_dispatch,
    shares_from_rows,
    write_shares,
)
from offtake.certificates.verify import CertificateReport, verify_certificates

__all__ = [
    "Book",
    "Certificate",
    "CertificateReport",
    "CertificateState",
    "Holding",
    "Issuance",
    "Retirement",
    "ShareTable",
    "get_certificate",
    "issue_certificates",
    "list_holdings",
    "list_retirements",
    "load_book",
    "load_rules",
    "read_shares",
    "retire_certificate",
    "shares_from_dispatch",
    "shares_from_rows",
    "transfer_certificate",
    "verify_certificates",
    "write_shares",
]
