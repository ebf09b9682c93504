"""The Alembic migrations make every table of the package, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select

from offtake.persistence.db import Base, upgrade
from offtake.persistence.schema import LicenceKind, VtnObject, VtnTarget, VtnVersion
from offtake.registry.setup import prepare_database
from offtake.vtn import store


def test_migration_matches_the_tables(engine: Engine) -> None:
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_upgrade_seeds_the_openadr_counters_and_licence_kinds_once(engine: Engine) -> None:
    assert prepare_database(engine) == 0  # the fixture prepared it already
    with engine.connect() as connection:
        assert store.read_versions(connection, store.OBJECT_TYPES) == (0,) * len(store.OBJECT_TYPES)
        assert len(connection.execute(select(VtnVersion.object_type)).all()) == len(store.OBJECT_TYPES)
        assert connection.execute(select(LicenceKind.id)).first() is not None


def test_a_database_whose_openadr_tables_predate_their_migration_upgrades(db_url: str) -> None:
    from offtake.persistence.db import make_engine

    engine = make_engine(db_url)
    try:
        upgrade(engine, "0002")
        tables = [Base.metadata.tables[model.__tablename__] for model in (VtnObject, VtnTarget, VtnVersion)]
        Base.metadata.create_all(engine, tables=tables)  # what the VTN did before revision 0003
        upgrade(engine)
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
            assert store.read_versions(connection, store.OBJECT_TYPES) == (0,) * len(store.OBJECT_TYPES)
    finally:
        engine.dispose()
