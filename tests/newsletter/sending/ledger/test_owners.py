"""Owners and leases: only a provably gone sender's batches are reaped."""

from __future__ import annotations

import time

from sqlalchemy import Engine, text

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Issue
from newsletter.sending import send_issue
from newsletter.sending.ledger import (
    RecipientState,
    claim_batch,
    new_owner,
    reap_orphans,
    retire_owner,
    snapshot_audience,
)
from tests.newsletter.sending.test_sender import (
    add_subscribers,
    recipient_states,
)


def test_only_gone_senders_batches_are_declared_unknown(
    engine: Engine, send_settings: Settings, issue: Issue
) -> None:
    add_subscribers(engine, 30)
    issue_id = issue.id or 0
    with session_scope(engine, immediate=True) as session:
        session.connection().execute(
            text("UPDATE issue SET status = 'sending' WHERE id = :i"), {"i": issue_id}
        )
        snapshot_audience(session, issue_id, 10)
    live, elsewhere, gone = new_owner(), "another-host:4242:abc", new_owner()
    retire_owner(gone)  # a sender of this process that has finished (or died)
    now = time.time()
    for owner in (live, elsewhere, gone):
        with session_scope(engine, immediate=True) as session:
            assert claim_batch(session, issue_id, owner, now=now, lease=30, max_tries=5)

    with session_scope(engine, immediate=True) as session:
        first = reap_orphans(session, issue_id, now=now + 1)
    with session_scope(engine, immediate=True) as session:
        later = reap_orphans(session, issue_id, now=now + 31)  # every lease ran out

    assert first == [(3, 10)]
    assert sorted(later) == [(1, 10), (2, 10)]
    assert set(recipient_states(engine, issue).values()) == {RecipientState.UNKNOWN}
    retire_owner(live)


def test_the_outbox_writes_a_dead_senders_batches_again(
    engine: Engine, send_settings: Settings, issue: Issue
) -> None:
    """The outbox rewrites the same files, so a batch in flight when its sender died is
    written again rather than left `unknown`: on the embedded default nobody is skipped."""
    people = add_subscribers(engine, 30)
    issue_id = issue.id or 0
    with session_scope(engine, immediate=True) as session:
        session.connection().execute(
            text("UPDATE issue SET status = 'sending' WHERE id = :i"), {"i": issue_id}
        )
        snapshot_audience(session, issue_id, 10)
    gone = new_owner()
    retire_owner(gone)  # died with its batch in flight
    with session_scope(engine, immediate=True) as session:
        assert claim_batch(session, issue_id, gone, now=time.time(), lease=30, max_tries=5)

    report = send_issue(
        engine, issue.number, send_settings, OutboxBackend(send_settings.outbox_dir)
    )
    assert report.status == IssueStatus.SENT
    assert report.unknown == 0
    assert report.accepted == len(people.active_emails)
    written = sorted(p.name.split("-", 1)[1][:-4] for p in send_settings.outbox_dir.rglob("*.eml"))
    assert written == people.active_emails
