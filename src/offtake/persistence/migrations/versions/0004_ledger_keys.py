"""Ledger entries carry the key of a reading or cap (site and interval), indexed.

Checks of duplicates and conflicts, reconciliation and bills read readings and caps from
the ledger itself through this index; the key is copied from the entry's hashed bytes,
which every reader checks it against. Existing entries are filled in from their bytes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 12:00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from offtake.persistence.db import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def _time(text: object) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)


def upgrade() -> None:
    """Add the key columns and their index, and fill them from the entries' bytes."""
    with op.batch_alter_table("ledger_entry") as batch:
        batch.add_column(sa.Column("site_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("interval_start", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("interval_end", UTCDateTime(), nullable=True))
    op.create_index("ix_ledger_entry_key", "ledger_entry", ["kind", "site_id", "interval_start", "interval_end"])
    connection = op.get_bind()
    entry = sa.table(
        "ledger_entry",
        sa.column("seq", sa.BigInteger()),
        sa.column("kind", sa.String()),
        sa.column("data", sa.LargeBinary()),
        sa.column("site_id", sa.String()),
        sa.column("interval_start", UTCDateTime()),
        sa.column("interval_end", UTCDateTime()),
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
                .values(site_id=body["site"], interval_start=_time(body["start"]), interval_end=_time(body["end"]))
            )
        last = rows[-1][0]


def downgrade() -> None:
    """Drop the key columns."""
    op.drop_index("ix_ledger_entry_key", table_name="ledger_entry")
    with op.batch_alter_table("ledger_entry") as batch:
        batch.drop_column("interval_end")
        batch.drop_column("interval_start")
        batch.drop_column("site_id")
