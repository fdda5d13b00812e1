"""The desk report over sends through the ledger and events applied by tracking itself:
every number equals a recount of the recipients' rows, the previous five sent issues are
averaged (and only those), the hours count first opens and clicks in their clock hour
(machine opens and anything after 48 hours left out), and the CSV says the same with
every cell safe for a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from newsletter.analytics.desk_report import DeskReport, desk_report, mean
from newsletter.analytics.hourly import first_hour, issue_hourly
from newsletter.analytics.report_csv import HEADER, report_csv
from newsletter.analytics.votes import comparison_votes
from newsletter.core.database import session_scope
from newsletter.core.errors import NotFound
from newsletter.core.settings import Settings
from newsletter.delivery.events import EventType
from newsletter.publishing.models import ComparisonTool, IssueComparison, Vote
from newsletter.tracking import ingest
from newsletter.tracking.models import Tally
from tests.newsletter.analytics.desk_events import LINK_A, LINK_B, sent_with_events
from tests.newsletter.analytics.helpers import track
from tests.newsletter.sending.test_sender import build
from tests.newsletter.tracking.sends import (
    T0,
    add_subscribers,
    event,
    make_issue,
    rows,
    send,
)


def report_of(engine: Engine, number: int) -> DeskReport:
    with session_scope(engine) as session:
        return desk_report(session, number)


@pytest.fixture
def sent(engine: Engine, settings: Settings) -> int:
    """Issue 7, sent at T0 to 30 subscribers, and the events of `events_for` applied."""
    return sent_with_events(engine, settings)


def recount(engine: Engine, issue_id: int) -> dict[str, int]:
    """The recipients' rows counted the plain way."""
    found = rows(
        engine,
        """SELECT
            SUM(CASE WHEN delivery = 'delivered' THEN 1 ELSE 0 END) AS delivered,
            SUM(CASE WHEN delivery = 'bounced' AND bounce_kind = 'hard' THEN 1 ELSE 0 END)
                AS bounced_hard,
            SUM(CASE WHEN delivery = 'bounced' AND bounce_kind = 'soft' THEN 1 ELSE 0 END)
                AS bounced_soft,
            COUNT(first_open_at) AS unique_opens, COUNT(machine_open_at) AS machine_opens,
            COUNT(first_click_at) AS unique_clicks, COUNT(complained_at) AS complained,
            COUNT(unsubscribed_at) AS unsubscribed
        FROM recipient_activity WHERE issue_id = :i""",
        i=issue_id,
    )[0]
    audience = rows(
        engine, "SELECT COUNT(*) AS n FROM send_recipient WHERE issue_id = :i", i=issue_id
    )
    accepted = rows(
        engine,
        "SELECT COUNT(*) AS n FROM send_recipient WHERE issue_id = :i AND state = 'accepted'",
        i=issue_id,
    )
    return {
        **{k: int(v) for k, v in found.items()},
        "audience": int(audience[0]["n"]),
        "accepted": int(accepted[0]["n"]),
    }


def test_every_number_equals_a_recount(engine: Engine, sent: int) -> None:
    report = report_of(engine, 7)
    counted = recount(engine, sent)
    shown = {m.key: m.count for m in report.measures if m.key != "click_to_open"}
    assert shown == counted
    assert counted == {
        "audience": 30, "accepted": 30, "delivered": 25, "unique_opens": 7, "machine_opens": 3,
        "unique_clicks": 3, "bounced_hard": 2, "bounced_soft": 1, "complained": 1,
        "unsubscribed": 1,
    }  # fmt: skip
    rate = {m.key: m.rate for m in report.measures}
    assert rate["delivered"] == 25 / 30
    assert rate["unique_opens"] == 7 / 25
    assert rate["click_to_open"] == 3 / 7
    assert rate["bounced_hard"] == 2 / 30  # of accepted: a bounce was never delivered
    assert rate["bounced_soft"] == 1 / 30
    assert report.measure("bounced_hard").of == "accepted"
    assert rate["complained"] == 1 / 25
    assert [m.key for m in report.funnel] == [
        "audience", "accepted", "delivered", "unique_opens", "unique_clicks",
    ]  # fmt: skip
    assert [(link.url, link.clicks) for link in report.links] == [(LINK_A, 3), (LINK_B, 1)]
    assert report.previous == ()
    assert all(m.average is None for m in report.measures)


def test_hours_count_first_opens_and_clicks_in_their_clock_hour(engine: Engine, sent: int) -> None:
    hourly = report_of(engine, 7).hourly
    assert len(hourly.hours) == 48
    assert hourly.hours[0].starts == first_hour(T0) == T0
    opens = {h.hour: h.opens for h in hourly.hours if h.opens}
    clicks = {h.hour: h.clicks for h in hourly.hours if h.clicks}
    # First opens only (the second open two hours later is not counted again), machine
    # opens apart, the 48th hour and later outside the window.
    assert opens == {0: 2, 1: 1, 5: 1, 47: 1}
    assert clicks == {0: 1, 3: 1}
    assert (hourly.opens, hourly.clicks) == (5, 2)
    with session_scope(engine) as session:
        assert issue_hourly(session, 7) == hourly


def test_a_send_starting_mid_hour_counts_from_that_clock_hour(
    engine: Engine, settings: Settings
) -> None:
    subscribers = add_subscribers(engine, 3)
    send(engine, 3, started_at=T0 + timedelta(minutes=45))
    ingest(engine, settings, [
        event(EventType.OPENED, subscribers[0], 3, at=T0 + timedelta(minutes=50)),
        event(EventType.OPENED, subscribers[1], 3, at=T0 + timedelta(minutes=70)),
    ])  # fmt: skip
    hourly = report_of(engine, 3).hourly
    assert hourly.hours[0].starts == T0
    assert [h.opens for h in hourly.hours[:3]] == [1, 1, 0]


def test_rates_sit_beside_the_plain_mean_of_the_previous_five_sent_issues(
    engine: Engine,
) -> None:
    add_subscribers(engine, 10)
    opened = {1: 9, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5}  # issue 1 is the sixth back: left out
    for number, opens in opened.items():
        issue_id = send(engine, number).issue_id
        track(engine, issue_id, {Tally.DELIVERED: 10, Tally.OPENED: opens}, {})
    issue_id = send(engine, 8).issue_id  # 7 is never sent: not an issue to compare with
    track(engine, issue_id, {Tally.DELIVERED: 10, Tally.OPENED: 6}, {})
    report = report_of(engine, 8)
    assert report.previous == (6, 5, 4, 3, 2)
    assert report.measure("unique_opens").rate == 0.6
    assert report.measure("unique_opens").average == pytest.approx(0.3)
    assert report.measure("delivered").average == 1.0
    assert report.measure("unique_clicks").average == 0.0
    assert report.measure("click_to_open").average == 0.0
    assert report_of(engine, 2).previous == (1,)
    assert mean([None, 0.2, None, 0.4]) == pytest.approx(0.3)
    assert mean([None]) is None


def test_an_issue_not_sent_has_no_numbers_and_an_unknown_one_is_not_found(
    engine: Engine,
) -> None:
    make_issue(engine, 4)
    report = report_of(engine, 4)
    assert not report.issue.sent
    assert report.hourly.hours == ()
    assert all(m.rate is None and m.count == 0 for m in report.measures)
    for number in (5, 0, -1, 2**31, 10**30):
        with pytest.raises(NotFound), session_scope(engine) as session:
            desk_report(session, number)


def test_the_csv_says_the_same_with_every_cell_safe_for_a_spreadsheet(
    engine: Engine, sent: int
) -> None:
    hostile = '=HYPERLINK("https://evil.example","x")'
    listed = "https://tools.example.com/compare?ids=4,-7;=x|@y&tab=a\tb"
    track(engine, sent, {}, {hostile: 1, "@SUM(1+1)": 1, "-2+3": 1, listed: 1, "\t=1": 1})
    text = report_csv(report_of(engine, 7))
    table = list(csv.reader(io.StringIO(text)))
    assert tuple(table[0]) == HEADER
    by = {(r[0], r[1]): r for r in table[1:]}
    assert by[("numbers", "Delivered")][3:] == ["25", "0.8333", ""]
    assert by[("numbers", "Click-to-open")][3:5] == ["3", "0.4286"]
    assert by[("links", LINK_A)][3:5] == ["3", "1.0000"]
    assert by[("first opens per hour", "hour 0")][2:4] == ["2026-12-01 09:00 UTC", "2"]
    assert ("links", "'" + hostile) in by
    assert ("links", "'@SUM(1+1)") in by
    assert ("links", "'-2+3") in by
    assert ("links", listed) in by  # a separator inside a URL gets no mark: it stays copyable
    assert ("links", "'\t=1") in by
    for row in table:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell


def test_each_comparison_shows_its_vote_beside_the_panel_ship_share(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = build(engine, settings, tmp_path / "content")  # three comparisons, two tools each
    assert issue.id is not None
    with session_scope(engine) as session:
        held = session.exec(
            select(IssueComparison.comparison_id, ComparisonTool.tool_id)
            .join(
                ComparisonTool, col(ComparisonTool.comparison_id) == IssueComparison.comparison_id
            )
            .where(IssueComparison.issue_id == issue.id)
            .order_by(col(IssueComparison.position), col(ComparisonTool.position))
        ).all()
        (first, a), (_, b) = held[0], held[1]
        for tool_id in (a, a, a, b):
            session.add(Vote(issue_id=issue.id, comparison_id=first, tool_id=tool_id))
    with session_scope(engine) as session:
        votes = comparison_votes(session, issue.id, delivered=8)
    assert [c.position for c in votes] == [1, 2, 3]
    top = votes[0]
    assert (top.votes, top.turnout) == (4, 0.5)
    assert [(t.votes, t.community_share) for t in top.tools] == [(3, 0.75), (1, 0.25)]
    # The factory's panel: dx ship/wait, risk ship/ship, long wait/ship, buyer skip/skip.
    assert [t.ship_share for t in top.tools] == [0.5, 0.5]
    assert (votes[1].votes, votes[1].turnout) == (0, 0.0)
    assert [t.community_share for t in votes[1].tools] == [None, None]
    unsent = report_of(engine, issue.number)
    assert unsent.comparisons[0].votes == 4
    assert unsent.comparisons[0].turnout is None  # nothing delivered: no base
    text = report_csv(unsent)
    assert f"{top.tools[0].name}: community share,3,0.7500" in text


def test_issues_without_delivery_events_or_audience_are_left_out_of_the_averages(
    engine: Engine,
) -> None:
    send(engine, 1)  # nobody on the list yet: an audience of none
    add_subscribers(engine, 10)
    track(engine, send(engine, 2).issue_id, {Tally.DELIVERED: 8, Tally.OPENED: 4}, {})
    send(engine, 3)  # just sent, or a provider without webhooks: no events yet
    send(engine, 4, failed=range(1, 10))  # every batch refused: nothing accepted
    send(engine, 5)
    report = report_of(engine, 5)
    assert report.previous == (4, 3, 2, 1)
    assert (report.without_events, report.without_audience) == ((4, 3, 1), (1,))
    delivered = report.measure("delivered")
    assert (delivered.average, delivered.averaged) == (0.8, (2,))
    assert report.measure("unique_opens").average == 0.5
    assert report.measure("bounced_hard").averaged == (2,)
    accepted = report.measure("accepted")
    assert accepted.averaged == (4, 3, 2)  # the failed send counts: its audience got nothing
    assert accepted.average == pytest.approx(2 / 3)


def test_turnout_is_of_accepted_while_no_delivery_is_reported(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = build(engine, settings, tmp_path / "content")
    assert issue.id is not None
    with session_scope(engine) as session:
        first = session.exec(
            select(IssueComparison.comparison_id, ComparisonTool.tool_id)
            .join(
                ComparisonTool, col(ComparisonTool.comparison_id) == IssueComparison.comparison_id
            )
            .where(IssueComparison.issue_id == issue.id)
            .order_by(col(IssueComparison.position), col(ComparisonTool.position))
        ).first()
        assert first is not None
        session.add(Vote(issue_id=issue.id, comparison_id=first[0], tool_id=first[1]))
    with session_scope(engine) as session:
        early = comparison_votes(session, issue.id, delivered=0, accepted=4)[0]
        later = comparison_votes(session, issue.id, delivered=2, accepted=4)[0]
    assert (early.votes, early.turnout, early.turnout_of) == (1, 0.25, "accepted")
    assert (later.turnout, later.turnout_of) == (0.5, "delivered")
