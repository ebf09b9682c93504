"""Signed checkpoints witnessed outside the database, as Certificate Transparency does.

A database can be rolled back (a backup restored, rows deleted) and then grow again along
another history: a fork. The database alone cannot show that. Every checkpoint the server
signs is therefore also appended to a **checkpoint log**, a file beside the database in the
data folder (created 0600, opened append-only, flushed to disk before the checkpoint is
stored). Before it signs, and when it starts, the server checks that its tree is consistent
with the last checkpoint in that log: at least as large, and with the same root over that
many entries. Otherwise it refuses (:class:`LedgerForkError`) and signs nothing.

The regulator keeps its own copy of checkpoints (from ``GET /ledger/checkpoints`` or this
file); ``offtake ledger verify --known-checkpoint`` requires an export to be consistent with
them. Each line of the log is the JSON of one checkpoint, covered by its own signature.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from offtake.errors import InputError
from offtake.ledger.encoding import parse_time
from offtake.ledger.integrity import LedgerIntegrityError
from offtake.ledger.signing import CheckpointStatement, Signer
from offtake.ledger.store import tree_head

__all__ = [
    "CheckpointLog",
    "LedgerForkError",
    "check_consistent",
    "check_witnessed",
    "parse_checkpoints",
    "read_known_checkpoints",
]

log = logging.getLogger("offtake.ledger")

_TAIL_BYTES = 64 * 1024


class LedgerForkError(LedgerIntegrityError):
    """The database's ledger is not an extension of a checkpoint signed earlier (HTTP 409)."""


def _statement(body: object) -> CheckpointStatement:
    if not isinstance(body, dict):
        raise ValueError("a checkpoint is a JSON object")
    return CheckpointStatement(
        size=int(body["size"]),
        root=bytes.fromhex(str(body["root"])),
        signed_at=parse_time(str(body["signed_at"])),
        key_id=str(body["key_id"]),
        signature=bytes.fromhex(str(body["signature"])),
    )


def parse_checkpoints(text: str, *, source: str = "checkpoints") -> list[CheckpointStatement]:
    """Parse checkpoints: one JSON object, a JSON list, ``{"checkpoints": [...]}``, or one per line.

    Errors name ``source`` and the line.
    """
    stripped = text.strip()
    if not stripped:
        return []
    try:
        whole = json.loads(stripped)
    except ValueError:
        whole = None
    if whole is not None:
        items = whole.get("checkpoints", [whole]) if isinstance(whole, dict) else whole
        try:
            return [_statement(item) for item in items]
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a signed checkpoint: {exc}", file=source) from None
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(_statement(json.loads(line)))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a signed checkpoint: {exc}", file=source, line=number) from None
    return out


def read_known_checkpoints(value: str) -> list[CheckpointStatement]:
    """Checkpoints from a file (the checkpoint log, or saved API answers) or from JSON text."""
    path = Path(value)
    if not value.lstrip().startswith(("{", "[")):
        if not path.exists():
            raise InputError("known checkpoint file does not exist", file=path)
        return parse_checkpoints(path.read_text(encoding="utf-8"), source=str(path))
    return parse_checkpoints(value, source="--known-checkpoint")


class CheckpointLog:
    """The append-only file of checkpoints signed by this server.

    Parameters
    ----------
    path
        The file (created 0600 on first append, its folder 0700).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def append(self, statement: CheckpointStatement) -> None:
        """Append one checkpoint and flush it to disk."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = json.dumps(statement.as_dict(), sort_keys=True, separators=(",", ":")) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def last(self) -> tuple[CheckpointStatement, int] | None:
        """Return the largest checkpoint among the last lines of the log, and its line number."""
        if not self.path.exists():
            return None
        size = self.path.stat().st_size
        start = max(0, size - _TAIL_BYTES)
        before = 0  # lines before the part read
        with self.path.open("rb") as fh:
            while fh.tell() < start:
                before += fh.read(min(1 << 20, start - fh.tell())).count(b"\n")
            tail = fh.read()
        if start:  # drop the partial first line
            cut = tail.find(b"\n") + 1
            tail, before = tail[cut:], before + 1
        if not tail.endswith(b"\n"):  # a line cut short by a crash while appending: never signed for
            tail = tail[: tail.rfind(b"\n") + 1]
        lines_before = before
        best: tuple[CheckpointStatement, int] | None = None
        for offset, raw in enumerate(tail.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                statement = _statement(json.loads(raw))
            except (KeyError, TypeError, ValueError):
                raise InputError("not a signed checkpoint", file=self.path, line=lines_before + offset) from None
            if best is None or statement.size >= best[0].size:
                best = (statement, lines_before + offset)
        return best

    def all(self) -> list[CheckpointStatement]:
        """Every checkpoint in the log, in file order."""
        if not self.path.exists():
            return []
        return parse_checkpoints(self.path.read_text(encoding="ascii"), source=str(self.path))


def check_consistent(session: Session, known: Iterable[tuple[CheckpointStatement, str]]) -> None:
    """Refuse when the database's ledger is not an extension of each known checkpoint.

    Parameters
    ----------
    session
        Open session.
    known
        Checkpoints with a description of where each comes from (file and line).

    Raises
    ------
    LedgerForkError
        The ledger is shorter than a checkpoint (rolled back or truncated) or has another
        root over that many entries (rewritten or forked).
    """
    head = tree_head(session)
    for statement, where in known:
        if statement.size > head.size:
            message = (
                f"the ledger holds {head.size} entries but the checkpoint signed at "
                f"{statement.signed_at.isoformat()} ({where}) covers {statement.size}: the database was "
                "rolled back or entries were removed; refusing to sign"
            )
        else:
            root = tree_head(session, statement.size).root
            if root == statement.root:
                continue
            message = (
                f"the ledger's first {statement.size} entries have root {root.hex()[:16]}..., not "
                f"{statement.root.hex()[:16]}... as signed at {statement.signed_at.isoformat()} ({where}): "
                "the database was rewritten or forked; refusing to sign"
            )
        message += (
            " (a database replaced on purpose, with a new key or ledger, needs a new checkpoint log: "
            "archive the old one)"
        )
        log.critical("ledger integrity: %s", message)
        raise LedgerForkError(message, seq=min(statement.size, head.size))


def check_witnessed(factory: sessionmaker[Session], signer: Signer) -> None:
    """Start-up check: refuse a ledger inconsistent with the last checkpoint in the signer's log.

    Raises
    ------
    LedgerForkError
        As :func:`check_consistent`; the server should not start.
    """
    witness = signer.witness
    last = witness.last() if witness is not None else None
    if witness is None or last is None:
        return
    with factory() as session:
        check_consistent(session, [(last[0], f"{witness.path}:{last[1]}")])
