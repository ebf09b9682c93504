"""Alembic environment: migrate the engine handed over by :func:`offtake.persistence.db.upgrade`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

import offtake.persistence.schema  # noqa: F401  (registers the tables)
from offtake.persistence.db import Base

config = context.config
target_metadata = Base.metadata


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine  # type: ignore[no-any-return]
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no engine or sqlalchemy.url given to the migrations")
    return create_engine(url)


def run_migrations_online() -> None:
    """Run the migrations on a live connection."""
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
