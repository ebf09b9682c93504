"""Persistence: the ORM base, every table of the platform, sessions and the Alembic migrations.

Nothing here imports domain code; the domain packages import their tables from
:mod:`offtake.persistence.schema`.
"""
