"""Group commit: concurrent write requests committed together, one transaction and one sync.

Every acknowledged write must be durable, so each commit waits for the disk (SQLite
``synchronous=FULL``, PostgreSQL's WAL flush). Committed one by one, writes that append to the
metering ledger queue behind each other's sync (the ledger admits one appender at a time) and
a process tops out at a few dozen per second. :class:`GroupCommit` runs the writes handed to
it on one writer thread: it takes every write waiting (up to ``max_batch``), runs them in
order in one transaction, commits once, and only then resolves each write's future, so a
write is acknowledged only once it is durable, and ``n`` writes cost one sync.

A write that raises must not take the others down. When one does, the batch is rolled back
and every write of it is run again, each in its own transaction: those that succeed alone
are committed, the failing one gets its exception. A write is therefore a function of the
session alone, with no effect outside the database until its future is resolved. A write
that rolls the transaction back itself (to recover from a unique key another process took
first) would take the earlier writes of its batch with it: the batch is then run again one
write per transaction in the same way.

Writes of one kind can also run together (:meth:`GroupCommit.submit_together`): one call of
their function gets every such write waiting next to each other in the batch and answers each,
refusing some (an exception for each, having written nothing for it) and doing the rest with a
fixed number of statements. The ledger's appenders serialise on one row, so a report written
with five round trips of its own holds that row five times longer than one written with the
others of its batch; with several server processes the others wait for it.

A write whose requester went away before it started can be withdrawn
(:meth:`Pending.abandon`): it is then never run, so a request the client abandoned while it
waited commits nothing. Once it has started it runs to the end.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

__all__ = ["GroupCommit", "Pending", "Together", "WriteAbandoned"]

#: Writes committed together at most [-].
DEFAULT_MAX_BATCH = 64


#: Runs several writes of one kind in the session, in order: returns, per item, its result or
#: the exception that refuses it (a refused item has written nothing). It must not end the
#: transaction when given more than one item.
Together = Callable[[Session, list[Any]], list[Any]]


class WriteAbandoned(Exception):
    """The write was withdrawn before it ran; nothing of it was committed."""


class Pending:
    """One write waiting for (or in) a group commit; ``future`` gives its result once durable."""

    def __init__(self, work: Callable[[Session], Any], together: Together | None = None, item: Any = None) -> None:
        self.work = work
        #: The function running this write with its neighbours of the same kind, and its item.
        self.together = together
        self.item = item
        self.future: Future[Any] = Future()
        self._state = "waiting"
        self._lock = threading.Lock()

    def abandon(self) -> bool:
        """Withdraw the write if it has not started; True when it will never run."""
        with self._lock:
            if self._state != "waiting":
                return False
            self._state = "abandoned"
        self.future.set_exception(WriteAbandoned("the write was withdrawn before it ran"))
        return True

    def start(self) -> bool:
        """Mark the write as started (by the writer); False if it was abandoned."""
        with self._lock:
            if self._state != "waiting":
                return False
            self._state = "started"
            return True


class _TransactionEnded(Exception):
    """A write of a batch ended the shared transaction (a rollback): the writes before it are gone."""


class GroupCommit:
    """A writer thread committing the writes handed to it in groups.

    Parameters
    ----------
    factory
        Session factory of the database.
    lock
        Held around each transaction (e.g. :func:`offtake.persistence.db.writer_lock`), or None.
    max_batch
        Writes committed together at most [-].
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        lock: Callable[[], AbstractContextManager[object]] | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be 1 or more, got {max_batch}")
        self._factory = factory
        self._lock = lock or nullcontext
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        #: Transactions committed and writes in them, for observation [-].
        self.commits = 0
        self.writes = 0

    def submit(self, work: Callable[[Session], Any]) -> Pending:
        """Queue ``work`` (a function of the session); its future resolves once it is durable."""
        return self._queued(Pending(work))

    def submit_together(self, together: Together, item: Any) -> Pending:
        """Queue ``item``, to be written by ``together`` with the other items of it waiting next to it.

        Alone (when its batch failed and each write is rerun by itself), it is ``together``
        called with this item only. Its future resolves once durable, or with its refusal.
        """
        return self._queued(Pending(lambda session: _alone(together, item, session), together, item))

    def _queued(self, pending: Pending) -> Pending:
        if self._closed:
            raise RuntimeError("the group committer is closed")
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
                self._thread.start()
        self._queue.put(pending)
        return pending

    def close(self, timeout_s: float = 10.0) -> None:
        """Finish the writes queued so far and stop the writer thread."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(more)
            started = [p for p in batch if p.start()]
            if started:
                self._commit(started)

    def _commit(self, batch: list[Pending]) -> None:
        """Run ``batch`` in one transaction; on any failure run each write alone."""
        try:
            with self._lock(), self._factory() as session:
                results: list[Any] = []
                session.begin()
                for group in _runs(batch):
                    earlier, before = bool(results), session.get_transaction()
                    if group[0].together is None:
                        results.append(group[0].work(session))
                    else:
                        answers = group[0].together(session, [p.item for p in group])
                        if len(answers) != len(group):
                            raise RuntimeError(f"{len(answers)} answers to {len(group)} writes")
                        results.extend(answers)
                    if (earlier or len(group) > 1) and session.get_transaction() is not before:
                        raise _TransactionEnded()
                session.commit()
        except Exception as exc:  # every failure is handed to its write
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
                return
            for pending in batch:
                self._commit_alone(pending)
            return
        self.commits += 1
        self.writes += len(batch)
        for pending, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                pending.future.set_exception(result)
            else:
                pending.future.set_result(result)

    def _commit_alone(self, pending: Pending) -> None:
        try:
            with self._lock(), self._factory() as session:
                result = pending.work(session)
                session.commit()
        except Exception as exc:  # handed to the write's requester
            pending.future.set_exception(exc)
            return
        self.commits += 1
        self.writes += 1
        pending.future.set_result(result)


def _runs(batch: list[Pending]) -> list[list[Pending]]:
    """Split a batch into runs: neighbours sharing one ``together`` function, other writes alone."""
    runs: list[list[Pending]] = []
    for pending in batch:
        if runs and pending.together is not None and runs[-1][0].together is pending.together:
            runs[-1].append(pending)
        else:
            runs.append([pending])
    return runs


def _alone(together: Together, item: Any, session: Session) -> Any:
    """Run one item of a ``together`` kind by itself: its result, or its refusal raised."""
    (answer,) = together(session, [item])
    if isinstance(answer, BaseException):
        raise answer
    return answer
