"""Every schema change is a migration: after `upgrade`, the models and the database agree."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

import newsletter.publishing.models
import newsletter.sending.ledger
import newsletter.sending.signup_queue
import newsletter.tracking.models
import scheduler.store
import subscribers.models
from newsletter.core.database import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from newsletter.sending.ledger import make_room
from newsletter.sending.ledger.partitions import not_a_partition

assert newsletter.publishing.models
assert newsletter.sending.ledger
assert newsletter.sending.signup_queue
assert newsletter.tracking.models
assert subscribers.models
assert scheduler.store


def test_migrations_match_the_models(engine: Engine) -> None:
    assert current_revision(engine) == head_revision(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    assert upgrade(engine) is False  # nothing left to apply


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_issues_partitions_are_not_taken_for_tables_missing_from_the_models(
    engine: Engine,
) -> None:
    """Each snapshot makes `send_recipient_<issue>`: autogenerate must not offer to drop it."""
    with engine.begin() as conn:
        make_room(conn, 1)
    with engine.connect() as conn:
        unfiltered = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"include_name": not_a_partition}),
            SQLModel.metadata,
        )
    assert "remove_table" in [change[0] for change in unfiltered]
    assert diff == []


def _migrate(engine: Engine, direction: str, revision: str) -> None:
    """Upgrade or downgrade to `revision`, in one transaction as `newsletter db upgrade` does."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, revision)


def test_0005_backfills_the_cause_of_sends_paused_before_it(database_url: str) -> None:
    """Until 0005 the cause lived in the reason's words: the upgrade reads them once, so a
    send paused before it resumes (or waits for a person) exactly as it did."""
    engine = make_engine(database_url)
    try:
        _migrate(engine, "upgrade", "0004")
        rows = {
            1: ("paused", "stopped: the sender was asked to stop; send again to resume"),
            2: ("paused", "stopped: interrupted; send again to resume"),
            3: ("paused", "3 batch(es) could not be sent after 5 attempts; send issue #3 again"),
            4: ("paused", "stopped: SendGrid answered 401: bad key"),
            5: ("sent", None),
            6: ("paused", "stopped: unexpected KeyError from the sendgrid backend"),
        }
        with engine.begin() as conn:
            for number, (status, reason) in rows.items():
                conn.execute(
                    text(
                        "INSERT INTO issue (number, week, status, status_reason, created_at, "
                        "subject, preheader, html, text, mjml, content_hash) VALUES (:n, :w, "
                        ":s, :r, CURRENT_TIMESTAMP, '', '', '', '', '', '')"
                    ),
                    {"n": number, "w": f"2026-W0{number}", "s": status, "r": reason},
                )
        assert upgrade(engine) is True
        with engine.connect() as conn:
            found = conn.execute(text("SELECT number, pause_cause FROM issue")).all()
        causes = {number: cause for number, cause in found}
        assert causes == {
            1: "stop_requested",
            2: "interrupted",
            3: "retries_exhausted",
            4: "refused",
            5: None,
            6: "backend_error",
        }
    finally:
        engine.dispose()


def _insert_issue(conn: Connection, number: int, week: str, status: str) -> None:
    conn.execute(
        text(
            "INSERT INTO issue (number, week, status, created_at, subject, preheader, html, "
            "text, mjml, content_hash) VALUES (:n, :w, :s, CURRENT_TIMESTAMP, '', '', '', '', "
            "'', :h)"
        ),
        {"n": number, "w": week, "s": status, "h": f"hash-{number}"},
    )


def test_0006_keeps_approvals_and_lets_a_cancelled_issue_free_its_week(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        cfg = alembic_config(engine)
        _migrate(engine, "upgrade", "0005")
        with engine.begin() as conn:
            _insert_issue(conn, 1, "2026-W01", "approved")
            _insert_issue(conn, 2, "2026-W02", "cancelled")
            _insert_issue(conn, 3, "2026-W03", "draft")
        assert upgrade(engine) is True
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT number, approved_hash FROM issue")).all()
        approved = {number: value for number, value in rows}
        # An approval given before the upgrade stays an approval of what was there.
        assert approved == {1: "hash-1", 2: None, 3: None}
        with engine.begin() as conn:
            _insert_issue(conn, 4, "2026-W02", "draft")  # the cancelled week is free again
        with pytest.raises(IntegrityError), engine.begin() as conn:
            _insert_issue(conn, 5, "2026-W03", "draft")  # one live issue per week
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM issue WHERE number = 4"))
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005")
        with pytest.raises(IntegrityError), engine.begin() as conn:
            _insert_issue(conn, 6, "2026-W02", "draft")  # the old rule is back
    finally:
        engine.dispose()


def test_0007_leaves_older_issues_without_a_stored_page_and_goes_back(database_url: str) -> None:
    """An issue rendered before 0007 has no stored view: its web version is built from the
    tables, as it was. The downgrade drops the column and keeps the issues."""
    engine = make_engine(database_url)
    try:
        _migrate(engine, "upgrade", "0006")
        with engine.begin() as conn:
            _insert_issue(conn, 1, "2026-W01", "sent")
        assert upgrade(engine) is True
        with engine.connect() as conn:
            assert conn.execute(text("SELECT number, page FROM issue")).all() == [(1, None)]
        _migrate(engine, "downgrade", "0006")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT number, content_hash FROM issue")).all() == [
                (1, "hash-1")
            ]
    finally:
        engine.dispose()


def _recipients(conn: Connection) -> list[tuple[int, int, int, str]]:
    rows = conn.execute(
        text(
            "SELECT issue_id, subscriber_id, batch_seq, state FROM send_recipient "
            "ORDER BY issue_id, subscriber_id"
        )
    ).all()
    return [(a, b, c, d) for a, b, c, d in rows]


def _partitions(conn: Connection) -> list[str]:
    if conn.dialect.name != "postgresql":
        return []
    found = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass('send_recipient') ORDER BY c.relname"
        )
    )
    return list(found.scalars())


def test_0014_moves_each_issues_recipients_into_its_partition_and_back(
    database_url: str,
) -> None:
    """On PostgreSQL every issue's recipients land in `send_recipient_<issue>`, still under
    the parent's key; on SQLite nothing moves. Either way no row is lost, both ways."""
    engine = make_engine(database_url)
    try:
        _migrate(engine, "upgrade", "0013")
        before = [(7, 1, 1, "accepted"), (7, 2, 1, "failed"), (9, 1, 1, "queued")]
        with engine.begin() as conn:
            for row in before:
                conn.execute(
                    text("INSERT INTO send_recipient VALUES (:i, :s, :b, :t)"),
                    dict(zip("isbt", row, strict=True)),
                )

        assert upgrade(engine) is True
        with engine.connect() as conn:
            assert _recipients(conn) == before
            partitions = _partitions(conn)
        if engine.dialect.name == "postgresql":
            assert partitions == ["send_recipient_7", "send_recipient_9"]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("INSERT INTO send_recipient VALUES (9, 1, 2, 'queued')"))

        _migrate(engine, "downgrade", "0013")
        with engine.connect() as conn:
            assert _recipients(conn) == before
            assert _partitions(conn) == []
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("INSERT INTO send_recipient VALUES (7, 2, 2, 'queued')"))
    finally:
        engine.dispose()
