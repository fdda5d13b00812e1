"""The web version of an issue keeps the view its snapshot was rendered from
(`issue.page`), so the archive shows what went out, not what the files say today

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Issues rendered before stay NULL: their page is built from the live tables, as it was.
    with op.batch_alter_table("issue") as batch_op:
        batch_op.add_column(sa.Column("page", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issue") as batch_op:
        batch_op.drop_column("page")
