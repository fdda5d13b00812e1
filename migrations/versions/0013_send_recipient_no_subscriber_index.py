"""send_recipient without its index by subscriber alone: one index fewer to write per
recipient when an issue's audience is snapshotted

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28

Nothing reads send_recipient by subscriber alone. One subscriber's issues (the desk's
subscriber page, `analytics.subscriber`) and the soft-bounce rule (`tracking.soft_bounces`)
walk the sends (`issue_send`, one row per issue) and look the subscriber up in each by the
primary key (issue, subscriber); every other reader goes by issue, by batch or by primary
key. Yet the index took a quarter of a snapshot's write-ahead log (measured on PostgreSQL at
1,000,000 recipients with `EXPLAIN (ANALYZE, WAL)`: 4 records and 273 bytes per recipient
with it, 3 and 207 without), and once a list has a history of sends each new issue's
entries land all over it, one per subscriber, rather than at its end as the primary key's
and the batch index's do.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_send_recipient_subscriber"


def upgrade() -> None:
    op.drop_index(INDEX, table_name="send_recipient")


def downgrade() -> None:
    op.create_index(INDEX, "send_recipient", ["subscriber_id"])
