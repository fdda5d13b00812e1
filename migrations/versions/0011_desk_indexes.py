"""Indexes the desk's pages read by at 1,000,000 subscribers: one subscriber's issues and
their activity, the report's opens and clicks per hour, growth per week by status

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-15
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_send_recipient_subscriber", "send_recipient", ["subscriber_id"]),
    ("ix_recipient_activity_subscriber", "recipient_activity", ["subscriber_id"]),
    ("ix_recipient_activity_first_open", "recipient_activity", ["issue_id", "first_open_at"]),
    ("ix_recipient_activity_first_click", "recipient_activity", ["issue_id", "first_click_at"]),
    ("ix_status_change_to_status_at", "status_change", ["to_status", "at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
