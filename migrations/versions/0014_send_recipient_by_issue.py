"""send_recipient partitioned by issue on PostgreSQL: each issue's audience in a table of its
own, loaded bare by the snapshot and indexed when attached

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28

Measured on PostgreSQL at 1,000,000 recipients (the snapshot's INSERT in `psql`): with the
primary key and the batch index in place, it wrote each recipient's two index entries one
at a time, and took 2.7 s; loading a new table without indexes and attaching it, which
builds them by a sort, takes 1.7 s. The parent keeps the same name, columns, primary key
(issue, subscriber) and batch index, so every statement that names `send_recipient` is
unchanged; each existing issue's rows are moved into a partition of their own here.

SQLite keeps its plain table.
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 50  # as 0012 set on the plain table; a partitioned parent holds none
OLD = "send_recipient_unpartitioned"
_COLUMNS = "issue_id, subscriber_id, batch_seq, state"


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _put_aside(new_name: str) -> None:
    """Rename the table and its primary key and index, so the new table takes the names."""
    op.execute(f"ALTER TABLE send_recipient RENAME TO {new_name}")
    op.execute(f"ALTER TABLE {new_name} RENAME CONSTRAINT send_recipient_pkey TO {new_name}_pkey")
    op.execute(f"ALTER INDEX ix_send_recipient_batch RENAME TO ix_{new_name}_batch")


def _keys_and_index() -> None:
    op.execute("ALTER TABLE send_recipient ADD PRIMARY KEY (issue_id, subscriber_id)")
    op.execute("CREATE INDEX ix_send_recipient_batch ON send_recipient (issue_id, batch_seq)")


def upgrade() -> None:
    if not _is_postgresql():
        return
    _put_aside(OLD)
    op.execute(f"CREATE TABLE send_recipient (LIKE {OLD}) PARTITION BY LIST (issue_id)")
    _keys_and_index()
    issues = op.get_bind().execute(
        text("SELECT DISTINCT issue_id FROM send_recipient_unpartitioned ORDER BY 1")
    )
    for (issue_id,) in issues.all():
        part = f"send_recipient_{int(issue_id)}"
        op.execute(
            f"CREATE TABLE {part} (LIKE {OLD}, CHECK (issue_id = {int(issue_id)})) "
            f"WITH (fillfactor = {FILLFACTOR})"
        )
        op.execute(
            f"INSERT INTO {part} ({_COLUMNS}) SELECT {_COLUMNS} FROM {OLD} "  # noqa: S608 (an int)
            f"WHERE issue_id = {int(issue_id)} ORDER BY subscriber_id"
        )
        bound = f"FOR VALUES IN ({int(issue_id)})"
        op.execute(f"ALTER TABLE send_recipient ATTACH PARTITION {part} {bound}")
    op.execute(f"DROP TABLE {OLD}")


def downgrade() -> None:
    if not _is_postgresql():
        return
    _put_aside("send_recipient_partitioned")
    op.execute(
        f"CREATE TABLE send_recipient (LIKE send_recipient_partitioned) "
        f"WITH (fillfactor = {FILLFACTOR})"
    )
    op.execute(
        "INSERT INTO send_recipient (issue_id, subscriber_id, batch_seq, state) "
        "SELECT issue_id, subscriber_id, batch_seq, state "
        "FROM send_recipient_partitioned ORDER BY issue_id, subscriber_id"
    )
    _keys_and_index()
    op.execute("DROP TABLE send_recipient_partitioned")
