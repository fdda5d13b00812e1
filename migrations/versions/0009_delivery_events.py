"""Delivery events: each provider event stored once, each recipient's delivery and
engagement, clicked links, and the per-issue counters reports read

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_text = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def _subscriber() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"], ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "delivery_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider", _text(length=20), nullable=False),
        sa.Column("event_id", _text(length=100), nullable=False),
        sa.Column("type", _text(length=30), nullable=False),
        sa.Column("provider_type", _text(length=50), nullable=False),
        sa.Column("occurred_at", _time(), nullable=False),
        sa.Column("received_at", _time(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("batch_seq", sa.Integer(), nullable=True),
        sa.Column("bounce_kind", _text(length=10), nullable=True),
        sa.Column("reason", _text(length=500), nullable=True),
        sa.Column("classification", _text(length=100), nullable=True),
        sa.Column("smtp_status", _text(length=20), nullable=True),
        sa.Column("url", _text(length=2000), nullable=True),
        sa.Column("machine_open", sa.Boolean(), nullable=False),
        sa.Column("user_agent", _text(length=500), nullable=True),
        _subscriber(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "event_id", name="uq_delivery_event"),
    )
    op.create_index("ix_delivery_event_subscriber_id", "delivery_event", ["subscriber_id"])
    op.create_table(
        "recipient_activity",
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("delivery", _text(length=20), nullable=True),
        sa.Column("delivery_at", _time(), nullable=True),
        sa.Column("bounce_kind", _text(length=10), nullable=True),
        sa.Column("soft_failed", sa.Boolean(), nullable=False),
        sa.Column("first_open_at", _time(), nullable=True),
        sa.Column("machine_open_at", _time(), nullable=True),
        sa.Column("first_click_at", _time(), nullable=True),
        sa.Column("complained_at", _time(), nullable=True),
        sa.Column("unsubscribed_at", _time(), nullable=True),
        _subscriber(),
        sa.PrimaryKeyConstraint("issue_id", "subscriber_id"),
    )
    op.create_table(
        "issue_link",
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("url_hash", _text(length=64), nullable=False),
        sa.Column("url", _text(length=2000), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("issue_id", "url_hash"),
    )
    op.create_table(
        "link_click",
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("url_hash", _text(length=64), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        _subscriber(),
        sa.PrimaryKeyConstraint("issue_id", "url_hash", "subscriber_id"),
    )
    op.create_index("ix_link_click_subscriber", "link_click", ["subscriber_id"])
    op.create_table(
        "event_tally",
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("name", _text(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("issue_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("event_tally")
    op.drop_index("ix_link_click_subscriber", table_name="link_click")
    op.drop_table("link_click")
    op.drop_table("issue_link")
    op.drop_table("recipient_activity")
    op.drop_index("ix_delivery_event_subscriber_id", table_name="delivery_event")
    op.drop_table("delivery_event")
