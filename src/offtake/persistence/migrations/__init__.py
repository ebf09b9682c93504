"""Alembic migrations of the platform database (run by :func:`offtake.persistence.db.upgrade`)."""
