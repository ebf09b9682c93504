"""The Alembic migrations make every table of the package, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select, text

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


def test_revision_0005_keys_existing_reading_and_cap_entries(db_url: str) -> None:

    from offtake.ledger import merkle
    from offtake.ledger.encoding import canonical_json, to_us
    from offtake.ledger.integrity import ledger_readings
    from offtake.persistence.db import make_engine, make_session_factory
    from offtake.persistence.schema import LedgerEntry

    engine = make_engine(db_url)
    try:
        upgrade(engine, "0003")
        body = {"seq": 0, "kind": "reading", "site": "S1", "meter": "m", "start": "2025-07-01T00:00:00Z"}
        body |= {
            "end": "2025-07-01T01:00:00Z",
            "energy_wh": 5,
            "operator": None,
            "by": "x",
            "at": "2025-07-01T02:00:00Z",
        }
        registry = {"seq": 1, "kind": "registry", "by": "x", "at": "2025-07-01T02:00:00Z"}
        rows = [(b, canonical_json(b)) for b in (body, registry)]
        with engine.begin() as connection:
            for b, data in rows:
                values = {"seq": b["seq"], "kind": b["kind"], "data": data, "leaf_hash": merkle.leaf_hash(data)}
                # the table as revision 0003 made it
                sql = "insert into ledger_entry (seq, kind, data, leaf_hash) values (:seq, :kind, :data, :leaf_hash)"
                connection.execute(text(sql), values)
        upgrade(engine)
        with engine.connect() as connection:
            keys = connection.execute(
                select(LedgerEntry.seq, LedgerEntry.site_id, LedgerEntry.start_us).order_by(LedgerEntry.seq)
            ).all()
        start = datetime(2025, 7, 1, tzinfo=UTC)
        assert [tuple(k) for k in keys] == [(0, "S1", to_us(start)), (1, None, None)]
        with make_session_factory(engine)() as session:
            found = ledger_readings(session, ["S1"], start, start + timedelta(days=1))
        assert [(r.seq, r.energy_wh, r.interval_end) for r in found] == [(0, 5, start + timedelta(hours=1))]
    finally:
        engine.dispose()
