"""The subscriber list's rules: addresses, status changes, the public form, erasure, stats.

Every test that touches the database runs on SQLite and, when configured, PostgreSQL.
Times are explicit `now=` values: nothing sleeps.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, MetaData, String, Text, func, text
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from newsletter.core.database import session_scope
from newsletter.publishing.models import Comparison, Issue, Tool, Vote
from subscribers.addresses import InvalidAddress, address_hash
from subscribers.errors import SubscriberError
from subscribers.models import (
    SUPPRESSED,
    ForgottenAddress,
    Source,
    Status,
    StatusChange,
    Subscriber,
)
from subscribers.service import (
    add_subscriber,
    confirm_subscription,
    count_subscribers,
    find_subscriber,
    forget,
    get_subscriber,
    is_forgotten,
    list_stats,
    list_subscribers,
    request_subscription,
    resubscribe,
    set_status,
    status_history,
    unsubscribe,
)
from subscribers.status import change_status
from tests.subscribers.helpers import T0, history_of, id_of


def test_one_row_per_address_whatever_its_case(engine: Engine) -> None:
    with session_scope(engine) as session:
        ada = add_subscriber(
            session, "Ada@Example.com", name=" Ada \n Lovelace ", source=Source.CLI
        )
        assert (ada.email, ada.name, ada.status, ada.source) == (
            "ada@example.com",
            "Ada Lovelace",
            Status.PENDING,
            Source.CLI,
        )
        assert history_of(session, ada) == [(None, "pending", "added by an operator")]
    with session_scope(engine) as session:
        with pytest.raises(
            SubscriberError, match=r"^ada@example\.com is already on the list \(pending\)$"
        ):
            add_subscriber(session, "ADA@example.COM", source=Source.API)
        found = find_subscriber(session, " ada@EXAMPLE.com ")
        assert found is not None
        assert found.id == ada.id
        assert get_subscriber(session, id_of(ada)) is not None
        with pytest.raises(InvalidAddress):
            add_subscriber(session, "ada@", source=Source.CLI)
        with pytest.raises(SubscriberError, match="name is too long"):
            add_subscriber(session, "long@example.com", name="x" * 201, source=Source.CLI)
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(Subscriber)).one() == 1


def test_confirmed_addition_is_active_with_its_reason(engine: Engine) -> None:
    with session_scope(engine) as session:
        grace = add_subscriber(
            session, "grace@example.org", source=Source.API, confirmed=True, now=T0
        )
        assert grace.status == Status.ACTIVE
        assert grace.confirmed_at == T0
        assert grace.created_at == T0
        assert grace.status_changed_at == T0
        assert grace.status_reason == "added through the API, as confirmed"
        assert history_of(session, grace) == [
            (None, "active", "added through the API, as confirmed")
        ]


def test_signup_confirm_and_the_ten_minute_rule(engine: Engine) -> None:
    with session_scope(engine) as session:
        first = request_subscription(
            session, "Ada@Example.com", name="Ada", ip="203.0.113.7", now=T0
        )
        assert first.send_confirmation
        assert first.subscriber_id is not None
        ada = get_subscriber(session, first.subscriber_id)
        assert ada is not None
        assert (ada.email, ada.status, ada.source) == ("ada@example.com", "pending", "form")
        assert (ada.consent_at, ada.consent_ip, ada.confirmation_sent_at) == (T0, "203.0.113.7", T0)
    with session_scope(engine) as session:
        # Posted again five minutes later (perhaps by a stranger): the record keeps the
        # first post's name and client address, and no second email goes.
        again = request_subscription(
            session,
            "ada@example.com",
            name="Ada Lovelace",
            ip="2001:db8::1",
            now=T0 + timedelta(minutes=5),
        )
        assert again == type(first)(first.subscriber_id, False)
        ada = get_subscriber(session, id_of(ada))
        assert ada is not None
        assert (ada.name, ada.consent_ip, ada.confirmation_sent_at) == ("Ada", "203.0.113.7", T0)
        # Ten minutes after the last email: another one.
        third = request_subscription(
            session, "ada@example.com", name=None, ip="192.0.2.3", now=T0 + timedelta(minutes=10)
        )
        assert third.send_confirmation
        assert ada.name == "Ada"  # a blank name does not erase the one given
        assert ada.confirmation_sent_at == T0 + timedelta(minutes=10)
    with session_scope(engine) as session:
        confirmed = confirm_subscription(
            session,
            id_of(ada),
            issued_at=T0 + timedelta(minutes=10),
            now=T0 + timedelta(hours=1),
            ip="192.0.2.44",
        )
        assert confirmed is not None
        assert confirmed.status == Status.ACTIVE
        assert confirmed.confirmed_at == T0 + timedelta(hours=1)
        assert confirm_subscription(session, id_of(ada), issued_at=T0) is not None  # a second click
        assert confirm_subscription(session, 999_999, issued_at=T0) is None
        # Active: nothing happens, nothing is sent.
        active = request_subscription(
            session,
            "ada@example.com",
            name="Someone Else",
            ip="198.51.100.1",
            now=T0 + timedelta(days=1),
        )
        assert not active.send_confirmation
        assert confirmed.name == "Ada"
        assert confirmed.consent_ip == "192.0.2.44"  # consent is the click, from its client
        assert confirmed.consent_at == T0 + timedelta(hours=1)  # consent is the click
        assert history_of(session, confirmed) == [
            (None, "pending", "signed up through the form"),
            ("pending", "active", "confirmed by email"),
        ]


def test_the_form_never_changes_an_unsubscribed_record(engine: Engine) -> None:
    """A form post is anyone's request: the address stays unsubscribed, its name, consent
    and history untouched; at most one confirmation email per ten minutes is sent."""
    with session_scope(engine) as session:
        sid = request_subscription(
            session, "bo@example.com", name="Bo", ip="192.0.2.1", now=T0
        ).subscriber_id
        assert sid is not None
        confirm_subscription(session, sid, issued_at=T0, now=T0 + timedelta(minutes=1))
        unsubscribe(
            session, sid, reason="one-click", source=Source.FORM, now=T0 + timedelta(minutes=2)
        )
    with session_scope(engine) as session:
        # Within ten minutes of the last confirmation email: no email, nothing changes.
        soon = request_subscription(
            session, "bo@example.com", name="Evil", ip="203.0.113.66", now=T0 + timedelta(minutes=3)
        )
        assert soon == type(soon)(sid, False)
        # Later: one email may go out (only its link can bring Bo back), and one only.
        later = request_subscription(
            session, "BO@example.com", name=None, ip=None, now=T0 + timedelta(hours=1)
        )
        assert later == type(later)(sid, True)
        again = request_subscription(
            session, "bo@example.com", name=None, ip=None, now=T0 + timedelta(hours=1, minutes=5)
        )
        assert again == type(again)(sid, False)
    with session_scope(engine) as session:
        row = get_subscriber(session, sid)
        assert row is not None
        assert (row.status, row.status_reason, row.name) == ("unsubscribed", "one-click", "Bo")
        # consent: Bo's click (its client unknown here)
        assert (row.consent_at, row.consent_ip) == (T0 + timedelta(minutes=1), None)
        assert row.confirmation_sent_at == T0 + timedelta(hours=1)
        assert [c.to_status for c in status_history(session, sid)] == [
            "pending",
            "active",
            "unsubscribed",
        ]


def test_only_a_link_sent_after_the_opt_out_brings_an_address_back(engine: Engine) -> None:
    unsubscribed_at = T0 + timedelta(minutes=2, seconds=30.5)
    with session_scope(engine) as session:
        sid = request_subscription(
            session, "cy@example.com", name=None, ip=None, now=T0
        ).subscriber_id
        assert sid is not None
        confirm_subscription(session, sid, issued_at=T0, now=T0 + timedelta(minutes=1))
        unsubscribe(session, sid, reason="one-click", source=Source.FORM, now=unsubscribed_at)
    with session_scope(engine) as session:
        # The first confirmation email, or any link from before the opt-out: nothing.
        for issued in (T0, unsubscribed_at - timedelta(seconds=1)):
            row = confirm_subscription(session, sid, issued_at=issued, now=T0 + timedelta(days=1))
            assert row is not None
            assert row.status == Status.UNSUBSCRIBED
        assert len(status_history(session, sid)) == 3
    with session_scope(engine) as session:
        request_subscription(
            session, "cy@example.com", name=None, ip="192.0.2.8", now=T0 + timedelta(hours=1)
        )
        # The link that post sent, used by the person: active again, consent this click.
        back = confirm_subscription(
            session,
            sid,
            issued_at=T0 + timedelta(hours=1),
            now=T0 + timedelta(hours=2),
        )
        assert back is not None
        assert back.status == Status.ACTIVE
        assert back.confirmed_at == back.consent_at == T0 + timedelta(hours=2)
        assert back.consent_ip is None  # where the post came from is not where consent did
        assert history_of(session, back)[-1] == (
            "unsubscribed",
            "active",
            "re-subscribed: confirmed by email",
        )


@pytest.mark.parametrize("suppressed", sorted(SUPPRESSED))
def test_suppressed_addresses_are_never_revived(engine: Engine, suppressed: Status) -> None:
    with session_scope(engine) as session:
        row = add_subscriber(session, "gone@example.com", source=Source.CLI, confirmed=True)
        change_status(session, row, suppressed, reason="from the webhook", source=Source.WEBHOOK)
        sid = id_of(row)
        changes = len(status_history(session, sid))
    with session_scope(engine) as session:
        outcome = request_subscription(
            session, "GONE@example.com", name="X", ip="192.0.2.9", now=T0
        )
        assert outcome == type(outcome)(sid, False)  # the same page, and no email
        fresh_link = datetime.now(UTC) + timedelta(minutes=1)  # sent after the bounce
        assert confirm_subscription(session, sid, issued_at=fresh_link) is not None
        assert resubscribe(session, sid, source=Source.FORM) is not None
        assert unsubscribe(session, sid, reason="clicked", source=Source.FORM) is not None
        with pytest.raises(SubscriberError, match="stays suppressed"):
            set_status(
                session, "gone@example.com", Status.ACTIVE, reason="why not", source=Source.FORM
            )
    with session_scope(engine) as session:
        row2 = get_subscriber(session, sid)
        assert row2 is not None
        assert row2.status == suppressed
        assert row2.name is None
        assert row2.consent_at is None
        assert len(status_history(session, sid)) == changes
        # An operator, on purpose and with a reason, may bring it back.
        revived = set_status(
            session,
            "gone@example.com",
            Status.ACTIVE,
            reason="mailbox fixed, ticket 42",
            source=Source.CLI,
        )
        assert revived.status == Status.ACTIVE
        assert revived.status_reason == "mailbox fixed, ticket 42"


def test_invalid_address_on_the_form_raises_and_nothing_else_does(engine: Engine) -> None:
    with session_scope(engine) as session:
        with pytest.raises(InvalidAddress):
            request_subscription(session, "not-an-address", name=None, ip=None)
        outcome = request_subscription(session, "x@example.com", name="y" * 500, ip="z" * 60)
        row = get_subscriber(session, outcome.subscriber_id or 0)
        assert row is not None
        assert row.name == "y" * 200
        assert row.consent_ip == "z" * 45


def test_unsubscribe_and_resubscribe_are_idempotent(engine: Engine) -> None:
    with session_scope(engine) as session:
        row = add_subscriber(session, "cy@example.com", source=Source.CLI, confirmed=True)
        sid = id_of(row)
        assert unsubscribe(session, 999_999, reason="x", source=Source.FORM) is None
        assert resubscribe(session, 999_999, source=Source.FORM) is None
        unsubscribe(session, sid, reason="one-click", source=Source.FORM, now=T0)
        unsubscribe(
            session, sid, reason="one-click", source=Source.FORM, now=T0 + timedelta(days=1)
        )
        assert row.unsubscribed_at == T0
        resubscribe(session, sid, source=Source.FORM, now=T0 + timedelta(days=2))
        resubscribe(session, sid, source=Source.FORM, now=T0 + timedelta(days=3))
        assert row.status == Status.ACTIVE
        assert row.status_reason == "re-subscribed from the unsubscribe page"
        assert [c.to_status for c in status_history(session, sid)] == [
            "active",
            "unsubscribed",
            "active",
        ]
        pending = add_subscriber(session, "dee@example.com", source=Source.CLI)
        resubscribe(session, id_of(pending), source=Source.FORM)
        assert pending.status == Status.PENDING  # resubscribing is not confirming


def test_set_status_finds_by_address_or_id_and_names_what_is_missing(engine: Engine) -> None:
    with session_scope(engine) as session:
        row = add_subscriber(session, "eve@example.com", source=Source.CLI)
        set_status(
            session,
            "EVE@example.com",
            Status.ACTIVE,
            reason="confirmed by phone",
            source=Source.CLI,
        )
        set_status(session, id_of(row), Status.BOUNCED, reason="hard bounce", source=Source.API)
        set_status(session, str(row.id), Status.BOUNCED, reason="again", source=Source.API)
        assert [c.to_status for c in status_history(session, id_of(row))] == [
            "pending",
            "active",
            "bounced",
        ]
        with pytest.raises(
            SubscriberError, match=r"^no subscriber 'nobody@example\.com' on the list$"
        ):
            set_status(session, "nobody@example.com", Status.ACTIVE, reason="x", source=Source.CLI)
        with pytest.raises(SubscriberError, match="no subscriber '424242'"):
            set_status(session, 424242, Status.ACTIVE, reason="x", source=Source.CLI)


def _text_cells(engine: Engine) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text cell in every table of the database."""
    meta = MetaData()
    meta.reflect(engine)
    cells = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text)]
            for row in conn.execute(core_select(*columns)) if columns else []:
                cells += [(table.name, c.name, v) for c, v in zip(columns, row, strict=True) if v]
    return cells


def _vote_for(session: Session, subscriber_id: int) -> int:
    tool = Tool(
        slug="t",
        name="T",
        vendor="V",
        category="C",
        tagline="t",
        description="d",
        pricing_entry="Free",
        url="https://t.example.com/",
    )
    comparison = Comparison(
        slug="c", title="T vs U", question="Which?", published=date(2026, 11, 23), verdict="T."
    )
    issue = Issue(number=1, week="2026-W48")
    session.add_all([tool, comparison, issue])
    session.flush()
    vote = Vote(
        subscriber_id=subscriber_id,
        issue_id=issue.id or 0,
        comparison_id=comparison.id or 0,
        tool_id=tool.id or 0,
    )
    session.add(vote)
    session.flush()
    return vote.id or 0


def test_forget_leaves_nothing_personal_and_blocks_re_adding(engine: Engine) -> None:
    address, name = "zelda.quux@example.com", "Zelda Quux"
    with session_scope(engine) as session:
        row = add_subscriber(session, address, name=name, source=Source.CLI, confirmed=True)
        add_subscriber(session, "keep@example.com", name="Kept Person", source=Source.CLI)
        change_status(
            session,
            row,
            Status.UNSUBSCRIBED,
            reason=f"{name} <{address}> asked by phone",
            source=Source.CLI,
        )
        vote_id = _vote_for(session, id_of(row))
    assert any(address in v for _, _, v in _text_cells(engine))

    with session_scope(engine) as session:
        assert forget(session, "Zelda.Quux@Example.com") is True
    leaks = [
        cell
        for cell in _text_cells(engine)
        if address in cell[2].lower() or "zelda" in cell[2].lower()
    ]
    assert leaks == []
    with session_scope(engine) as session:
        assert is_forgotten(session, address)
        assert not is_forgotten(session, "keep@example.com")
        tombstones = session.exec(select(ForgottenAddress)).all()
        assert [t.email_hash for t in tombstones] == [address_hash(address)]
        assert session.exec(select(func.count()).select_from(StatusChange)).one() == 1  # keep@'s
        vote = session.get(Vote, vote_id)
        assert vote is not None
        assert vote.subscriber_id is None
        assert find_subscriber(session, "keep@example.com") is not None
        # Idempotent: a second erasure finds no row and keeps one tombstone.
        assert forget(session, address) is False
        assert forget(session, "never-here@example.com") is False
        assert session.exec(select(func.count()).select_from(ForgottenAddress)).one() == 2
    with session_scope(engine) as session:
        with pytest.raises(
            SubscriberError, match=r"was forgotten \(GDPR erasure\) and cannot be re-added"
        ):
            add_subscriber(session, address, source=Source.CLI)
        with pytest.raises(SubscriberError, match="was forgotten"):
            add_subscriber(session, address, source=Source.API, confirmed=True)


def test_a_forgotten_address_may_sign_up_again_through_the_form(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_subscriber(session, "back@example.com", source=Source.CLI, confirmed=True)
        forget(session, "back@example.com")
    with session_scope(engine) as session:
        outcome = request_subscription(
            session, "back@example.com", name=None, ip="192.0.2.1", now=T0
        )
        assert outcome.send_confirmation
        assert outcome.subscriber_id is not None
        row = get_subscriber(session, outcome.subscriber_id)
        assert row is not None
        assert row.status == Status.PENDING
        assert is_forgotten(session, "back@example.com")  # until they confirm
    with session_scope(engine) as session:
        confirm_subscription(
            session, outcome.subscriber_id, issued_at=T0, now=T0 + timedelta(minutes=2)
        )
        assert not is_forgotten(session, "back@example.com")


def test_forget_finds_rows_stored_before_validation(engine: Engine) -> None:
    """A row written by older code with an address today's validator refuses can still go."""
    with session_scope(engine) as session:
        session.add(Subscriber(email="legacy@localhost", status=Status.ACTIVE))
    with session_scope(engine) as session:
        assert find_subscriber(session, "LEGACY@localhost") is not None
        assert forget(session, "legacy@localhost") is True
        assert find_subscriber(session, "legacy@localhost") is None


def test_list_search_and_keyset_pages(engine: Engine) -> None:
    with session_scope(engine) as session:
        for i in range(7):
            add_subscriber(
                session,
                f"user{i}@example.com",
                name=f"User {i}",
                source=Source.CLI,
                confirmed=i % 2 == 0,
            )
        add_subscriber(session, "ada@lovelace.org", name="Ada LOVELACE", source=Source.CLI)
        add_subscriber(session, "percent@example.net", name="100% Pure_Name", source=Source.CLI)
    with session_scope(engine) as session:
        emails = [s.email for s in list_subscribers(session, search="LoveLace")]
        assert emails == ["ada@lovelace.org"]
        assert [s.email for s in list_subscribers(session, search="ada lovelace")] == [
            "ada@lovelace.org"
        ]
        assert [s.email for s in list_subscribers(session, search="USER3@")] == [
            "user3@example.com"
        ]
        assert [s.name for s in list_subscribers(session, search="0%")] == ["100% Pure_Name"]
        assert list_subscribers(session, search="user_") == []  # _ is not a wildcard
        assert count_subscribers(session) == 9
        assert count_subscribers(session, status=Status.ACTIVE) == 4
        assert count_subscribers(session, status=Status.PENDING, search="example.com") == 3
        seen: list[str] = []
        after = 0
        while page := list_subscribers(session, after_id=after, limit=4):
            seen += [s.email for s in page]
            after = id_of(page[-1])
        assert len(seen) == 9
        assert len(set(seen)) == 9
        active = list_subscribers(session, status=Status.ACTIVE, limit=2)
        assert [s.email for s in active] == ["user0@example.com", "user2@example.com"]
        with pytest.raises(SubscriberError):
            list_subscribers(session, limit=0)


def test_stats_count_by_status_and_grow_by_iso_week(engine: Engine) -> None:
    monday = datetime(2026, 11, 23, tzinfo=UTC)  # 2026-W48
    with session_scope(engine) as session:
        old = add_subscriber(
            session, "old@example.com", source=Source.CLI, now=monday - timedelta(weeks=20)
        )
        for i, created in enumerate(
            [
                monday - timedelta(weeks=2),
                monday - timedelta(weeks=1, seconds=1),
                monday,
                monday + timedelta(days=6, hours=23),
            ]
        ):
            row = add_subscriber(session, f"w{i}@example.com", source=Source.CLI, now=created)
            confirm_subscription(
                session, id_of(row), issued_at=created, now=created + timedelta(hours=1)
            )
        unsubscribe(
            session, id_of(old), reason="x", source=Source.FORM, now=monday + timedelta(days=1)
        )
        bounced = add_subscriber(
            session, "b@example.com", source=Source.CLI, confirmed=True, now=monday
        )
        change_status(
            session, bounced, Status.BOUNCED, reason="hard", source=Source.WEBHOOK, now=monday
        )
    with session_scope(engine) as session:
        stats = list_stats(session, weeks=4, now=monday + timedelta(days=2))
    assert stats.by_status == {
        "pending": 0,
        "active": 4,
        "unsubscribed": 1,
        "bounced": 1,
        "complained": 0,
    }
    assert stats.total == 6
    assert [(w.week, w.starts, w.new, w.confirmed, w.unsubscribed) for w in stats.growth] == [
        ("2026-W45", date(2026, 11, 2), 0, 0, 0),
        # Sunday 23:59:59 still belongs to W46; its confirmation an hour later is in W47.
        ("2026-W46", date(2026, 11, 9), 2, 1, 0),
        ("2026-W47", date(2026, 11, 16), 0, 1, 0),
        # Added as confirmed is not "confirmed"; Sunday 23:00's confirmation falls in W49.
        ("2026-W48", date(2026, 11, 23), 3, 1, 1),
    ]
    assert [(w.bounced, w.complained) for w in stats.growth] == [(0, 0), (0, 0), (0, 0), (1, 0)]
    with session_scope(engine) as session, pytest.raises(SubscriberError):
        list_stats(session, weeks=0)


def test_requests_on_a_shared_transaction_see_each_other(engine: Engine) -> None:
    """Two form posts for one new address in one transaction: one row, one email."""
    with session_scope(engine, immediate=True) as session:
        first = request_subscription(session, "twice@example.com", name=None, ip=None, now=T0)
        second = request_subscription(session, "twice@example.com", name=None, ip=None, now=T0)
    assert first.subscriber_id == second.subscriber_id
    assert (first.send_confirmation, second.send_confirmation) == (True, False)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT COUNT(*) FROM subscriber")).scalar_one()
    assert n == 1
    with session_scope(engine) as session:
        assert session.exec(select(col(Subscriber.email))).all() == ["twice@example.com"]
