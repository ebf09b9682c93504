"""Prepare a platform database: the schema at the newest migration and the registry's seed data."""

from __future__ import annotations

from sqlalchemy import Engine

from offtake.persistence.db import make_session_factory, session_scope, upgrade
from offtake.registry.kinds import seed_licence_kinds

__all__ = ["prepare_database"]


def prepare_database(engine: Engine, revision: str = "head") -> int:
    """Migrate the schema to ``revision`` and seed the licence kinds of the bundled data.

    This is what ``offtake db upgrade`` runs; it is safe to run again.

    Parameters
    ----------
    engine
        Engine of the platform database.
    revision
        Target Alembic revision (``head`` for the newest).

    Returns
    -------
    int
        Number of licence kinds added (0 when all were there).
    """
    upgrade(engine, revision)
    with session_scope(make_session_factory(engine)) as session:
        return seed_licence_kinds(session)
