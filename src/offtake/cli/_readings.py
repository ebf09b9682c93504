"""Readings from a CSV file, and inclusion proofs as a self-contained JSON document.

The document carries the entry's bytes, its audit path and the signed checkpoint whose root
the path leads to, so a regulator checks it offline with only the ledger's public key.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offtake.errors import InputError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from sqlalchemy.orm import Session

    from offtake.ledger.ingest import MeterReading
    from offtake.ledger.signing import Signer

__all__ = ["READING_COLUMNS", "check_inclusion_document", "inclusion_document", "read_readings_csv"]

#: Columns of a readings CSV file.
READING_COLUMNS = ("site_id", "meter_id", "interval_start", "interval_end", "energy_wh")


def read_readings_csv(path: Path) -> list[MeterReading]:
    """Read meter readings; errors name the file, line and column."""
    from offtake.ledger.ingest import MeterReading
    from offtake.timeutil import parse_utc

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=path) from None
    rows = csv.DictReader(text.splitlines())
    missing = [c for c in READING_COLUMNS if c not in (rows.fieldnames or [])]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=path, line=1)
    readings = []
    for line, row in enumerate(rows, start=2):
        try:
            energy = int(row["energy_wh"])
        except (TypeError, ValueError):
            raise InputError(
                f"'{row['energy_wh']}' is not a whole number of Wh", file=path, line=line, field="energy_wh"
            ) from None
        readings.append(
            MeterReading(
                site_id=row["site_id"],
                meter_id=row["meter_id"],
                interval_start=parse_utc(row["interval_start"], field="interval_start", file=str(path), line=line),
                interval_end=parse_utc(row["interval_end"], field="interval_end", file=str(path), line=line),
                energy_wh=energy,
            )
        )
    if not readings:
        raise InputError("no readings in the file", file=path)
    return readings


def inclusion_document(session: Session, signer: Signer, seq: int | None) -> dict[str, Any]:
    """Proof that entry ``seq`` (None: the newest) is in the ledger of a signed checkpoint."""
    from offtake.ledger.store import get_entry, inclusion_proof, latest_checkpoint, make_checkpoint, tree_head

    size = tree_head(session).size
    if size == 0:
        raise InputError("the ledger is empty: nothing to prove", field="SEQ")
    seq = size - 1 if seq is None else seq
    if not 0 <= seq < size:
        raise InputError(f"entry {seq} is not in a ledger of {size} entries", field="SEQ")
    checkpoint = latest_checkpoint(session)
    if checkpoint is None or checkpoint.size <= seq:
        checkpoint = make_checkpoint(session, signer)
    assert checkpoint is not None  # the ledger holds entry seq
    proof = inclusion_proof(session, seq, checkpoint.size)
    return {
        **proof,
        "entry": get_entry(session, seq).data.decode("ascii"),
        "checkpoint": checkpoint.as_dict(),
    }


def check_inclusion_document(path: Path, public_key: Ed25519PublicKey) -> tuple[list[str], str]:
    """Check a proof document; return the problems found (none: valid) and a summary."""
    from offtake.ledger import merkle
    from offtake.ledger.encoding import parse_time
    from offtake.ledger.signing import CheckpointStatement

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        seq, size = int(doc["seq"]), int(doc["size"])
        path_hashes = [bytes.fromhex(h) for h in doc["path"]]
        root = bytes.fromhex(doc["root"])
        cp = doc["checkpoint"]
        statement = CheckpointStatement(
            int(cp["size"]),
            bytes.fromhex(cp["root"]),
            parse_time(cp["signed_at"]),
            str(cp["key_id"]),
            bytes.fromhex(cp["signature"]),
        )
        leaf = merkle.leaf_hash(str(doc["entry"]).encode("ascii"))
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=path) from None
    except (ValueError, KeyError, TypeError, UnicodeEncodeError) as exc:
        raise InputError(f"not an inclusion proof ({type(exc).__name__}: {exc})", file=path) from None
    problems = []
    if leaf.hex() != doc.get("leaf_hash"):
        problems.append(f"entry {seq}: its bytes do not hash to the proof's leaf hash")
    if not merkle.verify_inclusion(leaf, seq, size, path_hashes, root):
        problems.append(f"entry {seq}: the audit path does not lead to root {root.hex()}")
    if not statement.verify(public_key):
        problems.append("the checkpoint's signature is not valid for this public key")
    if (statement.size, statement.root) != (size, root):
        problems.append(f"the proof is for {size} entries, the signed checkpoint for {statement.size}")
    summary = (
        f"entry {seq} is in the ledger of {size} entries signed at {cp['signed_at']} "
        f"(root {root.hex()}, key {statement.key_id})"
    )
    return problems, summary
