"""Database plumbing: declarative base, engine, sessions, migrations.

SQLite (the default) and PostgreSQL run the same code. On SQLite every connection uses
write-ahead logging, enforces foreign keys and syncs fully on commit, so a reading that
was acknowledged survives the process being killed.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from offtake.settings import ensure_private_dir

try:
    import fcntl
except ImportError:  # not POSIX: writers of several processes fall back to SQLite's busy handler
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "Base",
    "UTCDateTime",
    "bulk_insert",
    "make_engine",
    "make_session_factory",
    "reads_only",
    "session_scope",
    "upgrade",
    "writer_lock",
]

#: How long a SQLite writer waits for the write lock before giving up [s].
SQLITE_BUSY_TIMEOUT_S = 30

#: Connections a SQLite file engine keeps open [-]: at least the request threads a server
#: runs at once (anyio's default of 40) plus the group-commit writer and the background tasks.
#: With SQLAlchemy's default (5 kept, 10 more opened on demand and closed on return), a
#: loaded server opened and closed a connection (with its pragmas) for most requests and
#: queued threads beyond 15. An idle SQLite connection costs a few hundred kB and no server.
SQLITE_POOL_SIZE = 48

#: Connections a PostgreSQL engine keeps open, and how many more it opens under a burst (and
#: closes on return) [-]. SQLAlchemy's default (5 kept, 10 more) made a server answering a
#: burst (every VEN reconnecting and polling at once) open and close a connection, with a new
#: backend process on the database server, for most requests of the burst. Each server
#: process holds at most the sum; PostgreSQL's ``max_connections`` (default 100) must cover
#: it times ``offtake serve --workers N``, plus one counters reader per process.
POSTGRES_POOL_SIZE = 16
POSTGRES_POOL_OVERFLOW = 8


class Base(DeclarativeBase):
    """Declarative base of every offtake table."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp column that stores aware UTC instants and refuses naive ones.

    PostgreSQL stores ``timestamptz``; SQLite stores the UTC wall time. Values read back
    are always aware UTC datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive values and convert to UTC."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give a time zone")
        utc = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return aware UTC datetimes."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _sqlite_time(value: datetime) -> str:
    """Return the text SQLAlchemy's SQLite ``DateTime`` stores for an instant (UTC wall time)."""
    if value.tzinfo is not UTC:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give a time zone")
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _sqlite_rows(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Rows with datetimes turned into SQLite text (columns found from the first row)."""
    first = rows[0]
    columns = [i for i, v in enumerate(first) if isinstance(v, datetime)]
    if not columns:
        return [tuple(row) for row in rows]
    cache: dict[datetime, str] = {}
    out = []
    for row in rows:
        values = list(row)
        for i in columns:
            v = values[i]
            if v is not None:
                text = cache.get(v)
                if text is None:
                    text = cache[v] = _sqlite_time(v)
                values[i] = text
        out.append(tuple(values))
    return out


def bulk_insert(session: Session, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert many rows through the driver's ``executemany``, skipping per-value processing.

    For the ingest hot path only: values must already be what the columns hold (int, str,
    bytes, aware datetimes, ``None``). Datetimes are stored exactly as :class:`UTCDateTime`
    stores them, so ORM reads give the same aware UTC values.

    Parameters
    ----------
    session
        Session whose transaction the rows join.
    table
        Table name.
    columns
        Column names, in the order of each row's values.
    rows
        The rows.
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    if dialect.paramstyle not in ("qmark", "format", "pyformat"):
        raise RuntimeError(f"unsupported DB-API paramstyle {dialect.paramstyle}")
    quote = dialect.identifier_preparer.quote_identifier
    names = ", ".join(quote(c) for c in columns)
    markers = ", ".join([marker] * len(columns))
    sql = f"INSERT INTO {quote(table)} ({names}) VALUES ({markers})"
    if dialect.name == "sqlite":
        rows = _sqlite_rows(rows)
    connection.exec_driver_sql(sql, [tuple(row) for row in rows])


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    finally:
        cursor.close()


def _private_sqlite_file(path: Path) -> None:
    """Create the SQLite file (and its folder) private before SQLite opens it.

    The database holds client secret hashes: the file is made 0600 (SQLite gives its
    ``-wal`` and ``-shm`` files the database's mode), and a file or companion found readable
    by others is narrowed to 0600.
    """
    if str(path).startswith("file:"):
        return  # a URI filename: the caller manages it
    ensure_private_dir(path.parent)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for companion in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if companion.stat().st_mode & 0o077:
                os.chmod(companion, 0o600)


def make_engine(database_url: str, *, echo: bool = False) -> Engine:
    """Create an engine for ``database_url`` with offtake's connection settings.

    Parameters
    ----------
    database_url
        SQLAlchemy URL. For a SQLite file the folder is created (0700) and the file
        created 0600.
    echo
        Log every SQL statement.

    Returns
    -------
    sqlalchemy.Engine
        The engine; SQLite connections get WAL, foreign keys and ``synchronous=FULL``.
    """
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1] if ":///" in database_url else ""
        in_memory = path in ("", ":memory:")
        if not in_memory:
            _private_sqlite_file(Path(path))
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
        if in_memory:
            engine = create_engine(database_url, echo=echo, connect_args=connect_args, poolclass=StaticPool)
        else:
            engine = create_engine(
                database_url, echo=echo, connect_args=connect_args, pool_size=SQLITE_POOL_SIZE, max_overflow=16
            )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        database_url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=POSTGRES_POOL_OVERFLOW,
    )


class _WriterLock:
    """Writers of a process in turn (a thread lock), and of processes in turn (``flock`` on a file).

    The file lock is taken on ``<database>.writer-lock`` beside a SQLite file, so the writers
    of every server process (``offtake serve --workers N``) queue in the kernel and the next
    one starts the moment the previous one commits, instead of polling SQLite's busy handler.
    """

    def __init__(self, path: Path | None) -> None:
        self._thread_lock = threading.Lock()
        self._path = path
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the turn (waiting for it unless ``blocking`` is false); True once held."""
        if not self._thread_lock.acquire(blocking):
            return False
        try:
            if self._path is not None and fcntl is not None:
                if self._fd is None:
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another process holds it
            self._thread_lock.release()
            return False
        except OSError:  # a read-only folder: the thread lock and SQLite's own lock still serialise
            self._path = None
        except BaseException:
            self._thread_lock.release()
            raise
        return True

    def release(self) -> None:
        """Give the turn to the next writer."""
        try:
            if self._fd is not None and self._path is not None and fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def __enter__(self) -> _WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)


_WRITER_LOCKS: weakref.WeakKeyDictionary[Engine, _WriterLock] = weakref.WeakKeyDictionary()
_WRITER_LOCKS_GUARD = threading.Lock()


def _lock_path(engine: Engine) -> Path | None:
    database = engine.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).with_name(Path(database).name + ".writer-lock")


def writer_lock(engine: Engine) -> AbstractContextManager[object]:
    """Return a lock that queues the writers of a SQLite database; no-op otherwise.

    SQLite admits one writer at a time; a writer that finds the database locked polls with
    growing sleeps (up to 100 ms each), which makes latency uneven under load. Writers that
    hold this lock around their transaction wait in turn instead and start the moment the
    previous one commits: those of one process on a thread lock, those of several processes
    on the same database file on a file lock beside it (``<database>.writer-lock``, 0600).
    Correctness does not depend on it: writers that do not take it are still serialised by
    SQLite.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _WRITER_LOCKS_GUARD:
        lock = _WRITER_LOCKS.get(engine)
        if lock is None:
            lock = _WRITER_LOCKS[engine] = _WriterLock(_lock_path(engine))
    return lock


def make_session_factory(engine: Engine, *, info: dict[str, Any] | None = None) -> sessionmaker[Session]:
    """Return a session factory bound to ``engine`` (objects stay usable after commit).

    ``info`` is copied into every session's ``Session.info`` (the server puts policies from
    its settings there, such as whether webhooks may call private addresses).
    """
    return sessionmaker(engine, expire_on_commit=False, info=dict(info or {}))


def reads_only(session: Session) -> Session:
    """Let a session that only reads run each statement on its own (PostgreSQL: autocommit).

    Under PostgreSQL's READ COMMITTED every statement of a transaction sees a snapshot of its
    own anyway, so a session that only reads loses nothing without a transaction and saves its
    ``BEGIN`` and ``COMMIT`` round trips (two of the five of a VEN's first poll). Call it before
    the session's first statement. A SQLite session is left as it is.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return session


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit on success, roll back on error, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` with the packaged Alembic migrations.

    Parameters
    ----------
    engine
        Engine of the database to migrate.
    revision
        Target revision (``head`` for the newest).
    """
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)
