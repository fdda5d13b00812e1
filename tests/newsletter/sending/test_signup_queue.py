"""The sign-up queue on SQLite and PostgreSQL: one row per post, drained outside the
request workers into the list and the confirmation email; nothing lost, nothing twice."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import select

from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery import Message, Recipient, TransientFailure
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.sending import signup, signup_queue
from newsletter.sending.signup_queue import (
    MAX_ATTEMPTS,
    SEND_ATTEMPTS,
    SignupQueueFull,
    SignupRequest,
    drain_signups,
    queue_signup,
    queued,
)
from subscribers.addresses import InvalidAddress
from subscribers.housekeeping import expire_pending
from subscribers.models import StatusChange, Subscriber
from subscribers.service import find_subscriber, forget

POSTED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


class CountingOutbox(OutboxBackend):
    """The embedded backend, remembering every recipient it wrote (from any thread)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.sent: list[Recipient] = []
        self._lock = threading.Lock()

    def send_batch(self, message: Message, recipients: Sequence[Recipient]) -> str:
        batch = super().send_batch(message, recipients)
        with self._lock:
            self.sent.extend(recipients)
        return batch


def _queue(engine: Engine, *addresses: str, name: str | None = None) -> None:
    with session_scope(engine, immediate=True) as session:
        for address in addresses:
            queue_signup(session, address, name=name, ip="203.0.113.7", max_queued=10_000)


def _count(engine: Engine, model: type[SignupRequest] | type[Subscriber]) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_a_queued_post_becomes_a_pending_subscriber_and_one_email_to_the_address_alone(
    engine: Engine, settings: Settings
) -> None:
    with session_scope(engine, immediate=True) as session:
        queue_signup(
            session,
            " Reader@Example.COM ",
            name="Claim your prize at http://evil.example",
            ip="203.0.113.7",
            max_queued=10,
            now=POSTED,
        )
    assert _count(engine, Subscriber) == 0  # the post alone never touches the list

    backend = CountingOutbox(settings.outbox_dir)
    assert drain_signups(engine, settings, backend) == 1

    with session_scope(engine) as session:
        subscriber = find_subscriber(session, "reader@example.com")
        assert queued(session) == 0
    assert subscriber is not None
    assert subscriber.status == "pending"
    assert subscriber.name == "Claim your prize at http://evil.example"  # kept, never sent
    # Consent is the confirmation's click (recorded then); the email is recorded as sent
    # when it went, so the ten-minute rule counts from the email, not the post.
    assert subscriber.confirmation_sent_at is not None
    assert subscriber.confirmation_sent_at > POSTED
    assert subscriber.consent_ip == "203.0.113.7"
    [recipient] = backend.sent
    assert (recipient.email, recipient.name) == ("reader@example.com", None)
    assert drain_signups(engine, settings, backend) == 0


def test_the_queue_refuses_text_that_is_not_an_address_and_writes_nothing(
    engine: Engine,
) -> None:
    with pytest.raises(InvalidAddress, match="not a valid address"), session_scope(engine) as s:
        queue_signup(s, "not an address", name=None, ip=None, max_queued=10)
    assert _count(engine, SignupRequest) == 0


def test_a_full_queue_refuses_the_next_post(engine: Engine) -> None:
    _queue(engine, "one@example.com", "two@example.com")
    with pytest.raises(SignupQueueFull), session_scope(engine, immediate=True) as session:
        queue_signup(session, "three@example.com", name=None, ip=None, max_queued=2)
    assert _count(engine, SignupRequest) == 2


def test_control_characters_in_a_name_are_gone_before_the_row_is_written(
    engine: Engine, settings: Settings
) -> None:
    """A NUL would abort the INSERT on PostgreSQL; CR/LF would reach a header."""
    _queue(engine, "nul@example.com", name="Ann\x00 Lee\r\nBcc: victim@example.com\x1b[2J")
    with session_scope(engine) as session:
        row = session.exec(select(SignupRequest)).one()
    assert row.name == "Ann Lee Bcc: victim@example.com"
    drain_signups(engine, settings, CountingOutbox(settings.outbox_dir))
    with session_scope(engine) as session:
        stored = find_subscriber(session, "nul@example.com")
    assert stored is not None
    assert stored.name == "Ann Lee Bcc: victim@example.com"


def test_two_dispatchers_share_the_queue_and_handle_each_post_once(
    engine: Engine, settings: Settings
) -> None:
    addresses = [f"reader{i}@example.com" for i in range(20)]
    _queue(engine, *addresses)
    backend = CountingOutbox(settings.outbox_dir)
    handled: list[int] = []
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            handled.append(drain_signups(engine, settings, backend))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(handled) == 20  # every row taken by exactly one of them
    assert sorted(r.email for r in backend.sent) == sorted(addresses)
    assert _count(engine, SignupRequest) == 0
    with session_scope(engine) as session:
        arrivals = session.exec(select(func.count()).select_from(StatusChange)).one()
    assert arrivals == 20


def test_a_post_that_cannot_be_handled_is_dropped_and_the_rest_go_on(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _queue(engine, "first@example.com", "broken@example.com", "last@example.com")
    with session_scope(engine, immediate=True) as session:  # written by an older validator
        session.add(SignupRequest(email="no address at all", name=None, ip=None))
    real_sign_up = signup.sign_up

    def failing_for_one(session, email, *args, **kwargs):  # type: ignore[no-untyped-def]
        if email == "broken@example.com":
            raise RuntimeError("a bug in handling this one row")
        return real_sign_up(session, email, *args, **kwargs)

    monkeypatch.setattr(signup_queue, "sign_up", failing_for_one)  # a bug, for one row
    backend = CountingOutbox(settings.outbox_dir)

    assert drain_signups(engine, settings, backend) == 3 + MAX_ATTEMPTS

    assert sorted(r.email for r in backend.sent) == ["first@example.com", "last@example.com"]
    assert _count(engine, SignupRequest) == 0
    with session_scope(engine) as session:
        assert find_subscriber(session, "broken@example.com") is None


def test_a_stop_request_leaves_the_rest_queued_for_the_next_start(
    engine: Engine, settings: Settings
) -> None:
    _queue(engine, "a@example.com", "b@example.com", "c@example.com")
    stop = threading.Event()

    class StopAfterOne(CountingOutbox):
        def send_batch(self, message: Message, recipients: Sequence[Recipient]) -> str:
            batch = super().send_batch(message, recipients)
            stop.set()
            return batch

    assert drain_signups(engine, settings, StopAfterOne(settings.outbox_dir), stop=stop) == 1
    assert _count(engine, SignupRequest) == 2
    later = CountingOutbox(settings.outbox_dir)
    assert drain_signups(engine, settings, later) == 2
    assert sorted(r.email for r in later.sent) == ["b@example.com", "c@example.com"]


class FailingOutbox(CountingOutbox):
    """A provider that is down: every confirmation fails, as a refused request would."""

    def send_batch(self, message: Message, recipients: Sequence[Recipient]) -> str:
        raise TransientFailure("provider down")


def test_a_confirmation_that_did_not_go_is_queued_again_and_sent_when_the_provider_is_back(
    engine: Engine, settings: Settings
) -> None:
    """A review found the request deleted before the send, the failure only logged, and
    nothing that would ever send the email: the person waited for ever."""
    _queue(engine, "reader@example.com")
    assert drain_signups(engine, settings, FailingOutbox(settings.outbox_dir)) == 1

    with session_scope(engine) as session:
        [waiting] = session.exec(select(SignupRequest)).all()
        assert waiting.attempts == 1
        assert waiting.not_before is not None
        assert waiting.not_before > utcnow()  # not at once: the provider needs time
        subscriber = find_subscriber(session, "reader@example.com")
        assert subscriber is not None
        assert subscriber.confirmation_sent_at is None  # never sent, as far as anyone knows
    working = CountingOutbox(settings.outbox_dir)
    assert drain_signups(engine, settings, working) == 0  # not due yet

    with session_scope(engine) as session:  # its pause is over
        waiting = session.exec(select(SignupRequest)).one()
        waiting.not_before = utcnow() - timedelta(seconds=1)
        session.add(waiting)
    assert drain_signups(engine, settings, working) == 1
    assert [r.email for r in working.sent] == ["reader@example.com"]
    with session_scope(engine) as session:
        assert queued(session) == 0


def _pauses_over(engine: Engine) -> None:
    with session_scope(engine) as session:
        for waiting in session.exec(select(SignupRequest)).all():
            waiting.not_before = None
            session.add(waiting)


def test_a_confirmation_is_given_up_after_its_tries_and_the_record_can_expire(
    engine: Engine, settings: Settings
) -> None:
    _queue(engine, "reader@example.com")
    failing = FailingOutbox(settings.outbox_dir)
    for _ in range(SEND_ATTEMPTS):
        _pauses_over(engine)
        assert drain_signups(engine, settings, failing) == 1
    assert _count(engine, SignupRequest) == 0
    with session_scope(engine) as session:
        subscriber = find_subscriber(session, "reader@example.com")
        assert subscriber is not None
        # marked with the last try: the form may ask again in ten minutes, and
        # housekeeping expires the record if nobody ever confirms it
        assert subscriber.confirmation_sent_at is not None
        subscriber.confirmation_sent_at = utcnow() - timedelta(minutes=11)
        session.add(subscriber)
    with session_scope(engine) as session:
        assert (
            expire_pending(
                session, older_than=timedelta(days=14), now=utcnow() + timedelta(days=15)
            ).removed
            == 1
        )
        session.rollback()
    _queue(engine, "reader@example.com")
    working = CountingOutbox(settings.outbox_dir)
    assert drain_signups(engine, settings, working) == 1
    assert [r.email for r in working.sent] == ["reader@example.com"]


def test_posts_during_an_outage_bring_one_email_when_it_ends(
    engine: Engine, settings: Settings
) -> None:
    """The ten-minute rule holds across retries: two posts a quarter of an hour apart
    during an outage queue two retries, and one email goes when the provider is back."""
    failing = FailingOutbox(settings.outbox_dir)
    _queue(engine, "reader@example.com")
    drain_signups(engine, settings, failing)
    _queue(engine, "reader@example.com")  # the form again: nothing sent yet, so it tries
    drain_signups(engine, settings, failing)
    with session_scope(engine) as session:
        assert len(session.exec(select(SignupRequest)).all()) == 2
    _pauses_over(engine)
    working = CountingOutbox(settings.outbox_dir)
    assert drain_signups(engine, settings, working) == 2
    assert [r.email for r in working.sent] == ["reader@example.com"]


def test_an_erased_address_leaves_no_retry_behind(engine: Engine, settings: Settings) -> None:
    _queue(engine, "gone@example.com")
    drain_signups(engine, settings, FailingOutbox(settings.outbox_dir))
    with session_scope(engine) as session:
        forget(session, "gone@example.com")
    assert _count(engine, SignupRequest) == 0  # the retry went with the record
    working = CountingOutbox(settings.outbox_dir)
    _pauses_over(engine)
    drain_signups(engine, settings, working)
    assert working.sent == []
    assert _count(engine, Subscriber) == 0
