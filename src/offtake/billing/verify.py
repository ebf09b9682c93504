"""Check a bill offline against a ledger export, without the database.

A bill names the ledger state it was computed at (``ledger.size`` and ``ledger.root``) and
the reading entries it counted (their number and :func:`~offtake.billing.bills.readings_digest`).
:func:`verify_bill` verifies the export (signatures, hashes, known checkpoints), then checks
that:

- the Merkle root of the export's first ``ledger.size`` entries is the bill's root;
- the reading entries of the bill's site whose interval starts in the billing period, among
  those entries, are exactly the ones the bill counted, and their energy is the bill's
  billed, unbilled and violation energy together;
- every line's and the bill's amounts follow from its energy, tariff, penalty and exchange
  rate (exact integers, half-to-even rounding);
- when the bill was issued, its ledger entry holds the same bill.

Prices come from the bill's lines; that they are the contract's is for the reader to check
against the registry entries of the same export.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from offtake.billing.bills import readings_digest
from offtake.errors import InputError
from offtake.ledger import merkle
from offtake.ledger.encoding import parse_time
from offtake.ledger.export import verify_export
from offtake.ledger.signing import CheckpointStatement
from offtake.units import WH_PER_MWH

__all__ = ["BillCheck", "load_bill", "verify_bill"]


@dataclass
class BillCheck:
    """Outcome of :func:`verify_bill`: what was checked and every problem found."""

    readings: int = 0
    energy_wh: int = 0
    issued_entry: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the bill agrees with the export."""
        return not self.problems


def load_bill(path: Path) -> dict[str, Any]:
    """Read a bill saved as JSON (the API's bill, or an issued bill with its ``bill`` field)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"not a JSON bill: {exc}", file=path) from None
    if isinstance(value, dict) and isinstance(value.get("bill"), dict):
        value = value["bill"]
    if not isinstance(value, dict):
        raise InputError("a bill is a JSON object", file=path)
    return value


def _bill_fields(bill: Mapping[str, Any]) -> tuple[str, str, Any, Any, int, bytes]:
    try:
        ledger = bill["ledger"]
        return (
            str(bill["site_id"]),
            str(bill["month"]),
            parse_time(str(bill["period_start"])),
            parse_time(str(bill["period_end"])),
            int(ledger["size"]),
            bytes.fromhex(str(ledger["root"])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"the bill lacks {exc}: it names no ledger state", field="ledger") from None


def _check_amounts(bill: Mapping[str, Any], problems: list[str]) -> None:
    totals = {"energy_wh": 0, "energy_micro_usd": 0, "penalty_micro_usd": 0, "total_micro_usd": 0}
    paisa: int | None = 0
    for number, line in enumerate(bill.get("lines", [])):
        energy_usd = round(Fraction(line["energy_wh"] * line["tariff_micro_usd_per_mwh"], WH_PER_MWH))
        total = energy_usd + line["penalty_micro_usd"]
        rate = line["exchange_rate_micro_pkr_per_usd"]
        line_paisa = None if rate is None else round(Fraction(total * rate, 10**10))
        for name, want in (("energy_micro_usd", energy_usd), ("total_micro_usd", total), ("total_paisa", line_paisa)):
            if line[name] != want:
                problems.append(f"lines[{number}].{name} is {line[name]}, but its energy and prices give {want}")
        for name in totals:
            totals[name] += line[name]
        paisa = None if paisa is None or line_paisa is None else paisa + line_paisa
    for name, want in totals.items():
        if bill.get(name) != want:
            problems.append(f"{name} is {bill.get(name)}, but its lines add up to {want}")
    if bill.get("total_paisa") != paisa:
        problems.append(f"total_paisa is {bill.get('total_paisa')}, but its lines add up to {paisa}")


def verify_bill(
    bill: Mapping[str, Any],
    export: str | Path,
    public_key: Ed25519PublicKey,
    *,
    known: Sequence[CheckpointStatement] = (),
) -> BillCheck:
    """Check a bill against a ledger export (see the module documentation).

    Parameters
    ----------
    bill
        The bill's JSON (as the API returns it).
    export
        A ledger export holding at least the bill's ``ledger.size`` entries.
    public_key
        The ledger's public key, obtained independently.
    known
        Checkpoints the verifier holds, passed on to :func:`verify_export`.
    """
    site, month, start, end, size, root = _bill_fields(bill)
    check = BillCheck()
    problems = check.problems
    report = verify_export(export, public_key, known=known)
    problems.extend(f"export: {finding}" for finding in report.findings)
    frontier = merkle.Frontier()
    seqs: list[int] = []
    site_key = f'"site":"{site}"'.encode()
    issued: dict[str, Any] | None = None
    with Path(export).open("rb") as fh:
        fh.readline()
        for line in fh:
            if not line.startswith(b"E\t"):
                continue
            _tag, seq_text, _leaf, data = line.rstrip(b"\n").split(b"\t", 3)
            seq = int(seq_text)
            if seq < size:
                frontier.append(hashlib.sha256(b"\x00" + data).digest())
            if site_key not in data and b'"kind":"bill"' not in data:
                continue
            entry = json.loads(data)
            if entry.get("kind") == "reading" and seq < size and entry.get("site") == site:
                if start <= parse_time(entry["start"]) < end:
                    seqs.append(seq)
                    check.energy_wh += int(entry["energy_wh"])
            elif entry.get("kind") == "bill" and entry.get("site_id") == site and entry.get("month") == month:
                issued, check.issued_entry = entry, seq
    check.readings = len(seqs)
    if frontier.size < size:
        problems.append(f"the export holds {frontier.size} entries, fewer than the {size} the bill was computed at")
    elif frontier.root() != root:
        problems.append(f"the root of the export's first {size} entries is not the bill's: another ledger history")
    counted = bill.get("readings", {})
    if counted.get("count") != len(seqs) or counted.get("sha256") != readings_digest(seqs):
        problems.append(
            f"the ledger holds {len(seqs)} readings of site '{site}' in {month}; the bill counted "
            f"{counted.get('count')} and another set of entries"
        )
    drawn = sum(int(bill.get(k) or 0) for k in ("energy_wh", "unbilled_wh", "violation_wh"))
    if drawn != check.energy_wh:
        problems.append(f"the readings hold {check.energy_wh} Wh; the bill accounts for {drawn} Wh")
    _check_amounts(bill, problems)
    if issued is not None:
        ignored = {"seq", "kind", "by", "at", "warnings"}
        mine = {k: v for k, v in bill.items() if k not in ignored}
        if {k: v for k, v in issued.items() if k not in ignored} != mine:
            problems.append(f"ledger entry {check.issued_entry} holds another {month} bill of site '{site}'")
    return check
