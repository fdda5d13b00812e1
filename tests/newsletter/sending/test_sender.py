"""Sending an issue through the ledger to the SendGrid stand-in, with the real `sendgrid`
package on loopback: who gets it (each active subscriber once, nobody else), what each
one's copy holds, and what every kind of answer does to the send."""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import insert

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.delivery.providers.sendgrid.backend import SendGridBackend
from newsletter.devtools.standin import StandIn
from newsletter.links.tokens import Purpose, Signer
from newsletter.publishing.content import load_content
from newsletter.publishing.issues import build_issue
from newsletter.publishing.lifecycle import IssueStatus, PauseCause
from newsletter.publishing.models import Issue
from newsletter.sending import (
    SendError,
    SendProgress,
    SendReport,
    issue_status,
    send_issue,
)
from newsletter.sending import test_send as send_a_test  # named so pytest does not collect it
from newsletter.sending.ledger import (
    BatchState,
    RecipientState,
)
from subscribers.models import Subscriber
from tests.factories import comparison, tool, write_content

KEY = "test-key"
TOKEN = re.compile(r"/(unsubscribe|vote)/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")
VOTE_CHOICE = re.compile(r"/vote/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/(\d+)/(\d+)")


def sendgrid(standin: StandIn, *, key: str = KEY, timeout: float = 5) -> SendGridBackend:
    return SendGridBackend(key, standin.url, timeout)


def build(engine: Engine, settings: Settings, root: Path) -> Issue:
    """A three-comparison issue (six vote links per subscriber)."""
    items = [
        comparison(
            f"c{i}",
            "2026-11-24",
            tools=[tool(f"t{i}-a"), tool(f"t{i}-b")],
        )
        for i in range(3)
    ]
    write_content(root, items)
    settings.comparisons_per_issue = 3
    with session_scope(engine) as session:
        load_content(session, root)
    with session_scope(engine) as session:
        return build_issue(session, "2026-W48", settings).issue


@dataclass
class People:
    active: dict[int, str]  # id -> email
    inactive: dict[int, str]

    @property
    def active_emails(self) -> list[str]:
        return sorted(self.active.values())


def add_subscribers(engine: Engine, active: int, *, inactive_every: int = 7) -> People:
    """`active` active subscribers, with a pending/unsubscribed/bounced/complained one
    every `inactive_every` rows so that every batch mixes them."""
    others = ["pending", "unsubscribed", "bounced", "complained"]
    rows = []
    made = 0
    i = 0
    while made < active:
        if i % inactive_every == inactive_every - 1:
            status = others[(i // inactive_every) % len(others)]
        else:
            status = "active"
            made += 1
        rows.append(
            {"email": f"reader{i:05d}@example.com", "name": f"Reader {i}", "status": status}
        )
        i += 1
    with session_scope(engine) as session:
        session.exec(insert(Subscriber), params=rows)
    with session_scope(engine) as session:
        found = session.connection().execute(text("SELECT id, email, status FROM subscriber"))
        people = People({}, {})
        for sid, email, status in found:
            (people.active if status == "active" else people.inactive)[sid] = email
    return people


def set_status(engine: Engine, subscriber_id: int, status: str) -> None:
    with session_scope(engine) as session:
        session.connection().execute(
            text("UPDATE subscriber SET status = :s WHERE id = :i"),
            {"s": status, "i": subscriber_id},
        )


def recipient_states(engine: Engine, issue: Issue) -> dict[int, str]:
    with session_scope(engine) as session:
        rows = session.connection().execute(
            text("SELECT subscriber_id, state FROM send_recipient WHERE issue_id = :i"),
            {"i": issue.id},
        )
        return {sid: state for sid, state in rows}


def issue_row(engine: Engine, issue: Issue) -> Issue:
    with session_scope(engine) as session:
        found = session.get(Issue, issue.id)
        assert found is not None
        return found


def assert_each_once(standin: StandIn, emails: list[str]) -> None:
    got = standin.recipients()
    assert len(got) == len(set(got)), "somebody got the issue twice"
    assert sorted(got) == sorted(emails)


# --------------------------------------------------------------------- who and what


def test_every_active_subscriber_gets_their_own_copy_once(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    people = add_subscribers(engine, 45)
    progress: list[SendProgress] = []

    report = send_issue(
        engine, issue.number, send_settings, sendgrid(standin), on_progress=progress.append
    )

    assert (report.outcome, report.status, report.status_reason) == ("started", "sent", None)
    assert (report.audience, report.accepted, report.unknown, report.failed) == (45, 45, 0, 0)
    assert progress[-1].settled == 45
    assert_each_once(standin, people.active_emails)
    assert not set(standin.recipients()) & set(people.inactive.values())
    assert set(recipient_states(engine, issue).values()) == {RecipientState.ACCEPTED}
    with session_scope(engine) as session:
        sizes = session.connection().execute(
            text("SELECT size FROM send_batch WHERE issue_id = :i ORDER BY seq"), {"i": issue.id}
        )
        assert [size for (size,) in sizes] == [10, 10, 10, 10, 5]  # in subscriber order

    signer = Signer(send_settings.secret())
    for request in standin.requests:
        assert request.subject == issue.subject
        assert request.categories == ("issue", f"issue-{issue.number}")
        assert len(request.personalizations) <= send_settings.batch_size
    for sid, email in people.active.items():
        [(request, p)] = standin.deliveries_for(email)
        assert p.custom_args["subscriber"] == str(sid)
        assert p.custom_args["issue"] == str(issue.number)
        assert p.custom_args["batch"].isdigit()
        assert p.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert p.headers["List-Id"].endswith(f"<{send_settings.list_id}>")
        unsubscribe = p.headers["List-Unsubscribe"].strip("<>")
        assert unsubscribe.startswith(f"{send_settings.site_url}/unsubscribe/")
        [(text_part, html_part)] = standin.rendered_for(email)
        for part in (text_part, html_part):
            assert "%%" not in part
            assert unsubscribe in part
            assert f"{send_settings.site_url}/issues/{issue.number}" in part
            links = TOKEN.findall(part)
            assert len(set(VOTE_CHOICE.findall(part))) == 6  # one per tool per comparison
            for _, token in links:  # every link in the copy is this subscriber's, one token
                assert signer.verify(Purpose.RECIPIENT, token) == (sid, issue.id)


def test_outbox_goes_through_the_same_ledger(
    engine: Engine, send_settings: Settings, issue: Issue
) -> None:
    people = add_subscribers(engine, 12)
    backend = OutboxBackend(send_settings.outbox_dir)

    first = send_issue(engine, issue.number, send_settings, backend)
    files = sorted((send_settings.outbox_dir / f"issue-{issue.number}").glob("*.eml"))
    again = send_issue(engine, issue.number, send_settings, backend)

    assert (first.status, first.accepted) == ("sent", 12)
    assert len(files) == len(people.active)
    assert again.outcome == "already sent"
    assert again.sent_now == 0


def test_an_unsubscribe_during_the_send_is_skipped(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    people = add_subscribers(engine, 40)
    send_settings.send_concurrency = 1
    last_two = sorted(people.active)[-2:]
    done = threading.Event()

    def leave_after_the_first_batch(_progress: SendProgress) -> None:
        if not done.is_set():
            done.set()
            set_status(engine, last_two[0], "unsubscribed")
            set_status(engine, last_two[1], "bounced")

    report = send_issue(
        engine,
        issue.number,
        send_settings,
        sendgrid(standin),
        on_progress=leave_after_the_first_batch,
    )

    stayed = [e for sid, e in people.active.items() if sid not in last_two]
    assert_each_once(standin, stayed)
    assert (report.status, report.accepted, report.skipped) == ("sent", 38, 2)
    states = recipient_states(engine, issue)
    assert [states[sid] for sid in last_two] == ["skipped", "skipped"]


def test_a_batch_whose_recipients_all_left_is_skipped(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    people = add_subscribers(engine, 5, inactive_every=1000)
    send_settings.batch_size = 3
    send_settings.send_concurrency = 1
    stopped = send_issue(engine, issue.number, send_settings, sendgrid(standin, key="wrong"))
    assert stopped.status == IssueStatus.PAUSED  # the audience is snapshotted, nobody sent
    for sid in sorted(people.active)[:3]:  # the whole first batch leaves the list
        set_status(engine, sid, "complained")

    report = send_issue(engine, issue.number, send_settings, sendgrid(standin))

    assert (report.status, report.accepted, report.skipped) == ("sent", 2, 3)
    assert standin.stats().accepted_requests == 1
    with session_scope(engine) as session:
        counts = issue_status(session, issue.number)
    assert (counts.batch_count(BatchState.SKIPPED), counts.batch_count(BatchState.ACCEPTED)) == (
        1,
        1,
    )


# ----------------------------------------------------------------- answers and faults


@pytest.mark.parametrize("with_headers", [True, False], ids=["reset-header", "no-headers"])
def test_rate_limit_waits_then_retries(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue, with_headers: bool
) -> None:
    people = add_subscribers(engine, 30)
    send_settings.send_retry_max = 5
    standin.inject("rate_limit", count=2, reset_in=2, headers=with_headers)

    report = send_issue(engine, issue.number, send_settings, sendgrid(standin))

    assert (report.status, report.accepted, report.retried) == ("sent", 30, 2)
    assert_each_once(standin, people.active_emails)
    if with_headers:  # X-RateLimit-Reset is 1 to 2 s ahead: everyone waited for it
        assert report.elapsed >= 0.9
    else:
        assert report.elapsed < 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue, status: int
) -> None:
    people = add_subscribers(engine, 30)
    standin.inject("error", count=2, status=status)

    report = send_issue(engine, issue.number, send_settings, sendgrid(standin))

    assert (report.status, report.retried) == ("sent", 2)
    assert_each_once(standin, people.active_emails)


def test_retries_are_bounded_then_the_send_pauses_and_resumes(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    people = add_subscribers(engine, 25)
    send_settings.send_max_attempts = 2
    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    refused = SendGridBackend(KEY, closed, 5)

    paused = send_issue(engine, issue.number, send_settings, refused)

    assert paused.status == IssueStatus.PAUSED
    assert issue_row(engine, issue).pause_cause == PauseCause.RETRIES_EXHAUSTED
    assert paused.status_reason is not None
    assert "could not be sent after 2 attempts" in paused.status_reason
    assert "could not connect" in paused.status_reason
    assert paused.accepted == 0
    assert paused.queued == 25

    resumed = send_issue(engine, issue.number, send_settings, sendgrid(standin))

    assert (resumed.outcome, resumed.status, resumed.accepted) == ("resumed", "sent", 25)
    assert_each_once(standin, people.active_emails)


def test_bad_request_fails_that_batch_only_and_is_never_resent(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    add_subscribers(engine, 30)
    send_settings.send_concurrency = 1
    standin.inject("error", status=400, message="The content value must be a string")

    report = send_issue(engine, issue.number, send_settings, sendgrid(standin))

    assert (report.status, report.accepted, report.failed) == ("sent", 20, 10)
    [failed] = report.failed_batches
    assert failed.error is not None
    assert "400" in failed.error
    assert "The content value must be a string" in failed.error
    assert report.status_reason is not None
    assert "1 batch(es), 10 recipient(s) failed" in report.status_reason
    again = send_issue(engine, issue.number, send_settings, sendgrid(standin))
    assert again.outcome == "already sent"
    assert len(standin.recipients()) == 20


@pytest.mark.parametrize("status", [401, 403])
def test_refused_key_or_sender_stops_the_whole_send(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue, status: int
) -> None:
    people = add_subscribers(engine, 60)
    if status == 401:
        backend = sendgrid(standin, key="wrong-key")
    else:
        backend = sendgrid(standin)
        standin.set_default_fault("error", status=403)

    stopped = send_issue(engine, issue.number, send_settings, backend)

    assert stopped.status == IssueStatus.PAUSED
    assert issue_row(engine, issue).pause_cause == PauseCause.REFUSED
    assert stopped.status_reason is not None
    assert f"SendGrid answered {status}" in stopped.status_reason
    assert standin.stats().requests <= send_settings.send_concurrency  # not the whole list
    assert stopped.failed == 0  # nobody is lost: their batches wait for the next run

    standin.clear_faults()
    resumed = send_issue(engine, issue.number, send_settings, sendgrid(standin))

    assert (resumed.outcome, resumed.status, resumed.accepted) == ("resumed", "sent", 60)
    assert_each_once(standin, people.active_emails)
    assert issue_row(engine, issue).pause_cause is None  # every move but a pause clears it


def _wait_for_acceptances(standin: StandIn, count: int) -> None:
    deadline = time.monotonic() + 5
    while standin.stats().accepted_requests < count and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.parametrize("fault", ["timeout", "drop"])
def test_ambiguous_answers_become_unknown_and_are_never_resent(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue, fault: str
) -> None:
    people = add_subscribers(engine, 30)
    if fault == "timeout":
        standin.inject("slow", seconds=3.0)  # margins wide enough for a loaded 2-core CI
        backend = sendgrid(standin, timeout=1.5)
    else:
        standin.inject("drop")
        backend = sendgrid(standin)

    report = send_issue(engine, issue.number, send_settings, backend)

    assert (report.status, report.accepted, report.unknown) == ("sent", 20, 10)
    [note] = report.unknown_batches
    assert note.size == 10
    assert report.status_reason is not None
    assert "1 batch(es), 10 recipient(s) unknown" in report.status_reason
    _wait_for_acceptances(standin, 3)  # SendGrid (the stand-in) did take it
    assert_each_once(standin, people.active_emails)

    again = send_issue(engine, issue.number, send_settings, sendgrid(standin))

    assert again.outcome == "already sent"
    assert again.unknown == 10
    assert_each_once(standin, people.active_emails)
    with session_scope(engine) as session:
        counts = issue_status(session, issue.number)
    assert counts.batch_count(BatchState.UNKNOWN) == 1
    assert [n.seq for n in counts.unknown_batches] == [note.seq]


# --------------------------------------------------------------- statuses and limits


def test_batches_above_1000_are_refused_before_anything_happens(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    add_subscribers(engine, 5)
    send_settings.batch_size = 1001

    with pytest.raises(SendError, match="at most 1000"):
        send_issue(engine, issue.number, send_settings, sendgrid(standin))

    assert issue_row(engine, issue).status == IssueStatus.DRAFT
    assert standin.stats().requests == 0


def test_a_backend_without_a_batch_limit_takes_larger_batches(
    engine: Engine, send_settings: Settings, issue: Issue
) -> None:
    add_subscribers(engine, 5)
    send_settings.batch_size = 5000

    report = send_issue(
        engine, issue.number, send_settings, OutboxBackend(send_settings.outbox_dir)
    )

    assert (report.status, report.accepted) == ("sent", 5)
    assert len(list(send_settings.outbox_dir.rglob("*.eml"))) == 5


def test_an_issue_without_a_snapshot_is_refused(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    add_subscribers(engine, 5)
    with session_scope(engine) as session:
        session.connection().execute(
            text("UPDATE issue SET text = '' WHERE id = :i"), {"i": issue.id}
        )

    with pytest.raises(SendError, match="no rendered snapshot"):
        send_issue(engine, issue.number, send_settings, sendgrid(standin))

    assert issue_row(engine, issue).status == IssueStatus.DRAFT
    assert standin.stats().requests == 0


# ------------------------------------------------------------ several senders at once


def test_two_senders_at_once_send_nobody_twice(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    people = add_subscribers(engine, 200)
    standin.set_default_fault("slow", seconds=0.05)
    start = threading.Barrier(2)
    reports: list[SendReport] = []
    errors: list[BaseException] = []

    def one_sender() -> None:
        try:
            start.wait()
            reports.append(send_issue(engine, issue.number, send_settings, sendgrid(standin)))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=one_sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sorted(r.outcome for r in reports) == ["joined", "started"]
    assert all(r.sent_now > 0 for r in reports)  # they shared the batches
    assert sum(r.sent_now for r in reports) == 200
    assert all(r.status == IssueStatus.SENT for r in reports)
    assert_each_once(standin, people.active_emails)


# -------------------------------------------------------------------- the test send


def test_test_send_goes_to_one_address_outside_the_ledger(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    people = add_subscribers(engine, 8)
    backend = sendgrid(standin)

    with session_scope(engine) as session:
        message_id = send_a_test(
            session, issue.number, " Editor@Example.com", send_settings, backend
        )

    assert message_id
    [(request, p)] = standin.deliveries_for("editor@example.com")
    assert request.subject == f"[TEST] {issue.subject}"
    assert "test" in request.categories
    assert p.custom_args["test"] == "1"
    assert recipient_states(engine, issue) == {}
    assert issue_row(engine, issue).status == IssueStatus.DRAFT

    suppressed = next(iter(people.inactive))
    set_status(engine, suppressed, "bounced")
    with session_scope(engine) as session, pytest.raises(SendError, match="never emailed"):
        send_a_test(session, issue.number, people.inactive[suppressed], send_settings, backend)
    with session_scope(engine) as session, pytest.raises(SendError, match="not a valid address"):
        send_a_test(session, issue.number, "nobody", send_settings, backend)
    assert len(standin.recipients()) == 1


def test_a_stop_request_pauses_between_batches_and_the_send_resumes(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    people = add_subscribers(engine, 60)
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
    assert paused.status_reason == "stopped: the sender was asked to stop; send again to resume"
    assert issue_row(engine, issue).pause_cause == PauseCause.STOP_REQUESTED
    assert 0 < paused.accepted < 60
    assert paused.unknown == 0  # the batch in flight was answered and recorded first

    resumed = send_issue(engine, issue.number, send_settings, sendgrid(standin))

    assert (resumed.outcome, resumed.status, resumed.accepted) == ("resumed", "sent", 60)
    assert_each_once(standin, people.active_emails)
