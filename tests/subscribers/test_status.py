"""Status changes: one function, a reason, a time and a history row for each; the
transitions that are refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from subscribers.errors import SubscriberError
from subscribers.models import (
    SUPPRESSED,
    Source,
    Status,
)
from subscribers.service import (
    add_subscriber,
    find_subscriber,
    status_history,
)
from subscribers.status import change_status
from tests.subscribers.helpers import T0, id_of


def test_change_status_records_the_reason_the_time_and_the_history(engine: Engine) -> None:
    with session_scope(engine) as session:
        ada = add_subscriber(session, "ada@example.com", source=Source.CLI, now=T0)
        later = T0 + timedelta(days=2)
        assert change_status(
            session, ada, Status.ACTIVE, reason="confirmed by email", source=Source.FORM, now=later
        )
        assert (ada.status, ada.status_reason, ada.status_changed_at, ada.confirmed_at) == (
            Status.ACTIVE,
            "confirmed by email",
            later,
            later,
        )
        # Already there: False, and nothing is written.
        assert not change_status(
            session, ada, Status.ACTIVE, reason="again", source=Source.FORM, now=later
        )
        for status, stamp in [
            (Status.UNSUBSCRIBED, "unsubscribed_at"),
            (Status.BOUNCED, "bounced_at"),
            (Status.COMPLAINED, "complained_at"),
        ]:
            later += timedelta(hours=1)
            assert change_status(
                session, ada, status, reason=f"to {status}", source=Source.CLI, now=later
            )
            assert getattr(ada, stamp) == later
    with session_scope(engine) as session:
        stored = find_subscriber(session, "ada@example.com")
        assert stored is not None
        assert stored.status == Status.COMPLAINED
        changes = status_history(session, id_of(stored))
        assert [(c.from_status, c.to_status, c.source) for c in changes] == [
            (None, "pending", "cli"),
            ("pending", "active", "form"),
            ("active", "unsubscribed", "cli"),
            ("unsubscribed", "bounced", "cli"),
            ("bounced", "complained", "cli"),
        ]
        assert changes[-1].at == T0 + timedelta(days=2, hours=3)


def test_every_transition_and_the_refused_ones(engine: Engine) -> None:
    """From every status to every other, by a program and by an operator: only leaving
    suppression without an operator is refused, and a refusal writes nothing."""
    with session_scope(engine) as session:
        for n, (start, target, source) in enumerate(
            (a, b, s)
            for a in Status
            for b in Status
            if a != b
            for s in (Source.WEBHOOK, Source.FORM, Source.IMPORT, Source.CLI, Source.API)
        ):
            row = add_subscriber(session, f"s{n}@example.com", source=Source.CLI)
            change_status(session, row, start, reason="setup", source=Source.CLI)
            before = len(status_history(session, id_of(row)))
            allowed = (
                start not in SUPPRESSED
                or target in SUPPRESSED
                or source in {Source.CLI, Source.API}
            )
            if allowed:
                assert change_status(session, row, target, reason="move", source=source)
                assert row.status == target
            else:
                with pytest.raises(SubscriberError, match="stays suppressed"):
                    change_status(session, row, target, reason="move", source=source)
                assert row.status == start
                assert len(status_history(session, id_of(row))) == before


def test_a_status_change_needs_a_reason(engine: Engine) -> None:
    with session_scope(engine) as session:
        row = add_subscriber(session, "x@example.com", source=Source.CLI)
        change_status(session, row, Status.BOUNCED, reason="hard bounce", source=Source.WEBHOOK)
        with pytest.raises(SubscriberError, match="needs a reason"):
            change_status(session, row, Status.ACTIVE, reason="  ", source=Source.CLI)
        with pytest.raises(SubscriberError, match="too long"):
            change_status(session, row, Status.ACTIVE, reason="x" * 501, source=Source.CLI)
        with pytest.raises(SubscriberError, match="unknown status 'gone'"):
            change_status(session, row, "gone", reason="x", source=Source.CLI)  # type: ignore[arg-type]
        assert row.status == Status.BOUNCED
