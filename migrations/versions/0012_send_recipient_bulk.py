"""send_recipient written in bulk: no per-row foreign key to issue; on PostgreSQL, room on
each page for the one update a recipient gets

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27

Measured on PostgreSQL at 1,000,000 recipients: the foreign key's check (one trigger call
and one row lock per inserted recipient) took more than half of the audience snapshot. The
key guarded nothing the ledger does not already guarantee: recipients are written only by
the snapshot, in the transaction that writes their issue's batches, and `send_batch` keeps
its own key to `issue`, so an issue with recipients cannot be deleted either.

The fill factor: every recipient is updated once when its batch's answer is recorded
(queued -> accepted). With full pages that update writes a new entry in each of the
table's three indexes; with half of each page left free it stays on its page and touches
no index (a HOT update), as `state` is in none of them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 50
# SQLite's constraint has no name: batch mode finds it by this convention.
_SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_SQLITE_FK = "fk_send_recipient_issue_id_issue"
_POSTGRES_FK = "send_recipient_issue_id_fkey"


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if _is_sqlite():
        with op.batch_alter_table("send_recipient", naming_convention=_SQLITE_NAMES) as batch:
            batch.drop_constraint(_SQLITE_FK, type_="foreignkey")
        return
    op.drop_constraint(_POSTGRES_FK, "send_recipient", type_="foreignkey")
    op.execute(f"ALTER TABLE send_recipient SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if _is_sqlite():
        with op.batch_alter_table("send_recipient") as batch:
            batch.create_foreign_key(_SQLITE_FK, "issue", ["issue_id"], ["id"])
        return
    op.execute("ALTER TABLE send_recipient RESET (fillfactor)")
    op.create_foreign_key(_POSTGRES_FK, "send_recipient", "issue", ["issue_id"], ["id"])
