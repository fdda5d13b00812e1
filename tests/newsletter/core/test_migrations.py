"""Every schema change is a migration: after `upgrade`, the models and the database agree."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine
from sqlmodel import SQLModel

import newsletter.publishing.models
import scheduler.store
import subscribers.models
from newsletter.core.database import current_revision, head_revision, upgrade

assert newsletter.publishing.models
assert subscribers.models
assert scheduler.store


def test_migrations_match_the_models(engine: Engine) -> None:
    assert current_revision(engine) == head_revision(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    assert upgrade(engine) is False  # nothing left to apply
