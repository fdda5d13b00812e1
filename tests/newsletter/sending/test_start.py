"""Which statuses start, join or resume a send, which are refused, and the gate a start
passes (the approved snapshot, the editor's checks)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, text

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.devtools.standin import StandIn
from newsletter.publishing.gate import ChecksFailed, SnapshotChanged, ensure_fit_to_send
from newsletter.publishing.issues import approve_issue, get_issue, move_issue
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.publishing.models import Issue
from newsletter.sending import SendConflict, SendError, send_decision, send_issue
from newsletter.sending.ledger import IssueSend
from tests.newsletter.publishing.helpers import ERRORS, broken, stored, tamper
from tests.newsletter.sending.test_sender import (
    add_subscribers,
    sendgrid,
)


def test_which_statuses_may_be_sent(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    add_subscribers(engine, 5)
    for status in ("held", "cancelled"):
        with session_scope(engine) as session:
            session.connection().execute(
                text("UPDATE issue SET status = :s WHERE id = :i"), {"s": status, "i": issue.id}
            )
        with pytest.raises(SendError, match=f"is {status}"):
            send_issue(engine, issue.number, send_settings, sendgrid(standin))
    with session_scope(engine) as session:
        session.connection().execute(
            text("UPDATE issue SET status = 'draft' WHERE id = :i"), {"i": issue.id}
        )
        approve_issue(session, issue.number, send_settings)
    assert send_issue(engine, issue.number, send_settings, sendgrid(standin)).status == "sent"
    assert send_issue(engine, issue.number, send_settings, sendgrid(standin)).outcome == (
        "already sent"
    )
    assert standin.stats().requests == 1


def test_a_send_starts_only_with_the_approved_snapshot(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    """Approving records the snapshot's hash; a send whose stored snapshot is not that one
    (changed in SQL, `content_hash` left as it was) is refused and nobody gets it. The way
    out is explicit: unapprove, check, approve again."""
    add_subscribers(engine, 5)
    with session_scope(engine) as session:
        approve_issue(session, issue.number, send_settings)
    html = stored(engine, issue.number).html
    tamper(engine, issue.number, html=html.replace("</body>", "<p>Buy now!</p></body>"))

    with pytest.raises(SnapshotChanged) as refused:
        send_issue(engine, issue.number, send_settings, sendgrid(standin))

    assert f"issue #{issue.number} is not sent" in str(refused.value)
    assert f"`newsletter issue unapprove {issue.number}`" in str(refused.value)
    assert standin.stats().requests == 0
    assert stored(engine, issue.number).status == IssueStatus.APPROVED
    with session_scope(engine) as session:
        assert session.get(IssueSend, issue.id) is None  # no audience snapshotted either
        move_issue(session, issue.number, "unapprove")
        approve_issue(session, issue.number, send_settings)
    assert send_issue(engine, issue.number, send_settings, sendgrid(standin)).status == "sent"
    assert "Buy now!" in standin.rendered_for(standin.recipients()[0])[0][1]  # as approved


@pytest.mark.parametrize("kind", sorted(ERRORS))
def test_a_send_starts_only_when_the_checks_pass(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue, kind: str
) -> None:
    add_subscribers(engine, 5)
    tamper(engine, issue.number, **broken(kind, stored(engine, issue.number)))

    with pytest.raises(ChecksFailed) as refused:
        send_issue(engine, issue.number, send_settings, sendgrid(standin))

    assert ERRORS[kind] in str(refused.value)
    assert standin.stats().requests == 0
    assert stored(engine, issue.number).status == IssueStatus.DRAFT


def test_a_send_that_started_is_resumed_without_the_gate(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    """Part of the list has the issue already: what the checks say now cannot stop the
    rest from getting the same email. The gate is for starting."""
    people = add_subscribers(engine, 30)
    send_settings.send_concurrency = 1
    stop = threading.Event()
    paused = send_issue(
        engine,
        issue.number,
        send_settings,
        sendgrid(standin),
        on_progress=lambda _: stop.set(),
        stop=stop,
    )
    assert paused.status == IssueStatus.PAUSED
    send_settings.postal_address = ""  # a start would now be refused: no postal address
    with session_scope(engine) as session, pytest.raises(ChecksFailed, match="postal address"):
        ensure_fit_to_send(session, get_issue(session, issue.number), send_settings)

    resumed = send_issue(engine, issue.number, send_settings, sendgrid(standin))

    assert (resumed.outcome, resumed.status) == ("resumed", "sent")
    assert sorted(standin.recipients()) == people.active_emails


def test_a_start_needs_the_issue_a_person_confirmed(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    """What a person was shown (status and snapshot hash) goes with the send: a start on
    any other status or snapshot is refused and nothing is written; the same issue starts."""
    add_subscribers(engine, 5)
    with session_scope(engine) as session:
        shown = send_decision(session, issue.number).confirmed
        approve_issue(session, issue.number, send_settings)  # same text, another status
    with pytest.raises(SendConflict, match=r"^issue #1 changed since you confirmed; run the"):
        send_issue(engine, issue.number, send_settings, sendgrid(standin), expected=shown)
    with session_scope(engine) as session:
        move_issue(session, issue.number, "unapprove")
    tamper(engine, issue.number, subject="Verdicts #1: another subject")
    with pytest.raises(SendConflict, match="changed since you confirmed"):
        send_issue(engine, issue.number, send_settings, sendgrid(standin), expected=shown)
    assert standin.stats().requests == 0
    assert stored(engine, issue.number).status == IssueStatus.DRAFT
    with session_scope(engine) as session:
        assert session.get(IssueSend, issue.id) is None
        shown = send_decision(session, issue.number).confirmed

    report = send_issue(engine, issue.number, send_settings, sendgrid(standin), expected=shown)

    assert (report.outcome, report.status) == ("started", "sent")
