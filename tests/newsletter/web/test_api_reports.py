"""GET /api/issues/{number}/report over real HTTP under uvicorn: the admin token, 404 for an
issue that does not exist, 422 for a number no issue can have, and the report's JSON (the
same data `newsletter issue report N --json` prints)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from newsletter.analytics import issue_report
from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.devtools.standin import StandIn
from tests.newsletter.analytics.helpers import sent_with_trouble, track
from tests.newsletter.sending.test_sender import KEY, build
from tests.newsletter.web.helpers import ADMIN

FIELDS = {
    "number",
    "week",
    "subject",
    "status",
    "sent",
    "started_at",
    "finished_at",
    "audience",
    "accepted",
    "failed",
    "unknown",
    "skipped",
    "queued",
    "processed",
    "delivered",
    "deferred",
    "bounced",
    "bounced_hard",
    "bounced_soft",
    "dropped",
    "complained",
    "unsubscribed",
    "unique_opens",
    "machine_opens",
    "unique_clicks",
    "events",
    "rates",
    "links",
}
RATES = {
    "delivered",
    "bounced",
    "bounced_hard",
    "bounced_soft",
    "dropped",
    "complained",
    "unsubscribed",
    "unique_opens",
    "machine_opens",
    "unique_clicks",
}


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(api_keys=[KEY]) as running:
        yield running


def test_the_report_needs_the_admin_token(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    build(engine, settings, tmp_path / "content")

    missing = http.get("/api/issues/1/report")
    wrong = http.get("/api/issues/1/report", headers={"Authorization": "Bearer nope"})
    right = http.get("/api/issues/1/report", headers=ADMIN)

    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "audience" not in missing.text
    assert right.status_code == 200


def test_unknown_and_impossible_numbers(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    build(engine, settings, tmp_path / "content")

    unknown = http.get("/api/issues/9/report", headers=ADMIN)
    impossible = [
        http.get(f"/api/issues/{n}/report", headers=ADMIN) for n in ("0", str(2**31), "x")
    ]

    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "there is no issue #9"}
    assert [answer.status_code for answer in impossible] == [422, 422, 422]
    assert all(answer.json()["detail"][0]["loc"] == ["path", "number"] for answer in impossible)


def test_the_report_of_a_sent_issue(
    http: httpx.Client, engine: Engine, settings: Settings, standin: StandIn, tmp_path: Path
) -> None:
    sent = sent_with_trouble(engine, settings, standin, tmp_path / "content", leave=1)
    assert sent.issue.id is not None
    track(engine, sent.issue.id)

    answer = http.get("/api/issues/1/report", headers=ADMIN)

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    data = answer.json()
    assert set(data) == FIELDS
    assert set(data["rates"]) == RATES
    assert (data["number"], data["week"], data["status"], data["sent"]) == (
        1,
        "2026-W48",
        "sent",
        True,
    )
    assert data["subject"] == sent.issue.subject
    ledger = {k: data[k] for k in ("audience", "accepted", "failed", "unknown", "skipped")}
    assert ledger == {"audience": 50, "accepted": 29, "failed": 10, "unknown": 10, "skipped": 1}
    assert data["queued"] == 0
    assert (data["delivered"], data["processed"], data["deferred"]) == (24, 1, 1)
    assert (data["bounced"], data["bounced_hard"], data["bounced_soft"]) == (3, 2, 1)
    assert (data["dropped"], data["complained"], data["unsubscribed"]) == (1, 1, 3)
    assert (data["unique_opens"], data["machine_opens"], data["unique_clicks"]) == (12, 5, 6)
    assert data["events"] == 1234
    assert data["rates"]["delivered"] == pytest.approx(24 / 29)
    assert data["rates"]["bounced_hard"] == pytest.approx(2 / 29)  # of accepted
    assert data["rates"]["machine_opens"] == pytest.approx(5 / 24)
    assert data["rates"]["unique_clicks"] == pytest.approx(0.25)
    assert data["links"] == [
        {
            "url": "https://alpha.example.com/pricing?plan=team&utm_source=verdicts",
            "clicks": 4,
            "share": pytest.approx(4 / 6),
        },
        {"url": "https://beta.example.com/", "clicks": 3, "share": pytest.approx(0.5)},
        {"url": "https://vendor.example.org/", "clicks": 1, "share": pytest.approx(1 / 6)},
    ]
    assert data["started_at"] is not None
    with session_scope(engine) as session:  # the CLI's --json prints the same data
        assert data == json.loads(json.dumps(issue_report(session, 1).as_dict()))


def test_an_issue_not_sent_yet_is_zeros(
    http: httpx.Client, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    build(engine, settings, tmp_path / "content")

    data = http.get("/api/issues/1/report", headers=ADMIN).json()

    assert (data["sent"], data["status"], data["started_at"]) == (False, "draft", None)
    assert all(
        data[k] == 0
        for k in FIELDS
        - {
            "number",
            "week",
            "subject",
            "status",
            "sent",
            "started_at",
            "finished_at",
            "rates",
            "links",
        }
    )
    assert data["rates"] == dict.fromkeys(RATES)
    assert data["links"] == []
