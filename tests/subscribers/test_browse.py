"""Browsing the list: prefix search on the address index, the bounded substring scan,
status filters, keyset cursors and the counts by status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy import event as sa_event

from newsletter.core.database import session_scope
from subscribers import browse as browsing
from subscribers.browse import Match, Query, browse, status_counts
from subscribers.models import Source, Status
from subscribers.service import add_subscriber, list_stats, set_status


@pytest.fixture
def listed(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        for i in range(12):
            add_subscriber(session, f"reader{i:02d}@example.com", source=Source.CLI, confirmed=True)
        add_subscriber(session, "ada@example.com", name="Ada Lovelace", source=Source.CLI)
        add_subscriber(session, "adam@example.org", source=Source.CLI, confirmed=True)
        add_subscriber(session, "zed@example.com", name="Grace ADA Hopper", source=Source.CLI)
        set_status(session, "reader03@example.com", Status.BOUNCED, reason="t", source=Source.CLI)
    return engine


def emails(page: browsing.Page) -> list[str]:
    return [row.email for row in page.rows]


def test_a_prefix_finds_addresses_in_address_order_case_folded(listed: Engine) -> None:
    with session_scope(listed) as session:
        assert emails(browse(session, Query(text="  ADA"))) == [
            "ada@example.com",
            "adam@example.org",
        ]
        assert emails(browse(session, Query(text="ada@"))) == ["ada@example.com"]
        assert emails(browse(session, Query(text="Lovelace"))) == []  # a name is no prefix
        assert emails(browse(session, Query(text="a%"))) == []  # % is itself


def test_prefix_pages_follow_the_last_address(listed: Engine) -> None:
    with session_scope(listed) as session:
        first = browse(session, Query(text="reader"), limit=5)
        assert emails(first) == [f"reader{i:02d}@example.com" for i in range(5)]
        assert first.next_after == "reader04@example.com"
        second = browse(session, Query(text="reader", after=first.next_after), limit=5)
        assert emails(second)[0] == "reader05@example.com"
        last = browse(session, Query(text="reader", after="reader09@example.com"), limit=5)
        assert emails(last) == ["reader10@example.com", "reader11@example.com"]
        assert last.next_after is None


def test_contains_matches_names_and_addresses_within_its_window(
    listed: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(listed) as session:
        page = browse(session, Query(text="ada", match=Match.CONTAINS))
        assert emails(page) == ["zed@example.com", "adam@example.org", "ada@example.com"]
        assert page.next_before is None
        monkeypatch.setattr(browsing, "SCAN_WINDOW", 3)  # the newest three ids only
        top = page.searched_from
        assert top is not None
        near = browse(session, Query(text="ada", match=Match.CONTAINS))
        assert emails(near) == ["zed@example.com", "adam@example.org", "ada@example.com"]
        assert (near.searched_from, near.searched_to) == (top, top - 2)
        assert near.next_before == top - 2
        older = browse(session, Query(text="reader1", match=Match.CONTAINS, before=top - 2))
        assert emails(older) == ["reader11@example.com", "reader10@example.com"]
        assert (older.searched_from, older.searched_to, older.next_before) == (
            top - 3,
            top - 5,
            top - 5,
        )


def test_status_filter_and_id_cursor_newest_first(listed: Engine) -> None:
    with session_scope(listed) as session:
        bounced = browse(session, Query(status=Status.BOUNCED))
        assert emails(bounced) == ["reader03@example.com"]
        pending = browse(session, Query(status=Status.PENDING))
        assert emails(pending) == ["zed@example.com", "ada@example.com"]
        first = browse(session, Query(), limit=4)
        assert emails(first)[0] == "zed@example.com"
        assert first.next_before is not None
        rest = browse(session, Query(before=first.next_before), limit=100)
        assert len(first.rows) + len(rest.rows) == 15
        assert not set(emails(first)) & set(emails(rest))
        assert rest.next_before is None


def test_counts_by_status(listed: Engine) -> None:
    with session_scope(listed) as session:
        counts = status_counts(session)
    assert counts == {
        Status.PENDING: 2,
        Status.ACTIVE: 12,
        Status.UNSUBSCRIBED: 0,
        Status.BOUNCED: 1,
        Status.COMPLAINED: 0,
    }


def test_a_status_the_service_does_not_know_is_shown_not_counted_as_active(
    listed: Engine,
) -> None:
    with session_scope(listed) as session:
        session.connection().execute(
            text("UPDATE subscriber SET status = 'paused' WHERE email = 'reader05@example.com'")
        )
        session.connection().execute(
            text("UPDATE subscriber SET status = 'Zz' WHERE email = 'reader06@example.com'")
        )
    with session_scope(listed) as session:
        counts = status_counts(session)
        stats = list_stats(session)
    assert counts == {"pending": 2, "active": 10, "unsubscribed": 0, "bounced": 1,
                      "complained": 0, "Zz": 1, "paused": 1}  # fmt: skip
    assert list(counts) == [*(s.value for s in Status), "Zz", "paused"]
    assert stats.by_status == counts  # the dashboard and the list page agree
    assert stats.total == 15


def test_counts_are_one_snapshot_when_a_signup_commits_mid_read(listed: Engine) -> None:
    """Under PostgreSQL's READ COMMITTED each statement has its own snapshot: two rows
    committed right after a first count made the active count (total less the others)
    wrong. (SQLite holds one snapshot per read transaction: there it always held.)"""
    fired: list[str] = []

    def signup_between(*args: Any) -> None:
        statement = str(args[2]).lower()
        if "count(" in statement and "subscriber" in statement and not fired:
            fired.append(statement)
            with listed.connect() as other:
                other.execute(
                    text(
                        "INSERT INTO subscriber (email, status, source, created_at,"
                        " status_changed_at) VALUES"
                        " ('new1@example.com', 'pending', 'cli', :at, :at),"
                        " ('new2@example.com', 'pending', 'cli', :at, :at)"
                    ),
                    {"at": datetime(2026, 11, 1, tzinfo=UTC)},
                )
                other.commit()

    sa_event.listen(listed, "after_cursor_execute", signup_between)
    try:
        with session_scope(listed) as session:
            counts = status_counts(session)
    finally:
        sa_event.remove(listed, "after_cursor_execute", signup_between)
    assert fired
    assert counts["active"] == 12
    assert counts["pending"] == 2
    assert sum(counts.values()) == 15


def test_prefix_pages_walk_every_match_once_with_one_lower_bound(listed: Engine) -> None:
    statements: list[str] = []

    def keep(*args: Any) -> None:
        statements.append(str(args[2]))

    walked: list[str] = []
    after: str | None = None
    sa_event.listen(listed, "before_cursor_execute", keep)
    try:
        with session_scope(listed) as session:
            while True:
                page = browse(session, Query(text="READER", after=after), limit=5)
                walked += emails(page)
                if page.next_after is None:
                    break
                after = page.next_after
            before_prefix = browse(session, Query(text="reader", after="a"), limit=3)
            past_prefix = browse(session, Query(text="reader", after="s"), limit=3)
    finally:
        sa_event.remove(listed, "before_cursor_execute", keep)
    assert walked == [f"reader{i:02d}@example.com" for i in range(12)]
    assert emails(before_prefix) == ["reader00@example.com", "reader01@example.com",
                                     "reader02@example.com"]  # fmt: skip
    assert emails(past_prefix) == []
    deeper = [s for s in statements if "subscriber.email >" in s]
    assert len(deeper) == 5  # every page: one lower bound, the cursor once there is one
    for statement in deeper:
        assert statement.count("subscriber.email >") == 1, statement


def test_a_prefix_search_with_a_status_reads_the_address_range_not_the_status(
    listed: Engine,
) -> None:
    """SQLite's plan for a prefix search filtered by status walks the address index: given
    a plain `status = ?` it chose the status index and sorted every active subscriber."""
    with session_scope(listed) as session:
        found = browse(session, Query(text="reader", status=Status.ACTIVE), limit=20)
        assert "reader03@example.com" not in emails(found)  # bounced: filtered out
        assert len(found.rows) == 11
        if listed.dialect.name != "sqlite":
            return
        statement = browsing.prefix_statement(
            "reader", Query(text="reader", status=Status.ACTIVE), 5
        )
        compiled = statement.compile(listed, compile_kwargs={"literal_binds": True})
        plan = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
    steps = " ".join(str(row[-1]) for row in plan)
    assert "sqlite_autoindex_subscriber_1" in steps, steps  # the unique index on email
    assert "TEMP B-TREE" not in steps, steps  # nothing sorted
