"""The dashboard, the printable issue report, its CSV and the charts, over real HTTP with a
signed-in viewer (any role reads them): the numbers the database holds, the charts as SVG
answers with their own policy and no script, the empty states, and unknown issues."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path

import httpx
from sqlalchemy import Engine, text
from sqlmodel import col, select

from newsletter.accounts.roles import Role
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.publishing.models import ComparisonTool, IssueComparison, Vote
from newsletter.tracking.models import Tally
from newsletter.web.admin.charts import CHART_POLICY
from tests.newsletter.analytics.desk_events import LINK_A, LINK_B, sent_with_events
from tests.newsletter.analytics.helpers import track
from tests.newsletter.sending.test_sender import build
from tests.newsletter.tracking.sends import add_subscribers, make_issue, send
from tests.newsletter.web.admin.desk import signed_in

VALUE = re.compile(r'<desc class="value">([^<]*)</desc>')


def figure(page: str, status: str) -> str:
    found = re.search(rf'data-status="{status}">([^<]*)<', page)
    assert found, page
    return found[1]


def is_chart(answer: httpx.Response) -> str:
    """The answer is an SVG chart under its own policy, with nothing that could run."""
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/svg+xml"
    assert answer.headers["content-security-policy"] == CHART_POLICY
    assert answer.headers["x-content-type-options"] == "nosniff"
    body = answer.text
    assert "<svg" in body
    assert "<script" not in body
    assert "xml-stylesheet" not in body  # nothing loaded from anywhere
    assert re.search(r"(?:href|src)=", body) is None
    return body


def test_the_dashboard_shows_the_list_its_growth_and_the_last_issues(
    desk: str, engine: Engine
) -> None:
    add_subscribers(engine, 1234)
    with session_scope(engine) as session:
        session.connection().execute(
            text(
                "UPDATE subscriber SET status = 'pending' WHERE id IN (SELECT id FROM subscriber ORDER BY id LIMIT 4)"
            )
        )
    issue_id = send(engine, 3).issue_id  # to the 1,230 active subscribers
    track(engine, issue_id, {Tally.DELIVERED: 1000, Tally.OPENED: 456, Tally.CLICKED: 78,
                             Tally.UNSUBSCRIBED: 9}, {})  # fmt: skip
    make_issue(engine, 4)  # a draft: not among the sent
    with signed_in(desk, Role.VIEWER) as client:
        page = client.get("/admin")
        src = re.search(r'<img src="(/admin/charts/growth\.svg[^"]*)"', page.text)
        assert src is not None
        add_subscribers(engine, 7, start=5000)  # after the page: its chart draws the page's
        chart = client.get(html.unescape(src.group(1)))
        now = VALUE.findall(is_chart(client.get("/admin/charts/growth.svg")))  # a bookmark
        wrong = client.get("/admin/charts/growth.svg", params={"from": "2026-11-02", "new": "1,x"})
        uneven = client.get("/admin/charts/growth.svg", params={"from": "2026-11-02", "new": "1"})
    assert (wrong.status_code, uneven.status_code) == (422, 422)
    assert "1241" in now
    assert page.status_code == 200
    assert figure(page.text, "active") == "1,230"
    assert figure(page.text, "pending") == "4"
    assert figure(page.text, "bounced") == "0"
    assert re.search(r'id="total">1,234<', page.text)
    assert "&amp;new=" in src.group(1)  # the numbers the table shows, in the address
    this_week = re.findall(
        r"<tr><th scope=\"row\">(\d{4}-W\d\d)</th><td class=\"num\">([\d,]+)<", page.text
    )
    assert len(this_week) == 12
    assert this_week[-1][1] == "1,234"  # all added this week
    recent = page.text[page.text.index('id="recent"') :]
    assert 'href="/admin/issues/3/report">#3<' in recent
    assert "/admin/issues/4/report" not in recent
    for rate in ("81.3%", "45.6%", "7.8%", "0.9%"):  # 1,000 of 1,230 accepted; of 1,000
        assert rate in recent
    assert "The weekly run fires" in page.text
    values = VALUE.findall(is_chart(chart))
    assert "1234" in values  # the page's count: the chart did not count again
    assert "1241" not in values
    assert len(values) == 5 * 12


def test_empty_states_say_what_to_do_next(desk: str) -> None:
    with signed_in(desk, Role.VIEWER) as client:
        page = client.get("/admin")
    assert page.status_code == 200
    assert "No subscribers yet" in page.text
    assert "newsletter subscribers import" in page.text
    assert "No issues yet: build one with `newsletter issue build`" in page.text


def test_the_report_page_shows_the_funnel_the_hours_and_the_links(
    desk: str, engine: Engine, settings: Settings
) -> None:
    sent_with_events(engine, settings)
    with signed_in(desk, Role.VIEWER) as client:
        page = client.get("/admin/issues/7/report")
        chart = client.get("/admin/issues/7/activity.svg")
    assert page.status_code == 200
    funnel = page.text[page.text.index('id="funnel"') : page.text.index("</ol>")]
    steps = re.findall(
        r'<span class="step">([^<]+)</span>\s*<span class="figure">([\d,]+)<', funnel
    )
    assert steps == [("Audience", "30"), ("Accepted", "30"), ("Delivered", "25"),
                     ("Unique opens", "7"), ("Unique clicks", "3")]  # fmt: skip
    assert re.search(r'data-key="click_to_open">.*?42\.9%', page.text)
    links = page.text[page.text.index('id="links"') :]
    assert LINK_A in links
    assert LINK_B in links
    assert '<img src="/admin/issues/7/activity.svg"' in page.text
    assert 'href="/admin/issues/7/report.csv"' in page.text
    values = [int(v) for v in VALUE.findall(is_chart(chart))]
    assert len(values) == 2 * 48
    assert sum(values) == 5 + 2  # first opens and first clicks within the 48 hours


def test_the_csv_is_an_attachment_with_safe_cells(
    desk: str, engine: Engine, settings: Settings
) -> None:
    issue_id = sent_with_events(engine, settings)
    track(engine, issue_id, {}, {"=1+2": 1})
    with signed_in(desk, Role.VIEWER) as client:
        answer = client.get("/admin/issues/7/report.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == 'attachment; filename="issue-7-report.csv"'
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert ["numbers", "Unique opens", "of delivered", "7", "0.2800", ""] in rows
    assert ["links", "'=1+2", "of clickers", "1", "0.3333", ""] in rows


def test_unknown_issues_and_strangers(desk: str, engine: Engine) -> None:
    make_issue(engine, 2)
    with signed_in(desk, Role.VIEWER) as client:
        for path in ("report", "report.csv", "activity.svg"):
            assert client.get(f"/admin/issues/9/{path}").status_code == 404
            assert client.get(f"/admin/issues/0/{path}").status_code == 404
        unsent = client.get("/admin/issues/2/report")
        assert unsent.status_code == 200
        assert "Not sent yet" in unsent.text
        assert len(VALUE.findall(is_chart(client.get("/admin/issues/2/activity.svg")))) == 0
    with httpx.Client(base_url=desk, trust_env=False) as stranger:
        for path in ("/admin/issues/2/report.csv", "/admin/charts/growth.svg"):
            answer = stranger.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/admin/sign-in")


def test_the_report_shows_each_comparisons_vote_beside_the_panel(
    desk: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = build(engine, settings, tmp_path / "content")  # a draft of three comparisons
    with session_scope(engine) as session:
        first = session.exec(
            select(IssueComparison.comparison_id)
            .where(IssueComparison.issue_id == issue.id)
            .order_by(col(IssueComparison.position))
            .limit(1)
        ).one()
        tool_id = session.exec(
            select(ComparisonTool.tool_id)
            .where(ComparisonTool.comparison_id == first)
            .order_by(col(ComparisonTool.position))
            .limit(1)
        ).one()
        assert issue.id is not None
        session.add(Vote(issue_id=issue.id, comparison_id=first, tool_id=tool_id))
    with signed_in(desk, Role.VIEWER) as client:
        page = client.get(f"/admin/issues/{issue.number}/report")
    assert page.status_code == 200
    tables = re.findall(r'<table class="votes nowrap">.*?</table>', page.text, re.S)
    assert len(tables) == 3
    assert "1 vote</caption>" in tables[0]
    cells = re.findall(r'<td class="num">([^<]*)</td>', tables[0])
    assert cells == ["1", "100.0%", "50.0%", "0", "0.0%", "50.0%"]
    assert "no votes yet" in tables[1]
