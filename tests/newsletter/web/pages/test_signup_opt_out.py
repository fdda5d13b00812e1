"""The form and an unsubscribed address, over HTTP: a stranger's post changes nothing; the
person gets a link, and only that link, used, brings them back."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
from sqlalchemy import Engine

from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.links.tokens import Signer
from newsletter.sending.confirm import confirm_by_link
from subscribers.models import Source, Status
from subscribers.service import add_subscriber, status_history, unsubscribe
from tests.newsletter.sending.mailbox import confirm_token, outbox
from tests.newsletter.web.helpers import subscriber_of, wait_for


def test_a_form_post_never_undoes_an_unsubscribe(
    http: httpx.Client, engine: Engine, settings: Settings
) -> None:
    signer = Signer(settings.secret())
    with session_scope(engine) as session:
        row = add_subscriber(
            session, "bo@example.com", source=Source.FORM, now=utcnow() - timedelta(days=2)
        )
        sid = row.id or 0
    old_link = signer.confirm_token(sid, now=time.time() - 86400)
    with session_scope(engine) as session:
        assert confirm_by_link(session, signer, old_link)
        # a second ago: a link of the opt-out's own second never counts
        earlier = utcnow() - timedelta(seconds=1)
        unsubscribe(session, sid, reason="one-click", source=Source.FORM, now=earlier)

    answer = http.post("/subscribe", data={"email": "bo@example.com", "name": "Claim a prize"})
    assert answer.status_code == 200
    wait_for(settings.outbox_dir, "*.eml")
    mail = outbox(settings.outbox_dir)
    assert list(mail) == ["bo@example.com"]

    after_post = subscriber_of(engine, "bo@example.com")
    assert after_post is not None
    assert (after_post.status, after_post.name) == (Status.UNSUBSCRIBED, None)
    with session_scope(engine) as session:
        assert len(status_history(session, sid)) == 3  # arrived, confirmed, unsubscribed
        assert not confirm_by_link(session, signer, old_link)  # still nothing
    with session_scope(engine) as session:
        assert confirm_by_link(session, signer, confirm_token(mail["bo@example.com"]))
    back = subscriber_of(engine, "bo@example.com")
    assert back is not None
    assert back.status == Status.ACTIVE
