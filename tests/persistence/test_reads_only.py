"""A session that only reads runs without a transaction on PostgreSQL, and unchanged on SQLite."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from offtake.persistence.db import reads_only
from offtake.persistence.schema import LedgerHead
from offtake.registry.setup import prepare_database


def test_a_reading_session_drops_its_transaction_on_postgresql_only(factory: sessionmaker[Session]) -> None:
    engine = factory.kw["bind"]
    prepare_database(engine)
    postgres = engine.dialect.name == "postgresql"
    with factory() as session:
        reads_only(session)
        assert session.execute(select(LedgerHead.size)).scalar_one() == 0
        raw: Any = session.connection().connection.dbapi_connection
        if postgres:
            assert raw.autocommit is True
            # each statement is its own transaction: nothing is left open between them
            assert session.execute(text("select now() = statement_timestamp()")).scalar_one() is True
        else:
            assert raw.isolation_level is not None  # SQLite's driver keeps its transactions
        session.commit()
    with factory() as session:  # the pooled connection comes back as it was
        session.execute(select(LedgerHead.size))
        raw = session.connection().connection.dbapi_connection
        if postgres:
            assert raw.autocommit is False
            assert session.execute(text("select now() = statement_timestamp()")).scalar_one() is False
