"""Alembic migrations of the platform database (run by :func:`offtake.server.db.upgrade`)."""
