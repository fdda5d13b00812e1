"""issue.pause_cause: why a send is paused, as a value the scheduler decides on

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Until this revision the scheduler read the cause from these words of status_reason; the
# backfill reads them once, so a send paused before the upgrade resumes (or waits) as it
# did. Frozen copies: the code's messages may change, these rows' texts do not.
_BACKFILL = (
    ("%the sender was asked to stop; send again to resume%", "stop_requested"),
    ("%interrupted; send again to resume%", "interrupted"),
    ("%could not be sent after%", "retries_exhausted"),
    ("stopped: unexpected % from the % backend%", "backend_error"),
)


def upgrade() -> None:
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pause_cause", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
    issue = sa.table(
        "issue", sa.column("status"), sa.column("status_reason"), sa.column("pause_cause")
    )
    paused = (issue.c.status == "paused") & issue.c.pause_cause.is_(None)
    for pattern, cause in _BACKFILL:
        op.execute(
            issue.update()
            .where(paused & issue.c.status_reason.like(pattern))
            .values(pause_cause=cause)
        )
    # Any other pause was a refused key, sender or message: it waits for an operator.
    op.execute(issue.update().where(paused).values(pause_cause="refused"))


def downgrade() -> None:
    with op.batch_alter_table("issue", schema=None) as batch_op:
        batch_op.drop_column("pause_cause")
