r"""Export the ledger to a file and verify such a file offline.

File format (UTF-8 text, one record per line, fields separated by a tab):

``OFFTAKE-LEDGER\t2\t<header JSON>``
    first line; the header names the log, the public key (raw hex), key id and export time.
``E\t<seq>\t<leaf hash hex>\t<entry bytes>``
    one per ledger entry, in order; the entry bytes are its canonical JSON
    (:mod:`offtake.ledger.encoding`), which never holds a tab or line break.
``C\t<checkpoint JSON>``
    a signed checkpoint (``size``, ``root``, ``signed_at``, ``key_id``, ``signature``,
    ``origin``), placed right after entry ``size - 1``. ``origin`` is ``ledger`` for the
    checkpoints signed while the ledger grew and ``export`` for those the export adds every
    ``checkpoint_every`` entries, so a change can be located to a short range.
``T\t<trailer JSON>``
    last line: the whole export's size and root, ``type: export`` and ``lines_sha256``, the
    SHA-256 of the header line and every ``C`` line (each with its line break), signed at
    export time (:func:`offtake.ledger.signing.export_message`). So the header and every
    checkpoint line are covered by a signature, and a checkpoint line cannot pass for a
    trailer: an export cut at a checkpoint is found truncated.

Verification recomputes every leaf hash and the Merkle root at each checkpoint, checks
each signature with the public key given, and reports every problem with its location:

- an **altered** entry: its bytes do not hash to the recorded leaf hash (exact entry), and
  the root at the next checkpoint differs (range since the last good checkpoint) — even if
  the recorded hash was altered too;
- a **removed** or **inserted** entry: a gap or repeat in the sequence numbers, and the
  checkpoints that no longer sit at their size;
- **reordered** entries: sequence numbers out of order (exact lines), and the root;
- a **truncated** file: no trailer, or fewer entries than the trailer or a checkpoint says;
- an edited **header** or checkpoint line: the trailer's signature fails;
- a **rolled back** or **forked** ledger: checkpoints the verifier already holds
  (``known``, e.g. the regulator's copy or the server's checkpoint log) that the export
  does not reach, or whose root differs from the export's over that many entries.

Exporting refuses a database that is not consistent with the signer's checkpoint log
(:mod:`offtake.ledger.witness`), and the export carries the log's checkpoints too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
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
from offtake.ledger.integrity import LedgerIntegrityError
from offtake.ledger.signing import LOG_NAME, CheckpointStatement, Signer, export_message
from offtake.ledger.store import list_checkpoints, tree_head
from offtake.ledger.witness import check_consistent
from offtake.persistence.schema import LedgerEntry

__all__ = ["ExportSummary", "Finding", "VerifyReport", "export_ledger", "trailer_line", "verify_export"]

MAGIC = "OFFTAKE-LEDGER"
VERSION = "2"
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


def trailer_line(signer: Signer, size: int, root: bytes, signed_at: datetime, lines_sha256: str) -> str:
    """Return the signed last line of an export (see the module documentation)."""
    body = {
        "size": size,
        "root": root.hex(),
        "signed_at": format_time(signed_at),
        "key_id": signer.key_id,
        "type": "export",
        "lines_sha256": lines_sha256,
        "signature": signer.sign_export(size, root, signed_at, lines_sha256).hex(),
    }
    return f"T\t{json.dumps(body, sort_keys=True, separators=(',', ':'))}\n"


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
    witnessed = signer.witness.all() if signer.witness is not None else []
    if witnessed:
        last = max(witnessed, key=lambda c: c.size)
        check_consistent(session, [(last, str(signer.witness.path if signer.witness else ""))])
    head = tree_head(session)
    stored = {c.size: c for c in list_checkpoints(session, limit=10**9) if c.size <= head.size}
    for statement in witnessed:
        if statement.size <= head.size and statement.key_id == signer.key_id:
            stored.setdefault(statement.size, statement)
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
    lines_hash = hashlib.sha256()
    try:
        with partial.open("w", encoding="ascii", newline="\n") as fh:
            first = f"{MAGIC}\t{VERSION}\t{json.dumps(header, sort_keys=True, separators=(',', ':'))}\n"
            lines_hash.update(first.encode("ascii"))
            fh.write(first)
            seq = good = 0
            while seq < head.size:
                rows = session.execute(
                    select(LedgerEntry.seq, LedgerEntry.leaf_hash, LedgerEntry.data)
                    .where(LedgerEntry.seq >= seq, LedgerEntry.seq < min(seq + _CHUNK, head.size))
                    .order_by(LedgerEntry.seq)
                ).tuples()
                lines = []
                for number, leaf, data in rows:
                    if number != seq:
                        raise LedgerIntegrityError(f"the database lacks ledger entry {seq}; not exporting", seq=seq)
                    frontier.append(leaf)
                    seq += 1
                    lines.append(f"E\t{number}\t{leaf.hex()}\t{data.decode('ascii')}\n")
                    if seq in stored:
                        if frontier.root() != stored[seq].root:
                            raise LedgerIntegrityError(
                                f"ledger entries {good}..{seq - 1} in the database do not reproduce the checkpoint of "
                                f"size {seq} signed {format_time(stored[seq].signed_at)}: an entry and its leaf hash "
                                "were altered; not exporting",
                                seq=good,
                            )
                        good = seq
                        lines.append(_checkpoint_line("C", stored[seq], "ledger"))
                        lines_hash.update(lines[-1].encode("ascii"))
                        checkpoints += 1
                    if seq % checkpoint_every == 0 and seq < head.size:
                        lines.append(_checkpoint_line("C", signer.sign(seq, frontier.root(), now), "export"))
                        lines_hash.update(lines[-1].encode("ascii"))
                        checkpoints += 1
                fh.writelines(lines)
            if frontier.root() != head.root:
                raise LedgerIntegrityError(
                    f"ledger entries {good}..{head.size - 1} in the database do not reproduce the tree's root: "
                    "an entry and its leaf hash were altered; not exporting",
                    seq=good,
                )
            fh.write(trailer_line(signer, head.size, head.root, now, lines_hash.hexdigest()))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
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


class _Known:
    """Checkpoints the verifier already holds, checked as the export reaches their sizes."""

    def __init__(self, known: Sequence[CheckpointStatement], public_key: Ed25519PublicKey, report: VerifyReport):
        self.pending: list[CheckpointStatement] = []
        for statement in sorted(known, key=lambda c: c.size, reverse=True):
            if statement.verify(public_key):
                self.pending.append(statement)
            else:
                report.findings.append(
                    Finding("key", f"known checkpoint of size {statement.size}: not signed by the given key")
                )
        self.next_size = self.pending[-1].size if self.pending else -1
        self.report = report

    def reached(self, frontier: merkle.Frontier, number: int) -> None:
        """Compare the root after ``frontier.size`` entries with the known checkpoint of that size."""
        while self.pending and self.pending[-1].size == frontier.size:
            statement = self.pending.pop()
            if frontier.root() != statement.root:
                self.report.findings.append(
                    Finding(
                        "fork",
                        f"the first {statement.size} entries have another root than the known checkpoint signed "
                        f"{format_time(statement.signed_at)}: the ledger was rewritten or forked",
                        number,
                        0,
                        statement.size - 1,
                    )
                )
        self.next_size = self.pending[-1].size if self.pending else -1

    def finish(self, entries: int) -> None:
        """Report known checkpoints beyond the end of the export."""
        for statement in reversed(self.pending):
            self.report.findings.append(
                Finding(
                    "rollback",
                    f"the export holds {entries} entries but the known checkpoint signed "
                    f"{format_time(statement.signed_at)} covers {statement.size}: the ledger was rolled back "
                    "or truncated",
                    None,
                    entries,
                    statement.size - 1,
                )
            )


def _check_trailer(
    text: bytes,
    number: int,
    frontier: merkle.Frontier,
    lines_sha256: str,
    public_key: Ed25519PublicKey,
    report: VerifyReport,
) -> CheckpointStatement | None:
    """Check the trailer: its signature over the export message, its size and root."""
    try:
        body = json.loads(text)
        statement = _statement(body)
        kind = body.get("type")
        signed = bytes.fromhex(body["signature"])
    except (ValueError, KeyError, TypeError, AttributeError):
        report.findings.append(Finding("malformed", "trailer line is not a valid trailer", number))
        return None
    report.checkpoints += 1
    message = export_message(statement.size, statement.root, statement.signed_at, statement.key_id, lines_sha256)
    try:
        if kind != "export":
            raise InvalidSignature
        public_key.verify(signed, message)
    except InvalidSignature:
        report.findings.append(
            Finding(
                "signature",
                "the trailer's signature does not cover this export: the header or a checkpoint line was "
                "edited, a checkpoint line made into a trailer, or the trailer forged",
                number,
            )
        )
        return None
    if statement.size != frontier.size or statement.root != frontier.root():
        report.findings.append(
            Finding(
                "removed" if frontier.size < statement.size else "altered",
                f"the signed trailer covers {statement.size} entries, the file holds {frontier.size} "
                "or they have another root",
                number,
            )
        )
    return statement


def _read_header(fh: IO[bytes], path: str | Path, key_raw: bytes, report: VerifyReport) -> tuple[dict[str, Any], bytes]:
    raw = fh.readline()
    first = raw.rstrip(b"\n").split(b"\t", 2)
    if len(first) != 3 or first[0].decode(errors="replace") != MAGIC:
        raise InputError("not an offtake ledger export (bad first line)", file=str(path), line=1)
    if first[1].decode(errors="replace") != VERSION:
        raise InputError(
            f"export format version {first[1].decode(errors='replace')}; this offtake reads version {VERSION} "
            "(export the ledger again)",
            file=str(path),
            line=1,
        )
    try:
        header = json.loads(first[2])
    except ValueError:
        raise InputError("the header is not JSON", file=str(path), line=1) from None
    if not isinstance(header, dict):
        raise InputError("the header is not a JSON object", file=str(path), line=1)
    if header.get("public_key") != key_raw.hex():
        report.findings.append(
            Finding("key", "the file names another public key than the one given; checking with the given key", 1)
        )
    return header, raw


def verify_export(
    path: str | Path, public_key: Ed25519PublicKey, *, known: Sequence[CheckpointStatement] = ()
) -> VerifyReport:
    """Verify an export file offline, without the database.

    Parameters
    ----------
    path
        The export file.
    public_key
        The ledger's Ed25519 public key, obtained independently (not from the file).
    known
        Checkpoints the verifier already holds (its own copy, the server's checkpoint log):
        the export must reach each and have the same root over that many entries.

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
    trailer_line_number = 0
    key_raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    holds = _Known(known, public_key, report)
    with Path(path).open("rb") as fh:
        header, first_line = _read_header(fh, path, key_raw, report)
        lines_hash = sha256(first_line)
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
                        Finding("altered", "entry bytes do not match the recorded leaf hash", number, seq, seq)
                    )
                if seq != expected:
                    findings.append(_out_of_order(seq, expected, number))
                    expected = seq
                expected += 1
                append(leaf)
                report.entries += 1
                if report.entries == holds.next_size:
                    holds.reached(frontier, number)
            elif tag == b"C\t":
                lines_hash.update(line)
                _unused, good_size = _check_checkpoint(line[2:], number, frontier, good_size, public_key, report)
            elif tag == b"T\t":
                trailer = _check_trailer(line[2:], number, frontier, lines_hash.hexdigest(), public_key, report)
                trailer_line_number = number
                break
            else:
                findings.append(Finding("malformed", "unknown line type", number))
        rest = fh.read()
    holds.finish(report.entries)
    if trailer_line_number == 0:
        findings.append(
            Finding(
                "truncated",
                f"the file ends without its signed trailer after {report.entries} entries: it was truncated",
                number,
                good_size,
            )
        )
    elif trailer is not None:
        report.size, report.root = trailer.size, trailer.root
        declared = header.get("size")
        if isinstance(declared, int) and declared != trailer.size:
            findings.append(Finding("truncated", f"header says {declared} entries, trailer {trailer.size}", 1))
    if trailer_line_number and rest.strip():
        findings.append(Finding("inserted", "lines after the signed trailer", trailer_line_number + 1))
    return report


def _out_of_order(seq: int, expected: int, number: int) -> Finding:
    if seq > expected:
        return Finding("removed", f"entries {expected}..{seq - 1} are missing", number, expected, seq - 1)
    return Finding("reordered", f"entry {seq} appears after entry {expected - 1}", number, seq, seq)
