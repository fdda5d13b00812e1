"""Unknown recipients: listed once `settle_after` has passed with no event heard, and re-sent
(through the SendGrid stand-in, with the real `sendgrid` package) exactly once, whatever
runs twice or dies half-way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.devtools.standin import StandIn
from newsletter.publishing.models import Issue
from newsletter.sending import SendConflict, send_issue
from newsletter.sending.ledger import (
    BatchState,
    RecipientState,
    new_owner,
    retire_owner,
)
from newsletter.tracking.models import RecipientActivity
from newsletter.tracking.unknown import (
    mark_batch,
    resend_unknown,
    unsettled,
    unsettled_summary,
)
from tests.newsletter.sending.test_sender import (
    KEY,
    add_subscribers,
    build,
    issue_row,
    recipient_states,
    sendgrid,
    set_status,
)

CLI = [sys.executable, "-c", "from newsletter.cli.main import main; main()"]


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(api_keys=[KEY]) as running:
        yield running


@pytest.fixture
def send_settings(settings: Settings) -> Settings:
    settings.sendgrid_api_key = KEY
    settings.batch_size = 10
    settings.send_concurrency = 1  # batches go in order: the second request is the lost one
    settings.send_retry_base = 0.01
    settings.send_retry_max = 0.05
    return settings


@pytest.fixture
def issue(engine: Engine, send_settings: Settings, tmp_path: Path) -> Issue:
    return build(engine, send_settings, tmp_path / "content")


@pytest.fixture
def lost(engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue) -> dict[int, str]:
    """30 subscribers in three batches; the second request is read and dropped unanswered
    before SendGrid takes it, so its ten recipients are `unknown` and got nothing.
    Their ids and addresses."""
    people = add_subscribers(engine, 30, inactive_every=1000)
    standin.inject("slow", seconds=0)  # the first request: answered as usual
    standin.inject("drop_before")
    report = send_issue(engine, issue.number, send_settings, sendgrid(standin))
    assert (report.status, report.accepted, report.unknown) == ("sent", 20, 10)
    states = recipient_states(engine, issue)
    ids = sorted(sid for sid, state in states.items() if state == RecipientState.UNKNOWN)
    assert len(ids) == 10
    assert not set(standin.recipients()) & {people.active[sid] for sid in ids}
    return {sid: people.active[sid] for sid in ids}


def age(engine: Engine, issue: Issue, settings: Settings) -> None:
    """Let `settle_after` pass for the unknown batches (their end moved back that far)."""
    when = utcnow() - settings.settle_after - timedelta(minutes=1)
    with session_scope(engine) as session:
        session.connection().execute(
            text("UPDATE send_batch SET finished_at = :t WHERE issue_id = :i AND state = :s"),
            {"t": when, "i": issue.id, "s": BatchState.UNKNOWN.value},
        )


@pytest.fixture
def aged(
    engine: Engine, send_settings: Settings, issue: Issue, lost: dict[int, str]
) -> dict[int, str]:
    """The lost recipients, `settle_after` later with no event heard."""
    age(engine, issue, send_settings)
    return lost


def heard(engine: Engine, issue: Issue, subscriber_id: int) -> None:
    """An event arrived for this recipient (the tracking tables have a row for them)."""
    assert issue.id is not None
    with session_scope(engine) as session:
        session.add(RecipientActivity(issue_id=issue.id, subscriber_id=subscriber_id))


def batch_states(engine: Engine, issue: Issue) -> dict[int, tuple[str, int, str | None]]:
    with session_scope(engine) as session:
        rows = session.connection().execute(
            text("SELECT seq, state, size, owner FROM send_batch WHERE issue_id = :i"),
            {"i": issue.id},
        )
        return {seq: (state, size, owner) for seq, state, size, owner in rows}


def deliveries(standin: StandIn) -> dict[str, int]:
    got: dict[str, int] = {}
    for email in standin.recipients():
        got[email] = got.get(email, 0) + 1
    return got


# ------------------------------------------------------------------------------ listed


def listed(engine: Engine, issue: Issue, settings: Settings, **at: datetime) -> list[int]:
    with session_scope(engine) as session:
        found = unsettled(
            session, issue.number, settle_after=settings.settle_after, now=at.get("now", utcnow())
        )
    return [u.subscriber_id for u in found]


def test_unknown_recipients_are_listed_only_after_settle_after_and_without_events(
    engine: Engine, send_settings: Settings, issue: Issue, lost: dict[int, str]
) -> None:
    ids = list(lost)
    assert listed(engine, issue, send_settings) == []  # the batch ended a moment ago
    assert listed(engine, issue, send_settings, now=utcnow() + timedelta(hours=2, minutes=1))
    age(engine, issue, send_settings)
    with session_scope(engine) as session:
        found = unsettled(
            session, issue.number, settle_after=send_settings.settle_after, now=utcnow()
        )
    assert [u.subscriber_id for u in found] == ids
    assert [u.email for u in found] == [lost[sid] for sid in ids]

    heard(engine, issue, ids[0])  # an event: SendGrid has their copy
    set_status(engine, ids[1], "unsubscribed")  # left the list: never sent anything again
    with session_scope(engine) as session:
        summary = unsettled_summary(
            session, issue.number, settle_after=send_settings.settle_after, now=utcnow(), shown=3
        )
    assert listed(engine, issue, send_settings) == ids[2:]
    assert (summary.count, summary.first) == (8, [lost[sid] for sid in ids[2:5]])


# ------------------------------------------------------------------------------ re-sent


def test_resend_sends_exactly_the_unsettled_once_and_restates_the_issue(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue, aged: dict[int, str]
) -> None:
    ids = list(aged)
    heard(engine, issue, ids[0])
    before = deliveries(standin)
    assert "unknown" in (issue_row(engine, issue).status_reason or "")

    report = resend_unknown(engine, issue.number, send_settings, sendgrid(standin))

    assert (report.chosen, report.marked, report.accepted, report.failed) == (9, 9, 9, 0)
    got = deliveries(standin)
    resent = {e: n - before.get(e, 0) for e, n in got.items() if n != before.get(e, 0)}
    assert resent == {aged[sid]: 1 for sid in ids[1:]}  # the one heard of was not re-sent
    states = recipient_states(engine, issue)
    assert states[ids[0]] == RecipientState.UNKNOWN  # settling it is the webhook's business
    assert {states[sid] for sid in ids[1:]} == {RecipientState.ACCEPTED}
    [seq] = report.batches
    assert batch_states(engine, issue)[seq][:2] == (BatchState.ACCEPTED, 9)
    for sid in ids[1:]:
        [(_, p)] = standin.deliveries_for(aged[sid])
        assert p.custom_args["batch"] == str(seq)  # its events find the new batch
    row = issue_row(engine, issue)
    assert report.status == row.status == "sent"
    assert row.status_reason is not None
    assert "1 batch(es), 1 recipient(s) unknown" in row.status_reason

    again = resend_unknown(engine, issue.number, send_settings, sendgrid(standin))

    assert (again.chosen, again.marked, again.batches) == (0, 0, [])
    assert deliveries(standin) == got


def test_a_second_run_with_the_same_list_sends_nobody_twice(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue, aged: dict[int, str]
) -> None:
    """Two operators confirmed the same list: the second run finds them moved already."""
    ids = list(aged)
    resend_unknown(engine, issue.number, send_settings, sendgrid(standin), subscribers=ids)
    once = deliveries(standin)

    again = resend_unknown(engine, issue.number, send_settings, sendgrid(standin), subscribers=ids)

    assert (again.chosen, again.marked) == (10, 0)
    assert deliveries(standin) == once
    assert all(once[aged[sid]] == 1 for sid in ids)


def test_a_crash_between_the_mark_and_the_request_never_sends_again_at_once(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue, aged: dict[int, str]
) -> None:
    """The mark is committed, then the process dies: its batch may or may not have gone.
    The next run declares it unknown again (ended now) and sends it nothing; its recipients
    are offered again only once `settle_after` has passed without an event."""
    ids = list(aged)
    assert issue.id is not None
    owner = new_owner()
    with session_scope(engine, immediate=True) as session:
        marked = mark_batch(
            session,
            issue.id,
            ids[:4],
            owner,
            settle_after=send_settings.settle_after,
            now=utcnow(),
            lease=60,
        )
    assert marked is not None
    seq, count = marked
    assert count == 4
    assert batch_states(engine, issue)[seq] == (BatchState.IN_FLIGHT, 4, owner)
    assert listed(engine, issue, send_settings) == ids[4:]
    retire_owner(owner)  # the process that marked them is gone
    requests = standin.stats().requests

    report = resend_unknown(engine, issue.number, send_settings, sendgrid(standin))

    assert report.reaped == 4
    assert batch_states(engine, issue)[seq][0] == BatchState.UNKNOWN
    assert (report.chosen, report.accepted) == (6, 6)  # the six never marked
    assert standin.stats().requests == requests + 1
    assert not {aged[sid] for sid in ids[:4]} & set(standin.recipients())

    third = resend_unknown(engine, issue.number, send_settings, sendgrid(standin))

    assert (third.chosen, third.reaped) == (0, 0)
    assert standin.stats().requests == requests + 1
    much_later = utcnow() + send_settings.settle_after + timedelta(minutes=1)
    assert listed(engine, issue, send_settings, now=much_later) == ids[:4]


def test_kill_9_while_the_resend_is_in_flight_never_sends_it_twice(
    engine: Engine,
    send_settings: Settings,
    standin: StandIn,
    issue: Issue,
    aged: dict[int, str],
    tmp_path: Path,
) -> None:
    """`newsletter issue resend-unknown` in a subprocess, killed with -9 while SendGrid (the
    stand-in, answering slowly) holds its request: the next run finds the batch in flight
    under a dead owner, declares it unknown and sends nothing; each recipient has one copy."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    environ.update(
        NEWSLETTER_DATABASE_URL=send_settings.database_url,
        NEWSLETTER_SECRET_KEY=send_settings.secret_key,
        NEWSLETTER_SITE_URL=send_settings.site_url,
        NEWSLETTER_POSTAL_ADDRESS=send_settings.postal_address,
        NEWSLETTER_BACKEND="sendgrid",
        NEWSLETTER_SENDGRID_HOST=standin.url,
        SENDGRID_API_KEY=KEY,
        NEWSLETTER_BATCH_SIZE="10",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    requests = standin.stats().requests
    standin.inject("slow", seconds=2.0)
    resender = subprocess.Popen(
        [*CLI, "issue", "resend-unknown", str(issue.number), "--yes"],
        env=environ,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while standin.stats().requests == requests and time.monotonic() < deadline:
        assert resender.poll() is None, resender.communicate()
        time.sleep(0.01)
    resender.send_signal(signal.SIGKILL)
    resender.communicate(timeout=30)  # and reaped: a zombie would look alive
    [(seq, (_, size, _))] = [
        (seq, row) for seq, row in batch_states(engine, issue).items() if row[0] == "in_flight"
    ]
    assert size == 10

    report = resend_unknown(engine, issue.number, send_settings, sendgrid(standin))

    assert (report.reaped, report.chosen, report.marked) == (10, 0, 0)
    assert batch_states(engine, issue)[seq][0] == BatchState.UNKNOWN
    deadline = time.monotonic() + 10
    while standin.stats().accepted_requests < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # the killed run's request, taken after all
    assert standin.stats().requests == requests + 1
    assert deliveries(standin) == {email: 1 for email in standin.recipients()}
    assert set(aged.values()) <= set(standin.recipients())


def test_a_refused_resend_is_recorded_failed_and_a_transient_refusal_is_retried(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue, aged: dict[int, str]
) -> None:
    send_settings.batch_size = 5
    standin.inject("error", status=503)  # the first batch: refused once, then accepted
    standin.inject("slow", seconds=0)
    standin.inject("error", status=400)  # the second: refused for good

    report = resend_unknown(engine, issue.number, send_settings, sendgrid(standin))

    assert (report.marked, report.accepted, report.failed) == (10, 5, 5)
    first, second = report.batches
    assert batch_states(engine, issue)[first][0] == BatchState.ACCEPTED
    assert batch_states(engine, issue)[second][0] == BatchState.FAILED
    states = recipient_states(engine, issue)
    assert sorted(states[sid] for sid in aged) == ["accepted"] * 5 + ["failed"] * 5
    row = issue_row(engine, issue)
    assert row.status_reason is not None
    assert "5 recipient(s) failed" in row.status_reason
    assert "unknown" not in row.status_reason


def test_only_an_ended_send_is_resent(
    engine: Engine, send_settings: Settings, standin: StandIn, issue: Issue
) -> None:
    with pytest.raises(SendConflict, match="has not been sent"):
        resend_unknown(engine, issue.number, send_settings, sendgrid(standin))
    add_subscribers(engine, 3)
    send_issue(engine, issue.number, send_settings, sendgrid(standin))
    with session_scope(engine) as session:
        session.connection().execute(
            text("UPDATE issue SET status = 'sending' WHERE id = :i"), {"i": issue.id}
        )
    with pytest.raises(SendConflict, match="is sending"):
        resend_unknown(engine, issue.number, send_settings, sendgrid(standin))
