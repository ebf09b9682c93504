"""The SQLite writer lock queues the writers of every process on the same database file (a
file lock beside it, private), and stays a no-op for PostgreSQL and in-memory databases."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from contextlib import nullcontext
from pathlib import Path

import pytest

from offtake.persistence.db import make_engine, writer_lock

HOLD_S = 1.0


def test_writers_of_two_processes_take_turns(tmp_path: Path) -> None:
    database = tmp_path / "offtake.db"
    engine = make_engine(f"sqlite:///{database}")
    held = tmp_path / "held"
    child = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from offtake.persistence.db import make_engine, writer_lock
        with writer_lock(make_engine("sqlite:///{database}")):
            Path({str(held)!r}).touch()
            time.sleep({HOLD_S})
        """
    )
    process = subprocess.Popen([sys.executable, "-c", child])
    try:
        deadline = time.monotonic() + 60
        while not held.exists():
            assert process.poll() is None and time.monotonic() < deadline, "the other process never took the lock"
            time.sleep(0.01)
        started = time.monotonic()
        with writer_lock(engine):
            waited = time.monotonic() - started
            assert process.poll() is not None or waited >= HOLD_S * 0.5
        assert waited >= HOLD_S * 0.5  # this process waited for the other's turn to end
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    lock_file = database.with_name(database.name + ".writer-lock")
    assert lock_file.stat().st_mode & 0o077 == 0
    with writer_lock(engine):  # free again, and reentrant across turns
        pass
    engine.dispose()


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'offtake.db'}")
    lock = writer_lock(engine)
    assert lock is writer_lock(engine)
    lock.__enter__()
    try:
        entered = threading.Event()

        def other() -> None:
            with writer_lock(engine):
                entered.set()

        thread = threading.Thread(target=other)
        thread.start()
        assert not entered.wait(0.3)  # the other thread waits while this one holds the turn
    finally:
        lock.__exit__(None, None, None)
    assert entered.wait(10)
    thread.join(10)
    engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "postgresql+psycopg://user@127.0.0.1:1/none"])
def test_no_file_lock_without_a_database_file(url: str) -> None:
    engine = make_engine(url)
    lock = writer_lock(engine)
    if url.startswith("postgresql"):
        assert isinstance(lock, nullcontext)
    with lock:
        pass
    engine.dispose()
