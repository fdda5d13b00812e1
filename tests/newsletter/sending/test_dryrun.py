"""The dry run: validated in the sandbox, nothing recorded."""

from __future__ import annotations

from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.devtools.standin import StandIn
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Issue
from newsletter.sending import issue_status, send_issue
from tests.newsletter.sending.test_sender import (
    add_subscribers,
    issue_row,
    recipient_states,
    sendgrid,
)


def test_dry_run_validates_in_sandbox_and_records_nothing(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    add_subscribers(engine, 25)

    report = send_issue(engine, issue.number, send_settings, sendgrid(standin), dry_run=True)

    assert report.dry_run
    assert (report.audience, report.sent_now, report.failed) == (25, 25, 0)
    stats = standin.stats()
    assert (stats.sandboxed_requests, stats.sandboxed_personalizations) == (3, 25)
    assert stats.accepted_requests == 0
    assert issue_row(engine, issue).status == IssueStatus.DRAFT
    assert recipient_states(engine, issue) == {}
    with session_scope(engine) as session:
        assert not issue_status(session, issue.number).started
