"""`confirm-pending`'s business: pending addresses an operator or an import brought get the
confirmation email once per link lifetime; the form's sign-ups and every address that once
opted out are left alone. Real outbox files, real tokens, both databases."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine

from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.devtools.standin import StandIn
from newsletter.links.tokens import Signer
from newsletter.sending.confirm import confirm_by_link
from newsletter.sending.reconfirm import ReconfirmReport, send_pending_confirmations
from subscribers.models import Source, Status
from subscribers.service import (
    add_subscriber,
    find_subscriber,
    request_subscription,
    set_status,
    unsubscribe,
)
from tests.newsletter.sending.mailbox import confirm_token, outbox
from tests.newsletter.sending.test_sender import sendgrid

DAY = timedelta(days=1)


def status_of(engine: Engine, address: str) -> tuple[str, datetime | None]:
    with session_scope(engine) as session:
        row = find_subscriber(session, address)
        assert row is not None
        return row.status, row.confirmation_sent_at


def test_pending_addresses_nobody_asked_get_one_confirmation(
    engine: Engine, settings: Settings
) -> None:
    now = utcnow()
    with session_scope(engine, immediate=True) as session:
        add_subscriber(session, "op@example.com", name="Op Name", source=Source.CLI, now=now - DAY)
        add_subscriber(session, "imp@example.com", source=Source.IMPORT, now=now - DAY)
        expired = add_subscriber(session, "api@example.com", source=Source.API, now=now - 9 * DAY)
        expired.confirmation_sent_at = now - 8 * DAY  # that link is dead
        recent = add_subscriber(session, "recent@example.com", source=Source.CLI, now=now - DAY)
        recent.confirmation_sent_at = now - DAY  # that link still works
        request_subscription(session, "form@example.com", name=None, ip=None, now=now - 8 * DAY)
        add_subscriber(session, "active@example.com", source=Source.CLI, confirmed=True)
        out = add_subscriber(session, "out@example.com", source=Source.CLI, confirmed=True)
        unsubscribe(session, out.id or 0, reason="one-click", source=Source.FORM, now=now - DAY)
        set_status(session, "out@example.com", Status.PENDING, reason="?", source=Source.CLI)

    report = send_pending_confirmations(engine, settings, OutboxBackend(settings.outbox_dir))

    asked = {"op@example.com", "imp@example.com", "api@example.com"}
    assert report == ReconfirmReport(sent=3, failed=[], held_back=1)
    mail = outbox(settings.outbox_dir)
    assert set(mail) == asked
    assert "Op Name" not in mail["op@example.com"]  # only the address goes into the email
    for address in asked:
        status, sent = status_of(engine, address)
        assert status == Status.PENDING
        assert sent is not None
        assert sent >= now
    assert status_of(engine, "recent@example.com")[1] == now - DAY
    # A second run finds nobody: every link sent is still alive.
    assert send_pending_confirmations(engine, settings, OutboxBackend(settings.outbox_dir)) == (
        ReconfirmReport(sent=0, failed=[], held_back=1)
    )
    assert len(list(settings.outbox_dir.rglob("*.eml"))) == 3
    # The link works, for that address.
    signer = Signer(settings.secret())
    with session_scope(engine, immediate=True) as session:
        assert confirm_by_link(session, signer, confirm_token(mail["imp@example.com"]))
    assert status_of(engine, "imp@example.com")[0] == Status.ACTIVE
    assert status_of(engine, "out@example.com")[0] == Status.PENDING  # never asked


def test_an_email_the_provider_refuses_is_asked_again_next_time(
    engine: Engine, settings: Settings, standin: StandIn
) -> None:
    with session_scope(engine) as session:
        for i in range(3):
            add_subscriber(session, f"p{i}@example.com", source=Source.CLI)
    standin.inject("error", count=1, status=500)  # the first request fails, the others go

    report = send_pending_confirmations(engine, settings, sendgrid(standin))

    assert (report.sent, report.failed) == (2, ["p0@example.com"])
    assert status_of(engine, "p0@example.com") == (Status.PENDING, None)
    assert status_of(engine, "p1@example.com")[1] is not None
    again = send_pending_confirmations(engine, settings, sendgrid(standin))
    assert (again.sent, again.failed) == (1, [])
    assert sorted(standin.recipients()) == [f"p{i}@example.com" for i in range(3)]
