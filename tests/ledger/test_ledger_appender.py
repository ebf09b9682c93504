"""The ledger appender is opened once per transaction: writes of one group commit share its
Merkle frontier, and a rollback, a savepoint or an appender left with unwritten entries makes
the next write open afresh from the database, so the ledger stays complete and verifiable; the
frontier a process keeps between its transactions gives way to another writer's appends and to
a database rewritten to the same size."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from offtake.ledger import merkle
from offtake.ledger.export import export_ledger, verify_export
from offtake.ledger.signing import Signer
from offtake.ledger.store import open_appender, tree_head
from offtake.persistence.db import make_engine, make_session_factory
from offtake.persistence.schema import LedgerEntry, LedgerHead, MerkleNode

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _add(session: Session, tag: str) -> int:
    appender = open_appender(session)
    seq = appender.add("registry", {"change": tag}, by="test", at=AT)
    appender.flush()
    return seq


def _verifies(factory: sessionmaker[Session], tmp_path: Path, size: int) -> None:
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == size
        assert tree_head(session).size == size
        signer = Signer.generate()
        export_ledger(session, tmp_path / "ledger.txt", signer, checkpoint_every=2)
    assert verify_export(tmp_path / "ledger.txt", signer.public_key).ok


def test_writes_of_one_transaction_share_the_appender(factory: sessionmaker[Session], tmp_path: Path) -> None:
    with factory() as session:
        first = open_appender(session)
        assert [_add(session, f"a{i}") for i in range(5)] == [0, 1, 2, 3, 4]
        assert open_appender(session) is first
        session.commit()
        assert open_appender(session) is not first  # a new transaction opens afresh
        assert _add(session, "b") == 5
        session.commit()
    _verifies(factory, tmp_path, 6)


def test_a_rollback_discards_the_appender_with_its_entries(factory: sessionmaker[Session], tmp_path: Path) -> None:
    with factory() as session:
        _add(session, "kept")
        session.commit()
        _add(session, "rolled back")
        _add(session, "rolled back too")
        session.rollback()
        assert _add(session, "after") == 1  # the frontier is the stored one, not the rolled-back one
        session.commit()
    _verifies(factory, tmp_path, 2)


def test_an_appender_with_unwritten_entries_is_not_reused(factory: sessionmaker[Session], tmp_path: Path) -> None:
    with factory() as session:
        _add(session, "first")
        stale = open_appender(session)
        stale.add("registry", {"change": "never written"}, by="test", at=AT)  # a writer that failed here
        fresh = open_appender(session)
        assert fresh is not stale and fresh.size == 1
        assert _add(session, "second") == 1
        session.commit()
    _verifies(factory, tmp_path, 2)


@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_a_savepoint_makes_the_next_write_open_afresh(factory: sessionmaker[Session], tmp_path: Path, end: str) -> None:
    with factory() as session:
        _add(session, "outer")
        savepoint = session.begin_nested()
        _add(session, "inner")
        if end == "commit":
            savepoint.commit()
        else:
            savepoint.rollback()
        assert _add(session, "outer again") == (2 if end == "commit" else 1)
        session.commit()
    _verifies(factory, tmp_path, 3 if end == "commit" else 2)


def _root_from_entries(session: Session) -> bytes:
    leaves = session.execute(select(LedgerEntry.leaf_hash).order_by(LedgerEntry.seq)).scalars().all()
    return merkle.root_from_leaf_hashes(leaves)


def test_the_frontier_kept_in_memory_gives_way_to_other_writers_and_rewrites(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    engine = factory.kw["bind"]
    other_engine = make_engine(engine.url.render_as_string(hide_password=False))  # another process
    other = make_session_factory(other_engine)
    try:
        with factory() as session:
            assert [_add(session, f"a{i}") for i in range(5)] == [0, 1, 2, 3, 4]
            session.commit()
        with other() as session:
            assert _add(session, "b5") == 5  # appended elsewhere: this process's frontier is stale
            session.commit()
        with factory() as session:
            assert _add(session, "a6") == 6
            assert _add(session, "a7") == 7
            session.commit()
            assert tree_head(session).root == _root_from_entries(session)
        # the database is rolled back by one entry and another writer fills the place again:
        # the same size as this process kept, another last entry
        with other() as session:
            session.execute(delete(LedgerEntry).where(LedgerEntry.seq == 7))
            for level, index in ((1, 3), (2, 1), (3, 0)):  # the subtrees entry 7 closed
                session.execute(delete(MerkleNode).where(MerkleNode.level == level, MerkleNode.index == index))
            session.execute(update(LedgerHead).values(size=7))
            session.commit()
            assert _add(session, "c7") == 7
            session.commit()
        with factory() as session:
            assert _add(session, "a8") == 8
            session.commit()
            assert tree_head(session).root == _root_from_entries(session)
            data = session.execute(select(LedgerEntry.data).where(LedgerEntry.seq == 7)).scalar_one()
            assert b'"c7"' in data
    finally:
        other_engine.dispose()
    _verifies(factory, tmp_path, 9)

