"""Editorial trust: the approved snapshot's hash, withdrawn comparisons, and one *live*
issue per week (a cancelled issue frees its week and stays in the history)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0001 declared `UNIQUE (week)` without a name: PostgreSQL named it `issue_week_key`;
# SQLite keeps it nameless, so batch mode names reflected constraints by this convention.
_CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
_LIVE = sa.text("status <> 'cancelled'")


def _week_constraint() -> str:
    return "issue_week_key" if op.get_bind().dialect.name == "postgresql" else "uq_issue_week"


def upgrade() -> None:
    with op.batch_alter_table("issue", naming_convention=_CONVENTION) as batch_op:
        batch_op.add_column(
            sa.Column("approved_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.drop_constraint(_week_constraint(), type_="unique")
        batch_op.create_index("ix_issue_week", ["week"], unique=False)
    op.create_index(
        "uq_issue_live_week",
        "issue",
        ["week"],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )
    # An issue approved before this revision was approved as it stands now.
    issue = sa.table(
        "issue", sa.column("status"), sa.column("content_hash"), sa.column("approved_hash")
    )
    op.execute(
        issue.update()
        .where(issue.c.status.in_(["approved", "held"]))
        .values(approved_hash=issue.c.content_hash)
    )
    with op.batch_alter_table("comparison") as batch_op:
        batch_op.add_column(
            sa.Column("withdrawn_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("comparison") as batch_op:
        batch_op.drop_column("withdrawn_at")
    op.drop_index("uq_issue_live_week", table_name="issue")
    with op.batch_alter_table("issue", naming_convention=_CONVENTION) as batch_op:
        batch_op.drop_index("ix_issue_week")
        batch_op.create_unique_constraint(_week_constraint(), ["week"])
        batch_op.drop_column("approved_hash")
