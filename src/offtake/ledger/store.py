"""The append-only ledger in the database: appending, tree heads, proofs, checkpoints.

Appenders serialise on the single ``ledger_head`` row (an ``UPDATE`` takes the write
lock on SQLite and a row lock on PostgreSQL), so entries get gap-free sequence numbers
across threads and processes. Each append stores the entry, its leaf hash and the
complete Merkle subtrees it closes (one on average), so any proof needs only
``O(log n)`` stored hashes, fetched in one query.

Nothing here commits: the caller owns the transaction and commits before acknowledging.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, event, literal, or_, select, union_all, update
from sqlalchemy.orm import Session

from offtake.errors import InputError, NotFoundError
from offtake.ledger import merkle
from offtake.ledger.encoding import canonical_json, format_time, to_us
from offtake.ledger.integrity import LedgerIntegrityError, check_leaf
from offtake.ledger.signing import CheckpointStatement, Signer
from offtake.persistence.db import bulk_insert
from offtake.persistence.schema import Checkpoint, LedgerEntry, LedgerHead, MerkleNode

__all__ = [
    "Appender",
    "TreeHead",
    "consistency_proof",
    "entries",
    "get_entry",
    "inclusion_proof",
    "latest_checkpoint",
    "list_checkpoints",
    "make_checkpoint",
    "maybe_checkpoint",
    "open_appender",
    "tree_head",
]


@dataclass(frozen=True)
class TreeHead:
    """Size and Merkle root of the ledger (unsigned)."""

    size: int
    root: bytes


def _node_hashes(session: Session, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Return the stored hashes of tree nodes (level 0: leaves), in one query."""
    wanted = set(wanted)
    parts: list[Select[int, int, bytes]] = []
    leaves = sorted(i for level, i in wanted if level == 0)
    if leaves:
        parts.append(select(literal(0), LedgerEntry.seq, LedgerEntry.leaf_hash).where(LedgerEntry.seq.in_(leaves)))
    by_level: dict[int, list[int]] = {}
    for level, i in wanted:
        if level > 0:
            by_level.setdefault(level, []).append(i)
    if by_level:
        condition = or_(
            *(
                and_(MerkleNode.level == level, MerkleNode.index.in_(sorted(indexes)))
                for level, indexes in by_level.items()
            )
        )
        parts.append(select(MerkleNode.level, MerkleNode.index, MerkleNode.hash).where(condition))
    found: dict[tuple[int, int], bytes] = {}
    if parts:
        query = parts[0] if len(parts) == 1 else union_all(*parts)
        found = {(int(level), int(index)): digest for level, index, digest in session.execute(query).tuples()}
    missing = wanted - set(found)
    if missing:
        raise RuntimeError(f"ledger tree is missing nodes {sorted(missing)[:5]}")
    return found


# Statements of the append path, built once: building and keying a statement costs more
# than running it on SQLite.
_SIZE = select(LedgerHead.size).where(LedgerHead.id == 1)
#: Locks the head row and reads the size in one round trip (the lock is held till the transaction ends).
_LOCK = update(LedgerHead).where(LedgerHead.id == 1).values(size=LedgerHead.size).returning(LedgerHead.size)
_LEAF = select(LedgerEntry.leaf_hash).where(LedgerEntry.seq == bindparam("seq"))
_NODE = select(MerkleNode.hash).where(MerkleNode.level == bindparam("level"), MerkleNode.index == bindparam("index"))


def _size(session: Session) -> int:
    size = session.execute(_SIZE).scalar_one_or_none()
    if size is None:
        raise RuntimeError("the ledger is not initialised; run 'offtake db upgrade'")
    return int(size)


def tree_head(session: Session, size: int | None = None) -> TreeHead:
    """Size and root of the ledger now, or of its first ``size`` entries."""
    current = _size(session)
    if size is None:
        size = current
    if not 0 <= size <= current:
        raise InputError(f"the ledger has {current} entries, not {size}", field="size")
    nodes = _node_hashes(session, merkle.perfect_nodes(0, size))
    return TreeHead(size, merkle.range_hash(0, size, lambda lv, i: nodes[(lv, i)]))


class Appender:
    """Adds entries to the ledger inside the caller's transaction.

    Get one with :func:`open_appender`, which locks the ledger; call :meth:`add` for each
    entry and :meth:`flush` once. Sequence numbers are known as soon as :meth:`add` returns.

    A writer may instead leave its entries to the end of the transaction (:meth:`defer`): the
    writes of one group commit are then written together, in one insert of entries, one of
    tree nodes and one of each projection (:meth:`write_after`), just before the commit
    (:func:`_write_deferred`). What a deferring writer added stays visible to the next one in
    the same transaction through :attr:`unwritten_readings`.
    """

    def __init__(self, session: Session, size: int, frontier: merkle.Frontier) -> None:
        self.session = session
        self.start_size = size
        self.frontier = frontier
        self._entries: list[tuple[int, str, str | None, bytes, bytes, str | None, Any, Any]] = []
        self._nodes: list[tuple[int, int, bytes]] = []
        self._after: dict[tuple[str, tuple[str, ...]], list[Sequence[Any]]] = {}
        #: Entries of finished writes left to the end of the transaction [-].
        self._settled = 0
        #: Readings added and not yet written, as (site, meter, start, end, Wh, seq): the
        #: checks of a later write in the same transaction see them as stored.
        self.unwritten_readings: list[tuple[str, str, datetime, datetime, int, int]] = []

    @property
    def size(self) -> int:
        """Ledger size including the entries added so far."""
        return self.frontier.size

    @property
    def pending(self) -> bool:
        """Whether entries were added and not yet written (:meth:`flush`)."""
        return bool(self._entries)

    @property
    def unsettled(self) -> bool:
        """Whether entries were added by a write that neither flushed nor deferred them."""
        return len(self._entries) > self._settled

    @property
    def deferred(self) -> bool:
        """Whether finished writes left entries to the end of the transaction (:meth:`defer`)."""
        return self._settled > 0

    def write_after(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` into a projection ``table`` when the entries are written (they refer to them)."""
        self._after.setdefault((table, tuple(columns)), []).extend(rows)

    def defer(self) -> TreeHead:
        """Leave the entries added so far to the end of the transaction; return the head they make.

        The root is not computed here (the size is what callers report); it is the one
        :meth:`flush` will give.
        """
        self._settled = len(self._entries)
        return TreeHead(self.frontier.size, b"")

    def add(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        by: str,
        at: datetime | str,
        operator_id: str | None = None,
        checked: bool = False,
        key: tuple[str, datetime, datetime] | None = None,
    ) -> int:
        """Append one entry and return its sequence number.

        Parameters
        ----------
        kind
            ``reading``, ``cap``, ``registry``, ``bill`` or a certificate kind
            (``cert_issue``, ``cert_transfer``, ``cert_retire``).
        payload
            Fields of the entry (integers, text, lists, objects; no floats).
        by
            Client id of whoever caused the entry.
        at
            When the entry was recorded (aware).
        operator_id
            The operator the entry concerns, used to scope what operators may read.
        checked
            The payload is known to hold no floats (skips that scan; the ingest path).
        key
            Site, interval start and end of a reading, cap or issuance (UTC), as in ``payload``:
            stored beside the entry so checks find a site's entries by time.
        """
        seq = self.frontier.size
        body = dict(payload)
        body.update(seq=seq, kind=kind, by=by, at=at if isinstance(at, str) else format_time(at))
        data = canonical_json(body, check=not checked)
        leaf = merkle.leaf_hash(data)
        self._nodes.extend(self.frontier.append(leaf))
        if key is None:
            self._entries.append((seq, kind, operator_id, data, leaf, None, None, None))
        else:
            site, start, end = key
            self._entries.append((seq, kind, operator_id, data, leaf, site, to_us(start), to_us(end)))
        return seq

    def flush(self) -> TreeHead:
        """Write the added entries, their tree nodes and the new size; return the new head."""
        if self._entries:
            # driver executemany, not ORM bulk: this is the hot path of ingest
            bulk_insert(
                self.session,
                "ledger_entry",
                ("seq", "kind", "operator_id", "data", "leaf_hash", "site_id", "start_us", "end_us"),
                self._entries,
            )
            bulk_insert(self.session, "merkle_node", ("level", "index", "hash"), self._nodes)
            self.session.execute(update(LedgerHead).where(LedgerHead.id == 1).values(size=self.frontier.size))
            self._entries = []
            self._nodes = []
        for (table, columns), rows in self._after.items():
            bulk_insert(self.session, table, columns, rows)
        self._after = {}
        self._settled = 0
        self.unwritten_readings = []
        return TreeHead(self.frontier.size, self.frontier.root())


#: Key in ``Session.info`` of the appender opened in the session's current transaction.
_APPENDER_KEY = "offtake.ledger.appender"


def _cached(session: Session) -> Appender | None:
    """Return the appender opened in the session's current transaction and savepoint, if any."""
    scope = (session.get_transaction(), session.get_nested_transaction())
    cached = session.info.get(_APPENDER_KEY)
    if cached is not None and scope[0] is not None and cached[0] is scope[0] and cached[1] is scope[1]:
        appender: Appender = cached[2]
        return appender
    return None


@event.listens_for(Session, "before_commit")
def _write_deferred(session: Session) -> None:
    """Write the entries left to the end of the transaction (:meth:`Appender.defer`) before it commits."""
    appender = _cached(session)
    if appender is not None and appender.deferred:
        if appender.unsettled:
            raise RuntimeError("a ledger write failed half-way after others deferred theirs; roll back")
        appender.flush()
        return
    kept = session.info.get(_APPENDER_KEY)
    if kept is not None and kept[2].deferred:
        raise RuntimeError("ledger entries were deferred in a savepoint that has ended; roll back")


def open_appender(session: Session, *, defer: bool = False) -> Appender:
    """Lock the ledger for appending (until the transaction ends) and return an appender.

    Within one transaction the appender is opened once: a later call (the next write of a
    group commit) gets the same one, with its Merkle frontier already in memory, so long as
    the transaction and savepoint are the ones it was opened in (the last appender opened in
    the session is the only one kept, so a savepoint released or rolled back since makes it
    open afresh). A writer that failed between :meth:`Appender.add` and :meth:`Appender.flush`
    (or :meth:`Appender.defer`) leaves it unusable (what it added is dropped; where earlier
    writes deferred theirs, the transaction must be rolled back).
    Entries left to the end of the transaction by earlier writes are written first, unless
    this writer defers too (``defer``; it then sees them in :attr:`Appender.unwritten_readings`),
    so every other writer finds the stored ledger settled. Entries are appended only through
    an appender, so its frontier is then the stored one.
    """
    appender = _cached(session)
    if appender is not None:
        if not appender.unsettled:
            if appender.pending and not defer:
                appender.flush()
            return appender
        if appender.deferred:
            raise RuntimeError("a ledger write failed half-way after others deferred theirs; roll back")
        # a writer failed half-way: what it added is dropped, the stored ledger is read afresh
    size = session.execute(_LOCK).scalar_one_or_none()
    if size is None:
        raise RuntimeError("the ledger is not initialised; run 'offtake db upgrade'")
    appender = Appender(session, size, _frontier(session, size))
    session.info[_APPENDER_KEY] = (session.get_transaction(), session.get_nested_transaction(), appender)
    return appender


#: The Merkle frontier each database's ledger had at the last commit of an appender in this
#: process: (size, frontier hashes), by engine.
_FRONTIERS: weakref.WeakKeyDictionary[Any, tuple[int, list[bytes]]] = weakref.WeakKeyDictionary()
_FRONTIERS_LOCK = threading.Lock()
#: Key in ``Session.info`` of the frontier an appender leaves if its transaction commits.
_COMMITTING_KEY = "offtake.ledger.frontier"


def _frontier(session: Session, size: int) -> merkle.Frontier:
    """Return the ledger's frontier at ``size`` (the ledger locked), from memory where it can.

    From memory if this process committed the last append, else from the stored tree nodes.
    What is kept in memory is used only while the stored size is the one it was kept at and
    the stored hash of its last (rightmost) subtree is the one kept, so an append by another
    process, or a database rolled back and written again to the same size, reads the nodes
    afresh.
    """
    wanted = merkle.perfect_nodes(0, size)
    with _FRONTIERS_LOCK:
        kept = _FRONTIERS.get(session.get_bind())
    if kept is not None and kept[0] == size and size > 0:
        level, index = wanted[-1]
        if level == 0:
            stored = session.execute(_LEAF, {"seq": index}).scalar_one_or_none()
        else:
            stored = session.execute(_NODE, {"level": level, "index": index}).scalar_one_or_none()
        if stored == kept[1][-1]:
            return merkle.Frontier(size, kept[1])
    nodes = _node_hashes(session, wanted)
    return merkle.Frontier(size, [nodes[w] for w in wanted])


@event.listens_for(Session, "before_commit")
def _note_frontier(session: Session) -> None:
    """Note the frontier the transaction's appender leaves (after :func:`_write_deferred`)."""
    appender = _cached(session)
    if appender is not None and not appender.pending and session.get_nested_transaction() is None:
        session.info[_COMMITTING_KEY] = (appender.frontier.size, appender.frontier.nodes())


@event.listens_for(Session, "after_commit")
def _keep_frontier(session: Session) -> None:
    noted = session.info.pop(_COMMITTING_KEY, None)
    if noted is not None:
        with _FRONTIERS_LOCK:
            _FRONTIERS[session.get_bind()] = noted


@event.listens_for(Session, "after_rollback")
def _forget_frontier(session: Session) -> None:
    session.info.pop(_COMMITTING_KEY, None)


def get_entry(session: Session, seq: int) -> LedgerEntry:
    """Return the entry at ``seq``, checked against its leaf hash.

    Raises
    ------
    NotFoundError
        No such entry.
    LedgerIntegrityError
        Its bytes do not match its leaf hash (the database was altered).
    """
    entry = session.get(LedgerEntry, seq)
    if entry is None:
        if 0 <= seq < _size(session):
            raise LedgerIntegrityError(f"ledger entry {seq} is missing from the database", seq=seq)
        raise NotFoundError(f"ledger entry {seq} does not exist")
    check_leaf(entry.seq, entry.data, entry.leaf_hash)
    return entry


def entries(
    session: Session, start: int = 0, limit: int = 1000, *, operator_id: str | None = None
) -> list[LedgerEntry]:
    """Entries from ``start`` in order (at most ``limit``), each checked against its leaf hash.

    With ``operator_id``, only that operator's entries (up to ``limit`` of them).
    """
    query = select(LedgerEntry).where(LedgerEntry.seq >= start).order_by(LedgerEntry.seq).limit(limit)
    if operator_id is not None:
        query = query.where(LedgerEntry.operator_id == operator_id)
    else:
        query = query.where(LedgerEntry.seq < start + limit)
    rows = list(session.execute(query).scalars())
    for entry in rows:
        check_leaf(entry.seq, entry.data, entry.leaf_hash)
    return rows


def inclusion_proof(session: Session, seq: int, size: int | None = None) -> dict[str, Any]:
    """Audit path proving entry ``seq`` is in the tree of ``size`` entries (default: now).

    The entry is checked against its leaf hash and the path against the root before it is
    returned (:class:`LedgerIntegrityError` otherwise).

    Returns
    -------
    dict
        ``seq``, ``size``, ``leaf_hash``, ``root`` and ``path`` (hex, leaf upwards).
    """
    head = tree_head(session, size)
    if not 0 <= seq < head.size:
        raise InputError(f"entry {seq} is not in a ledger of {head.size} entries", field="seq")
    ranges = merkle.inclusion_proof_ranges(seq, head.size)
    wanted = {n for a, b in ranges for n in merkle.perfect_nodes(a, b)} | {(0, seq)}
    nodes = _node_hashes(session, wanted)
    path = merkle.hashes_for(ranges, nodes)
    leaf = get_entry(session, seq).leaf_hash
    if not merkle.verify_inclusion(leaf, seq, head.size, path, head.root):
        raise LedgerIntegrityError(
            f"ledger entry {seq}: its leaf hash is not the one the stored tree was built from; "
            "the database was altered",
            seq=seq,
        )
    return {
        "seq": seq,
        "size": head.size,
        "leaf_hash": leaf.hex(),
        "root": head.root.hex(),
        "path": [h.hex() for h in path],
    }


def consistency_proof(session: Session, first: int, second: int | None = None) -> dict[str, Any]:
    """Proof that the tree of ``first`` entries is a prefix of the tree of ``second``."""
    second_head = tree_head(session, second)
    if not 0 <= first <= second_head.size:
        raise InputError(f"first size {first} must be between 0 and {second_head.size}", field="first")
    first_head = tree_head(session, first)
    ranges = merkle.consistency_proof_ranges(first, second_head.size)
    nodes = _node_hashes(session, {n for a, b in ranges for n in merkle.perfect_nodes(a, b)})
    return {
        "first": first,
        "second": second_head.size,
        "first_root": first_head.root.hex(),
        "second_root": second_head.root.hex(),
        "path": [h.hex() for h in merkle.hashes_for(ranges, nodes)],
    }


def _statement(row: Checkpoint) -> CheckpointStatement:
    return CheckpointStatement(row.size, row.root, row.signed_at, row.key_id, row.signature)


def latest_checkpoint(session: Session) -> CheckpointStatement | None:
    """Return the most recent signed checkpoint, if any."""
    row = session.execute(select(Checkpoint).order_by(Checkpoint.size.desc()).limit(1)).scalar_one_or_none()
    return None if row is None else _statement(row)


def list_checkpoints(session: Session, *, after_size: int = -1, limit: int = 1000) -> list[CheckpointStatement]:
    """Signed checkpoints with size greater than ``after_size``, oldest first."""
    rows = session.execute(
        select(Checkpoint).where(Checkpoint.size > after_size).order_by(Checkpoint.size).limit(limit)
    )
    return [_statement(r) for r in rows.scalars()]


def make_checkpoint(session: Session, signer: Signer, *, now: datetime | None = None) -> CheckpointStatement | None:
    """Sign the current tree head if it is newer than the latest checkpoint.

    With a checkpoint log (``signer.witness``), the tree must first be consistent with the
    last checkpoint in it, and the new checkpoint is appended to it (flushed to disk) before
    it is stored.

    Returns
    -------
    CheckpointStatement or None
        The new checkpoint, or ``None`` when the ledger has not grown.

    Raises
    ------
    LedgerForkError
        The ledger was rolled back or rewritten since the last witnessed checkpoint.
    """
    witness = signer.witness
    witnessed = witness.last() if witness is not None else None
    if witness is not None and witnessed is not None:
        from offtake.ledger.witness import check_consistent

        check_consistent(session, [(witnessed[0], f"{witness.path}:{witnessed[1]}")])
    head = tree_head(session)
    latest = latest_checkpoint(session)
    newest = max((c.size for c in (latest, witnessed[0] if witnessed else None) if c is not None), default=0)
    if head.size == 0 or newest >= head.size:
        return None
    statement = signer.sign(head.size, head.root, now or datetime.now(UTC))
    if witness is not None:
        witness.append(statement)
    session.add(
        Checkpoint(
            size=statement.size,
            root=statement.root,
            signed_at=statement.signed_at,
            key_id=statement.key_id,
            signature=statement.signature,
        )
    )
    session.flush()
    return statement


def maybe_checkpoint(
    session: Session,
    signer: Signer,
    *,
    every_entries: int,
    interval_s: float,
    now: datetime | None = None,
) -> CheckpointStatement | None:
    """Sign a checkpoint if ``every_entries`` entries or ``interval_s`` seconds have passed.

    This is the cadence rule the server applies after each write and on a timer.
    """
    now = now or datetime.now(UTC)
    size = _size(session)
    latest = latest_checkpoint(session)
    if size == 0 or (latest is not None and latest.size >= size):
        return None
    due = (
        latest is None or size - latest.size >= every_entries or (now - latest.signed_at).total_seconds() >= interval_s
    )
    return make_checkpoint(session, signer, now=now) if due else None
