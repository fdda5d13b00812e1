"""An operator records consent a person gave them directly: pending or unsubscribed ->
active, the reason and the time on record; what it cannot mean is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from subscribers.consent import record_consent
from subscribers.errors import InvalidSubscriberInput, SubscriberNotFound, SubscriberRefused
from subscribers.models import Source, Status
from subscribers.service import add_subscriber
from subscribers.status import change_status
from tests.subscribers.helpers import T0, history_of, id_of
from tests.subscribers.opt_outs import DAY, status_of


@pytest.mark.parametrize("before", [Status.PENDING, Status.UNSUBSCRIBED])
def test_an_operator_records_consent_given_to_them(engine: Engine, before: Status) -> None:
    with session_scope(engine) as session:
        row = add_subscriber(session, "ada@example.com", source=Source.IMPORT, now=T0)
        if before == Status.UNSUBSCRIBED:
            change_status(session, row, before, reason="asked", source=Source.FORM, now=T0)
    with session_scope(engine) as session:
        row, changed = record_consent(
            session, "ADA@example.com", reason="  signed   form 12 ", now=T0 + DAY
        )
        assert changed
        assert row.status == Status.ACTIVE
        assert row.consent_at == row.confirmed_at == T0 + DAY
        assert row.consent_ip is None
        assert history_of(session, row)[-1] == (
            before.value,
            "active",
            "consent recorded by an operator: signed form 12",
        )
        assert row.source == Source.IMPORT  # how it arrived does not change
    with session_scope(engine) as session:
        again, changed = record_consent(session, id_of(row), reason="twice", now=T0 + 2 * DAY)
        assert not changed
        assert again.consent_at == T0 + DAY


def test_recording_consent_refuses_what_it_cannot_mean(engine: Engine) -> None:
    with session_scope(engine) as session:
        row = add_subscriber(session, "gone@example.com", source=Source.CLI, confirmed=True)
        change_status(session, row, Status.BOUNCED, reason="hard", source=Source.WEBHOOK)
        add_subscriber(session, "wait@example.com", source=Source.CLI)
    with session_scope(engine) as session:
        with pytest.raises(SubscriberRefused, match=r"^gone@example\.com is bounced: "):
            record_consent(session, "gone@example.com", reason="they said so")
        with pytest.raises(SubscriberNotFound):
            record_consent(session, "nobody@example.com", reason="they said so")
        with pytest.raises(InvalidSubscriberInput, match="needs a reason"):
            record_consent(session, "wait@example.com", reason=" \n ")
        with pytest.raises(InvalidSubscriberInput, match=r"too long \(501 characters, at most"):
            record_consent(session, "wait@example.com", reason="x" * 501)
    assert status_of(engine, "gone@example.com") == Status.BOUNCED
    assert status_of(engine, "wait@example.com") == Status.PENDING
