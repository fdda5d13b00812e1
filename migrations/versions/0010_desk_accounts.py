"""The operators' desk: team accounts, their sessions, failed sign-ins, the audit log

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-15
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_text = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", _text(length=254), nullable=False),
        sa.Column("role", _text(length=10), nullable=False),
        sa.Column("password_hash", _text(length=200), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("password_changed_at", _time(), nullable=False),
        sa.Column("disabled_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "account_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", _text(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", _text(length=64), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_account_session_account_id", "account_session", ["account_id"])
    op.create_table(
        "sign_in_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", _text(length=254), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sign_in_failure_email", "sign_in_failure", ["email"])
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("actor", _text(length=254), nullable=False),
        sa.Column("action", _text(length=40), nullable=False),
        sa.Column("target", _text(length=300), nullable=False),
        sa.Column("detail", _text(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_entry_at", "audit_entry", ["at"])
    op.create_index("ix_audit_entry_action", "audit_entry", ["action"])


def downgrade() -> None:
    op.drop_table("audit_entry")
    op.drop_table("sign_in_failure")
    op.drop_table("account_session")
    op.drop_table("account")
