"""The per-issue report over a real send through the ledger (to the SendGrid stand-in, or
the outbox), with the counters the event webhook keeps: every number and every rate, the
ledger's states read from batch totals agreeing with the plain count, an issue with
nothing delivered, an issue never sent, and numbers that name no issue."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import insert

from newsletter.analytics import IssueReport, issue_report, recipient_counts
from newsletter.analytics import recipients as recipients_module
from newsletter.core.clock import utcnow
from newsletter.core.database import session_scope
from newsletter.core.errors import NotFound
from newsletter.core.settings import Settings
from newsletter.delivery.events import EventType
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.delivery.providers.sendgrid.backend import SendGridBackend
from newsletter.devtools.standin import StandIn
from newsletter.publishing.lifecycle import IssueStatus
from newsletter.sending import SendProgress, send_issue
from newsletter.sending.ledger import (
    claim_batch,
    new_owner,
    reap_orphans,
    retire_owner,
    snapshot_audience,
)
from newsletter.tracking import ingest
from newsletter.tracking.models import StoredEvent, Tally
from newsletter.tracking.unknown import resend_unknown
from subscribers.models import Subscriber
from tests.newsletter.analytics.helpers import (
    LINKS,
    plain_counts,
    send_settings,
    sent_with_trouble,
    settle,
    track,
)
from tests.newsletter.sending.test_sender import KEY, add_subscribers, build, set_status
from tests.newsletter.tracking import sends


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(api_keys=[KEY]) as running:
        yield running


def report_of(engine: Engine, number: int) -> IssueReport:
    with session_scope(engine) as session:
        return issue_report(session, number)


def ledger_of(report: IssueReport) -> dict[str, int]:
    return {
        state: getattr(report, state)
        for state in ("accepted", "failed", "unknown", "skipped", "queued")
        if getattr(report, state)
    }


def test_every_number_and_rate_of_a_sent_issue(
    engine: Engine, settings: Settings, standin: StandIn, tmp_path: Path
) -> None:
    sent = sent_with_trouble(engine, settings, standin, tmp_path / "content", leave=2)
    assert sent.issue.id is not None
    track(engine, sent.issue.id)

    report = report_of(engine, sent.issue.number)

    assert (report.number, report.week, report.subject) == (1, "2026-W48", sent.issue.subject)
    assert report.status == IssueStatus.SENT
    assert report.sent
    assert report.started_at is not None
    assert report.finished_at is not None
    assert report.audience == 50
    # Batch 1 refused (failed), batch 2's answer lost (unknown), two left before batch 5.
    assert ledger_of(report) == {"accepted": 28, "failed": 10, "unknown": 10, "skipped": 2}
    assert ledger_of(report) == plain_counts(engine, sent.issue.id)
    assert (sent.report.accepted, sent.report.skipped) == (28, 2)
    assert report.processed == 1
    assert report.delivered == 24
    assert report.deferred == 1
    assert (report.bounced_hard, report.bounced_soft, report.bounced) == (2, 1, 3)
    assert report.dropped == 1
    assert report.complained == 1
    assert report.unsubscribed == 3
    assert (report.unique_opens, report.machine_opens) == (12, 5)
    assert report.unique_clicks == 6
    assert report.events == 1234

    rates = report.rates
    assert rates.delivered == pytest.approx(24 / 28)
    assert rates.bounced == pytest.approx(3 / 28)  # of accepted: never delivered
    assert rates.bounced_hard == pytest.approx(2 / 28)
    assert rates.bounced_soft == pytest.approx(1 / 28)
    assert rates.dropped == pytest.approx(1 / 28)
    assert rates.complained == pytest.approx(1 / 24)
    assert rates.unsubscribed == pytest.approx(3 / 24)
    assert rates.unique_opens == pytest.approx(12 / 24)
    assert rates.machine_opens == pytest.approx(5 / 24)
    assert rates.unique_clicks == pytest.approx(6 / 24)

    assert [(link.url, link.clicks) for link in report.links] == [
        ("https://alpha.example.com/pricing?plan=team&utm_source=verdicts", 4),
        ("https://beta.example.com/", 3),
        ("https://vendor.example.org/", 1),
    ]
    assert [link.share for link in report.links] == pytest.approx([4 / 6, 3 / 6, 1 / 6])


def test_as_dict_is_the_report_as_json_data(
    engine: Engine, settings: Settings, standin: StandIn, tmp_path: Path
) -> None:
    sent = sent_with_trouble(engine, settings, standin, tmp_path / "content")
    assert sent.issue.id is not None
    track(engine, sent.issue.id)
    report = report_of(engine, 1)

    data = report.as_dict()

    assert data["bounced"] == 3
    assert data["bounced_hard"] == 2
    assert data["rates"]["delivered"] == pytest.approx(24 / 30)
    assert data["rates"]["unique_clicks"] == pytest.approx(0.25)
    assert data["links"][0] == {
        "url": "https://alpha.example.com/pricing?plan=team&utm_source=verdicts",
        "clicks": 4,
        "share": pytest.approx(4 / 6),
    }
    assert report.started_at is not None
    assert data["started_at"] == report.started_at.isoformat()


def test_an_unknown_batch_settled_by_events_is_accepted(
    engine: Engine, settings: Settings, standin: StandIn, tmp_path: Path
) -> None:
    sent = sent_with_trouble(engine, settings, standin, tmp_path / "content", leave=1)
    assert sent.issue.id is not None
    before = report_of(engine, 1)

    settled = settle(engine, sent.issue.id)

    after = report_of(engine, 1)
    assert settled == 10
    assert (before.accepted, before.unknown) == (29, 10)
    assert (after.accepted, after.unknown) == (39, 0)
    assert ledger_of(after) == plain_counts(engine, sent.issue.id)
    with session_scope(engine) as session:  # now a clean accepted batch: read from its total
        assert recipient_counts(session, sent.issue.id).counted_one_by_one == 0


def test_a_reaped_batch_settled_by_events_is_counted_one_by_one(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """A batch whose sender died in flight never recorded how many it sent (`sent` is 0):
    once events settle it, its batch row alone cannot say who was accepted."""
    issue = build(engine, settings, tmp_path / "content")
    add_subscribers(engine, 25)
    assert issue.id is not None
    with session_scope(engine, immediate=True) as session:
        session.connection().execute(
            text("UPDATE issue SET status = 'sending' WHERE id = :i"), {"i": issue.id}
        )
        snapshot_audience(session, issue.id, 10)
    gone = new_owner()
    retire_owner(gone)
    now = time.time()
    with session_scope(engine, immediate=True) as session:
        assert claim_batch(session, issue.id, gone, now=now, lease=30, max_tries=5)
    with session_scope(engine, immediate=True) as session:
        assert reap_orphans(session, issue.id, now=now + 31) == [(1, 10)]

    settle(engine, issue.id)

    report = report_of(engine, issue.number)
    assert ledger_of(report) == {"accepted": 10, "queued": 15}
    assert ledger_of(report) == plain_counts(engine, issue.id)


@pytest.mark.parametrize("late_event", [False, True])
def test_unknown_recipients_re_sent_by_the_operator(
    engine: Engine,
    settings: Settings,
    standin: StandIn,
    tmp_path: Path,
    late_event: bool,
) -> None:
    """`issue resend-unknown` moves the unknown batch's recipients into a new batch and
    leaves the old batch's size as it was; an event that arrives later for the old request
    still settles the old batch (accepted, with its old `sent`). Neither counts anyone
    twice."""
    sent = sent_with_trouble(engine, settings, standin, tmp_path / "content")
    assert sent.issue.id is not None

    resent = resend_unknown(
        engine,
        1,
        settings,
        SendGridBackend(KEY, standin.url, 5),
        now=utcnow() + settings.settle_after + timedelta(minutes=1),
    )
    if late_event:
        settle(engine, sent.issue.id)

    report = report_of(engine, 1)
    assert resent.accepted == 10
    assert ledger_of(report) == {"accepted": 40, "failed": 10}
    assert ledger_of(report) == plain_counts(engine, sent.issue.id)
    assert report.audience == 50


def test_recipients_the_outbox_refused_one_by_one_are_failed(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    send_settings(settings)
    issue = build(engine, settings, tmp_path / "content")
    add_subscribers(engine, 25)
    with session_scope(engine) as session:  # stored by hand, past the list's own checks
        session.exec(
            insert(Subscriber),
            params=[{"email": "two..dots@example.com", "name": None, "status": "active"}],
        )
    assert issue.id is not None

    send_issue(engine, issue.number, settings, OutboxBackend(settings.outbox_dir))

    report = report_of(engine, issue.number)
    assert ledger_of(report) == {"accepted": 25, "failed": 1}
    assert ledger_of(report) == plain_counts(engine, issue.id)
    with session_scope(engine) as session:
        counts = recipient_counts(session, issue.id)
    assert counts.counted_one_by_one == 6  # the partly refused batch alone (the last one)


def test_a_send_in_progress_counts_its_queued_recipients(
    engine: Engine, settings: Settings, standin: StandIn, tmp_path: Path
) -> None:
    send_settings(settings)
    issue = build(engine, settings, tmp_path / "content")
    add_subscribers(engine, 45)
    assert issue.id is not None
    standin.set_default_fault("error", status=403)  # the sender is refused: the send pauses

    paused = send_issue(engine, issue.number, settings, SendGridBackend(KEY, standin.url, 5))

    report = report_of(engine, issue.number)
    assert paused.status == IssueStatus.PAUSED
    assert report.status == IssueStatus.PAUSED
    assert ledger_of(report) == {"queued": 45}
    assert ledger_of(report) == plain_counts(engine, issue.id)
    assert report.rates.delivered is None


def test_batch_totals_agree_with_the_plain_count_however_many_batches_are_odd(
    engine: Engine,
    settings: Settings,
    standin: StandIn,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = sent_with_trouble(engine, settings, standin, tmp_path / "content", leave=1)
    assert sent.issue.id is not None
    with session_scope(engine) as session:
        mostly_batches = recipient_counts(session, sent.issue.id)
    monkeypatch.setattr(recipients_module, "UNCLEAN_MAX", 0)  # past it: count them all
    with session_scope(engine) as session:
        all_counted = recipient_counts(session, sent.issue.id)

    assert mostly_batches.counted_one_by_one == 10  # the unknown batch alone
    assert all_counted.counted_one_by_one == 50
    for counts in (mostly_batches, all_counted):
        assert (counts.accepted, counts.failed, counts.unknown, counts.skipped) == (29, 10, 10, 1)
        assert counts.total == 50


def test_nothing_delivered_divides_by_nothing(
    engine: Engine, settings: Settings, standin: StandIn, tmp_path: Path
) -> None:
    send_settings(settings)
    issue = build(engine, settings, tmp_path / "content")
    last = max(add_subscribers(engine, 30).active)
    assert issue.id is not None
    standin.set_default_fault("error", status=400)  # every batch refused: nothing accepted

    def leave(progress: SendProgress) -> None:  # one of the last batch, found gone at its claim
        if progress.settled == 10:
            set_status(engine, last, "unsubscribed")

    send_issue(
        engine, issue.number, settings, SendGridBackend(KEY, standin.url, 5), on_progress=leave
    )
    track(engine, issue.id, {Tally.EVENTS: 0}, {})

    report = report_of(engine, issue.number)

    assert report.status == IssueStatus.FAILED
    assert ledger_of(report) == {"failed": 29, "skipped": 1}
    assert ledger_of(report) == plain_counts(engine, issue.id)
    assert report.delivered == 0
    assert all(rate is None for rate in vars(report.rates).values())
    assert report.links == ()


def test_accepted_but_nothing_heard_yet(
    engine: Engine, settings: Settings, standin: StandIn, tmp_path: Path
) -> None:
    sent = sent_with_trouble(engine, settings, standin, tmp_path / "content")
    assert sent.issue.id is not None
    track(engine, sent.issue.id, {}, {"https://alpha.example.com/": 2})  # no clicker counted

    report = report_of(engine, 1)

    assert report.accepted == 30
    assert report.rates.delivered == 0.0
    assert report.rates.unique_opens is None
    assert report.rates.bounced_hard == 0.0  # of accepted, as delivered is
    assert [(link.clicks, link.share) for link in report.links] == [(2, None)]


def test_an_issue_never_sent_is_all_zeros(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = build(engine, settings, tmp_path / "content")
    add_subscribers(engine, 10)
    assert issue.id is not None
    track(engine, issue.id)  # nothing is read for an issue that never went out

    report = report_of(engine, issue.number)

    assert not report.sent
    assert report.status == IssueStatus.DRAFT
    assert report.started_at is None
    assert report.audience == 0
    assert ledger_of(report) == {}
    assert report.delivered == report.unique_opens == report.unique_clicks == report.events == 0
    assert report.links == ()
    assert all(rate is None for rate in vars(report.rates).values())


@pytest.mark.parametrize("number", [2, 0, -1, 2**31, 2**63, 10**30])
def test_a_number_that_names_no_issue_is_not_found(
    engine: Engine, settings: Settings, tmp_path: Path, number: int
) -> None:
    build(engine, settings, tmp_path / "content")

    with pytest.raises(NotFound, match=rf"^there is no issue #{number}$"):
        report_of(engine, number)


def test_links_are_ranked_by_clicks_then_address(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = build(engine, settings, tmp_path / "content")
    assert issue.id is not None
    with session_scope(engine) as session:
        snapshot_audience(session, issue.id, 10)
    ranked = {"https://b.example/": 5, "https://c.example/": 7, "https://a.example/": 5}
    track(engine, issue.id, {Tally.CLICKED: 10}, {**ranked, **LINKS})

    report = report_of(engine, issue.number)

    assert [link.url for link in report.links][:3] == [
        "https://c.example/",
        "https://a.example/",
        "https://b.example/",
    ]
    assert [link.clicks for link in report.links] == sorted(
        [*ranked.values(), *LINKS.values()], reverse=True
    )
    assert report.links[0].share == pytest.approx(0.7)


def test_the_report_reads_the_counters_not_the_events(
    engine: Engine, settings: Settings, standin: StandIn, tmp_path: Path
) -> None:
    """Events stored without their counters change nothing: the report reads what tracking
    counted as it applied them."""
    sent = sent_with_trouble(engine, settings, standin, tmp_path / "content")
    assert sent.issue.id is not None
    with session_scope(engine) as session:
        session.add(
            StoredEvent(
                provider="sendgrid",
                event_id="e1",
                type=EventType.DELIVERED,
                occurred_at=utcnow(),
                issue_id=sent.issue.id,
            )
        )
    assert report_of(engine, 1).delivered == 0
    track(engine, sent.issue.id, {Tally.DELIVERED: 1, Tally.EVENTS: 1}, {})
    assert report_of(engine, 1).delivered == 1


def test_bounces_are_shares_of_accepted_so_never_above_the_whole(
    engine: Engine, settings: Settings
) -> None:
    ids = sends.add_subscribers(engine, 10)
    sends.send(engine, 3, started_at=sends.T0)
    at = sends.T0
    delivered = [sends.event(EventType.DELIVERED, i, 3, at=at) for i in ids[:2]]
    ingest(engine, settings, delivered + [sends.hard_bounce(i, 3, at=at) for i in ids[2:]])
    with session_scope(engine) as session:
        report = issue_report(session, 3)
    assert (report.accepted, report.delivered, report.bounced_hard) == (10, 2, 8)
    assert report.rates.bounced_hard == pytest.approx(0.8)  # of accepted, not 8 / 2
    assert report.rates.bounced == pytest.approx(0.8)
