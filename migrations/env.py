"""Alembic environment: run by `newsletter db upgrade` and on first use by every command."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, text
from sqlmodel import SQLModel

import newsletter.accounts.models
import newsletter.tracking.models  # noqa: F401
import scheduler.store  # noqa: F401
import subscribers.models  # noqa: F401
from newsletter.sending.ledger.partitions import not_a_partition

target_metadata = SQLModel.metadata
config = context.config


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Two processes upgrading on first use: the second waits, then finds nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(7362514)"))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=not_a_partition,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
