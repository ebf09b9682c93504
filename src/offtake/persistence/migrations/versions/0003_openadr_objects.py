"""OpenADR objects, their targets and the per-type change counters.

Programs, events, reports, subscriptions, vens and resources are rows of ``vtn_object``.

Databases made before this revision may already hold these tables (the VTN created them on
first use); they are then kept as they are and only the counter rows are seeded.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Every kind of OpenADR object, one change counter each (as in ``offtake.vtn.store``).
_OBJECT_TYPES = ("PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE")


def _create_tables() -> None:
    op.create_table(
        "vtn_object",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("unique_key", sa.String(length=300), nullable=True),
        sa.Column("program_id", sa.String(length=128), nullable=True),
        sa.Column("event_id", sa.String(length=128), nullable=True),
        sa.Column("ven_id", sa.String(length=128), nullable=True),
        sa.Column("client_id", sa.String(length=128), nullable=True),
        sa.Column("client_name", sa.String(length=128), nullable=True),
        sa.Column("owner_scopes", sa.String(length=300), nullable=True),
        sa.Column("owner_site", sa.String(length=128), nullable=True),
        sa.Column("targeted", sa.Boolean(), nullable=False),
        sa.Column("start_s", sa.BigInteger(), nullable=True),
        sa.Column("end_s", sa.BigInteger(), nullable=True),
        sa.Column("created", sa.String(length=40), nullable=False),
        sa.Column("modified", sa.String(length=40), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
        sa.UniqueConstraint("object_type", "unique_key", name="uq_vtn_object_unique_key"),
    )
    op.create_index("ix_vtn_object_type_client", "vtn_object", ["object_type", "client_id"], unique=False)
    op.create_index("ix_vtn_object_type_name", "vtn_object", ["object_type", "name"], unique=False)
    op.create_index("ix_vtn_object_type_program", "vtn_object", ["object_type", "program_id"], unique=False)
    op.create_index("ix_vtn_object_type_ven", "vtn_object", ["object_type", "ven_id"], unique=False)
    op.create_table(
        "vtn_version",
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("object_type"),
    )
    op.create_table(
        "vtn_target",
        sa.Column("object_seq", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["object_seq"], ["vtn_object.seq"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("object_seq", "target"),
    )
    op.create_index("ix_vtn_target_target", "vtn_target", ["target", "object_seq"], unique=False)


def upgrade() -> None:
    """Apply this revision."""
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("vtn_object"):
        _create_tables()
    present = {row[0] for row in bind.execute(sa.text("select object_type from vtn_version"))}
    counters = sa.table("vtn_version", sa.column("object_type", sa.String), sa.column("version", sa.BigInteger))
    missing = [{"object_type": t, "version": 0} for t in _OBJECT_TYPES if t not in present]
    if missing:
        op.bulk_insert(counters, missing)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_vtn_target_target", table_name="vtn_target")
    op.drop_table("vtn_target")
    op.drop_table("vtn_version")
    op.drop_index("ix_vtn_object_type_ven", table_name="vtn_object")
    op.drop_index("ix_vtn_object_type_program", table_name="vtn_object")
    op.drop_index("ix_vtn_object_type_name", table_name="vtn_object")
    op.drop_index("ix_vtn_object_type_client", table_name="vtn_object")
    op.drop_table("vtn_object")
