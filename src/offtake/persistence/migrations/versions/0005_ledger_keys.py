"""Ledger entries carry the key of a reading or cap (site and interval), indexed.

Checks of duplicates and conflicts, reconciliation and bills read readings and caps from
the ledger itself through this index (times as microseconds since 1970 UTC: small rows
and index entries on the ingest path); the key is copied from the entry's hashed bytes,
which every reader checks it against. Existing entries are filled in from their bytes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def _us(text: object) -> int:
    """Microseconds since 1970 UTC of an RFC 3339 time."""
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def upgrade() -> None:
    """Add the key columns and their index, and fill them from the entries' bytes."""
    with op.batch_alter_table("ledger_entry") as batch:
        batch.add_column(sa.Column("site_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("start_us", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("end_us", sa.BigInteger(), nullable=True))
    op.create_index("ix_ledger_entry_key", "ledger_entry", ["kind", "site_id", "start_us", "end_us"])
    connection = op.get_bind()
    entry = sa.table(
        "ledger_entry",
        sa.column("seq", sa.BigInteger()),
        sa.column("kind", sa.String()),
        sa.column("data", sa.LargeBinary()),
        sa.column("site_id", sa.String()),
        sa.column("start_us", sa.BigInteger()),
        sa.column("end_us", sa.BigInteger()),
    )
    last = -1
    while True:
        rows = connection.execute(
            sa.select(entry.c.seq, entry.c.data)
            .where(entry.c.kind.in_(("reading", "cap")), entry.c.seq > last)
            .order_by(entry.c.seq)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        for seq, data in rows:
            body = json.loads(data)
            connection.execute(
                sa.update(entry)
                .where(entry.c.seq == seq)
                .values(site_id=body["site"], start_us=_us(body["start"]), end_us=_us(body["end"]))
            )
        last = rows[-1][0]


def downgrade() -> None:
    """Drop the key columns."""
    op.drop_index("ix_ledger_entry_key", table_name="ledger_entry")
    with op.batch_alter_table("ledger_entry") as batch:
        batch.drop_column("end_us")
        batch.drop_column("start_us")
        batch.drop_column("site_id")
