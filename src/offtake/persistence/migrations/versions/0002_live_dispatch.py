"""Live dispatch: rounds, per-site caps with their reasons, grid emergencies.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "dispatch_round",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("interval_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interval_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_client", sa.String(length=64), nullable=False),
        sa.Column("feed", sa.Text(), nullable=False),
        sa.Column("sites", sa.Integer(), nullable=False),
        sa.Column("deferred_w", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("ledger_seq", sa.BigInteger(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publish_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("interval_start", name="uq_dispatch_round_start"),
    )
    op.create_table(
        "dispatch_cap",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("interval_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interval_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cap_w", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("target_w", sa.BigInteger(), nullable=False),
        sa.Column("allocation_w", sa.BigInteger(), nullable=False),
        sa.Column("floor_w", sa.BigInteger(), nullable=False),
        sa.Column("last_draw_w", sa.BigInteger(), nullable=False),
        sa.Column("draw_source", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("ledger_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["dispatch_round.id"]),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "interval_start", name="uq_dispatch_cap_site_start"),
    )
    with op.batch_alter_table("dispatch_cap", schema=None) as batch_op:
        batch_op.create_index("ix_dispatch_cap_start", ["interval_start"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispatch_cap_round_id"), ["round_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispatch_cap_operator_id"), ["operator_id"], unique=False)
    op.create_table(
        "grid_emergency",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("declared_by", sa.String(length=64), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.String(length=64), nullable=True),
        sa.Column("site_ids", sa.JSON(), nullable=False),
        sa.Column("vtn_event_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("grid_emergency", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grid_emergency_starts_at"), ["starts_at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("grid_emergency", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grid_emergency_starts_at"))
    op.drop_table("grid_emergency")
    with op.batch_alter_table("dispatch_cap", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispatch_cap_operator_id"))
        batch_op.drop_index(batch_op.f("ix_dispatch_cap_round_id"))
        batch_op.drop_index("ix_dispatch_cap_start")
    op.drop_table("dispatch_cap")
    op.drop_table("dispatch_round")
