"""delivery ledger: issue_send, send_batch, send_recipient

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

assert sqlmodel.sql.sqltypes  # autogenerate renders AutoString and UTCDateTime from it


def upgrade() -> None:
    op.create_table(
        "issue_send",
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("audience", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["issue_id"], ["issue.id"]),
        sa.PrimaryKeyConstraint("issue_id"),
    )
    op.create_table(
        "send_batch",
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("owner", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("not_before", sa.Float(), nullable=True),
        sa.Column("claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["issue_id"], ["issue.id"]),
        sa.PrimaryKeyConstraint("issue_id", "seq"),
    )
    with op.batch_alter_table("send_batch", schema=None) as batch_op:
        batch_op.create_index("ix_send_batch_claim", ["issue_id", "state", "seq"], unique=False)

    op.create_table(
        "send_recipient",
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("batch_seq", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.ForeignKeyConstraint(["issue_id"], ["issue.id"]),
        sa.PrimaryKeyConstraint("issue_id", "subscriber_id"),
    )
    with op.batch_alter_table("send_recipient", schema=None) as batch_op:
        batch_op.create_index("ix_send_recipient_batch", ["issue_id", "batch_seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("send_recipient", schema=None) as batch_op:
        batch_op.drop_index("ix_send_recipient_batch")
    op.drop_table("send_recipient")
    with op.batch_alter_table("send_batch", schema=None) as batch_op:
        batch_op.drop_index("ix_send_batch_claim")
    op.drop_table("send_batch")
    op.drop_table("issue_send")
