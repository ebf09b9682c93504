r"""Export the ledger to a file and verify such a file offline.

File format (UTF-8 text, one record per line, fields separated by a tab):

``OFFTAKE-LEDGER\t1\t<header JSON>``
    first line; the header names the log, the public key (raw hex), key id and export time.
``E\t<seq>\t<leaf hash hex>\t<entry bytes>``
    one per ledger entry, in order; the entry bytes are its canonical JSON
    (:mod:`offtake.ledger.encoding`), which never holds a tab or line break.
``C\t<checkpoint JSON>``
    a signed checkpoint (``size``, ``root``, ``signed_at``, ``key_id``, ``signature``,
    ``origin``), placed right after entry ``size - 1``. ``origin`` is ``ledger`` for the
    checkpoints signed while the ledger grew and ``export`` for those the export adds every
    ``checkpoint_every`` entries, so a change can be located to a short range.
``T\t<checkpoint JSON>``
    last line: a checkpoint over the whole export, signed at export time.

Verification recomputes every leaf hash and the Merkle root at each checkpoint, checks
each signature with the public key given, and reports every problem with its location:

- an **altered** entry: its bytes do not hash to the recorded leaf hash (exact entry), and
  the root at the next checkpoint differs (range since the last good checkpoint) — even if
  the recorded hash was altered too;
- a **removed** or **inserted** entry: a gap or repeat in the sequence numbers, and the
  checkpoints that no longer sit at their size;
- **reordered** entries: sequence numbers out of order (exact lines), and the root;
- a **truncated** file: no trailer, or fewer entries than the trailer or a checkpoint says.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from offtake.errors import InputError
from offtake.ledger import merkle
from offtake.ledger.encoding import format_time, parse_time
from offtake.ledger.signing import LOG_NAME, CheckpointStatement, Signer
from offtake.ledger.store import list_checkpoints, tree_head
from offtake.persistence.schema import LedgerEntry

__all__ = ["ExportSummary", "Finding", "VerifyReport", "export_ledger", "verify_export"]

MAGIC = "OFFTAKE-LEDGER"
VERSION = "1"
_CHUNK = 20_000


@dataclass(frozen=True)
class ExportSummary:
    """What :func:`export_ledger` wrote."""

    path: Path
    entries: int
    checkpoints: int
    root: bytes


def _checkpoint_line(tag: str, statement: CheckpointStatement, origin: str) -> str:
    body = dict(statement.as_dict())
    body["origin"] = origin
    return f"{tag}\t{json.dumps(body, sort_keys=True, separators=(',', ':'))}\n"


def export_ledger(
    session: Session,
    path: str | Path,
    signer: Signer,
    *,
    checkpoint_every: int = 1024,
    now: datetime | None = None,
) -> ExportSummary:
    """Write the whole ledger, its checkpoints and fresh export checkpoints to ``path``.

    Parameters
    ----------
    session
        Open session (read only).
    path
        File to write (replaced atomically when complete).
    signer
        Signs the export checkpoints and the trailer (the ledger's key).
    checkpoint_every
        Add a signed checkpoint every this many entries, to locate changes [-].
    now
        Export time (default now).
    """
    if checkpoint_every <= 0:
        raise InputError("checkpoint_every must be positive", field="checkpoint_every")
    now = now or datetime.now(UTC)
    head = tree_head(session)
    stored = {c.size: c for c in list_checkpoints(session, limit=10**9) if c.size <= head.size}
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    raw_key = signer.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    header = {
        "log": LOG_NAME,
        "public_key": raw_key.hex(),
        "key_id": signer.key_id,
        "exported_at": format_time(now),
        "size": head.size,
        "hash": "sha256",
        "tree": "RFC 6962",
    }
    frontier = merkle.Frontier()
    checkpoints = 0
    with partial.open("w", encoding="ascii", newline="\n") as fh:
        fh.write(f"{MAGIC}\t{VERSION}\t{json.dumps(header, sort_keys=True, separators=(',', ':'))}\n")
        seq = 0
        while seq < head.size:
            rows = session.execute(
                select(LedgerEntry.seq, LedgerEntry.leaf_hash, LedgerEntry.data)
                .where(LedgerEntry.seq >= seq, LedgerEntry.seq < min(seq + _CHUNK, head.size))
                .order_by(LedgerEntry.seq)
            ).tuples()
            lines = []
            for number, leaf, data in rows:
                if number != seq:
                    raise RuntimeError(f"the ledger table lacks entry {seq}")
                frontier.append(leaf)
                seq += 1
                lines.append(f"E\t{number}\t{leaf.hex()}\t{data.decode('ascii')}\n")
                if seq in stored:
                    lines.append(_checkpoint_line("C", stored[seq], "ledger"))
                    checkpoints += 1
                if seq % checkpoint_every == 0 and seq < head.size:
                    lines.append(_checkpoint_line("C", signer.sign(seq, frontier.root(), now), "export"))
                    checkpoints += 1
            fh.writelines(lines)
        if frontier.root() != head.root:
            raise RuntimeError("the stored entries do not reproduce the ledger root")
        fh.write(_checkpoint_line("T", signer.sign(head.size, head.root, now), "export"))
    partial.replace(target)
    return ExportSummary(target, head.size, checkpoints + 1, head.root)


@dataclass(frozen=True)
class Finding:
    """One problem found in an export, with where it is.

    Parameters
    ----------
    kind
        ``altered``, ``removed``, ``inserted``, ``reordered``, ``truncated``, ``signature``,
        ``malformed`` or ``key``.
    message
        What is wrong.
    line
        Line of the file (1-based), if one line is at fault.
    first_seq, last_seq
        The entries concerned (inclusive range).
    """

    kind: str
    message: str
    line: int | None = None
    first_seq: int | None = None
    last_seq: int | None = None

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.first_seq is not None:
            if self.last_seq is None:
                where.append(f"entries from {self.first_seq}")
            elif self.last_seq == self.first_seq:
                where.append(f"entry {self.first_seq}")
            else:
                where.append(f"entries {self.first_seq}-{self.last_seq}")
        return f"{', '.join(where)}: {self.kind}: {self.message}" if where else f"{self.kind}: {self.message}"


@dataclass
class VerifyReport:
    """Result of :func:`verify_export`."""

    entries: int = 0
    checkpoints: int = 0
    size: int | None = None
    root: bytes | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the export is intact."""
        return not self.findings


def _lines(fh: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(fh, start=1):
        yield number, line.rstrip(b"\n")


def _statement(body: dict[str, Any]) -> CheckpointStatement:
    return CheckpointStatement(
        size=int(body["size"]),
        root=bytes.fromhex(body["root"]),
        signed_at=parse_time(body["signed_at"]),
        key_id=str(body["key_id"]),
        signature=bytes.fromhex(body["signature"]),
    )


def _check_checkpoint(
    text: bytes,
    number: int,
    frontier: merkle.Frontier,
    good_size: int,
    public_key: Ed25519PublicKey,
    report: VerifyReport,
) -> tuple[CheckpointStatement | None, int]:
    """Check one checkpoint line; return it (if well signed) and the last good size."""
    findings = report.findings
    try:
        statement = _statement(json.loads(text))
    except (ValueError, KeyError, TypeError):
        findings.append(Finding("malformed", "checkpoint line is not a valid checkpoint", number))
        return None, good_size
    report.checkpoints += 1
    try:
        public_key.verify(statement.signature, statement.message())
    except InvalidSignature:
        findings.append(Finding("signature", f"checkpoint at size {statement.size}: invalid signature", number))
        return None, good_size
    read = frontier.size
    if statement.size != read:
        findings.append(
            Finding(
                "removed" if read < statement.size else "inserted",
                f"signed checkpoint for {statement.size} entries follows {read} entries",
                number,
                good_size,
                max(statement.size, read) - 1,
            )
        )
    elif frontier.root() != statement.root:
        last = statement.size - 1
        findings.append(
            Finding(
                "altered",
                f"Merkle root of entries 0..{last} differs from the signed checkpoint: an entry "
                f"in {good_size}..{last} was altered, removed, inserted or reordered",
                number,
                good_size,
                last,
            )
        )
    else:
        good_size = statement.size
    return statement, good_size


def verify_export(path: str | Path, public_key: Ed25519PublicKey) -> VerifyReport:
    """Verify an export file offline, without the database.

    Parameters
    ----------
    path
        The export file.
    public_key
        The ledger's Ed25519 public key, obtained independently (not from the file).

    Returns
    -------
    VerifyReport
        Counts and every finding with its location; ``ok`` when there is none.
    """
    report = VerifyReport()
    findings = report.findings
    sha256 = hashlib.sha256
    frontier = merkle.Frontier()
    append = frontier.append
    expected = 0
    good_size = 0
    trailer: CheckpointStatement | None = None
    trailer_line = 0
    key_raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    with Path(path).open("rb") as fh:
        first = fh.readline().rstrip(b"\n").split(b"\t", 2)
        if len(first) != 3 or first[0].decode(errors="replace") != MAGIC:
            raise InputError("not an offtake ledger export (bad first line)", file=str(path), line=1)
        try:
            header = json.loads(first[2])
        except ValueError:
            raise InputError("the header is not JSON", file=str(path), line=1) from None
        if header.get("public_key") != key_raw.hex():
            findings.append(
                Finding(
                    "key",
                    "the file names another public key than the one given; checking with the given key",
                    1,
                )
            )
        number = 1
        for number, line in enumerate(fh, start=2):
            tag = line[:2]
            if tag == b"E\t":
                parts = line.rstrip(b"\n").split(b"\t", 3)
                if len(parts) != 4:
                    findings.append(Finding("malformed", "entry line has not 4 fields", number))
                    continue
                _, seq_text, leaf_hex, data = parts
                try:
                    seq = int(seq_text)
                except ValueError:
                    findings.append(Finding("malformed", "sequence number is not an integer", number))
                    continue
                leaf = sha256(b"\x00" + data).digest()
                if leaf.hex().encode() != leaf_hex:
                    findings.append(
                        Finding(
                            "altered",
                            "entry bytes do not match the recorded leaf hash",
                            number,
                            seq,
                            seq,
                        )
                    )
                if seq != expected:
                    if seq > expected:
                        findings.append(
                            Finding(
                                "removed",
                                f"entries {expected}..{seq - 1} are missing",
                                number,
                                expected,
                                seq - 1,
                            )
                        )
                    else:
                        findings.append(
                            Finding(
                                "reordered",
                                f"entry {seq} appears after entry {expected - 1}",
                                number,
                                seq,
                                seq,
                            )
                        )
                    expected = seq
                expected += 1
                append(leaf)
                report.entries += 1
            elif tag in (b"C\t", b"T\t"):
                statement, good_size = _check_checkpoint(line[2:], number, frontier, good_size, public_key, report)
                if tag == b"T\t" and statement is not None:
                    trailer, trailer_line = statement, number
                    break
            else:
                findings.append(Finding("malformed", "unknown line type", number))
        rest = fh.read()
    if trailer is None:
        findings.append(
            Finding(
                "truncated",
                f"the file ends without a validly signed trailer after {report.entries} entries: "
                "it was truncated (or its trailer forged)",
                number,
                good_size,
            )
        )
    else:
        report.size, report.root = trailer.size, trailer.root
        declared = header.get("size")
        if isinstance(declared, int) and declared != trailer.size:
            findings.append(Finding("truncated", f"header says {declared} entries, trailer {trailer.size}", 1))
        if rest.strip():
            findings.append(Finding("inserted", "lines after the signed trailer", trailer_line + 1))
    return report
