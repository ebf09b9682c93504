"""Group commit on both databases: writes waiting together share one transaction, each is
answered only once durable, a failing write takes no other down, a withdrawn one never runs,
and concurrent ledger appends give a complete ledger that verifies."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from offtake.ledger.export import export_ledger, verify_export
from offtake.ledger.signing import Signer
from offtake.ledger.store import open_appender
from offtake.persistence.db import writer_lock
from offtake.persistence.group_commit import GroupCommit, WriteAbandoned
from offtake.persistence.schema import LedgerEntry
from offtake.registry.setup import prepare_database

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _append(tag: str) -> Any:
    def work(session: Session) -> int:
        appender = open_appender(session)
        seq = appender.add("registry", {"change": tag}, by="test", at=AT)
        appender.flush()
        return seq

    return work


def _entries(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        rows = session.execute(select(LedgerEntry.data).order_by(LedgerEntry.seq)).scalars()
        return [row.decode() for row in rows]


def _blocked(committer: GroupCommit) -> tuple[threading.Event, threading.Event]:
    """Occupy the writer thread with a write that waits until released; return (started, release)."""
    started, release = threading.Event(), threading.Event()

    def hold(session: Session) -> None:
        started.set()
        assert release.wait(20)

    committer.submit(hold)
    assert started.wait(20)
    return started, release


@pytest.fixture
def ready(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    prepare_database(factory.kw["bind"])
    return factory


def test_waiting_writes_share_one_commit_and_are_answered_only_once_durable(
    ready: sessionmaker[Session],
) -> None:
    engine = ready.kw["bind"]
    committer = GroupCommit(ready, lambda: writer_lock(engine))
    try:
        _, release = _blocked(committer)
        seen_durable: list[bool] = []

        def on_done(future: Future[Any]) -> None:
            # a fresh session of its own sees the entry the moment its writer is answered
            with ready() as session:
                seq = future.result()
                seen_durable.append(session.get(LedgerEntry, seq) is not None)

        pending = [committer.submit(_append(f"w{i}")) for i in range(10)]
        for p in pending:
            p.future.add_done_callback(on_done)
        assert not any(p.future.done() for p in pending)  # queued behind the held write
        release.set()
        seqs = [p.future.result(timeout=30) for p in pending]
    finally:
        committer.close()
    assert seqs == list(range(10))
    assert seen_durable == [True] * 10
    assert committer.commits == 2 and committer.writes == 11  # the held write, then the ten together
    assert [e.split('"change":"')[1].split('"')[0] for e in _entries(ready)] == [f"w{i}" for i in range(10)]


def test_a_failing_write_is_answered_alone_and_the_others_commit(ready: sessionmaker[Session]) -> None:
    committer = GroupCommit(ready)
    try:
        _, release = _blocked(committer)

        def broken(session: Session) -> None:
            _append("broken")(session)  # its entry is written, then the write fails
            raise ValueError("refused")

        good1 = committer.submit(_append("a"))
        bad = committer.submit(broken)
        good2 = committer.submit(_append("b"))
        release.set()
        assert (good1.future.result(30), good2.future.result(30)) == (0, 1)
        with pytest.raises(ValueError, match="refused"):
            bad.future.result(30)
    finally:
        committer.close()
    entries = _entries(ready)
    assert len(entries) == 2 and not any("broken" in e for e in entries)


def test_a_write_withdrawn_before_it_starts_never_runs(ready: sessionmaker[Session]) -> None:
    committer = GroupCommit(ready)
    ran: list[str] = []
    try:
        _, release = _blocked(committer)

        def noted(session: Session) -> None:
            ran.append("ran")
            _append("withdrawn")(session)

        withdrawn = committer.submit(noted)
        kept = committer.submit(_append("kept"))
        assert withdrawn.abandon()
        assert not withdrawn.abandon()  # once is enough
        release.set()
        assert kept.future.result(30) == 0
        with pytest.raises(WriteAbandoned):
            withdrawn.future.result(30)
    finally:
        committer.close()
    assert ran == []
    assert len(_entries(ready)) == 1


def test_a_started_write_cannot_be_withdrawn(ready: sessionmaker[Session]) -> None:
    committer = GroupCommit(ready)
    try:
        started = threading.Event()
        release = threading.Event()

        def hold(session: Session) -> int:
            started.set()
            assert release.wait(20)
            return _append("held")(session)  # type: ignore[no-any-return]

        pending = committer.submit(hold)
        assert started.wait(20)
        assert not pending.abandon()
        release.set()
        assert pending.future.result(30) == 0
    finally:
        committer.close()
    assert len(_entries(ready)) == 1


def test_concurrent_writers_give_a_complete_ledger_that_verifies(ready: sessionmaker[Session], tmp_path: Path) -> None:
    engine = ready.kw["bind"]
    committer = GroupCommit(ready, lambda: writer_lock(engine), max_batch=8)
    results: list[int] = []
    lock = threading.Lock()

    def writer(k: int) -> None:
        for i in range(10):
            seq = committer.submit(_append(f"t{k}-{i}")).future.result(60)
            with lock:
                results.append(seq)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        committer.close()
    assert sorted(results) == list(range(80))  # every acknowledged write, each its own place
    assert committer.writes == 80 and committer.commits <= 80
    with ready() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 80
        signer = Signer.generate()
        export_ledger(session, tmp_path / "ledger.txt", signer, checkpoint_every=16)
    assert verify_export(tmp_path / "ledger.txt", signer.public_key).ok


def test_a_closed_committer_refuses_work_and_max_batch_is_checked(ready: sessionmaker[Session]) -> None:
    committer = GroupCommit(ready)
    committer.close()
    with pytest.raises(RuntimeError, match="closed"):
        committer.submit(_append("late"))
    with pytest.raises(ValueError, match="max_batch"):
        GroupCommit(ready, max_batch=0)


def test_a_write_that_rolls_the_batch_back_makes_it_run_one_write_at_a_time(ready: sessionmaker[Session]) -> None:
    committer = GroupCommit(ready)
    try:
        _, release = _blocked(committer)

        def recovering(session: Session) -> int:
            session.rollback()  # as a write recovering from a unique key taken by another process
            return int(_append("after a rollback")(session))

        first = committer.submit(_append("first"))
        second = committer.submit(recovering)
        third = committer.submit(_append("third"))
        release.set()
        seqs = [p.future.result(30) for p in (first, second, third)]
    finally:
        committer.close()
    entries = _entries(ready)
    # every acknowledged write is stored: the rollback did not take "first" with it
    assert seqs == [0, 1, 2] and len(entries) == 3
    assert ['"first"' in entries[0], '"after a rollback"' in entries[1], '"third"' in entries[2]] == [True] * 3


class _Together:
    """Writes ledger entries for items given together; refuses items starting with "bad"."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, session: Session, items: list[Any]) -> list[Any]:
        self.calls.append(list(items))
        if any(item == "explode" for item in items) and len(items) > 1:
            raise RuntimeError("this batch cannot be written together")
        appender = open_appender(session)
        answers: list[Any] = []
        for item in items:
            if item.startswith("bad"):
                answers.append(ValueError(f"refused {item}"))
            else:
                answers.append(appender.add("registry", {"change": item}, by="test", at=AT))
        appender.flush()
        return answers


def test_writes_of_one_kind_run_together_and_are_refused_one_by_one(ready: sessionmaker[Session]) -> None:
    committer = GroupCommit(ready)
    together = _Together()
    try:
        _, release = _blocked(committer)
        first = [committer.submit_together(together, item) for item in ("a", "bad-b", "c")]
        plain = committer.submit(_append("plain"))
        second = [committer.submit_together(together, item) for item in ("d", "e")]
        release.set()
        assert [p.future.result(30) for p in (first[0], first[2], plain, *second)] == [0, 1, 2, 3, 4]
        with pytest.raises(ValueError, match="refused bad-b"):
            first[1].future.result(30)
    finally:
        committer.close()
    # one call per run of neighbours, a plain write between them splits the runs; one commit
    assert together.calls == [["a", "bad-b", "c"], ["d", "e"]]
    assert committer.commits == 2 and committer.writes == 7
    assert [e.split('"change":"')[1].split('"')[0] for e in _entries(ready)] == ["a", "c", "plain", "d", "e"]


def test_a_run_that_fails_together_is_written_one_item_at_a_time(ready: sessionmaker[Session]) -> None:
    committer = GroupCommit(ready)
    together = _Together()
    try:
        _, release = _blocked(committer)
        pending = [committer.submit_together(together, item) for item in ("a", "explode", "bad-c", "d")]
        release.set()
        assert [pending[i].future.result(30) for i in (0, 1, 3)] == [0, 1, 2]
        with pytest.raises(ValueError, match="refused bad-c"):
            pending[2].future.result(30)
    finally:
        committer.close()
    assert together.calls[0] == ["a", "explode", "bad-c", "d"]
    assert together.calls[1:] == [["a"], ["explode"], ["bad-c"], ["d"]]
    assert len(_entries(ready)) == 3


def test_a_run_that_ends_the_transaction_is_written_one_item_at_a_time(ready: sessionmaker[Session]) -> None:
    committer = GroupCommit(ready)
    calls: list[list[str]] = []

    def careless(session: Session, items: list[Any]) -> list[Any]:
        calls.append(list(items))
        seqs = [_append(item)(session) for item in items]
        session.rollback()  # breaks the rule for runs of more than one: the entries are gone
        return [_append(f"{item} again")(session) for item in items] if len(items) == 1 else seqs

    try:
        _, release = _blocked(committer)
        pending = [committer.submit_together(careless, item) for item in ("a", "b")]
        release.set()
        assert [p.future.result(30) for p in pending] == [0, 1]
    finally:
        committer.close()
    assert calls == [["a", "b"], ["a"], ["b"]]
    assert [e.split('"change":"')[1].split('"')[0] for e in _entries(ready)] == ["a again", "b again"]
